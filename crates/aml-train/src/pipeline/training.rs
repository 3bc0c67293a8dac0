//! [`train_bundle`]: labelled history -> scorer, ranker, cluster scorer, metrics table, bundle.

use std::collections::BTreeMap;

use aml_core::batch::Batch;
use aml_core::date::Date;
use aml_features::{AlertBlock, FeatureBuilder, FeatureSpec, LabelMemory};
use aml_models::Model as _;
use aml_models::{
    AlertRanker, AlertScorer, Bundle, BundleMetadata, ClusterScorer, GbdtModel, ModelMetadata,
    TrainingInfo,
};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::baselines;
use super::calibration::{
    choose_calibration, cross_fitted_scores, CalibrationChoice, CalibrationMode, Evidence,
};
use super::data::{check_distinct_days, cluster_labels, select_rows, split_days, stack, DayData};
use super::evaluation::{MetricsRow, MetricsTable};
use super::ranking::{self, RankerCandidate};
use super::refit::refit_scorer;
use super::tuning::{with_cv_rounds, RoundsChoice};
use super::PipelineError;
use crate::{train, Dataset, GbdtParams, Metric, Objective};

/// Everything [`train_bundle`] can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Master seed (copied into every model's parameters).
    pub seed: u64,
    /// Number of last days held out for validation, early stopping and calibration.
    pub validation_days: usize,
    /// Alert scorer parameters (binary).
    pub scorer_params: GbdtParams,
    /// Alert ranker base parameters (lambdarank); each of `ranker_candidates` sets a few
    /// parameters on top of them.
    pub ranker_params: GbdtParams,
    /// The ranker's candidates, compared out of fold on the training days (see
    /// [`super::ranking`]); a new objective option is tried by adding a candidate here.
    #[serde(default = "ranking::default_ranker_candidates")]
    pub ranker_candidates: Vec<RankerCandidate>,
    /// Rankings come from the ranker only when its NDCG@500 exceeds ranking by the scorer's
    /// score by more than this on average over the judged days, consistently (see
    /// [`ranking::judge`]); otherwise from the scorer's score.
    #[serde(default = "ranking::default_ship_margin")]
    pub ranker_ship_margin: f64,
    /// Rankings come from the ranker whatever the judgement says (it is still recorded).
    #[serde(default)]
    pub ranker_always_ships: bool,
    /// Cluster scorer parameters (binary).
    pub cluster_params: GbdtParams,
    /// Which probability calibration to consider for the scorer.
    pub calibration: CalibrationMode,
    /// Day-grouped folds over the training days that choose the scorer's number of rounds
    /// (up to `scorer_params.num_iterations`, see [`super::tuning::cv_rounds`]); 0 or 1 = off:
    /// early stopping on the validation days (the default, and configurations without it).
    #[serde(default)]
    pub scorer_cv_folds: usize,
    /// Ship the scorer refitted on training and validation days together (same parameters and
    /// trees, same calibration; see [`super::refit`]); off by default and without it.
    #[serde(default)]
    pub scorer_refit_all_days: bool,
    /// Also train and evaluate the baselines (their rows go into the metrics table).
    pub baselines: bool,
    /// Caller-supplied feature blocks added to the fitted spec (see [`AlertBlock`]); code, so
    /// not part of the JSON form.
    #[serde(skip)]
    pub feature_blocks: Vec<AlertBlock>,
    /// The label-memory feature group: on by default, also for configurations written before
    /// it existed.
    #[serde(default)]
    pub label_memory: LabelMemoryConfig,
}

/// How training builds the `label_memory` feature group (see [`aml_features::memory`]).
///
/// Out of time: day `d`'s features use a memory of the labels of days `d - lag_days` and
/// earlier only, never of `d` itself or later days (that would leak the answer into the
/// features). Real labels arrive late: with labels published a day after their batch, a miner
/// scoring day `d` knows the labels up to `d - 1` (`lag_days` 1); a larger lag trains for
/// labels that take longer. The bundle stores the memory of all its training and validation
/// days, used for the days after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LabelMemoryConfig {
    /// Build the `mem_*` features and store the memory in the bundle.
    pub enabled: bool,
    /// Day `d` sees the labels of days up to `d - lag_days` (at least 1).
    pub lag_days: u32,
    /// Only the labels of the last `window_days` days up to that cutoff (0: every earlier day);
    /// the bundle's memory keeps the last `window_days` days of its history.
    pub window_days: u32,
    /// At most this many addresses in any memory, the most recently labelled kept (ties by
    /// address): bounds the bundle's `label_memory.parquet` (about 53 bytes a row with 42-character
    /// addresses: 19,298 rows took 1.0 MB, so the default 500,000 is about 27 MB).
    pub max_rows: usize,
}

