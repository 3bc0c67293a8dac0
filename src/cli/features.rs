//! `aml-miner features`: featurise a batch directory and write the alert feature matrix as Parquet.
//! Prints the load time and the featurisation time separately (the speed target is on the latter).

use std::path::PathBuf;
use std::time::Instant;

use aml_core::batch::Batch;
use aml_features::{FeatureBuilder, FeatureMatrix, FeatureSpec};

use super::CliError;

/// Options of `features`.
#[derive(clap::Parser, Debug, Clone)]
#[command(about = "Featurise a batch and write the alert feature matrix (Parquet)")]
pub struct Args {
    /// Batch directory (META.json + parquet files).
    #[arg(long)]
    pub batch: PathBuf,
    /// Output Parquet file: alert_id + every feature column (Float32).
    #[arg(long)]
    pub out: PathBuf,
    /// Apply this fitted spec (JSON) instead of fitting one on the batch itself.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Also write the cluster matrix here.
    #[arg(long)]
    pub clusters_out: Option<PathBuf>,
}

/// Builds and writes the matrix (and the cluster matrix when asked), printing sizes and timings.
pub fn run(args: &Args) -> Result<FeatureMatrix, CliError> {
    let t0 = Instant::now();
    let (batch, report) = Batch::load_with(&args.batch, aml_core::FlowColumns::Scoring)?;
    let load_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let spec = match &args.spec {
        Some(path) => {
            FeatureSpec::from_json(&std::fs::read_to_string(path).map_err(CliError::file(path))?)?
        }
        None => FeatureBuilder::new().fit(&[&batch])?,
    };
    let fit_s = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let (matrix, warnings) = spec.transform_with_report(&batch)?;
    let featurise_s = t2.elapsed().as_secs_f64();
    let t3 = Instant::now();
    matrix.write_parquet(&args.out, "alert_id")?;
    let write_s = t3.elapsed().as_secs_f64();
    if let Some(path) = &args.clusters_out {
        let (clusters, _) = spec.build_cluster_matrix(&batch, None)?;
        clusters.write_parquet(path, "cluster_id")?;
    }
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "batch: {} alerts, {} addresses, {} clusters, {} flows ({} load warnings)",
        batch.alerts.len(),
        batch.features.len(),
        batch.clusters.len(),
        batch.money_flows.len(),
        report.warnings.len()
    );
    println!(
        "matrix: {} rows x {} features",
        matrix.n_rows(),
        matrix.n_features()
    );
    println!(
        "load {load_s:.3} s | fit {fit_s:.3} s | featurise {featurise_s:.3} s | write {write_s:.3} s"
    );
    // Millions of allocations nothing waits on (see `cli::score::run`): freed on a thread nobody
    // joins, so a process that exits next leaves them to the operating system.
    std::thread::spawn(move || drop(batch));
    Ok(matrix)
}
