//! Write synthetic SOT daily batches: `DIR/<YYYY-MM-DD>/` for each of `--days` consecutive days.
//!
//! ```text
//! cargo run --release --example generate_batch -- --out DIR [--date 2025-10-30] [--days K]
//!     [--alerts N] [--addresses N] [--flows N] [--seed S] [--labels]
//! ```
//! Defaults are a full production-size day (50,000 alerts, 500,000 addresses, 5,000,000 flows).

use aml_synth::{write_days, SynthConfig};
use clap::Parser;
use std::path::PathBuf;

/// Command-line options (defaults: `SynthConfig::full_day()`).
#[derive(Parser, Debug)]
#[command(about = "Generate synthetic SOT batches (Parquet + META.json)")]
struct Args {
    /// Output directory; one sub-directory per processing date.
    #[arg(long)]
    out: PathBuf,
    /// Processing date of the first day.
    #[arg(long, default_value = "2025-10-30")]
    date: String,
    /// Number of consecutive days.
    #[arg(long, default_value_t = 1)]
    days: usize,
    /// Alerts per day.
    #[arg(long, default_value_t = 50_000)]
    alerts: usize,
    /// Addresses (feature rows) per day.
    #[arg(long, default_value_t = 500_000)]
    addresses: usize,
    /// Target money-flow rows per day.
    #[arg(long, default_value_t = 5_000_000)]
    flows: usize,
    /// Master seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Also write address_labels.parquet (history / training batches).
    #[arg(long)]
    labels: bool,
    /// Network name.
    #[arg(long, default_value = "torus")]
    network: String,
}

fn main() {
    aml_miner::cli::exit_cleanly_on_closed_stdout();
    let args = Args::parse();
    let config = SynthConfig {
        seed: args.seed,
        n_alerts: args.alerts,
        n_addresses: args.addresses,
        n_flows: args.flows,
        date: args.date,
        days: args.days,
        with_labels: args.labels,
        network: args.network,
    };
    let started = std::time::Instant::now();
    match write_days(&args.out, &config) {
        Ok(dirs) => {
            for dir in &dirs {
                println!("{}", dir.display());
            }
            eprintln!(
                "wrote {} batch(es) in {:.1} s",
                dirs.len(),
                started.elapsed().as_secs_f64()
            );
        }
        Err(e) => {
            eprintln!("generate_batch: {e}");
            std::process::exit(1);
        }
    }
}
