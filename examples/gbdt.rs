//! A LightGBM-style command line: train a GBDT from a data file, predict with a model file,
//! re-save a LightGBM model with our writer. The demo behind `aml-miner gbdt`.
//!
//! ```text
//! cargo run --release --example gbdt -- train --data train.csv --valid valid.csv \
//!     --objective binary --num-trees 200 --early-stopping 20 --out model.txt
//! cargo run --release --example gbdt -- predict --model model.txt --data test.csv --out preds.tsv
//! cargo run --release --example gbdt -- resave --model lightgbm.txt --out ours.txt
//! ```
//! [`aml_miner::cli::gbdt::run`] does the work; see its docs for the data formats.

use std::process::ExitCode;

use aml_miner::cli::gbdt;
use clap::Parser;

fn main() -> ExitCode {
    match gbdt::run(&gbdt::Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
