//! Tuning of the alert scorer with k-fold cross-validation grouped by day: fold `f` holds out the
//! training days `i` with `i % k == f`, so no day is split between fit and evaluation.
//!
//! - [`cv_rounds`] chooses the number of boosting rounds: the round with the best held-out
//!   metric averaged over the folds, instead of early stopping on one validation day (opt-in:
//!   [`TrainConfig::scorer_cv_folds`](super::TrainConfig::scorer_cv_folds); measured in
//!   docs/benchmarks.md, it did not move held-out AUC beyond the seed-to-seed spread).
//! - [`tune_scorer`] is a seeded random search of parameter sets (`train --tune N`), scored by
//!   the mean average precision (AUC-PR) over folds.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::data::{split_days, DayData};
use super::training::{fit_gbdt, labelled, TrainConfig};
use super::PipelineError;
use crate::metric::average_precision;
use crate::{train, Dataset, GbdtParams, Metric};
use aml_models::Model as _;

/// One evaluated parameter set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// The parameters.
    pub params: GbdtParams,
    /// Mean cross-validated AUC-PR (NaN-free; folds with one class are skipped).
    pub cv_auc_pr: f64,
}

/// Result of [`tune_scorer`], written to JSON by the `train` example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuningResult {
    /// The best parameters (highest mean CV AUC-PR; earlier trial wins ties).
    pub best_params: GbdtParams,
    /// Its score.
    pub best_cv_auc_pr: f64,
    /// Every trial, in sampling order (trial 0 = the base parameters).
    pub trials: Vec<Trial>,
    /// Folds used.
    pub folds: usize,
}

/// Draws one parameter set around `base` from the seeded `rng`.
fn sample(base: &GbdtParams, rng: &mut ChaCha8Rng) -> GbdtParams {
    const LEAVES: [usize; 5] = [7, 15, 31, 63, 127];
    const RATES: [f64; 4] = [0.02, 0.05, 0.1, 0.2];
    const MIN_DATA: [usize; 4] = [10, 20, 40, 80];
    const FRACTIONS: [f64; 4] = [0.5, 0.7, 0.8, 1.0];
    const L2: [f64; 4] = [0.0, 0.1, 1.0, 10.0];
    GbdtParams {
        num_leaves: LEAVES[rng.random_range(0..LEAVES.len())],
        learning_rate: RATES[rng.random_range(0..RATES.len())],
        min_data_in_leaf: MIN_DATA[rng.random_range(0..MIN_DATA.len())],
        feature_fraction: FRACTIONS[rng.random_range(0..FRACTIONS.len())],
        bagging_fraction: FRACTIONS[rng.random_range(0..FRACTIONS.len())],
        lambda_l2: L2[rng.random_range(0..L2.len())],
        ..base.clone()
    }
}

/// Random search of `n_trials` parameter sets (trial 0 = `base`) on `days` (training days only),
/// `k` folds grouped by day. Deterministic for a given `seed`.
pub fn tune_scorer(
    days: &[DayData],
    base: &GbdtParams,
    n_trials: usize,
    k: usize,
    seed: u64,
) -> Result<TuningResult, PipelineError> {
    let k = k.clamp(2, days.len().max(2));
    if days.len() < 2 {
        return Err(PipelineError::NotEnoughData(
            "tuning needs at least 2 training days".into(),
        ));
    }
    let names = days[0].matrix.feature_names.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut trials = Vec::with_capacity(n_trials);
    for t in 0..n_trials.max(1) {
        let params = if t == 0 {
            base.clone()
        } else {
            sample(base, &mut rng)
        };
        let mut scores = Vec::new();
        for fold in 0..k {
            let (fit_days, held) = split_days(days, k, fold);
            if fit_days.is_empty() || held.is_empty() {
                continue;
            }
            let (tr, va) = (labelled(&fit_days, None), labelled(&held, None));
            let model = fit_gbdt(
                "alert_scorer (tuning)",
                &params,
                names.clone(),
                &tr,
                &va,
                false,
            )?;
            let ap = average_precision(&va.labels, &model.predict(va.x.view())?);
            if ap.is_finite() {
                scores.push(ap);
            }
        }
        let cv = if scores.is_empty() {
            0.0
        } else {
            scores.iter().sum::<f64>() / scores.len() as f64
        };
        tracing::info!("tuning trial {t}: cv auc_pr {cv:.4}");
        trials.push(Trial {
            params,
            cv_auc_pr: cv,
        });
    }
    let best = trials
        .iter()
        .enumerate()
        .max_by(|(i, a), (j, b)| a.cv_auc_pr.total_cmp(&b.cv_auc_pr).then(j.cmp(i)))
        .map(|(_, t)| t.clone())
        .expect("at least one trial");
    Ok(TuningResult {
        best_params: best.params,
        best_cv_auc_pr: best.cv_auc_pr,
        trials,
        folds: k,
    })
}

