//! Serve scores over HTTP: the demo behind `aml-miner serve`.
//!
//! ```text
//! cargo run --release --example serve -- --models DIR --store DIR [--addr 127.0.0.1:8000] [--max-body BYTES]
//!     [--max-upload BYTES] [--header-timeout SECS] [--request-timeout SECS] [--scoring-jobs N]
//!     [--scoring-queue N] [--retry-after SECS] [--max-connections N] [--shutdown-grace SECS]
//!     [--cors-origin ORIGIN ...]
//! ```
//! The default address listens on the loopback interface only; `--addr 0.0.0.0:8000` (IPv4) or
//! `--addr [::]:8000` binds every interface, as a validator on another machine needs. CORS is off
//! unless `--cors-origin` is given (`*` for any origin, or repeat the flag per origin).
//! Models are loaded once. On SIGINT / SIGTERM it stops accepting, lets in-flight requests finish for
//! `--shutdown-grace` seconds, then closes the remaining connections. Every limit's default is the
//! one of `ServiceLimits::default()` (see docs/api.md and docs/security.md).
//!
//! [`aml_miner::cli::serve::run`] builds an `aml_miner::service::AppState` and runs
//! `aml_miner::service::serve` on a tokio runtime.

use aml_miner::cli::serve;
use clap::Parser;

#[path = "../src/bin/aml-miner/logging.rs"]
mod logging;

fn main() {
    logging::init();
    if let Err(e) = serve::run(&serve::Args::parse()) {
        eprintln!("serve: {e}");
        std::process::exit(1);
    }
}
