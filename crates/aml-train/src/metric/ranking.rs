//! Ranking metrics: NDCG@k (one list, or the mean over query groups) and
//! precision@k.
//!
//! NDCG follows LightGBM's `ndcg` metric exactly, because LightGBM is this
//! project's oracle and the LambdaRank objective optimises LightGBM's NDCG:
//! - gain `2^rel - 1`, discount `1 / log2(position + 2)` (positions from 0);
//! - rows are ranked by score descending with a **stable** sort, so rows with
//!   equal scores keep their input order (LightGBM's `std::stable_sort`;
//!   scikit-learn's `ndcg_score` averages tied gains instead, which only
//!   differs when tied rows have different relevance);
//! - `k` larger than the list uses the whole list;
//! - a list whose ideal DCG is 0 (all relevance 0) scores **1**.
//!
//! Relevance must be finite and `>= 0` (LightGBM requires non-negative labels).

use super::{order_by_score_desc, usable_pair};

/// LightGBM's default label gain `2^rel - 1`.
fn gain(relevance: f64) -> f64 {
    relevance.exp2() - 1.0
}

/// Position discount `1 / log2(position + 2)` for a zero-based position.
fn discount(position: usize) -> f64 {
    1.0 / (position as f64 + 2.0).log2()
}

/// NDCG@k of one list, assuming the input was already validated.
fn ndcg_of_list(relevance: &[f64], scores: &[f64], k: usize) -> f64 {
    let depth = k.min(relevance.len());
    let mut ideal: Vec<f64> = relevance.to_vec();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let ideal_dcg: f64 = ideal[..depth]
        .iter()
        .enumerate()
        .map(|(i, &r)| gain(r) * discount(i))
        .sum();
    if ideal_dcg <= 0.0 {
        return 1.0;
    }
    let order = order_by_score_desc(scores);
    let dcg: f64 = order[..depth]
        .iter()
        .enumerate()
        .map(|(i, &row)| gain(relevance[row]) * discount(i))
        .sum();
    dcg / ideal_dcg
}

/// True when every relevance is finite and non-negative.
fn valid_relevance(relevance: &[f64]) -> bool {
    relevance.iter().all(|&r| r.is_finite() && r >= 0.0)
}

/// NDCG@k of one whole list (LightGBM's convention, see the module docs).
///
/// NaN when `k == 0`, for negative or non-finite relevance, NaN scores,
/// empty or mismatched input.
///
/// ```
/// use aml_train::metric::ndcg_at_k;
/// // Perfect order scores 1; a list without any relevant row also scores 1.
/// assert_eq!(ndcg_at_k(&[2.0, 1.0, 0.0], &[0.9, 0.5, 0.1], 3), 1.0);
/// assert_eq!(ndcg_at_k(&[0.0, 0.0], &[0.9, 0.5], 10), 1.0);
/// // Swapping the top two: (1 + 3/log2(3)) / (3 + 1/log2(3)).
/// let v = ndcg_at_k(&[2.0, 1.0, 0.0], &[0.5, 0.9, 0.1], 3);
/// let l3 = 3f64.log2();
/// assert!((v - (1.0 + 3.0 / l3) / (3.0 + 1.0 / l3)).abs() < 1e-15);
/// ```
pub fn ndcg_at_k(relevance: &[f64], scores: &[f64], k: usize) -> f64 {
    if k == 0 || !usable_pair(relevance, scores) || !valid_relevance(relevance) {
        return f64::NAN;
    }
    ndcg_of_list(relevance, scores, k)
}

