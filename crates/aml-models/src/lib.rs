//! Tree ensembles, LightGBM-compatible model files and the `Model` trait for aml-miner.
#![deny(missing_docs)]

pub mod tree;

pub use tree::{MissingType, ObjectiveKind, OutputTransform, Tree, TreeEnsemble};
