//! Tier 3: ground truth (T+21 days). Only alerts whose address carries a label count; an unlabelled alert
//! is left out, never counted as 0 (the contract's rule).

use std::collections::BTreeMap;

use aml_core::submission::ScoreRow;
use aml_core::tables::AddressLabels;
use aml_core::Batch;
use aml_train::metric;
use serde::Serialize;

/// Cut-off of the NDCG in the seeds' tau score.
pub const NDCG_K: usize = 500;
/// Cut-offs reported for precision@K.
pub const PRECISION_KS: [usize; 3] = [10, 100, 500];

/// Precision at one cut-off.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrecisionAtK {
    /// Cut-off.
    pub k: usize,
    /// Share of illicit alerts among the `k` highest scores.
    pub precision: f64,
}

/// Tier 3 outcome. Metrics undefined on this data (e.g. AUC with one class) are NaN (`null` in JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tier3Report {
    /// Scored alerts with a label.
    pub n_labelled: usize,
    /// Of which illicit.
    pub n_positive: usize,
    /// ROC AUC.
    pub auc: f64,
    /// Average precision (AUC-PR).
    pub auc_pr: f64,
    /// Brier score.
    pub brier: f64,
    /// Log loss.
    pub log_loss: f64,
    /// NDCG@500 as the template computes it: scikit-learn's `ndcg_score([y], [score], k=500)` with
    /// binary relevance (illicit 1, else 0), tied scores averaged (see [`sklearn_ndcg_at_k`]).
    pub ndcg_at_500: f64,
    /// Our NDCG@500 with graded relevance (critical 3, high 2, medium 1, low 0; gain `2^rel - 1`,
    /// LightGBM's convention), an extra figure outside the tau score.
    pub graded_ndcg_at_500: f64,
    /// Precision at 10, 100, 500.
    pub precision_at_k: Vec<PrecisionAtK>,
    /// Seeds' tau score: `0.4 AUC + 0.3 (1 - Brier) + 0.3 NDCG@500` (the template's NDCG).
    pub tau_score: f64,
}

/// NDCG@k of one list as scikit-learn's `ndcg_score([relevance], [scores], k=k)` computes it: gain
/// equal to the relevance, discount `1 / log2(position + 2)` for the first `k` positions (from 0) and
/// 0 beyond; rows with equal scores share the mean gain of their group over the positions the group
/// occupies (whatever their input order); the ideal DCG ranks by relevance; a list whose ideal DCG is
/// 0 scores **0**.
///
/// NaN where scikit-learn refuses: fewer than two rows, lengths that differ, negative or non-finite
/// relevance, non-finite scores, `k == 0`.
///
/// ```
/// use aml_miner::validation::tier3::sklearn_ndcg_at_k;
/// // Two tied rows, one relevant: each gets half the gain on positions 0 and 1.
/// let tied = sklearn_ndcg_at_k(&[1.0, 0.0], &[0.5, 0.5], 2);
/// assert!((tied - 0.5 * (1.0 + 1.0 / 3f64.log2())).abs() < 1e-15);
/// assert_eq!(sklearn_ndcg_at_k(&[0.0, 0.0], &[0.9, 0.1], 2), 0.0);
/// ```
pub fn sklearn_ndcg_at_k(relevance: &[f64], scores: &[f64], k: usize) -> f64 {
    let usable = relevance.len() == scores.len()
        && relevance.len() > 1
        && k > 0
        && relevance.iter().all(|r| r.is_finite() && *r >= 0.0)
        && scores.iter().all(|s| s.is_finite());
    if !usable {
        return f64::NAN;
    }
    let discount = |position: usize| {
        if position < k {
            1.0 / (position as f64 + 2.0).log2()
        } else {
            0.0
        }
    };
    let mut ideal = relevance.to_vec();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let ideal_dcg: f64 = ideal
        .iter()
        .enumerate()
        .map(|(position, gain)| gain * discount(position))
        .sum();
    if ideal_dcg == 0.0 {
        return 0.0;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut dcg = 0.0;
    let mut start = 0;
    while start < order.len() {
        // `==` groups -0.0 with 0.0, as numpy's unique does.
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&row| scores[row] == scores[order[start]])
                .count();
        let group = &order[start..end];
        let mean_gain = group.iter().map(|&row| relevance[row]).sum::<f64>() / group.len() as f64;
        dcg += mean_gain * (start..end).map(discount).sum::<f64>();
        start = end;
    }
    dcg / ideal_dcg
}

/// Seeds' tau score.
pub fn tau_score(auc: f64, brier: f64, ndcg: f64) -> f64 {
    0.4 * auc + 0.3 * (1.0 - brier) + 0.3 * ndcg
}

/// Evaluates `scores` against `labels` through each alert's address; `None` when no scored alert is labelled.
pub fn evaluate(batch: &Batch, labels: &AddressLabels, scores: &[ScoreRow]) -> Option<Tier3Report> {
    let by_id: BTreeMap<&str, f64> = scores
        .iter()
        .map(|r| (r.alert_id.as_str(), r.score))
        .collect();
    let (mut y, mut relevance, mut s) = (Vec::new(), Vec::new(), Vec::new());
    // Batch alerts are in canonical (alert_id) order, so the metric input order is deterministic.
    for (alert_id, address) in batch.alerts.alert_id.iter().zip(&batch.alerts.address) {
        let (Some(&score), Some(label), Some(grade)) = (
            by_id.get(alert_id.as_str()),
            labels.label_of(address),
            labels.relevance_of(address),
        ) else {
            continue;
        };
        y.push(f64::from(label));
        relevance.push(f64::from(grade));
        s.push(score);
    }
    if y.is_empty() {
        return None;
    }
    let auc = metric::roc_auc(&y, &s);
    let brier = metric::brier(&y, &s);
    let ndcg_at_500 = sklearn_ndcg_at_k(&y, &s, NDCG_K);
    Some(Tier3Report {
        n_labelled: y.len(),
        n_positive: y.iter().filter(|v| **v == 1.0).count(),
        auc,
        auc_pr: metric::average_precision(&y, &s),
        brier,
        log_loss: metric::log_loss(&y, &s),
        ndcg_at_500,
        graded_ndcg_at_500: metric::ndcg_at_k(&relevance, &s, NDCG_K),
        precision_at_k: PRECISION_KS
            .iter()
            .map(|&k| PrecisionAtK {
                k,
                precision: metric::precision_at_k(&y, &s, k),
            })
            .collect(),
        tau_score: tau_score(auc, brier, ndcg_at_500),
    })
}