/// The scorer's number of boosting rounds, chosen by [`cv_rounds`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundsChoice {
    /// Rounds to train: the earliest round with the best mean held-out metric.
    pub rounds: usize,
    /// The metric (the parameters' effective metric).
    pub metric: Metric,
    /// Mean held-out metric after each round, over the folds used (a fold that stopped growing
    /// early keeps its last value).
    pub curve: Vec<f64>,
    /// Folds used (folds whose held-out days give no finite metric, e.g. one class, are skipped).
    pub folds: usize,
}

/// Chooses the number of boosting rounds of `params` (up to `params.num_iterations`, early
/// stopping off) by `k`-fold cross-validation grouped by day on `days` (training days only):
/// each fold trains on the other folds' labelled alerts and records the held-out metric after
/// every round. `None` when no fold gives a finite metric (fewer than two days, or held-out
/// days with one class). Deterministic: the folds and the engine are.
pub fn cv_rounds(
    days: &[DayData],
    params: &GbdtParams,
    k: usize,
) -> Result<Option<RoundsChoice>, PipelineError> {
    let k = k.min(days.len());
    if k < 2 {
        return Ok(None);
    }
    let names = days[0].matrix.feature_names.clone();
    let metric = params.effective_metric();
    let fold_params = GbdtParams {
        early_stopping_rounds: None,
        ..params.clone()
    };
    let err = |source| PipelineError::Train {
        model: "alert_scorer (rounds by cross-validation)".into(),
        source,
    };
    let mut curves = Vec::new();
    for fold in 0..k {
        let (fit_days, held) = split_days(days, k, fold);
        let (tr, va) = (labelled(&fit_days, None), labelled(&held, None));
        if tr.labels.is_empty() || va.labels.is_empty() {
            continue;
        }
        let fit = Dataset::new(tr.x, tr.labels, names.clone()).map_err(err)?;
        let held = Dataset::new(va.x, va.labels, names.clone()).map_err(err)?;
        let out = train(&fold_params, &fit, Some(&held), None).map_err(err)?;
        let curve: Vec<f64> = out.history.iter().filter_map(|r| r.valid_metric).collect();
        if !curve.is_empty() && curve.iter().all(|m| m.is_finite()) {
            curves.push(curve);
        }
    }
    let Some(len) = curves.iter().map(Vec::len).max() else {
        return Ok(None);
    };
    let mean: Vec<f64> = (0..len)
        .map(|r| {
            let at = |c: &Vec<f64>| c[r.min(c.len() - 1)];
            curves.iter().map(at).sum::<f64>() / curves.len() as f64
        })
        .collect();
    let better = |a: f64, b: f64| {
        if metric.higher_is_better() {
            a > b
        } else {
            a < b
        }
    };
    let mut best = 0;
    for (r, &m) in mean.iter().enumerate() {
        if better(m, mean[best]) {
            best = r;
        }
    }
    Ok(Some(RoundsChoice {
        rounds: best + 1,
        metric,
        curve: mean,
        folds: curves.len(),
    }))
}

/// `config` with its scorer set to train exactly the rounds [`cv_rounds`] chooses on
/// `train_days` (`config.scorer_cv_folds` folds, early stopping off), and the choice. Unchanged
/// (early stopping on the validation days) when `scorer_cv_folds` < 2 or no fold is usable.
pub fn with_cv_rounds(
    config: &TrainConfig,
    train_days: &[DayData],
) -> Result<(TrainConfig, Option<RoundsChoice>), PipelineError> {
    let mut config = config.clone();
    if config.scorer_cv_folds < 2 {
        return Ok((config, None));
    }
    let choice = cv_rounds(train_days, &config.scorer_params, config.scorer_cv_folds)?;
    if let Some(c) = &choice {
        tracing::info!(
            "alert scorer: {} rounds by {}-fold day-grouped CV ({} {:.4})",
            c.rounds,
            c.folds,
            c.metric.name(),
            c.curve[c.rounds - 1]
        );
        config.scorer_params.num_iterations = c.rounds;
        config.scorer_params.early_stopping_rounds = None;
    }
    Ok((config, choice))
}
