//! aml-core: see the crate README.
#![deny(missing_docs)]
