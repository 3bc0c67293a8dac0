// The README is the crate documentation, so its example is compiled by `cargo test --doc`.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod batch;
mod columns;
pub mod date;
pub mod error;
pub mod io;
pub mod meta;
pub mod read;
pub mod schema;
pub mod submission;
pub mod tables;
mod validate;
pub mod write;

pub use batch::{Batch, BatchReport};
pub use error::{BatchError, BatchWarning, InvalidValue, OutputError, SubmissionError};
pub use meta::{Meta, PatternTrap};
pub use read::FlowColumns;
