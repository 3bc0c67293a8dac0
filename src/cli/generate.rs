//! `aml-miner generate`: write synthetic SOT daily batches, `DIR/<YYYY-MM-DD>/` for each of `--days`
//! consecutive days. Defaults are a full production-size day (50,000 alerts, 500,000 addresses,
//! 5,000,000 flows).

use std::path::PathBuf;

use aml_synth::{write_days, SynthConfig};

use super::CliError;

/// Options of `generate` (defaults: `SynthConfig::full_day()`).
#[derive(clap::Parser, Debug, Clone)]
#[command(about = "Generate synthetic SOT batches (Parquet + META.json)")]
pub struct Args {
    /// Output directory; one sub-directory per processing date.
    #[arg(long)]
    pub out: PathBuf,
    /// Processing date of the first day.
    #[arg(long, default_value = "2025-10-30")]
    pub date: String,
    /// Number of consecutive days.
    #[arg(long, default_value_t = 1)]
    pub days: usize,
    /// Alerts per day.
    #[arg(long, default_value_t = 50_000)]
    pub alerts: usize,
    /// Addresses (feature rows) per day.
    #[arg(long, default_value_t = 500_000)]
    pub addresses: usize,
    /// Target money-flow rows per day.
    #[arg(long, default_value_t = 5_000_000)]
    pub flows: usize,
    /// Master seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also write address_labels.parquet (history / training batches).
    #[arg(long)]
    pub labels: bool,
    /// Network name.
    #[arg(long, default_value = "torus")]
    pub network: String,
}

impl Args {
    /// The generator configuration these flags describe.
    pub fn config(&self) -> SynthConfig {
        SynthConfig {
            seed: self.seed,
            n_alerts: self.alerts,
            n_addresses: self.addresses,
            n_flows: self.flows,
            date: self.date.clone(),
            days: self.days,
            with_labels: self.labels,
            network: self.network.clone(),
        }
    }
}

/// Writes the batches, prints each directory on stdout and the time taken on stderr.
pub fn run(args: &Args) -> Result<Vec<PathBuf>, CliError> {
    let started = std::time::Instant::now();
    let dirs = write_days(&args.out, &args.config())?;
    for dir in &dirs {
        println!("{}", dir.display());
    }
    eprintln!(
        "wrote {} batch(es) in {:.1} s",
        dirs.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(dirs)
}
