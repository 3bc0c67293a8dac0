//! The shipped alert scorer refitted on every labelled history day.
//!
//! [`train_bundle`](super::train_bundle) fits the scorer on the training days and keeps the last
//! day(s) out for calibration, the ranker's and cluster scorer's early stopping and the metrics
//! table. Those choices stay as they are, but the newest labelled day is also the one closest to
//! the days the miner will score, so the model that ships is fitted again on training and
//! validation days together, with the same parameters and number of trees, and keeps the
//! calibration map chosen on the validation day. The metrics table still describes the model
//! that did not see the validation day (an honest held-out estimate of the shipped one).

use aml_models::AlertScorer;

use super::data::stack;
use super::training::{fit_gbdt, Labelled, TrainConfig};
use super::PipelineError;

/// The rows of `a` followed by the rows of `b` (both without ranker offsets).
fn concat(a: &Labelled, b: &Labelled) -> Labelled {
    let join = |x: &[f64], y: &[f64]| x.iter().chain(y).copied().collect::<Vec<_>>();
    Labelled {
        x: stack(&[a.x.clone(), b.x.clone()], a.x.ncols()),
        labels: join(&a.labels, &b.labels),
        relevance: join(&a.relevance, &b.relevance),
        groups: a.groups.iter().chain(&b.groups).copied().collect(),
        offsets: Vec::new(),
    }
}

/// `scorer` (fitted on `train_rows`) fitted again on `train_rows` and `valid_rows` with
/// `config.scorer_params`, exactly as many trees as `scorer` has and no early stopping, keeping
/// its calibration. `scorer` unchanged when `config.scorer_refit_all_days` is off.
pub fn refit_scorer(
    config: &TrainConfig,
    names: &[String],
    (train_rows, valid_rows): (&Labelled, &Labelled),
    scorer: AlertScorer,
) -> Result<AlertScorer, PipelineError> {
    if !config.scorer_refit_all_days {
        return Ok(scorer);
    }
    let mut params = config.scorer_params.clone();
    params.num_iterations = scorer.model().ensemble().trees.len().max(1);
    params.early_stopping_rounds = None;
    let rows = concat(train_rows, valid_rows);
    let model = fit_gbdt(
        "alert_scorer (all history days)",
        &params,
        names.to_vec(),
        &rows,
        &Labelled::empty(rows.x.ncols()),
        false,
    )?;
    Ok(AlertScorer::new(model, scorer.calibration().cloned())?)
}
