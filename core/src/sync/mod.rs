//! The sync protocol (sans-IO): the wire frames and the device's side of a
//! session as a state machine that takes frames in and hands frames out.
//! Transports (the websocket client here behind the `transport` feature,
//! the server in `carnet-server`) only move bytes.

pub mod client;
pub mod frame;
pub mod message;
#[cfg(feature = "transport")]
pub mod transport;

pub use client::{ClientSession, SyncError, SyncStatus};
pub use frame::{DocMsg, ErrorCode, Frame, FrameError, Hash, UpDoc};
pub use message::SyncMessageError;