impl Default for LabelMemoryConfig {
    fn default() -> Self {
        LabelMemoryConfig {
            enabled: true,
            lag_days: 1,
            window_days: 0,
            max_rows: 500_000,
        }
    }
}

/// Processing date of every batch, parsed.
fn batch_dates(batches: &[&Batch]) -> Result<Vec<Date>, PipelineError> {
    batches
        .iter()
        .map(|b| {
            Date::parse(&b.meta.processing_date).map_err(|_| PipelineError::BadDate {
                batch: b.meta.batch_id.clone(),
                date: b.meta.processing_date.clone(),
            })
        })
        .collect()
}

/// The memory of the labels of the batches dated within `first..=last`, cut to `max_rows`.
fn memory_between(
    batches: &[&Batch],
    dates: &[Date],
    (first, last): (Option<Date>, Date),
    max_rows: usize,
) -> Result<LabelMemory, PipelineError> {
    let mut memory = LabelMemory::new();
    for (batch, &date) in batches.iter().zip(dates) {
        if date <= last && first.is_none_or(|f| date >= f) {
            if let Some(labels) = &batch.labels {
                memory.add_day(date, labels)?;
            }
        }
    }
    memory.keep_recent(max_rows);
    Ok(memory)
}

/// Out of time: for each of `batches`, the memory of the labels of the batches dated
/// `lag_days` or more days before it (and within `window_days` of that cutoff), never its own
/// day or a later one.
///
/// All at once, each built from scratch: training uses [`DayMemoryBuilder`] (one day at a time,
/// the same memories) instead.
pub fn day_memories(
    batches: &[&Batch],
    config: &LabelMemoryConfig,
) -> Result<Vec<LabelMemory>, PipelineError> {
    let dates = batch_dates(batches)?;
    dates
        .iter()
        .map(|&d| memory_between(batches, &dates, day_window(d, config), config.max_rows))
        .collect()
}

/// The out-of-time memories of [`day_memories`], built one day at a time: training asks for
/// each day's memory just before that day's features and drops it after, so it never holds more
/// than one memory plus the running fold of the days so far (all at once, a long history at the
/// default `max_rows` held one memory per day: gigabytes).
///
/// Without a window (`window_days` 0), the days up to each cutoff are folded once into a running
/// memory (labels fold in any order, see [`LabelMemory::add_day`]), and a day's memory is that
/// fold cut to `max_rows`: the same memory [`day_memories`] builds from scratch. With a window,
/// or when a cutoff is earlier than one already folded, the memory is built from scratch.
#[derive(Debug, Clone)]
pub struct DayMemoryBuilder {
    config: LabelMemoryConfig,
    dates: Vec<Date>,
    /// The labels of every batch dated up to `cutoff` (uncut).
    running: LabelMemory,
    /// The latest cutoff folded into `running` (`None`: nothing folded yet).
    cutoff: Option<Date>,
}

impl DayMemoryBuilder {
    /// A builder for the days of `batches` (pass the same batches, in the same order, to
    /// [`DayMemoryBuilder::memory`]).
    pub fn new(
        batches: &[&Batch],
        config: &LabelMemoryConfig,
    ) -> Result<DayMemoryBuilder, PipelineError> {
        Ok(DayMemoryBuilder {
            config: *config,
            dates: batch_dates(batches)?,
            running: LabelMemory::new(),
            cutoff: None,
        })
    }