/// Mean NDCG@k over query groups: `groups` holds consecutive group sizes
/// (rows `0..groups[0]` are the first query, and so on). Each query counts
/// once whatever its size, and an all-zero query scores 1 (LightGBM).
///
/// NaN when `groups` is empty, contains a zero size, or does not sum to the
/// row count, and in every case where [`ndcg_at_k`] is NaN.
///
/// ```
/// use aml_train::metric::mean_ndcg_at_k;
/// let rel = [1.0, 0.0, 0.0, 1.0];
/// let scores = [0.9, 0.1, 0.9, 0.1];
/// // First query ranked perfectly (1.0), second one reversed (1/log2(3)).
/// let v = mean_ndcg_at_k(&rel, &scores, &[2, 2], 2);
/// assert!((v - (1.0 + 1.0 / 3f64.log2()) / 2.0).abs() < 1e-15);
/// ```
pub fn mean_ndcg_at_k(relevance: &[f64], scores: &[f64], groups: &[usize], k: usize) -> f64 {
    if k == 0 || groups.is_empty() || !usable_pair(relevance, scores) || !valid_relevance(relevance)
    {
        return f64::NAN;
    }
    if groups.contains(&0)
        || groups.iter().try_fold(0usize, |acc, &g| acc.checked_add(g)) != Some(relevance.len())
    {
        return f64::NAN;
    }
    let mut start = 0;
    let mut sum = 0.0;
    for &size in groups {
        let end = start + size;
        sum += ndcg_of_list(&relevance[start..end], &scores[start..end], k);
        start = end;
    }
    sum / groups.len() as f64
}

/// Precision@k: the share of relevant rows (label `> 0`) among the `k`
/// highest-scored rows (the whole list when it is shorter than `k`). Equal
/// scores keep their input order, as in [`ndcg_at_k`].
///
/// NaN when `k == 0`, for NaN labels or scores, empty or mismatched input.
///
/// ```
/// use aml_train::metric::precision_at_k;
/// assert_eq!(precision_at_k(&[1.0, 0.0, 1.0, 0.0], &[0.9, 0.8, 0.1, 0.7], 2), 0.5);
/// ```
pub fn precision_at_k(labels: &[f64], scores: &[f64], k: usize) -> f64 {
    if k == 0 || !usable_pair(labels, scores) || labels.iter().any(|l| l.is_nan()) {
        return f64::NAN;
    }
    let depth = k.min(labels.len());
    let order = order_by_score_desc(scores);
    let relevant = order[..depth]
        .iter()
        .filter(|&&row| labels[row] > 0.0)
        .count();
    relevant as f64 / depth as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_keep_input_order() {
        // Both rows tie: the first row (relevance 0) is ranked first.
        let v = ndcg_at_k(&[0.0, 1.0], &[0.5, 0.5], 2);
        assert!((v - 1.0 / 3f64.log2()).abs() < 1e-15);
        // Negative zero ties with zero.
        let v = ndcg_at_k(&[0.0, 1.0], &[0.0, -0.0], 1);
        assert_eq!(v, 0.0);
        assert_eq!(precision_at_k(&[0.0, 1.0], &[0.5, 0.5], 1), 0.0);
    }

    #[test]
    fn k_beyond_list_uses_whole_list() {
        let rel = [0.0, 3.0, 1.0];
        let scores = [0.3, 0.2, 0.1];
        assert_eq!(ndcg_at_k(&rel, &scores, 3), ndcg_at_k(&rel, &scores, 100));
        assert_eq!(precision_at_k(&rel, &scores, 100), 2.0 / 3.0);
    }

    #[test]
    fn bad_groups_are_nan() {
        let rel = [1.0, 0.0, 1.0];
        let scores = [0.1, 0.2, 0.3];
        assert!(mean_ndcg_at_k(&rel, &scores, &[1, 1], 5).is_nan());
        assert!(mean_ndcg_at_k(&rel, &scores, &[3, 0], 5).is_nan());
        assert!(mean_ndcg_at_k(&rel, &scores, &[], 5).is_nan());
        assert!(mean_ndcg_at_k(&rel, &scores, &[usize::MAX, 4], 5).is_nan());
        assert!(ndcg_at_k(&[-1.0], &[0.0], 1).is_nan());
        assert!(ndcg_at_k(&rel, &scores, 0).is_nan());
    }
}
