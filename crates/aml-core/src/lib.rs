// The README is the crate documentation, so its example is compiled by `cargo test --doc`.
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

// Always built (the engine crates use them without arrow, parquet or ed25519): `io` and `date`,
// and the error types (plain data, no dependency of their own). The SOT tables, their Parquet
// I/O, META.json and the signed submissions need the default `tables` feature.
#[cfg(feature = "tables")]
pub mod batch;
#[cfg(feature = "tables")]
mod columns;
pub mod date;
pub mod error;
pub mod io;
#[cfg(feature = "tables")]
pub mod meta;
#[cfg(feature = "tables")]
pub mod read;
#[cfg(feature = "tables")]
pub mod schema;
#[cfg(feature = "tables")]
pub mod submission;
#[cfg(feature = "tables")]
pub mod tables;
#[cfg(feature = "tables")]
mod validate;
#[cfg(feature = "tables")]
pub mod write;

#[cfg(feature = "tables")]
pub use batch::{Batch, BatchReport};
pub use error::{BatchError, BatchWarning, InvalidValue, OutputError, SubmissionError};
#[cfg(feature = "tables")]
pub use meta::{Meta, PatternTrap};
#[cfg(feature = "tables")]
pub use read::FlowColumns;
