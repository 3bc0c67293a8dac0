//! LambdaRank optimising NDCG within query groups (LightGBM `lambdarank`).
//!
//! Per query, rows are ranked by current score (descending, ties by row
//! order). Exactly as in LightGBM, only pairs whose better-ranked member sits
//! in the top `lambdarank_truncation_level` positions contribute, each with
//! weight `|delta NDCG|` (gain `label_gain[label]`, discount
//! `1 / log2(2 + position)`, normalised by the query's maximum DCG at the
//! truncation level), divided by `0.01 + |score difference|` when
//! `lambdarank_norm` is on, and the query's lambdas are rescaled by
//! `log2(1 + S) / S` where `S` is their absolute sum.
//!
//! A round costs `O(n log n + n * truncation)` per query, so one query of
//! 50,000 rows is fine (LightGBM refuses queries over 10,000 rows; we do not).
//! Row weights multiply each row's gradient and hessian.

use super::{for_each_query, ObjectiveFunction};
use crate::dataset::Dataset;
use crate::error::TrainError;
use crate::params::GbdtParams;

/// The LambdaRank objective.
#[derive(Debug, Clone)]
pub struct LambdaRank {
    labels: Vec<usize>,
    weights: Option<Vec<f64>>,
    /// Query boundaries: query q is rows `bounds[q]..bounds[q + 1]`.
    bounds: Vec<usize>,
    inverse_max_dcg: Vec<f64>,
    /// `discount(i)` for every position of the largest query, computed once (the pair loop
    /// reads two per pair; a `log2` per pair was most of its cost).
    discounts: Vec<f64>,
    label_gain: Vec<f64>,
    truncation: usize,
    sigmoid: f64,
    norm: bool,
}

/// DCG discount of zero-based position `i`.
#[inline]
fn discount(i: usize) -> f64 {
    1.0 / (2.0 + i as f64).log2()
}

impl LambdaRank {
    /// Checks groups and that every label is an integer index into `label_gain`.
    pub fn new(data: &Dataset, params: &GbdtParams) -> Result<Self, TrainError> {
        let groups = data.groups.as_ref().ok_or_else(|| {
            TrainError::InvalidGroups("lambdarank needs query groups (Dataset::with_groups)".into())
        })?;
        let label_gain = params.effective_label_gain();
        let mut labels = Vec::with_capacity(data.n_rows());
        for (row, &value) in data.labels.iter().enumerate() {
            if value < 0.0 || value.fract() != 0.0 || value as usize >= label_gain.len() {
                return Err(TrainError::InvalidLabel {
                    row,
                    value,
                    reason: format!(
                        "lambdarank labels must be integers in 0..{} (the label_gain length)",
                        label_gain.len()
                    ),
                });
            }
            labels.push(value as usize);
        }
        let mut bounds = vec![0usize];
        for &g in groups {
            bounds.push(bounds.last().unwrap() + g);
        }
        let truncation = params.lambdarank_truncation_level;
        let inverse_max_dcg = bounds
            .windows(2)
            .map(|w| {
                let mut gains: Vec<f64> =
                    labels[w[0]..w[1]].iter().map(|&l| label_gain[l]).collect();
                gains.sort_by(|a, b| b.total_cmp(a));
                let max_dcg: f64 = gains
                    .iter()
                    .take(truncation)
                    .enumerate()
                    .map(|(i, g)| g * discount(i))
                    .sum();
                if max_dcg > 0.0 {
                    1.0 / max_dcg
                } else {
                    0.0
                }
            })
            .collect();
        let longest = bounds.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        Ok(LambdaRank {
            discounts: (0..longest).map(discount).collect(),
            labels,
            weights: data.weights.clone(),
            bounds,
            inverse_max_dcg,
            label_gain,
            truncation,
            sigmoid: params.sigmoid,
            norm: params.lambdarank_norm,
        })
    }

