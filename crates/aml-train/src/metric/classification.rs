//! Binary classification metrics: ROC AUC, average precision, Brier score,
//! log loss and expected calibration error, each defined as scikit-learn 1.9
//! defines it. Labels must be exactly `0.0` or `1.0`; see the module-level
//! conventions in [`crate::metric`] for what returns NaN.

use super::{all_binary, all_probabilities, order_by_score_desc, usable_pair};

/// Calls `visit(positives, negatives)` once per group of equal scores, from
/// the highest score to the lowest.
fn for_each_tie_group(labels: &[f64], scores: &[f64], mut visit: impl FnMut(u64, u64)) {
    let order = order_by_score_desc(scores);
    let mut start = 0;
    while start < order.len() {
        let score = scores[order[start]];
        let mut end = start;
        let (mut positives, mut negatives) = (0u64, 0u64);
        while end < order.len() && scores[order[end]] == score {
            if labels[order[end]] == 1.0 {
                positives += 1;
            } else {
                negatives += 1;
            }
            end += 1;
        }
        visit(positives, negatives);
        start = end;
    }
}

/// Area under the ROC curve: the probability that a random positive scores
/// above a random negative, counting equal scores as one half (ties averaged,
/// identical to scikit-learn's `roc_auc_score`).
///
/// Counts concordant pairs exactly in integers over tie groups, O(n log n).
/// Returns NaN when only one class is present (the curve is undefined), for
/// non-binary labels, NaN scores, empty or mismatched input.
///
/// ```
/// use aml_train::metric::roc_auc;
/// assert_eq!(roc_auc(&[0.0, 0.0, 1.0, 1.0], &[0.1, 0.4, 0.35, 0.8]), 0.75);
/// assert!(roc_auc(&[1.0, 1.0], &[0.1, 0.2]).is_nan());
/// ```
pub fn roc_auc(labels: &[f64], scores: &[f64]) -> f64 {
    if !usable_pair(labels, scores) || !all_binary(labels) {
        return f64::NAN;
    }
    // Twice the number of (positive above negative) pairs, plus tied pairs once.
    let mut twice_concordant: u128 = 0;
    let (mut positives_above, mut total_negatives) = (0u128, 0u128);
    for_each_tie_group(labels, scores, |positives, negatives| {
        let (p, n) = (u128::from(positives), u128::from(negatives));
        twice_concordant += 2 * n * positives_above + p * n;
        positives_above += p;
        total_negatives += n;
    });
    let total_positives = positives_above;
    if total_positives == 0 || total_negatives == 0 {
        return f64::NAN;
    }
    twice_concordant as f64 / (2 * total_positives * total_negatives) as f64
}

/// Average precision, scikit-learn's `average_precision_score`: the sum over
/// distinct score thresholds (highest first) of the recall gained at that
/// threshold times the precision there. Equal scores form one threshold, so
/// the value does not depend on the order of tied rows. No interpolation.
///
/// Returns NaN when there is no positive label (recall is undefined; the
/// callers of this crate would rather see NaN than scikit-learn's warning
/// value), for non-binary labels, NaN scores, empty or mismatched input.
///
/// ```
/// use aml_train::metric::average_precision;
/// let ap = average_precision(&[0.0, 0.0, 1.0, 1.0], &[0.1, 0.4, 0.35, 0.8]);
/// assert!((ap - 0.8333333333333333).abs() < 1e-15);
/// ```
pub fn average_precision(labels: &[f64], scores: &[f64]) -> f64 {
    if !usable_pair(labels, scores) || !all_binary(labels) {
        return f64::NAN;
    }
    let total_positives = labels.iter().filter(|&&l| l == 1.0).count();
    if total_positives == 0 {
        return f64::NAN;
    }
    let (mut true_positives, mut false_positives) = (0u64, 0u64);
    let mut sum = 0.0;
    for_each_tie_group(labels, scores, |positives, negatives| {
        true_positives += positives;
        false_positives += negatives;
        if positives > 0 {
            let recall_gain = positives as f64 / total_positives as f64;
            let precision = true_positives as f64 / (true_positives + false_positives) as f64;
            sum += recall_gain * precision;
        }
    });
    sum
}

/// Brier score: mean squared difference between the predicted probability and
/// the 0/1 label (lower is better). NaN for probabilities outside `[0, 1]`,
/// non-binary labels, empty or mismatched input.
///
/// ```
/// use aml_train::metric::brier;
/// assert!((brier(&[0.0, 1.0], &[0.2, 0.6]) - 0.1).abs() < 1e-15);
/// ```
pub fn brier(labels: &[f64], probs: &[f64]) -> f64 {
    if !usable_pair(labels, probs) || !all_binary(labels) || !all_probabilities(probs) {
        return f64::NAN;
    }
    let sum: f64 = labels
        .iter()
        .zip(probs)
        .map(|(y, p)| (p - y) * (p - y))
        .sum();
    sum / labels.len() as f64
}

