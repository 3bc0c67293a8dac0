//! aml-miner: deterministic AML alert scoring.
#![forbid(unsafe_code)]

pub use aml_core as core;
pub use aml_explain as explain;
pub use aml_features as features;
pub use aml_models as models;
pub use aml_train as train;

pub mod cli;
pub mod config;
pub mod daily;
pub mod fetch;
pub mod pipeline;
pub mod service;
pub mod validation;
