//! `aml-miner gbdt`: a LightGBM-style command line: train a GBDT from a data file, predict with a
//! model file, re-save a LightGBM model with our writer.
//!
//! ```text
//! aml-miner gbdt train --data train.csv --valid valid.csv \
//!     --objective binary --num-trees 200 --early-stopping 20 --out model.txt
//! aml-miner gbdt predict --model model.txt --data test.csv --out preds.tsv
//! aml-miner gbdt resave --model lightgbm.txt --out ours.txt
//! ```
//! (`cargo run --release --example gbdt -- ...` runs the same commands.)
//! Data files: CSV/TSV (label first, header auto-detected), LibSVM (zero-based indices,
//! optional `FILE.query` sidecar) or Parquet (`--label COL`, `--group COL`); see
//! `aml_train::data_file`. Predictions: one line per row, tab separated, one column per class
//! (`num_class` columns for multiclass models, raw or transformed). `predict` reads the
//! features in full `f64` precision (LightGBM compares `f64` inputs with `f64` thresholds);
//! `train` bins the `f32` features, as the miner does.
//! `tests/gbdt_cli.rs` drives [`run`] in-process.
use std::path::{Path, PathBuf};

use aml_models::{GbdtModel, Model};
use aml_train::data_file::{read_data_file, read_features_f64, write_predictions, ReadOptions};
use aml_train::{train, GbdtParams, Objective, RoundInfo};
use clap::{Parser, Subcommand, ValueEnum};

use super::CliError;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array2;

/// The `gbdt` command line: one of its subcommands.
#[derive(Parser)]
#[command(about = "Train and apply LightGBM-compatible gradient-boosted trees")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model and write it as a LightGBM text model file.
    Train(TrainArgs),
    /// Predict every row of a data file; one tab-separated line per row, one column per class.
    Predict(PredictArgs),
    /// Parse a LightGBM text model and write it back with our writer.
    Resave(ResaveArgs),
}

