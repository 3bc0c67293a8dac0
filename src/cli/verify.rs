//! `aml-miner verify`: check a SOT batch directory (sha256 of every file against META.json, schema
//! and value checks, dangling references) and print a summary.

use std::path::PathBuf;
use std::time::Instant;

use aml_core::{Batch, BatchError, BatchReport};

/// Options of `verify`.
#[derive(clap::Parser, Debug, Clone)]
#[command(about = "Verify a SOT batch directory (hashes, schema, values, references)")]
pub struct Args {
    /// Batch directory holding META.json and the Parquet tables.
    pub dir: PathBuf,
}

/// A batch that failed verification; its message names the directory.
#[derive(Debug, thiserror::Error)]
#[error("{}: INVALID: {source}", dir.display())]
pub struct Invalid {
    /// The batch directory.
    pub dir: PathBuf,
    /// What is wrong with it (boxed: a `BatchError` is large).
    pub source: Box<BatchError>,
}

/// Loads and verifies the batch, then prints its summary.
pub fn run(args: &Args) -> Result<(Batch, BatchReport), Invalid> {
    let started = Instant::now();
    let (batch, report) = Batch::load(&args.dir).map_err(|source| Invalid {
        dir: args.dir.clone(),
        source: Box::new(source),
    })?;
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
    Ok((batch, report))
}
