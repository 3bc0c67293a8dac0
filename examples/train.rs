//! Train the miner's model bundle on labelled history batches: the demo behind `aml-miner train`.
//!
//! ```text
//! cargo run --release --example train -- --history DIR... --out MODEL_DIR [--seed 42] [--tune N]
//! cargo run --release --example train -- --print-config > train.json
//! ```
//! Each `--history` directory is one day's batch with `address_labels.parquet` (a directory
//! holding several day directories is expanded). The last day validates (early stopping,
//! calibration, the metrics table printed at the end). `--tune N` first runs N random-search
//! trials with day-grouped CV and writes `MODEL_DIR/tuning.json`.
//!
//! [`aml_miner::cli::train::run`] calls `aml_train::pipeline::{load_history, tune_scorer,
//! train_bundle}` and saves the bundle with `Bundle::save`.

use aml_miner::cli::train;
use clap::Parser;

#[path = "../src/bin/aml-miner/logging.rs"]
mod logging;

fn main() {
    aml_miner::cli::exit_cleanly_on_closed_stdout();
    logging::init();
    if let Err(e) = train::run(&train::Args::parse()) {
        eprintln!("train: {e}");
        std::process::exit(1);
    }
}
