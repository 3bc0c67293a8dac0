//! Verifies a SOT batch directory: sha256 of every file against META.json, schema and value checks,
//! and dangling references. Prints a summary; exits non-zero with the error on a bad batch. The demo
//! behind `aml-miner verify`.
//!
//! `cargo run --release --example verify_batch -- DIR`
//!
//! [`aml_miner::cli::verify::run`] calls `aml_core::Batch::load` and prints what it found.

use std::process::ExitCode;

use aml_miner::cli::verify;
use clap::Parser;

fn main() -> ExitCode {
    aml_miner::cli::exit_cleanly_on_closed_stdout();
    match verify::run(&verify::Args::parse()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(invalid) => {
            eprintln!("{invalid}");
            ExitCode::FAILURE
        }
    }
}
