//! Shared pieces of Carnet's cross-process tests and benchmarks: a
//! realistic portfolio generator and small measurement helpers.

pub mod harness;
pub mod portfolio;
pub mod raw;
pub mod smtp;
pub mod stats;
