//! The alert ranker's choice: which objective and how many trees, picked out of fold on the
//! training days, and whether it ranks the submission at all.
//!
//! 1. Every candidate of [`TrainConfig::ranker_candidates`] (the ranker's base parameters with
//!    a few set on top, e.g. `{"objective": "rank_xendcg"}`) is fitted on day-grouped folds of
//!    the training days (fold `f` holds out the days at positions `i % k == f`, as in
//!    [`super::tuning`]), with early stopping on the held-out fold, so each fold gives a number
//!    of trees; the held-out days are ranked by that fold's model. The validation days are
//!    never used here.
//! 2. The candidate with the highest out-of-fold NDCG@500 (mean over days, the earlier candidate
//!    on ties) is refitted on all training days with the mean of its fold tree counts.
//! 3. On the held-out validation days it is compared with ranking by the scorer's score. It
//!    orders the submission only when its NDCG@500 exceeds the scorer's by more than
//!    [`TrainConfig::ranker_ship_margin`]; otherwise `rankings.parquet` orders by the score.
//!
//! A binary candidate trains on the contract label (illicit or not); ranking candidates train
//! on the graded relevance. Every candidate boosts from the scorer's log-odds, so its raw score
//! plus that offset is the ranking score whatever the objective.

use std::collections::BTreeMap;

use aml_core::submission::{RankingModel, RankingSource};
use aml_models::bundle::{RankerCandidateResult, RankingChoice, RankingMetrics};
use aml_models::{AlertRanker, SCORER_FEATURE};
use serde::{Deserialize, Serialize};

use super::data::DayData;
use super::evaluation::MetricsRow;
use super::training::{fit_gbdt, labelled, Labelled, TrainConfig};
use super::PipelineError;
use crate::metric::{ndcg_at_k, precision_at_k};
use crate::{GbdtParams, Objective};

/// Day-grouped folds of the training days the candidates are compared on.
pub const RANKER_FOLDS: usize = 3;

/// Default of [`TrainConfig::ranker_ship_margin`].
pub const DEFAULT_SHIP_MARGIN: f64 = 0.005;

/// One ranker candidate: the ranker's base parameters with `params` set on top.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankerCandidate {
    /// Name in reports and in the bundle metadata.
    pub name: String,
    /// `GbdtParams` fields (by their JSON names) that differ from the base parameters.
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
}

impl RankerCandidate {
    /// A candidate named `name` setting `params`.
    pub fn new<const N: usize>(name: &str, params: [(&str, serde_json::Value); N]) -> Self {
        RankerCandidate {
            name: name.to_string(),
            params: params
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }
    }

    /// The base parameters with this candidate's set on top; an unknown parameter name, a value
    /// of the wrong type or invalid resulting parameters are errors naming the candidate.
    pub fn params_on(&self, base: &GbdtParams) -> Result<GbdtParams, PipelineError> {
        let config_error = |what: String| {
            PipelineError::Config(format!("ranker candidate {:?}: {what}", self.name))
        };
        let mut value = serde_json::to_value(base)
            .map_err(|e| config_error(format!("base parameters: {e}")))?;
        let object = value
            .as_object_mut()
            .ok_or_else(|| config_error("base parameters are not a JSON object".into()))?;
        let known = GbdtParams::field_names();
        for (key, v) in &self.params {
            if !known.contains(key) {
                return Err(config_error(format!("unknown parameter {key:?}")));
            }
            object.insert(key.clone(), v.clone());
        }
        let params: GbdtParams =
            serde_json::from_value(value).map_err(|e| config_error(e.to_string()))?;
        params.validate().map_err(|source| PipelineError::Train {
            model: format!("alert_ranker candidate {:?}", self.name),
            source,
        })?;
        Ok(params)
    }
}

/// The default candidates: LambdaRank with the ranker's parameters, XE-NDCG, and a binary
/// model of the contract label (all boosting from the scorer's log-odds).
pub fn default_ranker_candidates() -> Vec<RankerCandidate> {
    vec![
        RankerCandidate::new("lambdarank", []),
        // Deep pairs sampled beyond the top 30 (aml-train README, "Ranking"): on whole-day
        // queries it is the strongest LambdaRank measured.
        RankerCandidate::new(
            "lambdarank_sampled",
            [
                ("lambdarank_truncation_level", 30.into()),
                ("lambdarank_pair_sample", 3.into()),
                ("lambdarank_pair_norm", true.into()),
            ],
        ),
        RankerCandidate::new("rank_xendcg", [("objective", "rank_xendcg".into())]),
        RankerCandidate::new("binary", [("objective", "binary".into())]),
    ]
}

