//! Write synthetic SOT daily batches, `DIR/<YYYY-MM-DD>/` for each of `--days` consecutive days: the
//! demo behind `aml-miner generate`.
//!
//! ```text
//! cargo run --release --example generate_batch -- --out DIR [--date 2025-10-30] [--days K]
//!     [--alerts N] [--addresses N] [--flows N] [--seed S] [--labels]
//! ```
//! Defaults are a full production-size day (50,000 alerts, 500,000 addresses, 5,000,000 flows).
//! [`aml_miner::cli::generate::run`] calls `aml_synth::write_days`.

use aml_miner::cli::generate;
use clap::Parser;

fn main() {
    aml_miner::cli::exit_cleanly_on_closed_stdout();
    if let Err(e) = generate::run(&generate::Args::parse()) {
        eprintln!("generate_batch: {e}");
        std::process::exit(1);
    }
}
