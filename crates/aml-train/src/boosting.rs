//! The boosting loop: gradients, sampling, tree growth, score updates,
//! evaluation, callbacks and early stopping.
//!
//! Like LightGBM, binary and regression boost from the (weighted) average
//! label: that initial score is folded into the first tree's leaf and
//! internal values, so the ensemble's `base_score` is 0 and the model file is
//! LightGBM-compatible. Training stops early when a tree cannot split any
//! more (a first-round constant tree carrying the initial score is kept).

use aml_models::{IdentityObjective, ObjectiveKind, Tree, TreeEnsemble};
use rayon::prelude::*;

use crate::binning::BinnedData;
use crate::dataset::Dataset;
use crate::error::TrainError;
use crate::learner::{GrowthLimits, TreeLearner};
use crate::metric::evaluate;
use crate::objective::{self, ObjectiveFunction};
use crate::params::{DataSampleStrategy, GbdtParams, Metric, Objective};
use crate::predict::add_tree_scores;
use crate::sampling::{Goss, Sampler};
use crate::split::SplitConstraints;

/// Progress of one boosting round, passed to the callback and kept in the history.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundInfo {
    /// Zero-based round index.
    pub iteration: usize,
    /// Metric on the training data (only with `provide_training_metric`).
    pub train_metric: Option<f64>,
    /// Metric on the validation data, when one is given.
    pub valid_metric: Option<f64>,
}

/// The result of [`train`].
#[derive(Debug, Clone)]
pub struct TrainOutput {
    /// The trained model.
    pub ensemble: TreeEnsemble,
    /// One-based round with the best validation metric (the number of trees
    /// kept when early stopping is on); the number of trees without validation data.
    pub best_iteration: usize,
    /// Per-round progress.
    pub history: Vec<RoundInfo>,
}

/// Runs closures inside a dedicated pool when `num_threads > 0`.
enum Threads {
    Global,
    Pool(rayon::ThreadPool),
}

impl Threads {
    fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match self {
            Threads::Global => f(),
            Threads::Pool(p) => p.install(f),
        }
    }
}

/// Trains a gradient-boosted tree ensemble.
///
/// `valid` enables the validation metric and early stopping; `callback` is
/// called after every round and stops training by returning `false`. The
/// result depends only on the data, the parameters and the seed, never on the
/// number of threads.
///
/// ```
/// use aml_train::{dataset::Dataset, params::GbdtParams, train};
/// let x = ndarray::Array2::from_shape_fn((200, 2), |(r, c)| ((r * (c + 1)) % 17) as f32);
/// let y = (0..200).map(|r| f64::from(((r * 2) % 17) > 8)).collect();
/// let ds = Dataset::new(x, y, vec![]).unwrap();
/// let params = GbdtParams { num_iterations: 10, ..GbdtParams::default() };
/// let out = train(&params, &ds, None, None).unwrap();
/// assert_eq!(out.ensemble.trees.len(), 10);
/// ```
pub fn train(
    params: &GbdtParams,
    train: &Dataset,
    valid: Option<&Dataset>,
    mut callback: Option<&mut dyn FnMut(&RoundInfo) -> bool>,
) -> Result<TrainOutput, TrainError> {
    params.validate()?;
    let objective = objective::build(params, train)?;
    if let Some(v) = valid {
        if v.n_features() != train.n_features() {
            return Err(TrainError::InvalidValidation(format!(
                "{} features, but the training data has {}",
                v.n_features(),
                train.n_features()
            )));
        }
        objective::build(params, v).map_err(|e| TrainError::InvalidValidation(e.to_string()))?;
    }
    let threads = if params.num_threads > 0 {
        Threads::Pool(
            rayon::ThreadPoolBuilder::new()
                .num_threads(params.num_threads)
                .build()
                .map_err(|e| TrainError::ThreadPool(e.to_string()))?,
        )
    } else {
        Threads::Global
    };
    let binned = threads.run(|| {
        BinnedData::from_features(
            train.features.view(),
            params.max_bin,
            params.bin_construct_sample_cnt,
            params.seed,
        )
    });
    let mut booster = Booster::new(params, train, valid, objective.as_ref(), &binned);
    let mut history = Vec::new();
    for iteration in 0..params.num_iterations {
        let grown = threads.run(|| booster.round(iteration));
        if !grown {
            break;
        }
        let info = booster.evaluate(iteration);
        history.push(info.clone());
        let keep_going = callback.as_mut().is_none_or(|cb| cb(&info));
        if !keep_going || booster.should_stop(iteration) {
            break;
        }
    }
    Ok(booster.finish(history))
}