/// Every candidate of `config` with its parameters; no candidate is an error.
pub fn candidate_params(
    config: &TrainConfig,
) -> Result<Vec<(RankerCandidate, GbdtParams)>, PipelineError> {
    if config.ranker_candidates.is_empty() {
        return Err(PipelineError::Config(
            "ranker_candidates is empty: the ranker needs at least one candidate".into(),
        ));
    }
    config
        .ranker_candidates
        .iter()
        .map(|c| Ok((c.clone(), c.params_on(&config.ranker_params)?)))
        .collect()
}

/// Serde default of [`TrainConfig::ranker_ship_margin`].
pub fn default_ship_margin() -> f64 {
    DEFAULT_SHIP_MARGIN
}

/// Rows as a candidate with `objective` trains on them: a binary model learns the contract
/// label (kept per day as a query group, so early stopping still ranks day by day), every other
/// objective the graded relevance.
fn target_rows(rows: Labelled, objective: Objective) -> Labelled {
    match objective {
        Objective::Binary => Labelled {
            relevance: rows.labels.clone(),
            ..rows
        },
        _ => rows,
    }
}

/// Labelled rows of the days at `positions` of `days`, with their scorer probabilities.
fn rows_of(days: &[DayData], scores: &[Vec<f64>], positions: &[usize]) -> Labelled {
    let picked: Vec<&DayData> = positions.iter().map(|&d| &days[d]).collect();
    let picked_scores: Vec<Vec<f64>> = positions.iter().map(|&d| scores[d].clone()).collect();
    labelled(&picked, Some(&picked_scores))
}

/// Fits a ranker with `params` on the days at `fit` positions, early-stopped on the days at
/// `held` positions (none: exactly `params.num_iterations` trees).
fn fit_ranker(
    name: &str,
    params: &GbdtParams,
    names: &[String],
    (days, scores): (&[DayData], &[Vec<f64>]),
    fit: &[usize],
    held: &[usize],
) -> Result<AlertRanker, PipelineError> {
    let mut ranker_names = names.to_vec();
    ranker_names.push(SCORER_FEATURE.to_string());
    let train_rows = target_rows(rows_of(days, scores, fit), params.objective);
    let valid_rows = target_rows(rows_of(days, scores, held), params.objective);
    let model = fit_gbdt(name, params, ranker_names, &train_rows, &valid_rows, true)?;
    Ok(AlertRanker::new(model)?)
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let finite: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    (!finite.is_empty()).then(|| finite.iter().sum::<f64>() / finite.len() as f64)
}

/// NDCG@100, NDCG@500 and P@100 of ordering each day's labelled alerts by `scores` (one vector
/// per day, one value per alert), averaged over days with a labelled alert.
pub fn ranking_metrics<D: std::borrow::Borrow<DayData>>(
    days: &[D],
    scores: &[Vec<f64>],
) -> RankingMetrics {
    let mut per_day = Vec::new();
    for (day, s) in days.iter().zip(scores) {
        let day = day.borrow();
        let rows = day.labelled_rows();
        if rows.is_empty() {
            continue;
        }
        let relevance: Vec<f64> = rows
            .iter()
            .map(|&r| f64::from(day.relevance[r].unwrap_or(0)))
            .collect();
        let labels: Vec<f64> = rows
            .iter()
            .map(|&r| f64::from(day.labels[r].unwrap_or(0)))
            .collect();
        let s: Vec<f64> = rows.iter().map(|&r| s[r]).collect();
        per_day.push([
            ndcg_at_k(&relevance, &s, 100),
            ndcg_at_k(&relevance, &s, 500),
            precision_at_k(&labels, &s, 100),
        ]);
    }
    let column = |i: usize| mean(per_day.iter().map(|m| m[i]));
    RankingMetrics {
        ndcg_100: column(0),
        ndcg_500: column(1),
        precision_100: column(2),
    }
}

/// A metrics-table row holding only ranking metrics.
fn ranking_row(model: String, n: usize, m: &RankingMetrics) -> MetricsRow {
    MetricsRow {
        model,
        n,
        auc: None,
        auc_pr: None,
        brier: None,
        log_loss: None,
        ndcg_100: m.ndcg_100,
        ndcg_500: m.ndcg_500,
        precision_100: m.precision_100,
        ece: None,
    }
}

