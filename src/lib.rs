//! aml-miner: deterministic AML alert scoring.
#![deny(missing_docs)]

pub use aml_core as core;
pub use aml_explain as explain;
pub use aml_features as features;
pub use aml_models as models;
pub use aml_train as train;

pub mod cli;
pub mod pipeline;
pub mod service;
pub mod validation;

/// Sends `tracing` logs to stderr, filtered by `RUST_LOG` (default `warn`): what the examples
/// and a miner's own binaries call first. Does nothing if a subscriber is already installed.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .try_init();
}