    /// The memory of day `index` of `batches`: equal to `day_memories(batches, config)[index]`.
    pub fn memory(
        &mut self,
        batches: &[&Batch],
        index: usize,
    ) -> Result<LabelMemory, PipelineError> {
        let (first, last) = day_window(self.dates[index], &self.config);
        if first.is_some() || self.cutoff.is_some_and(|folded| last < folded) {
            return memory_between(batches, &self.dates, (first, last), self.config.max_rows);
        }
        for (batch, &date) in batches.iter().zip(&self.dates) {
            if date <= last && self.cutoff.is_none_or(|folded| date > folded) {
                if let Some(labels) = &batch.labels {
                    self.running.add_day(date, labels)?;
                }
            }
        }
        self.cutoff = Some(last);
        let mut memory = self.running.clone();
        memory.keep_recent(self.config.max_rows);
        Ok(memory)
    }
}

/// The first (`None`: no window) and last day of the labels day `d` may see.
fn day_window(d: Date, config: &LabelMemoryConfig) -> (Option<Date>, Date) {
    let lag = i32::try_from(config.lag_days.max(1)).unwrap_or(i32::MAX);
    let last = d + (-lag);
    (window_start(last, config.window_days), last)
}

/// The memory a bundle stores: the labels of every batch within `window_days` of the last one.
pub fn bundle_memory(
    batches: &[&Batch],
    config: &LabelMemoryConfig,
) -> Result<LabelMemory, PipelineError> {
    let dates = batch_dates(batches)?;
    let Some(&last) = dates.iter().max() else {
        return Ok(LabelMemory::new());
    };
    let first = window_start(last, config.window_days);
    memory_between(batches, &dates, (first, last), config.max_rows)
}

/// First day of a `window_days` window ending at `last` (`None`: no window).
fn window_start(last: Date, window_days: u32) -> Option<Date> {
    (window_days > 0).then(|| last + (1 - i32::try_from(window_days).unwrap_or(i32::MAX)))
}

impl TrainConfig {
    /// Defaults tuned for synthetic history of a few thousand alerts a day, with `seed`.
    pub fn new(seed: u64) -> TrainConfig {
        let scorer_params = GbdtParams {
            objective: Objective::Binary,
            num_iterations: 300,
            learning_rate: 0.05,
            num_leaves: 31,
            min_data_in_leaf: 40,
            feature_fraction: 0.8,
            bagging_fraction: 0.8,
            bagging_freq: 1,
            lambda_l2: 1.0,
            early_stopping_rounds: Some(30),
            metric: Some(Metric::LogLoss),
            seed,
            ..GbdtParams::default()
        };
        let ranker_params = GbdtParams {
            objective: Objective::LambdaRank,
            num_iterations: 150,
            num_leaves: 31,
            lambdarank_truncation_level: 100,
            metric: Some(Metric::Ndcg(500)),
            ..scorer_params.clone()
        };
        let cluster_params = GbdtParams {
            num_iterations: 200,
            num_leaves: 15,
            min_data_in_leaf: 20,
            ..scorer_params.clone()
        };
        TrainConfig {
            seed,
            validation_days: 1,
            scorer_params,
            ranker_params,
            ranker_candidates: ranking::default_ranker_candidates(),
            ranker_ship_margin: ranking::DEFAULT_SHIP_MARGIN,
            ranker_always_ships: false,
            cluster_params,
            calibration: CalibrationMode::Auto,
            // Both off: on three generator seeds, before and after the trap generator change
            // (docs/benchmarks.md, "Scorer quality over generator seeds"), they moved the mean
            // held-out AUC by -0.0016 and +0.0026, inside the seed-to-seed spread, for about
            // twice the training time.
            scorer_cv_folds: 0,
            scorer_refit_all_days: false,
            baselines: true,
            feature_blocks: Vec::new(),
            label_memory: LabelMemoryConfig::default(),
        }
    }
}

impl TrainConfig {
    /// The scorer's, the ranker's and the cluster scorer's parameters, to set one value on
    /// every model.
    ///
    /// ```
    /// use aml_train::pipeline::TrainConfig;
    /// let mut config = TrainConfig::new(7);
    /// config.model_params_mut().into_iter().for_each(|p| p.num_iterations = 20);
    /// assert_eq!(config.cluster_params.num_iterations, 20);
    /// ```
    pub fn model_params_mut(&mut self) -> [&mut GbdtParams; 3] {
        [
            &mut self.scorer_params,
            &mut self.ranker_params,
            &mut self.cluster_params,
        ]
    }

