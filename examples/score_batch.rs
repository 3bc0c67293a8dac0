//! Score one SOT batch and write a signed submission: the demo behind `aml-miner score`.
//!
//! ```text
//! cargo run --release --example score_batch -- [--batch DIR] [--models DIR] [--out DIR | --store DIR] [--key FILE]
//! ```
//! With no `--batch`, a synthetic day is generated (the day after the shipped models' last
//! training day, same synthetic world) under the system temp directory, and the shipped
//! `trained_models/` bundle scores it. The key comes from `--key FILE`, else `AML_MINER_KEY`
//! (hex 32-byte seed), else the public development key (loudly announced).
//!
//! Everything happens in [`aml_miner::cli::score::run`]: load the bundle, pick the batch, load
//! the signing key, then `aml_miner::pipeline::score_batch` with progress spinners, then the
//! summary (distribution, top alerts with their SHAP reasons, receipt).

use aml_miner::cli::score;
use clap::Parser;

#[path = "../src/bin/aml-miner/allocator.rs"]
mod allocator;

#[path = "../src/bin/aml-miner/logging.rs"]
mod logging;

fn main() {
    aml_miner::cli::exit_cleanly_on_closed_stdout();
    allocator::keep_freed_memory_until_exit();
    logging::init();
    if let Err(e) = score::run(&score::Args::parse()) {
        eprintln!("score_batch: {e}");
        std::process::exit(1);
    }
}
