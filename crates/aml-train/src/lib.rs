//! aml-train: see the crate README.
#![deny(missing_docs)]