    /// Reads a JSON configuration (as printed by `serde_json` from a `TrainConfig`) and sets
    /// `seed` as the master seed and in every model's parameters.
    pub fn from_json_file(path: &std::path::Path, seed: u64) -> Result<TrainConfig, PipelineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PipelineError::Config(format!("{}: {e}", path.display())))?;
        let mut config: TrainConfig = serde_json::from_str(&text)
            .map_err(|e| PipelineError::Config(format!("{}: {e}", path.display())))?;
        config.seed = seed;
        for params in config.model_params_mut() {
            params.seed = seed;
        }
        Ok(config)
    }
}

/// What [`train_bundle`] produced.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// The checked bundle (save it with [`Bundle::save`]).
    pub bundle: Bundle,
    /// Validation metrics of the three models and the baselines.
    pub metrics: MetricsTable,
    /// The calibration decision with each candidate's cross-fitted Brier.
    pub calibration: CalibrationChoice,
    /// The scorer's number of rounds chosen by cross-validation (`None`: early stopping).
    pub scorer_rounds: Option<RoundsChoice>,
}

/// Splits `batches` (sorted by date) into training and validation days, fits the feature spec on
/// the training days and featurises every day.
pub fn prepare_days(
    batches: Vec<Batch>,
    validation_days: usize,
) -> Result<(FeatureSpec, Vec<DayData>, usize), PipelineError> {
    prepare_days_with(batches, validation_days, &[])
}

/// [`prepare_days`] with `blocks` added to the fitted spec after the built-in blocks.
pub fn prepare_days_with(
    batches: Vec<Batch>,
    validation_days: usize,
    blocks: &[AlertBlock],
) -> Result<(FeatureSpec, Vec<DayData>, usize), PipelineError> {
    prepare_days_with_memory(
        batches,
        validation_days,
        blocks,
        &LabelMemoryConfig::default(),
    )
}

/// [`prepare_days_with`] with the label-memory group as `memory` says: when enabled, each day
/// is featurised with its out-of-time memory ([`day_memories`]), built just before the day's
/// features and dropped after them ([`DayMemoryBuilder`]).
pub fn prepare_days_with_memory(
    batches: Vec<Batch>,
    validation_days: usize,
    blocks: &[AlertBlock],
    memory: &LabelMemoryConfig,
) -> Result<(FeatureSpec, Vec<DayData>, usize), PipelineError> {
    check_distinct_days(&batches, |i| format!("batch {}", batches[i].meta.batch_id))?;
    if validation_days == 0 || batches.len() <= validation_days {
        return Err(PipelineError::NotEnoughData(format!(
            "{} history day(s) for {validation_days} validation day(s): need at least one training day more",
            batches.len()
        )));
    }
    let n_train = batches.len() - validation_days;
    let refs: Vec<&Batch> = batches[..n_train].iter().collect();
    let mut builder = FeatureBuilder::new();
    builder.groups.label_memory = memory.enabled;
    let mut spec = builder.fit(&refs)?;
    spec.extra_blocks.extend_from_slice(blocks);
    let mut builder = if memory.enabled {
        Some(DayMemoryBuilder::new(
            &batches.iter().collect::<Vec<_>>(),
            memory,
        )?)
    } else {
        None
    };
    // Each batch moves into its DayData as it is featurised; the memories of later days still
    // see it there (every batch, featurised or not, in the original order).
    let mut days: Vec<DayData> = Vec::with_capacity(batches.len());
    let mut pending = std::collections::VecDeque::from(batches);
    while let Some(batch) = pending.pop_front() {
        let index = days.len();
        let day_memory = match &mut builder {
            Some(builder) => {
                let all: Vec<&Batch> = days
                    .iter()
                    .map(|d| &d.batch)
                    .chain(std::iter::once(&batch))
                    .chain(&pending)
                    .collect();
                Some(builder.memory(&all, index)?)
            }
            None => None,
        };
        days.push(DayData::with_memory(batch, &spec, day_memory.as_ref())?);
    }
    Ok((spec, days, n_train))
}

/// Labelled rows of some days: features, binary labels, graded relevance, per-day group sizes.
#[derive(Debug, Clone)]
pub struct Labelled {
    /// Feature rows (labelled alerts only, day by day, alert_id order within a day).
    pub x: Array2<f32>,
    /// Contract labels (0/1).
    pub labels: Vec<f64>,
    /// Graded relevance (0..=3).
    pub relevance: Vec<f64>,
    /// Rows per day (LambdaRank query groups).
    pub groups: Vec<usize>,
    /// Per-row raw-score offsets to boost from (the ranker's scorer log-odds); empty for none.
    pub offsets: Vec<f64>,
}

