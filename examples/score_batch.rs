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

/// mimalloc, not the system allocator: glibc keeps the memory its per-thread arenas freed (the
/// batch's decode buffers) and the day's peak RSS grows by it, where mimalloc gives it back; it
/// also frees the day's millions of small allocations faster. Outputs do not depend on it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../src/bin/aml-miner/logging.rs"]
mod logging;

fn main() {
    aml_miner::cli::exit_cleanly_on_closed_stdout();
    logging::init();
    if let Err(e) = score::run(&score::Args::parse()) {
        eprintln!("score_batch: {e}");
        std::process::exit(1);
    }
}
