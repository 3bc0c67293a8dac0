//! Logging of the programs (the `aml-miner` binary and the examples, which include this file): the
//! library emits `tracing` events and never installs a subscriber; a program installs this one.

/// Sends `tracing` events to stderr as text, filtered by `RUST_LOG` (default `warn`). Does
/// nothing if a subscriber is already installed.
#[allow(dead_code)] // the binary uses `init_with`, the examples `init`
pub fn init() {
    init_with(&aml_miner::config::LoggingConfig::default());
}

/// Sends `tracing` events to stderr in the configured format (text, or one JSON object per line),
/// filtered by `RUST_LOG`, else by the configured filter. Does nothing if a subscriber is already
/// installed.
pub fn init_with(logging: &aml_miner::config::LoggingConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&logging.filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    let _ = match logging.format {
        aml_miner::config::LogFormat::Text => builder.try_init(),
        aml_miner::config::LogFormat::Json => builder.json().try_init(),
    };
}