impl Labelled {
    /// No rows, `n_cols` columns.
    pub fn empty(n_cols: usize) -> Labelled {
        Labelled {
            x: Array2::zeros((0, n_cols)),
            labels: Vec::new(),
            relevance: Vec::new(),
            groups: Vec::new(),
            offsets: Vec::new(),
        }
    }
}

/// The labelled rows of `days`; `extra` (one vector per day, one value per alert) is appended
/// as the last column (the ranker's scorer probability).
pub fn labelled<D: std::borrow::Borrow<DayData>>(
    days: &[D],
    extra: Option<&[Vec<f64>]>,
) -> Labelled {
    let n_cols =
        days.first().map_or(0, |d| d.borrow().matrix.n_features()) + usize::from(extra.is_some());
    let mut parts = Vec::new();
    let (mut labels, mut relevance, mut groups) = (Vec::new(), Vec::new(), Vec::new());
    let mut offsets = Vec::new();
    for (i, day) in days.iter().enumerate() {
        let day = day.borrow();
        let rows = day.labelled_rows();
        let x = select_rows(&day.matrix.values, &rows);
        let x = match extra {
            Some(extra) => {
                let col: Vec<f64> = rows.iter().map(|&r| extra[i][r]).collect();
                offsets.extend(col.iter().map(|&p| AlertRanker::scorer_offset(p)));
                AlertRanker::ranker_input(x.view(), &col)
            }
            None => x,
        };
        parts.push(x);
        labels.extend(rows.iter().map(|&r| f64::from(day.labels[r].unwrap_or(0))));
        relevance.extend(
            rows.iter()
                .map(|&r| f64::from(day.relevance[r].unwrap_or(0))),
        );
        groups.push(rows.len());
    }
    Labelled {
        x: stack(&parts, n_cols),
        labels,
        relevance,
        groups,
        offsets,
    }
}

/// Trains one GBDT on `train_rows` with early stopping on `valid_rows` (binary labels, or
/// graded relevance with per-day groups when `use_relevance`).
pub fn fit_gbdt(
    name: &str,
    params: &GbdtParams,
    names: Vec<String>,
    train_rows: &Labelled,
    valid_rows: &Labelled,
    use_relevance: bool,
) -> Result<GbdtModel, PipelineError> {
    let err = |source| PipelineError::Train {
        model: name.to_string(),
        source,
    };
    let dataset = |rows: &Labelled| -> Result<Dataset, PipelineError> {
        let y = if use_relevance {
            rows.relevance.clone()
        } else {
            rows.labels.clone()
        };
        let mut ds = Dataset::new(rows.x.clone(), y, names.clone()).map_err(err)?;
        if !rows.offsets.is_empty() {
            ds = ds.with_init_scores(rows.offsets.clone()).map_err(err)?;
        }
        if use_relevance {
            ds.with_groups(rows.groups.iter().copied().filter(|&g| g > 0).collect())
                .map_err(err)
        } else {
            Ok(ds)
        }
    };
    if train_rows.labels.is_empty() {
        return Err(PipelineError::NotEnoughData(format!(
            "{name}: no labelled training rows"
        )));
    }
    let train_ds = dataset(train_rows)?;
    let valid_ds = if valid_rows.labels.is_empty() {
        None
    } else {
        Some(dataset(valid_rows)?)
    };
    let out = train(params, &train_ds, valid_ds.as_ref(), None).map_err(err)?;
    let parameters = params.lightgbm_parameter_lines();
    Ok(GbdtModel::from_ensemble_with_parameters(
        out.ensemble,
        parameters,
    )?)
}

fn model_entry(params: &GbdtParams, row: &MetricsRow) -> ModelMetadata {
    ModelMetadata {
        file: String::new(),
        version: String::new(),
        feature_names: Vec::new(),
        params: serde_json::to_value(params).unwrap_or_default(),
        seed: params.seed,
        num_trees: 0,
        training_metrics: row.as_map(),
        calibration: None,
    }
}

/// Number of day-grouped folds for the out-of-fold scorer probabilities.
pub const OUT_OF_FOLD_FOLDS: usize = 3;

