//! The sync protocol beside the domain API, not above it: the wire frames,
//! the device's side of a session as a sans-IO state machine
//! (`ClientSession`) over a narrow `Replica` trait that the device
//! implements, and, behind the `transport` feature, the websocket
//! connection and the one session driver (reconnect, backoff, nudges,
//! status) that the CLI and the apps both run.

pub mod client;
#[cfg(feature = "transport")]
pub mod driver;
#[cfg(feature = "transport")]
pub mod fetch;
pub mod frame;
pub mod message;
mod replica;
mod status;
#[cfg(feature = "transport")]
pub mod transport;

pub use client::{ClientSession, SyncError};
pub use frame::{DocMsg, ErrorCode, Frame, FrameError, Hash, UpDoc};
pub use message::SyncMessageError;
pub use replica::{AckBasis, EditToken, Remote, Replica};
pub use status::{SyncPhase, SyncStatus};
