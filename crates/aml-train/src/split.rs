//! Best-split search on one feature's histogram (LightGBM's
//! `FeatureHistogram::FindBestThreshold` semantics).
//!
//! For leaf sums `G`, `H` the regularised leaf score is
//! `T(G)^2 / (H + lambda_l2)` with `T` the L1 soft threshold, and the leaf
//! output is `-T(G) / (H + lambda_l2)`. A split's gain is
//! `score(left) + score(right) - score(parent)`, the `split_gain` LightGBM
//! writes into its model files; only gains above `min_gain_to_split` are
//! splits. Missing values (the NaN bin) are tried on both
//! sides: "missing left" first, "missing right" only if strictly better, and
//! thresholds are scanned in ascending order keeping the first maximum, so
//! ties are resolved the same way every run. (Between bins that are empty in
//! the leaf this keeps the lowest bound; LightGBM, scanning down with missing
//! values left, keeps the highest. Training rows go the same way either way;
//! `tests/lightgbm_training.rs` checks both rules.)

use crate::binning::BinMapper;
use crate::histogram::BinStats;

/// The split constraints and regularisation taken from the parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitConstraints {
    /// L1 regularisation.
    pub lambda_l1: f64,
    /// L2 regularisation.
    pub lambda_l2: f64,
    /// Minimum rows per child.
    pub min_data_in_leaf: u64,
    /// Minimum hessian sum per child.
    pub min_sum_hessian_in_leaf: f64,
    /// Minimum gain of a split.
    pub min_gain_to_split: f64,
}

impl From<&crate::params::GbdtParams> for SplitConstraints {
    fn from(p: &crate::params::GbdtParams) -> Self {
        SplitConstraints {
            lambda_l1: p.lambda_l1,
            lambda_l2: p.lambda_l2,
            min_data_in_leaf: p.min_data_in_leaf as u64,
            min_sum_hessian_in_leaf: p.min_sum_hessian_in_leaf,
            min_gain_to_split: p.min_gain_to_split,
        }
    }
}

/// Gradient sums of a set of rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LeafSums {
    /// Sum of gradients.
    pub grad: f64,
    /// Sum of hessians.
    pub hess: f64,
    /// Number of rows.
    pub count: u64,
}

impl LeafSums {
    fn plus(self, b: &BinStats) -> LeafSums {
        LeafSums {
            grad: self.grad + b.grad,
            hess: self.hess + b.hess,
            count: self.count + b.count,
        }
    }

    fn minus(self, o: LeafSums) -> LeafSums {
        LeafSums {
            grad: self.grad - o.grad,
            hess: self.hess - o.hess,
            count: self.count - o.count,
        }
    }
}

/// The best split found for a leaf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitCandidate {
    /// Feature index.
    pub feature: usize,
    /// Bins `0..=threshold_bin` go left.
    pub threshold_bin: usize,
    /// Whether the missing-value bin goes left.
    pub default_left: bool,
    /// Gain over not splitting (> `min_gain_to_split`), LightGBM's `split_gain`.
    pub gain: f64,
    /// Sums of the left child.
    pub left: LeafSums,
    /// Sums of the right child.
    pub right: LeafSums,
}

impl SplitCandidate {
    /// Whether `self` beats `other`: larger gain, ties to the smaller feature index.
    pub fn better_than(&self, other: &SplitCandidate) -> bool {
        self.gain > other.gain || (self.gain == other.gain && self.feature < other.feature)
    }
}

#[inline]
fn soft_threshold(g: f64, l1: f64) -> f64 {
    if l1 <= 0.0 {
        g
    } else {
        g.signum() * (g.abs() - l1).max(0.0)
    }
}

/// The regularised score `T(G)^2 / (H + l2)` of a leaf (0 when the denominator vanishes).
#[inline]
pub fn leaf_score(s: LeafSums, c: &SplitConstraints) -> f64 {
    let denom = s.hess + c.lambda_l2;
    if denom <= 0.0 {
        return 0.0;
    }
    let t = soft_threshold(s.grad, c.lambda_l1);
    t * t / denom
}

/// The (unshrunk) output `-T(G) / (H + l2)` of a leaf.
#[inline]
pub fn leaf_output(s: LeafSums, c: &SplitConstraints) -> f64 {
    let denom = s.hess + c.lambda_l2;
    if denom <= 0.0 {
        return 0.0;
    }
    -soft_threshold(s.grad, c.lambda_l1) / denom
}

