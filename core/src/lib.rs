//! carnet-core: the domain model of Carnet, its CRDT documents, the local
//! store and index, reports, and (next) the sans-IO sync protocol.
//!
//! Data flows one way: `model` → `doc` (Automerge documents) → `store` →
//! `index` → `reports`. `device::Device` is the one facade the CLI and the
//! mobile bindings wrap. Nothing here does network I/O.

pub mod device;
pub mod doc;
pub mod error;
pub mod ids;
pub mod index;
pub mod model;
pub mod money;
pub mod ops;
pub mod reports;
pub mod schema;
pub mod store;
pub mod sync;
pub mod validate;

pub use device::{Device, Identity};
pub use error::{CoreError, Result, ValidationError};
pub use ids::{DocId, DocKind, RecordId};
