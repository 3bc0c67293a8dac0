//! `aml-miner validate`: self-validate a submission before sending it, with the validator's tiers 1-3.
//!
//! Exit code: 0 when tier 1 (integrity) and tier 2 (behaviour) pass, 1 when either fails, 2 when the
//! batch, labels or models cannot be read.

use std::path::PathBuf;

use aml_core::Batch;
use aml_models::Bundle;

use crate::validation::{self, labels::read_labels_file};

/// Exit code when every pass/fail tier passed.
pub const EXIT_PASSED: u8 = 0;
/// Exit code when tier 1 or tier 2 failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code when an input could not be read.
pub const EXIT_UNREADABLE: u8 = 2;

/// Options of `validate`.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    about = "Check a submission the way the validator does (tier 1 integrity, tier 2 traps, tier 3 labels)"
)]
pub struct Args {
    /// Batch directory the submission answers.
    #[arg(long)]
    pub batch: PathBuf,
    /// Submission directory (scores.parquet, rankings.parquet, cluster_scores.parquet, manifest.json, receipt.json).
    #[arg(long)]
    pub submission: PathBuf,
    /// address_labels.parquet for tier 3 (default: the batch's own labels, if any).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Model bundle: re-score the batch and check the scores are identical (determinism).
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Validates as `args` says, prints the report and returns the exit code.
pub fn run(args: &Args) -> u8 {
    let (batch, _) = match Batch::load(&args.batch) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("cannot load batch {}: {e}", args.batch.display());
            return EXIT_UNREADABLE;
        }
    };
    let labels = match args.labels.as_deref().map(read_labels_file).transpose() {
        Ok(labels) => labels,
        Err(e) => {
            eprintln!("cannot read labels: {e}");
            return EXIT_UNREADABLE;
        }
    };
    let rerun = match &args.models {
        Some(dir) => match Bundle::load(dir)
            .map_err(|e| e.to_string())
            .and_then(|bundle| {
                crate::pipeline::score_alerts(&batch, &bundle).map_err(|e| e.to_string())
            }) {
            Ok(rows) => Some(rows),
            Err(e) => {
                eprintln!("cannot re-score with {}: {e}", dir.display());
                return EXIT_UNREADABLE;
            }
        },
        None => None,
    };
    let report = validation::validate_submission(
        &batch,
        Some(&args.batch),
        &args.submission,
        labels.as_ref(),
        rerun.as_deref(),
    );
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("cannot serialise the report: {e}");
                return EXIT_UNREADABLE;
            }
        }
    } else {
        print!("{}", report.to_text());
    }
    if report.passed() {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    }
}