/// The out-of-fold comparison of the candidates.
struct OutOfFold {
    results: Vec<RankerCandidateResult>,
    chosen: usize,
    num_trees: usize,
    scorer: RankingMetrics,
    folds: usize,
}

/// Fits every candidate on day-grouped folds of the training days and picks the best by
/// out-of-fold NDCG@500. With a single training day there is nothing to hold out: the first
/// candidate is kept with its configured number of trees.
fn compare_out_of_fold(
    candidates: &[(RankerCandidate, GbdtParams)],
    names: &[String],
    train: (&[DayData], &[Vec<f64>]),
) -> Result<OutOfFold, PipelineError> {
    let n_days = train.0.len();
    let folds = RANKER_FOLDS.min(n_days);
    let scorer = ranking_metrics(train.0, train.1);
    let mut results = Vec::with_capacity(candidates.len());
    for (candidate, params) in candidates {
        let mut fold_trees = Vec::new();
        let mut oof_scores = vec![Vec::new(); n_days];
        if folds >= 2 {
            for fold in 0..folds {
                let (held, fit): (Vec<usize>, Vec<usize>) =
                    (0..n_days).partition(|&d| d % folds == fold);
                let name = format!("alert_ranker candidate {:?} (fold {fold})", candidate.name);
                let ranker = fit_ranker(&name, params, names, train, &fit, &held)?;
                fold_trees.push(ranker.model().ensemble().trees.len());
                for &d in &held {
                    oof_scores[d] = ranker.ranking_scores(&train.0[d].matrix, &train.1[d])?;
                }
            }
        }
        let out_of_fold = if folds >= 2 {
            ranking_metrics(train.0, &oof_scores)
        } else {
            RankingMetrics::default()
        };
        tracing::info!(
            "ranker candidate {}: out-of-fold NDCG@500 {:?}, trees per fold {fold_trees:?}",
            candidate.name,
            out_of_fold.ndcg_500
        );
        results.push(RankerCandidateResult {
            name: candidate.name.clone(),
            params: candidate.params.clone(),
            fold_trees,
            out_of_fold,
        });
    }
    let key = |r: &RankerCandidateResult| r.out_of_fold.ndcg_500.unwrap_or(f64::NEG_INFINITY);
    let chosen = results
        .iter()
        .enumerate()
        .max_by(|(i, a), (j, b)| key(a).total_cmp(&key(b)).then(j.cmp(i)))
        .map_or(0, |(i, _)| i);
    let trees = &results[chosen].fold_trees;
    let num_trees = if trees.is_empty() {
        candidates[chosen].1.num_iterations
    } else {
        (trees.iter().sum::<usize>() as f64 / trees.len() as f64).round() as usize
    };
    Ok(OutOfFold {
        results,
        chosen,
        num_trees: num_trees.max(1),
        scorer,
        folds: if folds >= 2 { folds } else { 0 },
    })
}

/// The fitted ranker, its metrics-table rows, its parameters and the ranking choice.
pub struct RankerStage {
    /// The ranker refitted on all training days with the chosen candidate.
    pub ranker: AlertRanker,
    /// Its parameters (the chosen number of trees, no early stopping).
    pub params: GbdtParams,
    /// The ranker's row of the metrics table (validation days).
    pub row: MetricsRow,
    /// Every other row: ranking by the scorer on the validation days, each candidate out of fold.
    pub extra_rows: Vec<MetricsRow>,
    /// What goes into the bundle metadata.
    pub choice: RankingChoice,
}

