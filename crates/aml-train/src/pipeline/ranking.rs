//! The alert ranker's choice: which objective and how many trees, picked out of fold on the
//! training days, and whether it ranks the submission at all.
//!
//! 1. Every candidate of [`TrainConfig::ranker_candidates`] (the ranker's base parameters with
//!    a few set on top, e.g. `{"objective": "rank_xendcg"}`) is fitted on day-grouped folds of
//!    the training days (fold `f` holds out the days at positions `i % k == f`, the folds of the
//!    scorer's out-of-fold probabilities, [`super::training::out_of_fold_scores`]), with early
//!    stopping on the held-out fold, so each fold gives a number of trees. The validation days
//!    are never used here.
//! 2. The candidate with the highest out-of-fold NDCG@500 (mean over days, the earlier candidate
//!    on ties) is refitted on all training days with the mean of its fold tree counts.
//! 3. The ranker is judged against ranking by the scorer's score on every day both have
//!    out-of-sample scores for ([`JudgedDay`]): each training day, ranked by a ranker fitted on
//!    the other folds' days whose candidate and number of trees were also chosen on those folds
//!    alone (the fold models of step 1 were early-stopped on the very day they rank, which the
//!    scorer's out-of-fold probabilities never are), and each validation day, ranked by the
//!    shipped ranker. The scorer's probabilities of a training day come from a scorer fitted on
//!    the same other days. Per day `d_i` = NDCG@500(ranker) - NDCG@500(scorer); see [`judge`]
//!    for the rule. It orders the submission only when the rule holds (or
//!    [`TrainConfig::ranker_always_ships`]); otherwise `rankings.parquet` orders by the score.
//!
//! A binary candidate trains on the contract label (illicit or not); ranking candidates train
//! on the graded relevance. Every candidate boosts from the scorer's log-odds, so its raw score
//! plus that offset is the ranking score whatever the objective.

use std::collections::BTreeMap;

use aml_core::submission::{RankingModel, RankingSource};
use aml_models::bundle::{
    HeldOutBy, JudgedDay, RankerCandidateResult, RankingChoice, RankingMetrics, ShipJudgement,
};
use aml_models::{AlertRanker, SCORER_FEATURE};
use serde::{Deserialize, Serialize};

use super::data::DayData;
use super::evaluation::MetricsRow;
use super::training::{fit_gbdt, labelled, Labelled, TrainConfig};
use super::PipelineError;
use crate::metric::{ndcg_at_k, precision_at_k};
use crate::{GbdtParams, Objective};

/// Day-grouped folds of the training days the candidates are compared and judged on: the folds
/// of the scorer's out-of-fold probabilities, so a judged day's two orders come from models
/// fitted on the same days.
pub const RANKER_FOLDS: usize = super::training::OUT_OF_FOLD_FOLDS;

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

/// NDCG@100, NDCG@500 and P@100 of ordering one day's labelled alerts by `scores` (one value
/// per alert); `None` when the day has no labelled alert.
pub fn day_metrics(day: &DayData, scores: &[f64]) -> Option<RankingMetrics> {
    let rows = day.labelled_rows();
    if rows.is_empty() {
        return None;
    }
    let relevance: Vec<f64> = rows
        .iter()
        .map(|&r| f64::from(day.relevance[r].unwrap_or(0)))
        .collect();
    let labels: Vec<f64> = rows
        .iter()
        .map(|&r| f64::from(day.labels[r].unwrap_or(0)))
        .collect();
    let s: Vec<f64> = rows.iter().map(|&r| scores[r]).collect();
    let finite = |v: f64| v.is_finite().then_some(v);
    Some(RankingMetrics {
        ndcg_100: finite(ndcg_at_k(&relevance, &s, 100)),
        ndcg_500: finite(ndcg_at_k(&relevance, &s, 500)),
        precision_100: finite(precision_at_k(&labels, &s, 100)),
    })
}