/// Scorer probabilities for every alert of `train_days`, each day scored by a scorer trained
/// (with `params`, exactly `n_trees` rounds, no early stopping) on the training days of the
/// other folds; days are assigned to folds round-robin by position. With one training day
/// there is nothing to hold out, so a scorer on that day scores it (the leak is unavoidable).
pub fn out_of_fold_scores(
    params: &GbdtParams,
    names: &[String],
    train_days: &[DayData],
    n_trees: usize,
    calibration: Option<&aml_models::Calibration>,
) -> Result<Vec<Vec<f64>>, PipelineError> {
    let folds = OUT_OF_FOLD_FOLDS.min(train_days.len()).max(1);
    let mut fold_params = params.clone();
    fold_params.num_iterations = n_trees.max(1);
    fold_params.early_stopping_rounds = None;
    let mut scores = vec![Vec::new(); train_days.len()];
    for fold in 0..folds {
        let (mut fit_days, _) = split_days(train_days, folds, fold);
        if folds == 1 {
            fit_days = train_days.iter().collect();
        }
        let rows = labelled(&fit_days, None);
        let model = fit_gbdt(
            "alert_scorer (out-of-fold)",
            &fold_params,
            names.to_vec(),
            &rows,
            &Labelled::empty(rows.x.ncols()),
            false,
        )?;
        let fold_scorer = AlertScorer::new(model, calibration.cloned())?;
        // The held-out days of `split_days`: positions `d % folds == fold`.
        for d in (fold..train_days.len()).step_by(folds) {
            scores[d] = fold_scorer.score(&train_days[d].matrix)?;
        }
    }
    Ok(scores)
}

/// Checks every model's parameters before any work.
fn validate_params(config: &TrainConfig) -> Result<(), PipelineError> {
    for (model, params) in [
        ("alert_scorer", &config.scorer_params),
        ("alert_ranker", &config.ranker_params),
        ("cluster_scorer", &config.cluster_params),
    ] {
        params.validate().map_err(|source| PipelineError::Train {
            model: model.to_string(),
            source,
        })?;
    }
    ranking::candidate_params(config)?;
    if config.label_memory.lag_days == 0 {
        return Err(PipelineError::Config(
            "label_memory.lag_days must be at least 1: day d's features may not see day d's own labels"
                .into(),
        ));
    }
    if !config.ranker_ship_margin.is_finite() {
        return Err(PipelineError::Config(format!(
            "ranker_ship_margin must be a finite number, got {}",
            config.ranker_ship_margin
        )));
    }
    Ok(())
}

/// Refuses training rows with one class only and validation days without a labelled alert.
fn check_rows(
    train_rows: &Labelled,
    valid_rows: &Labelled,
    n_train: usize,
) -> Result<(), PipelineError> {
    if let Some(&first) = train_rows.labels.first() {
        if train_rows.labels.iter().all(|&l| l == first) {
            let label = u8::from(first != 0.0);
            return Err(PipelineError::OneClass {
                label,
                meaning: if label == 1 { "illicit" } else { "licit" }.to_string(),
                rows: train_rows.labels.len(),
                days: n_train,
            });
        }
    }
    if valid_rows.labels.is_empty() {
        return Err(PipelineError::NotEnoughData(
            "no labelled alert on the validation day(s)".into(),
        ));
    }
    Ok(())
}

/// The fitted alert scorer with its calibration decision and metrics row.
struct ScorerStage {
    scorer: AlertScorer,
    calibration: CalibrationChoice,
    row: MetricsRow,
}