    /// Lambdas of one query (rows `start..start + out.len()`).
    fn query_gradients(&self, q: usize, scores: &[f64], out: &mut [[f32; 2]]) {
        let start = self.bounds[q];
        let n = out.len();
        let labels = &self.labels[start..start + n];
        let inv_max = self.inverse_max_dcg[q];
        if n < 2 || inv_max == 0.0 {
            out.fill([0.0; 2]);
            return;
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let mut lambdas = vec![0.0f64; n];
        let mut hessians = vec![0.0f64; n];
        let best = scores[order[0]];
        let worst = scores[order[n - 1]];
        let mut sum_lambdas = 0.0;
        for i in 0..(n - 1).min(self.truncation) {
            let (mut acc_l, mut acc_h) = (0.0, 0.0);
            let a = order[i];
            for (j, &b) in order.iter().enumerate().skip(i + 1) {
                if labels[a] == labels[b] {
                    continue;
                }
                // `high` is the more relevant row, `low` the other one.
                let (high, high_pos, low, low_pos) = if labels[a] > labels[b] {
                    (a, i, b, j)
                } else {
                    (b, j, a, i)
                };
                let delta_score = scores[high] - scores[low];
                let dcg_gap = self.label_gain[labels[high]] - self.label_gain[labels[low]];
                let paired_discount = (self.discounts[high_pos] - self.discounts[low_pos]).abs();
                let mut delta_ndcg = dcg_gap * paired_discount * inv_max;
                if self.norm && best != worst {
                    delta_ndcg /= 0.01 + delta_score.abs();
                }
                let p = 1.0 / (1.0 + (self.sigmoid * delta_score).exp());
                let lambda = -self.sigmoid * delta_ndcg * p;
                let hess = self.sigmoid * self.sigmoid * delta_ndcg * p * (1.0 - p);
                // Accumulate the fixed row `a` locally, the other row directly.
                if high == a {
                    acc_l += lambda;
                    acc_h += hess;
                    lambdas[low] -= lambda;
                    hessians[low] += hess;
                } else {
                    lambdas[high] += lambda;
                    hessians[high] += hess;
                    acc_l -= lambda;
                    acc_h += hess;
                }
                sum_lambdas -= 2.0 * lambda;
            }
            lambdas[a] += acc_l;
            hessians[a] += acc_h;
        }
        let factor = if self.norm && sum_lambdas > 0.0 {
            (1.0 + sum_lambdas).log2() / sum_lambdas
        } else {
            1.0
        };
        for (k, o) in out.iter_mut().enumerate() {
            let w = self.weights.as_ref().map_or(1.0, |w| w[start + k]);
            *o = [
                (lambdas[k] * factor * w) as f32,
                (hessians[k] * factor * w) as f32,
            ];
        }
    }
}

impl ObjectiveFunction for LambdaRank {
    fn init_score(&self) -> f64 {
        0.0
    }

    fn gradients(&self, scores: &[f64], out: &mut [[f32; 2]]) {
        for_each_query(&self.bounds, out, |q, start, o| {
            self.query_gradients(q, &scores[start..start + o.len()], o)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn ranker(labels: Vec<f64>, groups: Vec<usize>) -> LambdaRank {
        let n = labels.len();
        let d = Dataset::new(Array2::zeros((n, 1)), labels, vec![])
            .unwrap()
            .with_groups(groups)
            .unwrap();
        LambdaRank::new(&d, &GbdtParams::default()).unwrap()
    }

    #[test]
    fn relevant_rows_are_pushed_up() {
        let r = ranker(vec![0.0, 2.0, 1.0, 0.0], vec![4]);
        let mut gh = vec![[0.0; 2]; 4];
        r.gradients(&[0.0; 4], &mut gh);
        // Negative gradient = the score should increase.
        assert!(gh[1][0] < gh[2][0] && gh[2][0] < 0.0, "{gh:?}");
        assert!(gh[0][0] > 0.0 && gh[3][0] > 0.0);
        let total: f32 = gh.iter().map(|g| g[0]).sum();
        assert!(total.abs() < 1e-5, "lambdas cancel within a query");
        assert!(gh.iter().all(|g| g[1] >= 0.0));
    }

    #[test]
    fn all_irrelevant_query_has_zero_gradient_and_labels_are_checked() {
        let r = ranker(vec![0.0, 0.0, 1.0, 0.0], vec![2, 2]);
        let mut gh = vec![[9.0; 2]; 4];
        r.gradients(&[0.3, 0.1, 0.0, 0.0], &mut gh);
        assert_eq!(&gh[..2], &[[0.0; 2]; 2]);
        assert!(gh[2][0] < 0.0);
        let d = Dataset::new(Array2::zeros((2, 1)), vec![0.5, 1.0], vec![])
            .unwrap()
            .with_groups(vec![2])
            .unwrap();
        assert!(matches!(
            LambdaRank::new(&d, &GbdtParams::default()),
            Err(TrainError::InvalidLabel { row: 0, .. })
        ));
        let d = Dataset::new(Array2::zeros((2, 1)), vec![0.0, 1.0], vec![]).unwrap();
        assert!(matches!(
            LambdaRank::new(&d, &GbdtParams::default()),
            Err(TrainError::InvalidGroups(_))
        ));
    }

    #[test]
    fn only_pairs_touching_the_top_positions_count() {
        // Ranked by score: row 0 (label 0) on top, then rows 1, 2, 3 (labels 1, 2, 0).
        let labels = vec![0.0, 1.0, 2.0, 0.0];
        let d = Dataset::new(Array2::zeros((4, 1)), labels, vec![])
            .unwrap()
            .with_groups(vec![4])
            .unwrap();
        let grads = |truncation| {
            let p = GbdtParams {
                lambdarank_truncation_level: truncation,
                ..GbdtParams::default()
            };
            let mut gh = vec![[0.0; 2]; 4];
            LambdaRank::new(&d, &p)
                .unwrap()
                .gradients(&[3.0, 2.0, 1.0, 0.0], &mut gh);
            gh
        };
        // With truncation 1 row 3 only pairs with row 0, which has the same label.
        assert_eq!(grads(1)[3], [0.0, 0.0]);
        assert!(grads(30)[3][0] > 0.0);
    }
}
