//! Verifies a SOT batch directory: sha256 of every file against META.json, schema and value checks,
//! and dangling references. Prints a summary; exits non-zero with the error on a bad batch.
//!
//! `cargo run --release --example verify_batch -- DIR`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

/// Command line of verify_batch.
#[derive(Parser)]
#[command(about = "Verify a SOT batch directory (hashes, schema, values, references)")]
struct Args {
    /// Batch directory holding META.json and the Parquet tables.
    dir: PathBuf,
}

fn main() -> ExitCode {
    aml_miner::cli::exit_cleanly_on_closed_stdout();
    let args = Args::parse();
    let started = Instant::now();
    let (batch, report) = match aml_core::Batch::load(&args.dir) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("{}: INVALID: {error}", args.dir.display());
            return ExitCode::FAILURE;
        }
    };
    let meta = &batch.meta;
    println!(
        "batch {} ({} {}, window {} days)",
        meta.batch_id, meta.network, meta.processing_date, meta.window_days
    );
    println!(
        "hashes: {} files verified against META.json",
        meta.sha256.len()
    );
    println!("alerts:        {:>10}", batch.alerts.len());
    println!("addresses:     {:>10}", batch.features.len());
    println!("feature cols:  {:>10}", batch.features.numeric.len());
    println!("clusters:      {:>10}", batch.clusters.len());
    println!(
        "money flows:   {:>10} ({} distinct addresses)",
        batch.money_flows.len(),
        batch.money_flows.addresses.len()
    );
    match &batch.labels {
        Some(labels) => println!("labels:        {:>10}", labels.len()),
        None => println!("labels:        {:>10}", "none"),
    }
    println!("pattern traps: {:>10}", meta.pattern_traps.len());
    println!("warnings:      {:>10}", report.warnings.len());
    for warning in report.warnings.iter().take(20) {
        println!("  {warning}");
    }
    if report.warnings.len() > 20 {
        println!("  ... and {} more", report.warnings.len() - 20);
    }
    println!(
        "loaded and verified in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