/// Fits the alert scorer, chooses its calibration and adds its metrics rows to `table`.
fn scorer_stage(
    config: &TrainConfig,
    names: &[String],
    train_rows: &Labelled,
    valid_rows: &Labelled,
    table: &mut MetricsTable,
) -> Result<ScorerStage, PipelineError> {
    let scorer_model = fit_gbdt(
        "alert_scorer",
        &config.scorer_params,
        names.to_vec(),
        train_rows,
        valid_rows,
        false,
    )?;
    let raw_scorer = AlertScorer::new(scorer_model.clone(), None)?;
    let valid_uncal = raw_scorer.predict_uncalibrated(valid_rows.x.view())?;
    let evidence = Evidence::from_matrix(names, valid_rows.x.view());
    let calibration = choose_calibration(
        config.calibration,
        &valid_rows.labels,
        &valid_uncal,
        &evidence,
    );
    let scorer = AlertScorer::new(scorer_model, calibration.calibration.clone())?;
    // Calibrated validation scores are cross-fitted (each half calibrated by a map fitted on
    // the other half): scoring the rows the kept map was fitted on would flatter it.
    let valid_scores = cross_fitted_scores(
        calibration.kind,
        &valid_rows.labels,
        &valid_uncal,
        &evidence,
    )
    .unwrap_or_else(|| valid_uncal.clone());
    let row = MetricsRow::evaluate(
        "alert_scorer",
        &valid_rows.labels,
        &valid_rows.relevance,
        &valid_scores,
        true,
    );
    table.rows.push(row.clone());
    if scorer.calibration().is_some() {
        table.rows.push(MetricsRow::evaluate(
            "alert_scorer (uncalibrated)",
            &valid_rows.labels,
            &valid_rows.relevance,
            &valid_uncal,
            true,
        ));
    }
    Ok(ScorerStage {
        scorer,
        calibration,
        row,
    })
}

/// The scorer's probability of every alert of every day: out-of-fold on the training days
/// (the ranker and the cluster scorer take it as a feature, and on the training days it must
/// come from scorers that never saw that day, else it is over-confident there and the
/// downstream models learn to trust it too much), the scorer's own on the validation days.
fn day_scores(
    config: &TrainConfig,
    names: &[String],
    (train_days, valid_days): (&[DayData], &[DayData]),
    scorer: &AlertScorer,
) -> Result<Vec<Vec<f64>>, PipelineError> {
    let mut day_scores = out_of_fold_scores(
        &config.scorer_params,
        names,
        train_days,
        scorer.model().ensemble().trees.len(),
        scorer.calibration(),
    )?;
    for day in valid_days {
        day_scores.push(scorer.score(&day.matrix)?);
    }
    Ok(day_scores)
}

/// Fits the cluster scorer on every day's cluster matrix (member scores from `day_scores`) and
/// evaluates it on the validation days.
fn cluster_stage(
    config: &TrainConfig,
    spec: &FeatureSpec,
    days: &[DayData],
    n_train: usize,
    day_scores: &[Vec<f64>],
) -> Result<(ClusterScorer, MetricsRow), PipelineError> {
    let mut cluster_parts = Vec::with_capacity(days.len());
    for (day, scores) in days.iter().zip(day_scores) {
        let (m, _) = spec.build_cluster_matrix(&day.batch, Some(scores.as_slice()))?;
        let labels = cluster_labels(day, &m.row_ids);
        cluster_parts.push((m, labels));
    }
    let cluster_names = spec
        .describe_cluster_features()
        .into_iter()
        .map(|d| d.name)
        .collect::<Vec<_>>();
    let cluster_set = |parts: &[(aml_features::FeatureMatrix, Vec<Option<u8>>)]| {
        let mut xs = Vec::new();
        let mut labels = Vec::new();
        for (m, l) in parts {
            let rows: Vec<usize> = (0..l.len()).filter(|&i| l[i].is_some()).collect();
            xs.push(select_rows(&m.values, &rows));
            labels.extend(rows.iter().map(|&r| f64::from(l[r].unwrap_or(0))));
        }
        Labelled {
            x: stack(&xs, cluster_names.len()),
            relevance: labels.clone(),
            labels,
            groups: Vec::new(),
            offsets: Vec::new(),
        }
    };
    let cluster_train = cluster_set(&cluster_parts[..n_train]);
    let cluster_valid = cluster_set(&cluster_parts[n_train..]);
    let cluster_model = fit_gbdt(
        "cluster_scorer",
        &config.cluster_params,
        cluster_names,
        &cluster_train,
        &cluster_valid,
        false,
    )?;
    let cluster_scorer = ClusterScorer::new(cluster_model)?;
    let cluster_valid_scores = cluster_scorer.model().predict(cluster_valid.x.view())?;
    let row = MetricsRow::evaluate(
        "cluster_scorer",
        &cluster_valid.labels,
        &cluster_valid.relevance,
        &cluster_valid_scores,
        true,
    );
    Ok((cluster_scorer, row))
}

