//! `aml-miner train`: train the miner's model bundle on labelled history batches.
//!
//! Each `--history` directory is one day's batch with `address_labels.parquet` (a directory holding
//! several day directories is expanded). The last day validates (early stopping, calibration, the
//! metrics table printed at the end). `--tune N` first runs N random-search trials with day-grouped
//! CV and writes `MODEL_DIR/tuning.json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aml_train::pipeline::{self, training::prepare_days, TrainConfig};
use indicatif::{ProgressBar, ProgressStyle};

use super::CliError;

/// Options of `train`.
#[derive(clap::Parser, Debug, Clone)]
#[command(about = "Train scorer, ranker and cluster scorer into a model bundle")]
pub struct Args {
    /// History batch directories (or parents of day directories).
    #[arg(long, num_args = 1.., required_unless_present = "print_config")]
    pub history: Vec<PathBuf>,
    /// Output bundle directory (replaced atomically; an existing directory is replaced only when
    /// it is a model bundle, and never when it is or holds a history directory).
    #[arg(long, required_unless_present = "print_config")]
    pub out: Option<PathBuf>,
    /// Master seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Random-search trials before training (0 = use the default parameters).
    #[arg(long, default_value_t = 0)]
    pub tune: usize,
    /// Skip the baselines in the metrics table.
    #[arg(long)]
    pub no_baselines: bool,
    /// Training configuration (JSON `TrainConfig`; `--seed` still overrides its seed).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print the default configuration as JSON and exit (a starting point for `--config`).
    #[arg(long)]
    pub print_config: bool,
}

/// A batch directory has META.json; otherwise its sub-directories that do are taken, sorted.
fn expand(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut out = Vec::new();
    for d in dirs {
        if d.join("META.json").is_file() {
            out.push(d.clone());
            continue;
        }
        let mut subs: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(CliError::file(d))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("META.json").is_file())
            .collect();
        subs.sort();
        out.extend(subs);
    }
    Ok(out)
}

fn spinner(msg: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_message(msg.to_string());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Trains and saves the bundle as `args` says and prints the report; with `--print-config`, only
/// prints the default configuration.
pub fn run(args: &Args) -> Result<(), CliError> {
    if args.print_config {
        let config = TrainConfig::new(args.seed);
        println!("{}", serde_json::to_string_pretty(&config)?);
        return Ok(());
    }
    let out = args
        .out
        .as_deref()
        .ok_or_else(|| CliError::Usage("--out is required".into()))?;
    let dirs = expand(&args.history)?;
    // The bundle may never replace (or be a parent of) the history it is trained on: refused
    // before the (long) training, and again by `Bundle::save`.
    let inputs: Vec<&Path> = args
        .history
        .iter()
        .chain(&dirs)
        .map(PathBuf::as_path)
        .collect();
    aml_core::io::check_output(out, aml_models::bundle::OUTPUT_KIND, &inputs)?;
    let bar = spinner(&format!("loading {} history batches", dirs.len()));
    let batches = pipeline::load_history(&dirs)?;
    bar.finish_with_message(format!("loaded {} days", batches.len()));
    let mut config = match &args.config {
        Some(path) => TrainConfig::from_json_file(path, args.seed)?,
        None => TrainConfig::new(args.seed),
    };
    config.baselines &= !args.no_baselines;
    let mut tuning = None;
    if args.tune > 0 {
        let bar = spinner(&format!("tuning: {} trials", args.tune));
        let n_train = batches.len().saturating_sub(config.validation_days);
        let (_, days, _) = prepare_days(batches[..n_train].to_vec(), 1)?;
        let result = pipeline::tune_scorer(&days, &config.scorer_params, args.tune, 3, args.seed)?;
        bar.finish_with_message(format!(
            "tuning: best cv AUC-PR {:.4}",
            result.best_cv_auc_pr
        ));
        config.scorer_params = result.best_params.clone();
        tuning = Some(result);
    }
    let mut current: Option<ProgressBar> = None;
    let report = pipeline::train_bundle(batches, &config, &mut |stage| {
        if let Some(b) = current.take() {
            b.finish();
        }
        current = Some(spinner(stage));
    })?;
    if let Some(b) = current.take() {
        b.finish();
    }
    report.bundle.save(out, &inputs)?;
    if let Some(result) = tuning {
        let path = out.join("tuning.json");
        let text = serde_json::to_string_pretty(&result)? + "\n";
        aml_core::io::atomic_write(&path, text.as_bytes()).map_err(CliError::file(&path))?;
        println!("tuning results: {}", path.display());
    }
    print_report(&report, out);
    Ok(())
}

/// Prints the trained bundle's version, days, calibration and metrics table.
pub fn print_report(report: &pipeline::TrainReport, out: &Path) {
    let t = &report.bundle.metadata().training;
    println!("bundle {} -> {}", report.bundle.version(), out.display());
    println!(
        "train days {:?}, validation days {:?}",
        t.train_days, t.validation_days
    );
    println!(
        "calibration candidates (cross-fitted Brier): {:?}",
        report.calibration.candidates
    );
    println!(
        "kept calibration: {:?}\n",
        report.bundle.scorer().calibration().map(|c| match c {
            aml_models::Calibration::Platt { .. } => "platt",
            aml_models::Calibration::Isotonic { .. } => "isotonic",
            aml_models::Calibration::EvidencePlatt { .. } => "evidence_platt",
        })
    );
    let ranking = report.bundle.ranking_source();
    println!("rankings from {:?}: {}\n", ranking.model, ranking.reason);
    println!("{}", report.metrics.to_markdown());
}
