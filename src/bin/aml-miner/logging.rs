//! Logging of the programs (the `aml-miner` binary and the examples, which include this file): the
//! library emits `tracing` events and never installs a subscriber; a program installs this one.

/// Sends `tracing` events to stderr, filtered by `RUST_LOG` (default `warn`). Does nothing if a
/// subscriber is already installed.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .try_init();
}
