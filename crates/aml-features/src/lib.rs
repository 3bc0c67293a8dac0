//! aml-features: see the crate README.
#![deny(missing_docs)]
