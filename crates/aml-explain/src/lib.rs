//! aml-explain: see the crate README.
#![deny(missing_docs)]
