//! Featurises a batch directory and writes the alert feature matrix as Parquet: the demo behind
//! `aml-miner features`.
//!
//! `cargo run --release --example build_features -- --batch DIR --out matrix.parquet`
//! Prints the load time and the featurisation time separately (the speed target is on the latter).
//! [`aml_miner::cli::features::run`] loads the batch, fits (or reads) an `aml_features::FeatureSpec`
//! and writes `FeatureSpec::transform_with_report`'s matrix.

use aml_miner::cli::features;
use clap::Parser;

#[path = "../src/bin/aml-miner/allocator.rs"]
mod allocator;

fn main() {
    aml_miner::cli::exit_cleanly_on_closed_stdout();
    allocator::keep_freed_memory_until_exit();
    if let Err(e) = features::run(&features::Args::parse()) {
        eprintln!("build_features: {e}");
        std::process::exit(1);
    }
}
