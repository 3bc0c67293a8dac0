//! Self-validate a submission before sending it, with the validator's tiers 1-3: the demo behind
//! `aml-miner validate`.
//!
//! ```text
//! cargo run --release --example validate_submission -- --batch DIR --submission DIR \
//!     [--labels FILE] [--models DIR] [--json]
//! ```
//! Exit code: 0 when tier 1 (integrity) and tier 2 (behaviour) pass, 1 when either fails, 2 when the
//! batch, labels or models cannot be read. [`aml_miner::cli::validate::run`] loads the inputs and
//! calls `aml_miner::validation::validate_submission`.

use std::process::ExitCode;

use aml_miner::cli::validate;
use clap::Parser;

fn main() -> ExitCode {
    aml_miner::cli::exit_cleanly_on_closed_stdout();
    ExitCode::from(validate::run(&validate::Args::parse()))
}
