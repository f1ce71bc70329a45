//! carnet-core: the domain model of Carnet, its CRDT documents, the local
//! store and index, reports, and the sync protocol.
//!
//! Data flows one way: `model` → `doc` (Automerge documents) → `persist`
//! (one way to save a document) → `store` → `index` → `reports`.
//! `device::Device` is the domain API every front-end calls (the CLI, the
//! apps through the mobile bindings, the web app): typed operations and
//! queries that validate, write one change and return typed views.
//! `sync` sits beside it: `ClientSession` drives the protocol through the
//! `sync::Replica` trait that `Device` implements. Network I/O happens only
//! behind the `transport` feature (`sync::transport`, `sync::driver`).

pub mod accounting;
pub mod backup;
pub mod dedup;
pub mod device;
pub mod doc;
pub mod erase;
pub mod error;
pub mod export;
pub mod ids;
pub mod import;
pub mod index;
pub mod legal;
pub mod mail;
pub mod merge;
pub mod model;
pub mod money;
pub mod ops;
pub mod pdf;
pub mod persist;
pub mod reports;
pub mod schema;
pub mod store;
pub mod sync;
pub mod text;
pub mod validate;
pub mod vcard;

pub use device::{Device, Identity};
pub use error::{CoreError, Result, ValidationError};
pub use ids::{DocId, DocKind, RecordId};
