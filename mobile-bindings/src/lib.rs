//! Carnet for the Android and iOS apps: one `CarnetClient` object over the
//! core (store, index, reports) and its sync, exported with uniffi 0.32
//! proc-macros. Kotlin and Swift are generated from the built library
//! (`scripts/bindings`) and wrapped in small idiomatic layers under
//! `android/carnet-sdk` and `ios/CarnetKit`.

uniffi::setup_scaffolding!();

mod client;
mod error;
mod sync;
mod types;

pub use client::CarnetClient;
pub use error::CarnetError;
pub use sync::{ChangeListener, SyncStatusListener};
pub use types::*;

#[cfg(test)]
mod tests;