/// Raw scores before the first tree: the objective's initial score plus the data's per-row
/// offsets (`init_scores`), which stay outside the model.
fn start_scores(init_score: f64, data: &Dataset) -> Vec<f64> {
    match &data.init_scores {
        Some(offsets) => offsets.iter().map(|o| init_score + o).collect(),
        None => vec![init_score; data.n_rows()],
    }
}

/// The row and feature sampler of `params`.
fn sampler(params: &GbdtParams) -> Sampler {
    let sampler = Sampler::new(
        params.seed,
        params.bagging_fraction,
        params.bagging_freq,
        params.feature_fraction,
    );
    match params.data_sample_strategy {
        DataSampleStrategy::Goss => sampler.with_goss(Goss::new(
            params.top_rate,
            params.other_rate,
            params.learning_rate,
        )),
        DataSampleStrategy::Bagging => sampler,
    }
}

/// Mutable state of one training run.
struct Booster<'a> {
    params: &'a GbdtParams,
    train: &'a Dataset,
    valid: Option<&'a Dataset>,
    objective: &'a dyn ObjectiveFunction,
    binned: &'a BinnedData,
    learner: TreeLearner<'a>,
    sampler: Sampler,
    init_score: f64,
    scores: Vec<f64>,
    valid_scores: Vec<f64>,
    gh: Vec<[f32; 2]>,
    bag: Option<Vec<u32>>,
    trees: Vec<Tree>,
    metric: Metric,
    best: Option<(usize, f64)>,
}

impl<'a> Booster<'a> {
    fn new(
        params: &'a GbdtParams,
        train: &'a Dataset,
        valid: Option<&'a Dataset>,
        objective: &'a dyn ObjectiveFunction,
        binned: &'a BinnedData,
    ) -> Self {
        let constraints = SplitConstraints::from(params);
        let limits = GrowthLimits {
            num_leaves: params.num_leaves,
            max_depth: params.max_depth,
        };
        // Like LightGBM, boosting from the label average only applies without given offsets.
        let init_score = if train.init_scores.is_some() {
            0.0
        } else {
            objective.init_score()
        };
        Booster {
            params,
            train,
            valid,
            objective,
            binned,
            learner: TreeLearner::new(binned, constraints, limits),
            sampler: sampler(params),
            init_score,
            scores: start_scores(init_score, train),
            valid_scores: valid.map_or_else(Vec::new, |v| start_scores(init_score, v)),
            gh: vec![[0.0; 2]; train.n_rows()],
            bag: None,
            trees: Vec::new(),
            metric: params.effective_metric(),
            best: None,
        }
    }

