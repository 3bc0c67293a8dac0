//! `aml-miner score`: score one SOT batch and write a signed submission.
//!
//! With no `--batch`, a synthetic day is generated (the day after the bundle's last training day,
//! in the synthetic world `trained_models/` was trained on) under the system temp directory. The key
//! comes from `--key FILE`, else `AML_MINER_KEY` (hex 32-byte seed), else the public development key
//! (loudly announced).

use std::path::PathBuf;
use std::time::Duration;

use aml_models::Bundle;
use aml_synth::{parse_date, write_batch, SynthConfig};
use indicatif::{ProgressBar, ProgressStyle};

use super::CliError;
use crate::pipeline::{self, BatchInput, KeySource, Progress, ScoreOptions, Summary};

/// The synthetic world `trained_models/` was trained on (see trained_models/README.md).
pub fn demo_world() -> SynthConfig {
    SynthConfig {
        seed: 42,
        n_alerts: 5_000,
        n_addresses: 50_000,
        n_flows: 250_000,
        date: "2025-10-01".into(),
        days: 1,
        with_labels: false,
        network: "torus".into(),
    }
}

/// Options of `score`.
#[derive(clap::Parser, Debug, Clone)]
#[command(about = "Score a batch: verify, featurise, score + explain, rank, cluster-score, sign")]
pub struct Args {
    /// Batch directory (default: generate a synthetic day).
    #[arg(long)]
    pub batch: Option<PathBuf>,
    /// Model bundle directory [default: `models` of the config, else trained_models].
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Submission output directory (replaced atomically; an existing directory is replaced only
    /// when it is a submission, and never when it is or holds the batch).
    #[arg(long, conflicts_with = "store")]
    pub out: Option<PathBuf>,
    /// Daily store served by `serve`: writes into `STORE/<processing_date>/`.
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Signing key file (hex seed or 32 raw bytes) [default: `key_file` of the config].
    #[arg(long)]
    pub key: Option<PathBuf>,
}

impl Args {
    /// Fills what the command line left unset from `config`: the bundle, the key file, and the
    /// store when neither `--out` nor `--store` is given. Flags always win.
    pub fn with_config(mut self, config: &crate::config::MinerConfig) -> Args {
        self.models.get_or_insert_with(|| config.models.clone());
        if self.key.is_none() {
            self.key.clone_from(&config.key_file);
        }
        if self.out.is_none() && self.store.is_none() {
            self.store.clone_from(&config.store);
        }
        self
    }

    /// The bundle directory: `--models`, else `trained_models`.
    pub fn models(&self) -> PathBuf {
        self.models
            .clone()
            .unwrap_or_else(|| crate::config::MinerConfig::default().models)
    }
}

/// Scores the batch as `args` says, with progress spinners on stderr, and prints the summary.
pub fn run(args: &Args) -> Result<Summary, CliError> {
    let bundle = Bundle::load(&args.models())?;
    let demo_dir = std::env::temp_dir().join("aml-miner-demo");
    let batch_dir = match &args.batch {
        Some(dir) => dir.clone(),
        None => {
            let world = demo_world();
            let last = &bundle.metadata().training.last_day;
            let day = (parse_date(last)? - parse_date(&world.date)? + 1).max(0) as usize;
            let dir = demo_dir.join("batch");
            let bar = ProgressBar::new_spinner()
                .with_message(format!("generating synthetic day {day} (after {last})"));
            bar.enable_steady_tick(Duration::from_millis(120));
            write_batch(&dir, &world, day)?;
            bar.finish_with_message(format!("synthetic batch: {}", dir.display()));
            dir
        }
    };
    let out = match (&args.out, &args.store) {
        (Some(out), _) => out.clone(),
        (None, Some(store)) => {
            let date = aml_core::read::read_meta(&batch_dir)?.date()?;
            crate::service::store::Store::new(store).day_dir(date)
        }
        (None, None) => demo_dir.join("submission"),
    };
    let (key, source) = pipeline::load_signing_key(args.key.as_deref())?;
    if source == KeySource::Development {
        eprintln!(
            "\n!!! WARNING: no --key and no {} set: signing with the PUBLIC DEVELOPMENT KEY.",
            pipeline::KEY_ENV
        );
        eprintln!("!!! This receipt proves nothing. Never submit it.\n");
    }
    let style = ProgressStyle::with_template("{spinner} {msg:<18} [{elapsed_precise}]")
        .expect("valid template");
    let mut bar: Option<ProgressBar> = None;
    let (summary, loaded) = pipeline::score_batch_keeping(
        BatchInput::Dir(&batch_dir),
        &bundle,
        &out,
        &key,
        source,
        &ScoreOptions::default(),
        &mut |event| match event {
            Progress::Start(stage) => {
                let b = ProgressBar::new_spinner()
                    .with_style(style.clone())
                    .with_message(stage.to_string());
                b.enable_steady_tick(Duration::from_millis(100));
                bar = Some(b);
            }
            Progress::Done(stage, secs) => {
                if let Some(b) = bar.take() {
                    b.finish_with_message(format!("{stage:<18} {secs:>7.3} s"));
                }
            }
        },
    )?;
    // The day's tables are millions of allocations: freeing them takes a few tenths of a second
    // that nothing waits on. They go to a thread nobody joins: when the process exits right
    // after (`aml-miner score`, `score_batch`), the operating system reclaims them at once; a
    // caller that goes on has them freed in the background.
    std::thread::spawn(move || drop(loaded));
    print_summary(&summary);
    Ok(summary)
}

/// Prints what a scoring run did: stages, score distribution, top alerts, warnings, receipt.
pub fn print_summary(summary: &Summary) {
    println!(
        "\nbatch {} scored with bundle {}",
        summary.batch_id, summary.model_version
    );
    println!(
        "{} alerts, {} clusters -> {}",
        summary.n_alerts,
        summary.n_clusters,
        summary.out_dir.display()
    );
    let stages: Vec<String> = summary
        .timings
        .iter()
        .map(|t| format!("{} {:.3} s", t.stage, t.seconds))
        .collect();
    let total: f64 = summary.timings.iter().map(|t| t.seconds).sum();
    println!("stages: {}  (total {total:.3} s)", stages.join(" | "));
    let d = &summary.distribution;
    println!(
        "scores: min {:.4}  p10 {:.4}  median {:.4}  p90 {:.4}  max {:.4}  mean {:.4}",
        d.min, d.p10, d.p50, d.p90, d.max, d.mean
    );
    println!("histogram (tenths of [0,1]): {:?}", d.histogram);
    println!("\ntop 10 alerts:");
    for a in &summary.top_alerts {
        println!("  #{:<3} {}  score {:.4}", a.rank, a.alert_id, a.score);
        for r in &a.reasons {
            println!("        {r}");
        }
    }
    for w in summary.warnings.iter().take(10) {
        println!("warning: {w}");
    }
    println!(
        "\nreceipt: scores_hash {} signed by {}",
        summary.receipt.scores_hash, summary.receipt.miner_pubkey
    );
    if summary.key_source == KeySource::Development {
        println!(
            "!!! signed with the PUBLIC DEVELOPMENT KEY: set {} or pass --key",
            pipeline::KEY_ENV
        );
    }
}