/// The bundle's metadata: feature spec, training provenance and one entry per model.
fn bundle_metadata(
    config: &TrainConfig,
    ranker_params: &GbdtParams,
    spec: FeatureSpec,
    (train_days, valid_days): (&[DayData], &[DayData]),
    (n_train_alerts, n_validation_alerts): (usize, usize),
    [scorer_row, ranker_row, cluster_row]: [&MetricsRow; 3],
) -> BundleMetadata {
    let date = |d: &DayData| d.date.clone();
    let training = TrainingInfo {
        train_days: train_days.iter().map(date).collect(),
        validation_days: valid_days.iter().map(date).collect(),
        first_day: train_days
            .first()
            .or(valid_days.first())
            .map(date)
            .unwrap_or_default(),
        last_day: valid_days
            .last()
            .or(train_days.last())
            .map(date)
            .unwrap_or_default(),
        n_train_alerts,
        n_validation_alerts,
        seed: config.seed,
    };
    let mut models = BTreeMap::new();
    models.insert(
        "alert_scorer".to_string(),
        model_entry(&config.scorer_params, scorer_row),
    );
    models.insert(
        "alert_ranker".to_string(),
        model_entry(ranker_params, ranker_row),
    );
    models.insert(
        "cluster_scorer".to_string(),
        model_entry(&config.cluster_params, cluster_row),
    );
    BundleMetadata {
        format_version: aml_models::bundle::BUNDLE_FORMAT_VERSION,
        library_version: env!("CARGO_PKG_VERSION").to_string(),
        feature_spec: spec,
        training,
        models,
        ranking: None,
        label_memory: None,
    }
}

/// Trains the alert scorer, ranker and cluster scorer on `batches` (labelled history, sorted by
/// date, see [`super::load_history`]), evaluates them and the baselines on the validation days,
/// and assembles a checked [`Bundle`]. `progress` is told each stage's name as it starts.
pub fn train_bundle(
    batches: Vec<Batch>,
    config: &TrainConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<TrainReport, PipelineError> {
    validate_params(config)?;
    progress("features");
    let (spec, days, n_train) = prepare_days_with_memory(
        batches,
        config.validation_days,
        &config.feature_blocks,
        &config.label_memory,
    )?;
    let split = days.split_at(n_train);
    let names = spec.feature_names();
    let train_rows = labelled(split.0, None);
    let valid_rows = labelled(split.1, None);
    check_rows(&train_rows, &valid_rows, n_train)?;
    let mut table = MetricsTable::default();

    progress("alert scorer");
    let (config, scorer_rounds) = with_cv_rounds(config, split.0)?;
    let config = &config;
    let scored = scorer_stage(config, &names, &train_rows, &valid_rows, &mut table)?;

    progress("alert ranker");
    let day_scores = day_scores(config, &names, split, &scored.scorer)?;
    let ranked = ranking::ranker_stage(config, &names, split, &day_scores)?;
    table.rows.push(ranked.row.clone());
    table.rows.extend(ranked.extra_rows);

    progress("cluster scorer");
    let (cluster_scorer, cluster_row) = cluster_stage(config, &spec, &days, n_train, &day_scores)?;
    table.rows.push(cluster_row.clone());

    if config.baselines {
        progress("baselines");
        table.rows.extend(baselines::run_all(
            &names,
            &train_rows,
            &valid_rows,
            &config.scorer_params,
        )?);
    }

    let scorer = refit_scorer(config, &names, (&train_rows, &valid_rows), scored.scorer)?;
    let mut metadata = bundle_metadata(
        config,
        &ranked.params,
        spec,
        split,
        (train_rows.labels.len(), valid_rows.labels.len()),
        [&scored.row, &ranked.row, &cluster_row],
    );
    metadata.ranking = Some(ranked.choice);
    let mut bundle = Bundle::new(metadata, scorer, ranked.ranker, cluster_scorer)?;
    if config.label_memory.enabled {
        let batches: Vec<&Batch> = days.iter().map(|d| &d.batch).collect();
        bundle = bundle.with_label_memory(Some(bundle_memory(&batches, &config.label_memory)?))?;
    }
    Ok(TrainReport {
        bundle,
        metrics: table,
        calibration: scored.calibration,
        scorer_rounds,
    })
}