#[derive(clap::Args)]
struct Columns {
    /// Parquet (or headed CSV/TSV) label column.
    #[arg(long)]
    label: Option<String>,
    /// Parquet (or headed CSV/TSV) query column: consecutive equal values form a query.
    #[arg(long)]
    group: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ObjectiveArg {
    Binary,
    Lambdarank,
    Regression,
    /// XE-NDCG ranking (LightGBM's `rank_xendcg`).
    #[value(name = "rank_xendcg")]
    RankXendcg,
}

#[derive(clap::Args)]
struct TrainArgs {
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    valid: Option<PathBuf>,
    #[arg(long, value_enum)]
    objective: ObjectiveArg,
    #[command(flatten)]
    columns: Columns,
    #[arg(long, default_value_t = 100)]
    num_trees: usize,
    #[arg(long, default_value_t = 31)]
    num_leaves: usize,
    #[arg(long, default_value_t = 0.1)]
    learning_rate: f64,
    #[arg(long, default_value_t = 20)]
    min_data_in_leaf: usize,
    #[arg(long, default_value_t = 1.0)]
    feature_fraction: f64,
    #[arg(long, default_value_t = 1.0)]
    bagging_fraction: f64,
    #[arg(long, default_value_t = 0)]
    bagging_freq: usize,
    #[arg(long, default_value_t = 0.0)]
    lambda_l2: f64,
    #[arg(long, default_value_t = 255)]
    max_bin: usize,
    /// LambdaRank: only pairs with a row in the top N positions count.
    #[arg(long, default_value_t = GbdtParams::default().lambdarank_truncation_level)]
    lambdarank_truncation_level: usize,
    /// LambdaRank: each row below the truncation level also pairs with M partners drawn from
    /// the rows below it of other labels (0: LightGBM's pairs only).
    #[arg(long, default_value_t = 0, value_name = "M")]
    lambdarank_pair_sample: usize,
    /// LambdaRank: divide each row's gradient and hessian by sqrt(pairs it took part in).
    #[arg(long)]
    lambdarank_pair_norm: bool,
    /// Sigmoid scale of binary log loss and LambdaRank.
    #[arg(long, default_value_t = GbdtParams::default().sigmoid)]
    sigmoid: f64,
    /// LambdaRank: gain of each relevance grade, comma separated (default `2^grade - 1`).
    #[arg(long, value_delimiter = ',', value_name = "GAINS")]
    label_gain: Option<Vec<f64>>,
    /// Stop when the validation metric has not improved for N rounds.
    #[arg(long)]
    early_stopping: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct PredictArgs {
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    columns: Columns,
    /// Raw scores instead of probabilities.
    #[arg(long)]
    raw: bool,
    /// Per-feature TreeSHAP contributions plus the expected value (LightGBM's pred_contrib layout).
    #[arg(long, conflicts_with = "raw")]
    contrib: bool,
    /// First boosting iteration to use (LightGBM's `start_iteration`).
    #[arg(long, default_value_t = 0)]
    start_iteration: usize,
    /// Number of iterations to use from `--start-iteration` (LightGBM's `num_iteration`; 0 or
    /// absent: all of them, also for an early-stopped model).
    #[arg(long)]
    num_iteration: Option<usize>,
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct ResaveArgs {
    /// A LightGBM (or our) text model.
    #[arg(long)]
    model: PathBuf,
    /// Where to write it (atomically).
    #[arg(long)]
    out: PathBuf,
}

type CliResult = Result<(), CliError>;

fn options(columns: &Columns, require_label: bool) -> ReadOptions {
    ReadOptions {
        label: columns.label.clone(),
        group: columns.group.clone(),
        require_label,
    }
}

fn read(
    path: &Path,
    columns: &Columns,
    require_label: bool,
) -> Result<aml_train::Dataset, CliError> {
    Ok(read_data_file(path, &options(columns, require_label))?)
}

fn run_train(args: &TrainArgs) -> CliResult {
    let objective = match args.objective {
        ObjectiveArg::Binary => Objective::Binary,
        ObjectiveArg::Lambdarank => Objective::LambdaRank,
        ObjectiveArg::Regression => Objective::Regression,
        ObjectiveArg::RankXendcg => Objective::RankXendcg,
    };
    let params = GbdtParams {
        objective,
        num_iterations: args.num_trees,
        num_leaves: args.num_leaves,
        learning_rate: args.learning_rate,
        min_data_in_leaf: args.min_data_in_leaf,
        feature_fraction: args.feature_fraction,
        bagging_fraction: args.bagging_fraction,
        bagging_freq: args.bagging_freq,
        lambda_l2: args.lambda_l2,
        max_bin: args.max_bin,
        lambdarank_truncation_level: args.lambdarank_truncation_level,
        lambdarank_pair_sample: args.lambdarank_pair_sample,
        lambdarank_pair_norm: args.lambdarank_pair_norm,
        sigmoid: args.sigmoid,
        label_gain: args.label_gain.clone(),
        early_stopping_rounds: args.early_stopping,
        seed: args.seed,
        num_threads: args.threads,
        ..GbdtParams::default()
    };
    let train_set = read(&args.data, &args.columns, true)?;
    let valid_set = args
        .valid
        .as_deref()
        .map(|v| read(v, &args.columns, true))
        .transpose()?;
    let metric_name = params.effective_metric().name();
    let bar = ProgressBar::new(params.num_iterations as u64);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} trees {msg}",
    )?);
    let mut on_round = |round: &RoundInfo| {
        if let Some(value) = round.valid_metric {
            bar.set_message(format!("valid {metric_name} {value:.6}"));
        }
        bar.inc(1);
        true
    };
    let output = train(&params, &train_set, valid_set.as_ref(), Some(&mut on_round))?;
    bar.finish();
    GbdtModel::from_ensemble_with_parameters(output.ensemble, params.lightgbm_parameter_lines())?
        .save(&args.out)?;
    eprintln!(
        "best iteration {}; model written to {}",
        output.best_iteration,
        args.out.display()
    );
    Ok(())
}

fn run_predict(args: &PredictArgs) -> CliResult {
    let model = GbdtModel::load(&args.model)?;
    // LightGBM's iteration selection: `num_iteration` 0 means all from `start_iteration` on.
    let num_iteration = args.num_iteration.filter(|&n| n > 0);
    let selected = (args.start_iteration > 0 || num_iteration.is_some()).then(|| {
        model
            .ensemble()
            .select_iterations(args.start_iteration, num_iteration)
    });
    let ensemble = selected.as_ref().unwrap_or(model.ensemble());
    // Full precision: a value between an f64 threshold and its f32 rounding must not change side.
    let (_, features) = read_features_f64(&args.data, &options(&args.columns, false))?;
    let rows: Array2<f64> = if args.contrib {
        aml_explain::contributions(ensemble, features.view())?
    } else {
        let compiled = selected.as_ref().map(|e| e.predictor()).transpose()?;
        let predictor = compiled.as_ref().unwrap_or(model.predictor());
        if args.raw {
            predictor.predict_raw_classes(features.view())?
        } else {
            predictor.predict_classes(features.view())?
        }
    };
    write_predictions(&args.out, rows.view())?;
    Ok(())
}

fn run_resave(args: &ResaveArgs) -> CliResult {
    let model = GbdtModel::load(&args.model)?;
    GbdtModel::from_ensemble_with_parameters(
        model.ensemble().clone(),
        model.parameters().to_vec(),
    )?
    .save(&args.out)?;
    Ok(())
}

/// Runs one parsed `gbdt` command line.
pub fn run(args: &Args) -> Result<(), CliError> {
    match &args.command {
        Command::Train(args) => run_train(args),
        Command::Predict(args) => run_predict(args),
        Command::Resave(args) => run_resave(args),
    }
}