/// Binary log loss (natural log, mean over rows), clipped like scikit-learn
/// 1.9: the probability of the observed class (`p` or `1 - p`) is clamped to
/// `[eps, 1 - eps]` with `eps = f64::EPSILON`, so a confident wrong answer
/// costs about 36.04 instead of infinity. (scikit-learn < 1.5 used 1e-15.)
/// NaN for probabilities outside `[0, 1]`, non-binary labels, empty or
/// mismatched input.
///
/// ```
/// use aml_train::metric::log_loss;
/// let loss = log_loss(&[0.0, 1.0], &[0.2, 0.6]);
/// assert!((loss - 0.5*(-(0.8f64).ln() - (0.6f64).ln())).abs() < 1e-15);
/// ```
pub fn log_loss(labels: &[f64], probs: &[f64]) -> f64 {
    if !usable_pair(labels, probs) || !all_binary(labels) || !all_probabilities(probs) {
        return f64::NAN;
    }
    let eps = f64::EPSILON;
    let sum: f64 = labels
        .iter()
        .zip(probs)
        .map(|(&y, &p)| {
            let p_observed = if y == 1.0 { p } else { 1.0 - p };
            -p_observed.clamp(eps, 1.0 - eps).ln()
        })
        .sum();
    sum / labels.len() as f64
}

/// Expected calibration error with `n_bins` equal-width bins on `[0, 1]`:
/// `sum over non-empty bins of (rows in bin / rows) * |mean label - mean prob|`.
///
/// Bins are those of scikit-learn's `calibration_curve(strategy="uniform")`:
/// edges `i * (1 / n_bins)`, each bin closed on the right (`(a, b]`, the
/// first one `[0, b]`), so a probability exactly on an edge falls in the
/// lower bin. NaN when `n_bins == 0`, for probabilities outside `[0, 1]`,
/// non-binary labels, empty or mismatched input.
///
/// ```
/// use aml_train::metric::expected_calibration_error;
/// // Two bins: [0, 0.5] holds (0, 0.2), (0, 0.4); (0.5, 1] holds (1, 0.6), (1, 0.8).
/// let ece = expected_calibration_error(&[0.0, 0.0, 1.0, 1.0], &[0.2, 0.4, 0.6, 0.8], 2);
/// assert!((ece - 0.3).abs() < 1e-15);
/// ```
pub fn expected_calibration_error(labels: &[f64], probs: &[f64], n_bins: usize) -> f64 {
    if n_bins == 0
        || !usable_pair(labels, probs)
        || !all_binary(labels)
        || !all_probabilities(probs)
    {
        return f64::NAN;
    }
    let step = 1.0 / n_bins as f64;
    let inner_edges: Vec<f64> = (1..n_bins).map(|i| i as f64 * step).collect();
    let mut count = vec![0usize; n_bins];
    let mut label_sum = vec![0.0f64; n_bins];
    let mut prob_sum = vec![0.0f64; n_bins];
    for (&y, &p) in labels.iter().zip(probs) {
        // Number of inner edges strictly below p (numpy searchsorted, side="left").
        let bin = inner_edges.partition_point(|&edge| edge < p);
        count[bin] += 1;
        label_sum[bin] += y;
        prob_sum[bin] += p;
    }
    let rows = labels.len() as f64;
    (0..n_bins)
        .filter(|&b| count[b] > 0)
        .map(|b| {
            let n = count[b] as f64;
            (n / rows) * (label_sum[b] / n - prob_sum[b] / n).abs()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_as_half() {
        // One positive tied with one negative, the other pair ordered correctly.
        let auc = roc_auc(&[1.0, 0.0, 1.0, 0.0], &[0.5, 0.5, 0.9, 0.1]);
        assert_eq!(auc, (1.0 + 1.0 + 1.0 + 0.5) / 4.0);
    }

    #[test]
    fn auc_rejects_bad_input() {
        assert!(roc_auc(&[], &[]).is_nan());
        assert!(roc_auc(&[0.0, 1.0], &[0.1]).is_nan());
        assert!(roc_auc(&[0.0, 1.0], &[0.1, f64::NAN]).is_nan());
        assert!(roc_auc(&[0.0, 2.0], &[0.1, 0.2]).is_nan());
        assert!(roc_auc(&[0.0, 0.0], &[0.1, 0.2]).is_nan());
    }

    #[test]
    fn average_precision_all_tied_is_prevalence() {
        let ap = average_precision(&[1.0, 0.0, 0.0, 1.0, 0.0], &[0.3; 5]);
        assert!((ap - 0.4).abs() < 1e-15);
        assert!(average_precision(&[0.0, 0.0], &[0.1, 0.2]).is_nan());
    }

    #[test]
    fn log_loss_clips_confident_mistakes() {
        let loss = log_loss(&[1.0], &[0.0]);
        assert!((loss + f64::EPSILON.ln()).abs() < 1e-12);
        assert_eq!(
            log_loss(&[1.0, 0.0], &[1.0, 0.0]),
            -(1.0 - f64::EPSILON).ln()
        );
        assert!(log_loss(&[1.0], &[1.5]).is_nan());
    }

    #[test]
    fn ece_puts_edge_values_in_lower_bin() {
        // 0.5 sits on the edge: lower bin [0, 0.5] with label 1 -> |1 - 0.5| * 1.
        assert_eq!(expected_calibration_error(&[1.0], &[0.5], 2), 0.5);
        assert!(expected_calibration_error(&[1.0], &[0.5], 0).is_nan());
        assert!(brier(&[1.0], &[-0.1]).is_nan());
    }
}