    /// Grows and applies one tree; returns `false` when no split was possible.
    fn round(&mut self, iteration: usize) -> bool {
        self.objective.gradients(&self.scores, &mut self.gh);
        if let Some(bag) = self.sampler.rows(iteration, &mut self.gh) {
            self.bag = Some(bag);
        }
        let used = self.sampler.features(self.train.n_features());
        let grown = self.learner.grow(&self.gh, self.bag.as_deref(), &used);
        let mut tree = grown.tree.clone();
        if tree.num_leaves() <= 1 {
            if self.trees.is_empty() {
                self.trees
                    .push(Tree::constant(self.init_score, self.train.n_rows() as u64));
            }
            return false;
        }
        let lr = self.params.learning_rate;
        tree.shrinkage = lr;
        tree.leaf_value.iter_mut().for_each(|v| *v *= lr);
        tree.internal_value.iter_mut().for_each(|v| *v *= lr);
        // Training scores: leaf segments when every row was in the tree, else route by bins.
        if self.bag.is_none() {
            for (leaf, &value) in tree.leaf_value.iter().enumerate() {
                for &r in grown.leaf_rows(&self.learner, leaf) {
                    self.scores[r as usize] += value;
                }
            }
        } else {
            let binned = self.binned;
            self.scores
                .par_chunks_mut(1024)
                .enumerate()
                .for_each(|(c, chunk)| {
                    for (j, s) in chunk.iter_mut().enumerate() {
                        *s += tree.leaf_value[grown.leaf_of_binned_row(binned, c * 1024 + j)];
                    }
                });
        }
        if let Some(v) = self.valid {
            add_tree_scores(&tree, v.features.view(), &mut self.valid_scores);
        }
        if self.trees.is_empty() {
            // Fold the initial score into the first tree like LightGBM.
            tree.leaf_value
                .iter_mut()
                .for_each(|v| *v += self.init_score);
            tree.internal_value
                .iter_mut()
                .for_each(|v| *v += self.init_score);
        }
        self.trees.push(tree);
        true
    }

    fn transformed(&self, raw: &[f64]) -> Vec<f64> {
        match self.params.objective {
            Objective::Binary => {
                let s = self.params.sigmoid;
                raw.iter().map(|&r| 1.0 / (1.0 + (-s * r).exp())).collect()
            }
            _ => raw.to_vec(),
        }
    }

    fn evaluate(&mut self, iteration: usize) -> RoundInfo {
        let train_metric = self.params.provide_training_metric.then(|| {
            let preds = self.transformed(&self.scores);
            evaluate(
                &self.metric,
                &self.train.labels,
                &preds,
                self.train.groups.as_deref(),
            )
        });
        let valid_metric = self.valid.map(|v| {
            let preds = self.transformed(&self.valid_scores);
            evaluate(&self.metric, &v.labels, &preds, v.groups.as_deref())
        });
        if let Some(m) = valid_metric {
            let better = match self.best {
                None => !m.is_nan(),
                Some((_, b)) => {
                    if self.metric.higher_is_better() {
                        m > b
                    } else {
                        m < b
                    }
                }
            };
            if better {
                self.best = Some((iteration, m));
            }
        }
        RoundInfo {
            iteration,
            train_metric,
            valid_metric,
        }
    }

    fn should_stop(&self, iteration: usize) -> bool {
        match (self.params.early_stopping_rounds, self.valid) {
            (Some(rounds), Some(_)) => {
                let best = self.best.map_or(0, |b| b.0);
                iteration >= best + rounds
            }
            _ => false,
        }
    }

    fn finish(mut self, history: Vec<RoundInfo>) -> TrainOutput {
        let best_iteration = match (self.valid, self.best) {
            (Some(_), Some((best, _))) => {
                if self.params.early_stopping_rounds.is_some() {
                    self.trees.truncate(best + 1);
                }
                best + 1
            }
            _ => self.trees.len(),
        };
        let objective = match self.params.objective {
            Objective::Binary => ObjectiveKind::Binary {
                sigmoid: self.params.sigmoid,
            },
            Objective::LambdaRank => ObjectiveKind::LambdaRank,
            Objective::Regression => ObjectiveKind::Regression,
            Objective::RankXendcg => ObjectiveKind::Identity(IdentityObjective::RankXendcg),
        };
        let ensemble = TreeEnsemble {
            trees: self.trees,
            base_score: 0.0,
            feature_names: self.train.feature_names.clone(),
            feature_infos: self
                .binned
                .mappers
                .iter()
                .map(|m| m.feature_info())
                .collect(),
            objective,
            average_output: false,
        };
        TrainOutput {
            ensemble,
            best_iteration,
            history,
        }
    }
}
