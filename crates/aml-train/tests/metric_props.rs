//! Property tests for aml_train::metric invariants.

use aml_train::metric;
use proptest::prelude::*;

/// Binary labels with integer-valued scores (many ties), both classes present.
fn labelled_scores() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    prop::collection::vec((any::<bool>(), -10i32..=10), 2..80)
        .prop_filter("both classes", |rows| {
            rows.iter().any(|r| r.0) && rows.iter().any(|r| !r.0)
        })
        .prop_map(|rows| {
            let labels = rows.iter().map(|r| if r.0 { 1.0 } else { 0.0 }).collect();
            let scores = rows.iter().map(|r| f64::from(r.1)).collect();
            (labels, scores)
        })
}

/// Probabilities on a grid of twentieths (exact edge values included).
fn labelled_probs() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    prop::collection::vec((any::<bool>(), 0u32..=20), 1..80).prop_map(|rows| {
        let labels = rows.iter().map(|r| if r.0 { 1.0 } else { 0.0 }).collect();
        let probs = rows.iter().map(|r| f64::from(r.1) / 20.0).collect();
        (labels, probs)
    })
}

fn rotated<T: Clone>(values: &[T], by: usize) -> Vec<T> {
    let mut out = values.to_vec();
    let len = out.len();
    out.rotate_left(by % len);
    out
}

proptest! {
    #[test]
    fn auc_is_in_unit_interval_and_flips_when_negated((labels, scores) in labelled_scores()) {
        let auc = metric::roc_auc(&labels, &scores);
        prop_assert!((0.0..=1.0).contains(&auc));
        let negated: Vec<f64> = scores.iter().map(|s| -s).collect();
        prop_assert!((metric::roc_auc(&labels, &negated) - (1.0 - auc)).abs() < 1e-12);
    }

    #[test]
    fn auc_and_ap_ignore_monotone_transforms((labels, scores) in labelled_scores()) {
        // x^3 + 5 is strictly increasing and exact on these small integers.
        let transformed: Vec<f64> = scores.iter().map(|s| s * s * s + 5.0).collect();
        prop_assert_eq!(metric::roc_auc(&labels, &scores), metric::roc_auc(&labels, &transformed));
        prop_assert_eq!(
            metric::average_precision(&labels, &scores),
            metric::average_precision(&labels, &transformed)
        );
    }

    #[test]
    fn auc_and_ap_ignore_row_order((labels, scores) in labelled_scores(), by in 0usize..80) {
        let (l2, s2) = (rotated(&labels, by), rotated(&scores, by));
        prop_assert_eq!(metric::roc_auc(&labels, &scores), metric::roc_auc(&l2, &s2));
        let ap = metric::average_precision(&labels, &scores);
        prop_assert!((ap - metric::average_precision(&l2, &s2)).abs() < 1e-12);
        prop_assert!(ap > 0.0 && ap <= 1.0);
    }

    #[test]
    fn auc_matches_pairwise_definition((labels, scores) in labelled_scores()) {
        let mut wins = 0.0;
        let mut pairs = 0.0;
        for (i, &li) in labels.iter().enumerate() {
            for (j, &lj) in labels.iter().enumerate() {
                if li == 1.0 && lj == 0.0 {
                    pairs += 1.0;
                    if scores[i] > scores[j] { wins += 1.0 } else if scores[i] == scores[j] { wins += 0.5 }
                }
            }
        }
        prop_assert!((metric::roc_auc(&labels, &scores) - wins / pairs).abs() < 1e-12);
    }

    #[test]
    fn probability_metrics_are_bounded((labels, probs) in labelled_probs(), bins in 1usize..25) {
        let brier = metric::brier(&labels, &probs);
        prop_assert!((0.0..=1.0).contains(&brier));
        let loss = metric::log_loss(&labels, &probs);
        prop_assert!(loss >= 0.0 && loss <= -f64::EPSILON.ln() + 1e-9);
        let ece = metric::expected_calibration_error(&labels, &probs, bins);
        prop_assert!((0.0..=1.0).contains(&ece));
        // With one bin, ECE is |mean label - mean prob|.
        let n = labels.len() as f64;
        let gap = (labels.iter().sum::<f64>() / n - probs.iter().sum::<f64>() / n).abs();
        prop_assert!((metric::expected_calibration_error(&labels, &probs, 1) - gap).abs() < 1e-12);
    }

    #[test]
    fn ndcg_is_bounded_and_one_for_ideal_order(
        rows in prop::collection::vec((0u32..5, -10i32..=10), 1..60),
        k in 1usize..70,
    ) {
        let relevance: Vec<f64> = rows.iter().map(|r| f64::from(r.0)).collect();
        let scores: Vec<f64> = rows.iter().map(|r| f64::from(r.1)).collect();
        let ndcg = metric::ndcg_at_k(&relevance, &scores, k);
        prop_assert!((0.0..=1.0 + 1e-12).contains(&ndcg));
        // Scoring by relevance itself is an ideal ranking, ties or not.
        prop_assert!((metric::ndcg_at_k(&relevance, &relevance, k) - 1.0).abs() < 1e-12);
        let single_group = metric::mean_ndcg_at_k(&relevance, &scores, &[relevance.len()], k);
        prop_assert_eq!(single_group, ndcg);
    }

    #[test]
    fn precision_at_full_depth_is_prevalence((labels, scores) in labelled_scores()) {
        let n = labels.len();
        let prevalence = labels.iter().filter(|&&l| l > 0.0).count() as f64 / n as f64;
        prop_assert_eq!(metric::precision_at_k(&labels, &scores, n), prevalence);
        let p1 = metric::precision_at_k(&labels, &scores, 1);
        prop_assert!(p1 == 0.0 || p1 == 1.0);
    }
}