/// Chooses, fits and evaluates the alert ranker. `day_scores` holds every day's scorer
/// probabilities (out of fold on the training days), training days first.
pub fn ranker_stage(
    config: &TrainConfig,
    names: &[String],
    (train_days, valid_days): (&[DayData], &[DayData]),
    day_scores: &[Vec<f64>],
) -> Result<RankerStage, PipelineError> {
    let n_train = train_days.len();
    let (train_scores, valid_scores) = day_scores.split_at(n_train);
    let candidates = candidate_params(config)?;
    let oof = compare_out_of_fold(&candidates, names, (train_days, train_scores))?;
    let (candidate, base) = &candidates[oof.chosen];
    let params = GbdtParams {
        num_iterations: oof.num_trees,
        early_stopping_rounds: None,
        ..base.clone()
    };
    let all: Vec<usize> = (0..n_train).collect();
    let ranker = fit_ranker(
        "alert_ranker",
        &params,
        names,
        (train_days, train_scores),
        &all,
        &[],
    )?;

    let mut ranker_scores = Vec::with_capacity(valid_days.len());
    for (day, scores) in valid_days.iter().zip(valid_scores) {
        ranker_scores.push(ranker.ranking_scores(&day.matrix, scores)?);
    }
    let held_out_ranker = ranking_metrics(valid_days, &ranker_scores);
    let held_out_scorer = ranking_metrics(valid_days, valid_scores);
    let source = decide(
        &candidate.name,
        params.num_iterations,
        (&held_out_ranker, &held_out_scorer),
        valid_days,
        config.ranker_ship_margin,
    );

    let pooled = |scores: &[Vec<f64>]| -> Vec<f64> {
        valid_days
            .iter()
            .zip(scores)
            .flat_map(|(day, s)| day.labelled_rows().into_iter().map(|r| s[r]))
            .collect()
    };
    let valid_rows = labelled(valid_days, None);
    let evaluate = |model: &str, scores: &[Vec<f64>]| {
        MetricsRow::evaluate(
            model,
            &valid_rows.labels,
            &valid_rows.relevance,
            &pooled(scores),
            false,
        )
    };
    let row = evaluate("alert_ranker", &ranker_scores);
    let mut extra_rows = vec![evaluate("alert_scorer (as ranking)", valid_scores)];
    let n_oof: usize = train_days.iter().map(|d| d.labelled_rows().len()).sum();
    extra_rows.push(ranking_row(
        "alert_scorer (as ranking, out of fold)".into(),
        n_oof,
        &oof.scorer,
    ));
    for r in &oof.results {
        extra_rows.push(ranking_row(
            format!("alert_ranker candidate {} (out of fold)", r.name),
            n_oof,
            &r.out_of_fold,
        ));
    }
    let choice = RankingChoice {
        source,
        rule: format!(
            "rankings come from the alert ranker only when its NDCG@500 on the held-out validation \
             days exceeds the NDCG@500 of ranking by the scorer's score by more than {}; \
             otherwise from the scorer's score",
            config.ranker_ship_margin
        ),
        margin: config.ranker_ship_margin,
        chosen: candidate.name.clone(),
        folds: oof.folds,
        candidates: oof.results,
        out_of_fold_scorer: oof.scorer,
        held_out_days: valid_days.iter().map(|d| d.date.clone()).collect(),
        held_out_ranker,
        held_out_scorer,
    };
    Ok(RankerStage {
        ranker,
        params,
        row,
        extra_rows,
        choice,
    })
}

/// Applies the shipping rule to the held-out (ranker, scorer) metrics.
fn decide(
    candidate: &str,
    trees: usize,
    (ranker, scorer): (&RankingMetrics, &RankingMetrics),
    valid_days: &[DayData],
    margin: f64,
) -> RankingSource {
    let days = valid_days
        .iter()
        .map(|d| d.date.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let fmt = |v: Option<f64>| v.map_or("undefined".to_string(), |v| format!("{v:.4}"));
    let numbers = format!(
        "on the held-out day(s) {days} the alert ranker ({candidate}, {trees} trees, chosen out of \
         fold) has NDCG@100 {}, NDCG@500 {}, P@100 {}; ranking by the scorer has NDCG@100 {}, \
         NDCG@500 {}, P@100 {}",
        fmt(ranker.ndcg_100),
        fmt(ranker.ndcg_500),
        fmt(ranker.precision_100),
        fmt(scorer.ndcg_100),
        fmt(scorer.ndcg_500),
        fmt(scorer.precision_100),
    );
    match (ranker.ndcg_500, scorer.ndcg_500) {
        (Some(r), Some(s)) if r - s > margin => RankingSource {
            model: RankingModel::AlertRanker,
            reason: format!(
                "{numbers}: the ranker's NDCG@500 is {:+.4} above the scorer's, more than the \
                 margin {margin}",
                r - s
            ),
        },
        (Some(r), Some(s)) => RankingSource {
            model: RankingModel::AlertScorer,
            reason: format!(
                "{numbers}: the ranker's NDCG@500 is {:+.4} against the scorer's, not more than \
                 the margin {margin}, so rankings follow the scorer's score",
                r - s
            ),
        },
        _ => RankingSource {
            model: RankingModel::AlertScorer,
            reason: format!(
                "{numbers}: NDCG@500 is undefined (no labelled alert held out), so the ranker \
                 cannot be shown to help and rankings follow the scorer's score"
            ),
        },
    }
}