/// NDCG@100, NDCG@500 and P@100 of ordering each day's labelled alerts by `scores` (one vector
/// per day, one value per alert), averaged over days with a labelled alert.
pub fn ranking_metrics<D: std::borrow::Borrow<DayData>>(
    days: &[D],
    scores: &[Vec<f64>],
) -> RankingMetrics {
    let per_day: Vec<RankingMetrics> = days
        .iter()
        .zip(scores)
        .filter_map(|(day, s)| day_metrics(day.borrow(), s))
        .collect();
    average_metrics(&per_day)
}

/// The mean of each metric over the days that have it.
fn average_metrics(per_day: &[RankingMetrics]) -> RankingMetrics {
    let column = |f: fn(&RankingMetrics) -> Option<f64>| mean(per_day.iter().filter_map(f));
    RankingMetrics {
        ndcg_100: column(|m| m.ndcg_100),
        ndcg_500: column(|m| m.ndcg_500),
        precision_100: column(|m| m.precision_100),
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
    /// Per candidate, per training day: its fold model's NDCG@500 of that day.
    day_ndcg: Vec<Vec<Option<f64>>>,
    chosen: usize,
    num_trees: usize,
    scorer: RankingMetrics,
    folds: usize,
}

/// The index of the highest key, the earlier one on ties (a candidate without a figure never
/// wins over one with a figure).
fn best(keys: impl Iterator<Item = Option<f64>>) -> usize {
    keys.map(|k| k.unwrap_or(f64::NEG_INFINITY))
        .enumerate()
        .max_by(|(i, a), (j, b)| a.total_cmp(b).then(j.cmp(i)))
        .map_or(0, |(i, _)| i)
}

/// The rounded mean of `trees` (at least 1), or `fallback` when empty.
fn mean_trees(trees: impl Iterator<Item = usize>, fallback: usize) -> usize {
    let trees: Vec<usize> = trees.collect();
    let n = if trees.is_empty() {
        fallback
    } else {
        (trees.iter().sum::<usize>() as f64 / trees.len() as f64).round() as usize
    };
    n.max(1)
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
    let mut day_ndcg = Vec::with_capacity(candidates.len());
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
        let (out_of_fold, per_day) = if folds >= 2 {
            let metrics: Vec<Option<RankingMetrics>> = (0..n_days)
                .map(|d| day_metrics(&train.0[d], &oof_scores[d]))
                .collect();
            let labelled: Vec<RankingMetrics> = metrics.iter().flatten().cloned().collect();
            let per_day = metrics
                .iter()
                .map(|m| m.as_ref().and_then(|m| m.ndcg_500))
                .collect();
            (average_metrics(&labelled), per_day)
        } else {
            (RankingMetrics::default(), vec![None; n_days])
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
        day_ndcg.push(per_day);
    }
    let chosen = best(results.iter().map(|r| r.out_of_fold.ndcg_500));
    let num_trees = mean_trees(
        results[chosen].fold_trees.iter().copied(),
        candidates[chosen].1.num_iterations,
    );
    Ok(OutOfFold {
        results,
        day_ndcg,
        chosen,
        num_trees,
        scorer,
        folds: if folds >= 2 { folds } else { 0 },
    })
}

/// The training days judged out of fold: for each fold, the candidate with the best mean
/// NDCG@500 on the other folds' days, refitted on those days with the mean of its other folds'
/// tree counts (no early stopping), ranks the fold's days; the scorer's out-of-fold
/// probabilities rank them too. No fold, no judged day.
fn judge_out_of_fold(
    candidates: &[(RankerCandidate, GbdtParams)],
    oof: &OutOfFold,
    names: &[String],
    train: (&[DayData], &[Vec<f64>]),
) -> Result<Vec<JudgedDay>, PipelineError> {
    let n_days = train.0.len();
    let folds = oof.folds;
    let mut judged: Vec<Option<JudgedDay>> = vec![None; n_days];
    for fold in 0..folds {
        let (held, fit): (Vec<usize>, Vec<usize>) = (0..n_days).partition(|&d| d % folds == fold);
        let c = best(
            oof.day_ndcg
                .iter()
                .map(|per_day| mean(fit.iter().filter_map(|&d| per_day[d]))),
        );
        let (candidate, base) = &candidates[c];
        let trees = mean_trees(
            (0..folds)
                .filter(|&f| f != fold)
                .map(|f| oof.results[c].fold_trees[f]),
            base.num_iterations,
        );
        let params = GbdtParams {
            num_iterations: trees,
            early_stopping_rounds: None,
            ..base.clone()
        };
        let name = format!(
            "alert_ranker judged on fold {fold} (candidate {:?})",
            candidate.name
        );
        let ranker = fit_ranker(&name, &params, names, train, &fit, &[])?;
        for &d in &held {
            let (day, scores) = (&train.0[d], &train.1[d]);
            let ranked = ranker.ranking_scores(&day.matrix, scores)?;
            judged[d] = judged_day(
                day,
                HeldOutBy::OutOfFold,
                (&candidate.name, trees),
                (&ranked, scores),
            );
        }
    }
    Ok(judged.into_iter().flatten().collect())
}

/// One judged day, or `None` when either order's NDCG@500 is undefined there.
fn judged_day(
    day: &DayData,
    held_out_by: HeldOutBy,
    (candidate, trees): (&str, usize),
    (ranker_scores, scorer_scores): (&[f64], &[f64]),
) -> Option<JudgedDay> {
    let ranker = day_metrics(day, ranker_scores)?;
    let scorer = day_metrics(day, scorer_scores)?;
    let difference = ranker.ndcg_500? - scorer.ndcg_500?;
    Some(JudgedDay {
        date: day.date.clone(),
        held_out_by,
        candidate: candidate.to_string(),
        trees,
        ranker,
        scorer,
        difference,
    })
}

/// The ship rule over the judged days' paired differences `d_i` = NDCG@500(ranker) -
/// NDCG@500(scorer): the ranker ships when, over at least two days,
/// 1. the mean difference exceeds `margin`,
/// 2. the mean minus one standard error (sample standard deviation / sqrt(days)) is above 0, and
/// 3. the ranker's NDCG@500 is above the scorer's on more than half of the days.
///
/// One day gives no spread, so it cannot show that a gain is consistent: the scorer ranks.
/// `None` when no day was judged.
pub fn judge(days: &[JudgedDay], margin: f64) -> Option<ShipJudgement> {
    let d: Vec<f64> = days.iter().map(|j| j.difference).collect();
    let n = d.len();
    let mean_difference = mean(d.iter().copied())?;
    let standard_deviation = (n >= 2).then(|| {
        let ss: f64 = d.iter().map(|x| (x - mean_difference).powi(2)).sum();
        (ss / (n - 1) as f64).sqrt()
    });
    let standard_error = standard_deviation.map(|sd| sd / (n as f64).sqrt());
    let wins = d.iter().filter(|&&x| x > 0.0).count();
    let ships = mean_difference > margin
        && standard_error.is_some_and(|se| mean_difference - se > 0.0)
        && 2 * wins > n;
    Some(ShipJudgement {
        days: n,
        mean_difference,
        standard_deviation,
        standard_error,
        wins,
        ships,
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

/// The rule of [`judge`] in words, for the bundle metadata.
fn rule_text(margin: f64, always: bool) -> String {
    let rule = format!(
        "the alert ranker is judged against ranking by the scorer's score on every day both have \
         out-of-sample scores for (each training day out of fold: ranker fitted, chosen and \
         stopped on the other folds' days, scorer fitted on the same days; each validation day: \
         the shipped ranker), with d = NDCG@500(ranker) - NDCG@500(scorer) per day; rankings come \
         from the ranker only when, over at least two days, mean d > {margin}, mean d - 1 \
         standard error > 0 and d > 0 on more than half of the days; otherwise from the scorer's \
         score"
    );
    if always {
        format!("{rule} (overridden: ranker_always_ships is set, so the ranker ranks)")
    } else {
        rule
    }
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

    let mut judged_days = judge_out_of_fold(&candidates, &oof, names, (train_days, train_scores))?;
    let mut ranker_scores = Vec::with_capacity(valid_days.len());
    for (day, scores) in valid_days.iter().zip(valid_scores) {
        let ranked = ranker.ranking_scores(&day.matrix, scores)?;
        judged_days.extend(judged_day(
            day,
            HeldOutBy::Validation,
            (&candidate.name, params.num_iterations),
            (&ranked, scores),
        ));
        ranker_scores.push(ranked);
    }
    let held_out_ranker = ranking_metrics(valid_days, &ranker_scores);
    let held_out_scorer = ranking_metrics(valid_days, valid_scores);
    let judgement = judge(&judged_days, config.ranker_ship_margin);
    let source = decide(
        (&candidate.name, params.num_iterations),
        &judged_days,
        judgement.as_ref(),
        config,
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
        rule: rule_text(config.ranker_ship_margin, config.ranker_always_ships),
        margin: config.ranker_ship_margin,
        chosen: candidate.name.clone(),
        folds: oof.folds,
        candidates: oof.results,
        out_of_fold_scorer: oof.scorer,
        held_out_days: valid_days.iter().map(|d| d.date.clone()).collect(),
        held_out_ranker,
        held_out_scorer,
        judged_days,
        judgement,
    };
    Ok(RankerStage {
        ranker,
        params,
        row,
        extra_rows,
        choice,
    })
}

/// Applies the ship rule's verdict (or `ranker_always_ships`) and says why, with the numbers.
fn decide(
    (candidate, trees): (&str, usize),
    judged: &[JudgedDay],
    judgement: Option<&ShipJudgement>,
    config: &TrainConfig,
) -> RankingSource {
    let margin = config.ranker_ship_margin;
    let ranker = format!("the alert ranker ({candidate}, {trees} trees, chosen out of fold)");
    let Some(j) = judgement else {
        let reason = format!(
            "{ranker} could not be judged: no day has a defined NDCG@500 for both orders (no \
             labelled alert held out)"
        );
        return finish(config, false, reason);
    };
    let per_day = judged
        .iter()
        .map(|d| {
            let how = match d.held_out_by {
                HeldOutBy::OutOfFold => "out of fold",
                HeldOutBy::Validation => "validation",
            };
            format!("{} ({how}) {:+.4}", d.date, d.difference)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let fmt = |v: Option<f64>| v.map_or("undefined".to_string(), |v| format!("{v:.4}"));
    let numbers = format!(
        "{ranker} judged on {} day(s) against ranking by the scorer's score, NDCG@500 ranker - \
         scorer per day: {per_day}; mean {:+.4}, standard deviation {}, standard error {}, the \
         ranker ahead on {} of {} days",
        j.days,
        j.mean_difference,
        fmt(j.standard_deviation),
        fmt(j.standard_error),
        j.wins,
        j.days
    );
    let mut failed = Vec::new();
    if j.mean_difference <= margin {
        failed.push(format!("the mean is not above the margin {margin}"));
    }
    match j.standard_error {
        Some(se) if j.mean_difference - se > 0.0 => {}
        Some(_) => failed.push("the mean minus one standard error is not above 0".to_string()),
        None => failed
            .push("one day has no spread, so the gain is not shown to be consistent".to_string()),
    }
    if 2 * j.wins <= j.days {
        failed.push("the ranker is not ahead on more than half of the days".to_string());
    }
    let reason = if j.ships {
        format!(
            "{numbers}: the mean is above the margin {margin}, the mean minus one standard error \
             is above 0 and the ranker is ahead on more than half of the days, so rankings come \
             from the ranker"
        )
    } else {
        format!(
            "{numbers}: the rule is not met ({}), so rankings follow the scorer's score",
            failed.join("; ")
        )
    };
    finish(config, j.ships, reason)
}

/// The ranking source for a rule verdict `ships`, overridden by `ranker_always_ships`.
fn finish(config: &TrainConfig, ships: bool, reason: String) -> RankingSource {
    if config.ranker_always_ships && !ships {
        return RankingSource {
            model: RankingModel::AlertRanker,
            reason: format!(
                "{reason}; overridden: ranker_always_ships is set, so rankings come from the ranker"
            ),
        };
    }
    RankingSource {
        model: if ships {
            RankingModel::AlertRanker
        } else {
            RankingModel::AlertScorer
        },
        reason,
    }
}