/// The best split of a leaf with sums `total` on feature `feature`, or `None`.
pub fn best_split_for_feature(
    feature: usize,
    hist: &[BinStats],
    mapper: &BinMapper,
    total: LeafSums,
    c: &SplitConstraints,
) -> Option<SplitCandidate> {
    let value_bins = mapper.num_value_bins();
    let missing = mapper
        .nan_bin()
        .map_or(LeafSums::default(), |b| LeafSums::default().plus(&hist[b]));
    let parent = leaf_score(total, c);
    let valid = |s: LeafSums| s.count >= c.min_data_in_leaf && s.hess >= c.min_sum_hessian_in_leaf;
    let mut best: Option<SplitCandidate> = None;
    let directions: &[bool] = if missing.count > 0 {
        &[true, false]
    } else {
        &[true]
    };
    for &default_left in directions {
        let mut left = if default_left {
            missing
        } else {
            LeafSums::default()
        };
        // "All values left, missing right" only makes sense with missing rows on the right.
        let last = if !default_left && missing.count > 0 {
            value_bins
        } else {
            value_bins - 1
        };
        for (t, bin) in hist.iter().enumerate().take(last) {
            left = left.plus(bin);
            if left.count == 0 {
                continue;
            }
            let right = total.minus(left);
            if right.count < c.min_data_in_leaf {
                break;
            }
            if !valid(left) || !valid(right) {
                continue;
            }
            let gain = leaf_score(left, c) + leaf_score(right, c) - parent;
            if gain > c.min_gain_to_split && best.is_none_or(|b| gain > b.gain) {
                best = Some(SplitCandidate {
                    feature,
                    threshold_bin: t,
                    default_left,
                    gain,
                    left,
                    right,
                });
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constraints() -> SplitConstraints {
        SplitConstraints {
            lambda_l1: 0.0,
            lambda_l2: 0.0,
            min_data_in_leaf: 1,
            min_sum_hessian_in_leaf: 0.0,
            min_gain_to_split: 0.0,
        }
    }

    fn bins(v: &[(f64, u64)]) -> Vec<BinStats> {
        v.iter()
            .map(|&(g, n)| BinStats {
                grad: g,
                hess: n as f64,
                count: n,
            })
            .collect()
    }

    fn total(h: &[BinStats]) -> LeafSums {
        h.iter().fold(LeafSums::default(), |s, b| s.plus(b))
    }

    #[test]
    fn finds_the_sign_change_and_its_gain() {
        let m = BinMapper::from_sample(&[0.0, 1.0, 2.0, 3.0], 255, false, Some((0.0, 3.0)));
        let h = bins(&[(-2.0, 1), (-2.0, 1), (2.0, 1), (2.0, 1)]);
        let s = best_split_for_feature(0, &h, &m, total(&h), &constraints()).unwrap();
        assert_eq!(s.threshold_bin, 1);
        assert_eq!(s.gain, 16.0 / 2.0 + 16.0 / 2.0);
        assert_eq!(leaf_output(s.left, &constraints()), 2.0);
    }

    #[test]
    fn missing_values_choose_their_side() {
        // values: bin0 g=-3, bin1 g=+3, missing g=+3 -> missing should go right.
        let m = BinMapper::from_sample(&[0.0, 1.0], 255, true, Some((0.0, 1.0)));
        let h = bins(&[(-3.0, 1), (3.0, 1), (3.0, 1)]);
        let s = best_split_for_feature(0, &h, &m, total(&h), &constraints()).unwrap();
        assert_eq!((s.threshold_bin, s.default_left), (0, false));
        assert_eq!(s.right.count, 2);
        // Missing against all values.
        let h = bins(&[(-3.0, 1), (-3.0, 1), (6.0, 1)]);
        let s = best_split_for_feature(0, &h, &m, total(&h), &constraints()).unwrap();
        assert_eq!(
            (s.threshold_bin, s.default_left, s.right.count),
            (1, false, 1)
        );
        assert_eq!(m.threshold(1), f64::MAX);
    }

    #[test]
    fn constraints_block_splits() {
        let m = BinMapper::from_sample(&[0.0, 1.0, 2.0, 3.0], 255, false, Some((0.0, 3.0)));
        let h = bins(&[(-2.0, 1), (-2.0, 1), (2.0, 1), (2.0, 1)]);
        let strict = SplitConstraints {
            min_data_in_leaf: 3,
            ..constraints()
        };
        assert!(best_split_for_feature(0, &h, &m, total(&h), &strict).is_none());
        let costly = SplitConstraints {
            min_gain_to_split: 100.0,
            ..constraints()
        };
        assert!(best_split_for_feature(0, &h, &m, total(&h), &costly).is_none());
        let modest = SplitConstraints {
            min_gain_to_split: 10.0,
            ..constraints()
        };
        let s = best_split_for_feature(0, &h, &m, total(&h), &modest).unwrap();
        assert_eq!(
            s.gain, 16.0,
            "LightGBM's split_gain keeps min_gain_to_split"
        );
        let l1 = SplitConstraints {
            lambda_l1: 10.0,
            ..constraints()
        };
        assert!(best_split_for_feature(0, &h, &m, total(&h), &l1).is_none());
        let flat = bins(&[(0.0, 2), (0.0, 2)]);
        assert!(best_split_for_feature(0, &flat, &m, total(&flat), &constraints()).is_none());
    }
}
