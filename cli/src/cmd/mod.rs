//! One module per command group.

pub mod account;
pub mod catalog;
pub mod conflicts;
pub mod debug;
pub mod export;
pub mod import;
pub mod library;
pub mod quote;
pub mod records;
pub mod reports;
pub mod sync;
