//! LambdaRank optimising NDCG within query groups (LightGBM `lambdarank`).
//!
//! Per query, rows are ranked by current score (descending, ties by row
//! order). Exactly as in LightGBM, every pair whose better-ranked member sits
//! in the top `lambdarank_truncation_level` positions contributes, with
//! weight `|delta NDCG|` (gain `label_gain[label]`, discount
//! `1 / log2(2 + position)`, normalised by the query's maximum DCG at the
//! truncation level), divided by `0.01 + |score difference|` when
//! `lambdarank_norm` is on, and the query's lambdas are rescaled by
//! `log2(1 + S) / S` where `S` is their absolute sum (with one query this
//! scales gradients and hessians alike, so it changes little).
//!
//! On a large query those pairs all touch the current top `T` rows: they hold
//! half the gradient mass and the rows below never compare with each other.
//! Two options (off by default, so the defaults stay LightGBM's) fix that:
//!
//! - `lambdarank_pair_sample = m`: every row below position `T` also pairs with
//!   `m` partners drawn uniformly (with replacement) from the rows below `T` of
//!   *other* labels. Row `i` draws a given partner `j` `m / N(i)` times on
//!   average, where `N(i)` is the number of rows below `T` whose label differs
//!   from `i`'s, so each drawn pair is weighted `1 / (m / N(i) + m / N(j))`: the
//!   expected sum of the sampled pairs is exactly the sum over all deep pairs
//!   of different labels (the Hansen-Hurwitz estimator). The draws come from a
//!   `ChaCha8Rng` seeded by `seed`, with the round as stream and the row as
//!   position, so they do not depend on threads.
//! - `lambdarank_pair_norm`: each row's gradient and hessian are divided by the
//!   square root of the number of pairs it took part in, so the top rows,
//!   which pair with everything, do not outweigh the rest.
//!
//! A round costs `O(n log n + n * (truncation + pair_sample))` per query, so one
//! query of 50,000 rows is fine (LightGBM refuses queries over 10,000 rows; we
//! do not). Row weights multiply each row's gradient and hessian.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{for_each_query, ObjectiveFunction};
use crate::dataset::Dataset;
use crate::error::TrainError;
use crate::params::GbdtParams;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Mixed into the seed so the pair draws differ from every other seeded stream.
const SEED_SALT: u64 = 0x6c61_6d62_6461_7061;

/// The LambdaRank objective.
#[derive(Debug)]
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
    /// Partners drawn per row below the truncation level (0: none, LightGBM's pairs only).
    pair_sample: usize,
    /// Divide each row's gradient and hessian by `sqrt(pairs it took part in)`.
    pair_norm: bool,
    seed: u64,
    /// Rounds computed so far: the random stream of the next round.
    round: AtomicU64,
}

/// DCG discount of zero-based position `i`.
#[inline]
fn discount(i: usize) -> f64 {
    1.0 / (2.0 + i as f64).log2()
}

/// Sums of one query's pairs, before the per-row and per-query normalisations.
struct QuerySums {
    lambdas: Vec<f64>,
    hessians: Vec<f64>,
    /// Pairs each row took part in.
    pairs: Vec<u32>,
    /// `S`: the absolute sum of all pair lambdas (both members).
    sum_lambdas: f64,
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
            pair_sample: params.lambdarank_pair_sample,
            pair_norm: params.lambdarank_pair_norm,
            seed: params.seed ^ SEED_SALT,
            round: AtomicU64::new(0),
        })
    }

    /// Pair sums of query `q` (rows `start..start + scores.len()`) in round `round`; `None`
    /// when the query has nothing to rank (fewer than two rows or no relevant row).
    fn query_sums(&self, round: u64, q: usize, start: usize, scores: &[f64]) -> Option<QuerySums> {
        let n = scores.len();
        let labels = &self.labels[start..start + n];
        let inv_max = self.inverse_max_dcg[q];
        if n < 2 || inv_max == 0.0 {
            return None;
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let mut lambdas = vec![0.0f64; n];
        let mut hessians = vec![0.0f64; n];
        let score_norm = self.norm && scores[order[0]] != scores[order[n - 1]];
        // Lambda and hessian of the pair `high` (the more relevant row, at `high_pos`) over
        // `low`, times `weight`.
        let pair = |high: usize, high_pos: usize, low: usize, low_pos: usize, weight: f64| {
            let delta_score = scores[high] - scores[low];
            let dcg_gap = self.label_gain[labels[high]] - self.label_gain[labels[low]];
            let paired_discount = (self.discounts[high_pos] - self.discounts[low_pos]).abs();
            let mut delta_ndcg = dcg_gap * paired_discount * inv_max * weight;
            if score_norm {
                delta_ndcg /= 0.01 + delta_score.abs();
            }
            let p = 1.0 / (1.0 + (self.sigmoid * delta_score).exp());
            let lambda = -self.sigmoid * delta_ndcg * p;
            let hess = self.sigmoid * self.sigmoid * delta_ndcg * p * (1.0 - p);
            (lambda, hess)
        };
        let top = (n - 1).min(self.truncation);
        let mut sum_lambdas = 0.0;
        for i in 0..top {
            let (mut acc_l, mut acc_h) = (0.0, 0.0);
            let a = order[i];
            for (j, &b) in order.iter().enumerate().skip(i + 1) {
                if labels[a] == labels[b] {
                    continue;
                }
                // Accumulate the fixed row `a` locally, the other row directly.
                if labels[a] > labels[b] {
                    let (lambda, hess) = pair(a, i, b, j, 1.0);
                    acc_l += lambda;
                    acc_h += hess;
                    lambdas[b] -= lambda;
                    hessians[b] += hess;
                    sum_lambdas -= 2.0 * lambda;
                } else {
                    let (lambda, hess) = pair(b, j, a, i, 1.0);
                    lambdas[b] += lambda;
                    hessians[b] += hess;
                    acc_l -= lambda;
                    acc_h += hess;
                    sum_lambdas -= 2.0 * lambda;
                }
            }
            lambdas[a] += acc_l;
            hessians[a] += acc_h;
        }
        let mut pairs = top_pair_counts(labels, &order, top, self.label_gain.len());
        if self.pair_sample > 0 {
            let rng = self.round_rng(round);
            sample_deep_pairs(
                labels,
                &order,
                top,
                self.pair_sample,
                rng,
                start,
                |a, i, b, j, w| {
                    let (lambda, hess) = if labels[a] > labels[b] {
                        pair(a, i, b, j, w)
                    } else {
                        let (lambda, hess) = pair(b, j, a, i, w);
                        (-lambda, hess)
                    };
                    // `lambda` is now row `a`'s share; row `b` gets its opposite.
                    lambdas[a] += lambda;
                    hessians[a] += hess;
                    lambdas[b] -= lambda;
                    hessians[b] += hess;
                    pairs[a] += 1;
                    pairs[b] += 1;
                    sum_lambdas += 2.0 * lambda.abs();
                },
            );
        }
        Some(QuerySums {
            lambdas,
            hessians,
            pairs,
            sum_lambdas,
        })
    }

    /// The random stream of round `round` (the row picks the position within it).
    fn round_rng(&self, round: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(round);
        rng
    }

    /// Lambdas of one query (rows `start..start + out.len()`) in round `round`.
    fn query_gradients(
        &self,
        round: u64,
        q: usize,
        start: usize,
        scores: &[f64],
        out: &mut [[f32; 2]],
    ) {
        let Some(mut sums) = self.query_sums(round, q, start, scores) else {
            out.fill([0.0; 2]);
            return;
        };
        if self.pair_norm {
            for ((l, h), &c) in sums
                .lambdas
                .iter_mut()
                .zip(&mut sums.hessians)
                .zip(&sums.pairs)
            {
                if c > 1 {
                    let root = f64::from(c).sqrt();
                    *l /= root;
                    *h /= root;
                }
            }
        }
        let s = sums.sum_lambdas;
        let factor = if self.norm && s > 0.0 {
            (1.0 + s).log2() / s
        } else {
            1.0
        };
        for (k, o) in out.iter_mut().enumerate() {
            let w = self.weights.as_ref().map_or(1.0, |w| w[start + k]);
            *o = [
                (sums.lambdas[k] * factor * w) as f32,
                (sums.hessians[k] * factor * w) as f32,
            ];
        }
    }
}

/// Pairs each row takes part in among those with a member in the top `top` positions: a row
/// in the top pairs with every row of another label, a row below with the top rows of
/// another label. `O(n)`.
fn top_pair_counts(labels: &[usize], order: &[usize], top: usize, n_labels: usize) -> Vec<u32> {
    let n = labels.len();
    let mut in_query = vec![0u32; n_labels];
    let mut in_top = vec![0u32; n_labels];
    for &l in labels {
        in_query[l] += 1;
    }
    for &r in &order[..top] {
        in_top[labels[r]] += 1;
    }
    let mut pairs = vec![0u32; n];
    for (pos, &r) in order.iter().enumerate() {
        let l = labels[r];
        pairs[r] = if pos < top {
            n as u32 - in_query[l]
        } else {
            top as u32 - in_top[l]
        };
    }
    pairs
}

/// Draws `m` partners for every row at a position `>= top` (rows in row order) among the
/// rows at positions `>= top` whose label differs, uniformly with replacement, and calls
/// `visit(row, position, partner, partner_position, weight)` for each draw with the
/// Hansen-Hurwitz weight `1 / (m / N(row) + m / N(partner))` (`N(r)`: rows below `top` of
/// another label than `r`'s). Row `r` of the query starting at `start` reads the `m` 64-bit
/// words at position `2 * m * (start + r)` of `rng`'s stream, so the draws depend on neither
/// the thread count nor the other queries. `O(n + n * m)`.
fn sample_deep_pairs(
    labels: &[usize],
    order: &[usize],
    top: usize,
    m: usize,
    mut rng: ChaCha8Rng,
    start: usize,
    mut visit: impl FnMut(usize, usize, usize, usize, f64),
) {
    let n = order.len();
    let deep = n - top;
    if deep < 2 {
        return;
    }
    // Positions below `top`, grouped by label: label `l` owns `bucket[offset[l]..offset[l + 1]]`.
    let n_labels = order[top..].iter().map(|&r| labels[r]).max().unwrap_or(0) + 1;
    let mut offset = vec![0usize; n_labels + 1];
    for &r in &order[top..] {
        offset[labels[r] + 1] += 1;
    }
    for l in 0..n_labels {
        offset[l + 1] += offset[l];
    }
    let mut fill = offset.clone();
    let mut bucket = vec![0usize; deep];
    let mut position = vec![usize::MAX; n];
    for (pos, &r) in order.iter().enumerate().skip(top) {
        bucket[fill[labels[r]]] = pos;
        fill[labels[r]] += 1;
        position[r] = pos;
    }
    let others = |l: usize| deep - (offset[l + 1] - offset[l]);
    let m_f = m as f64;
    for (a, &i) in position.iter().enumerate() {
        if i == usize::MAX {
            continue; // a top row: it pairs with everything already
        }
        let la = labels[a];
        let n_other = others(la);
        if n_other == 0 {
            continue;
        }
        let word = 2 * (m as u128) * (start + a) as u128;
        if rng.get_word_pos() != word {
            rng.set_word_pos(word);
        }
        for _ in 0..m {
            // A uniform index into the other labels' positions: those before `la`'s bucket,
            // then those after it (multiply-shift: no rejection, bias below 2^-40).
            let u = ((u128::from(rng.next_u64()) * n_other as u128) >> 64) as usize;
            let k = if u < offset[la] {
                u
            } else {
                u + offset[la + 1] - offset[la]
            };
            let j = bucket[k];
            let b = order[j];
            let weight = 1.0 / (m_f / n_other as f64 + m_f / others(labels[b]) as f64);
            visit(a, i, b, j, weight);
        }
    }
}

impl ObjectiveFunction for LambdaRank {
    fn init_score(&self) -> f64 {
        0.0
    }

    fn gradients(&self, scores: &[f64], out: &mut [[f32; 2]]) {
        let round = self.round.fetch_add(1, Ordering::Relaxed);
        for_each_query(&self.bounds, out, |q, start, o| {
            self.query_gradients(round, q, start, &scores[start..start + o.len()], o)
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

    /// One query of `n` rows with grades 0-3 (about 70/15/10/5 %) and distinct scores.
    fn graded_query(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let labels = (0..n)
            .map(|_| match rng.next_u64() % 20 {
                0..14 => 0.0,
                14..17 => 1.0,
                17..19 => 2.0,
                _ => 3.0,
            })
            .collect();
        let scores = (0..n)
            .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
            .collect();
        (labels, scores)
    }

    /// [`graded_query`] with integer labels and the rows in score order.
    fn ranked_query(n: usize, seed: u64) -> (Vec<usize>, Vec<f64>, Vec<usize>) {
        let (labels, scores) = graded_query(n, seed);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        (labels.iter().map(|&l| l as usize).collect(), scores, order)
    }

    fn lambdarank(labels: &[f64], groups: Vec<usize>, params: &GbdtParams) -> LambdaRank {
        let d = Dataset::new(Array2::zeros((labels.len(), 1)), labels.to_vec(), vec![])
            .unwrap()
            .with_groups(groups)
            .unwrap();
        LambdaRank::new(&d, params).unwrap()
    }

    fn relative_error(got: &[f64], want: &[f64]) -> f64 {
        let diff: f64 = got.iter().zip(want).map(|(g, w)| (g - w).powi(2)).sum();
        let norm: f64 = want.iter().map(|w| w * w).sum();
        (diff / norm).sqrt()
    }

    #[test]
    fn sampled_gradients_average_to_the_all_pairs_gradients() {
        // Without `lambdarank_norm` every row's gradient is a plain sum over its pairs, so the
        // sampled sums must average to the sums over all pairs. Truncation 1 (the smallest
        // allowed): position 0 pairs with everything, every other pair is a sampled deep pair.
        let n = 200;
        let (labels, scores) = graded_query(n, 3);
        let base = GbdtParams {
            objective: crate::params::Objective::LambdaRank,
            lambdarank_truncation_level: 1,
            lambdarank_norm: false,
            seed: 5,
            ..GbdtParams::default()
        };
        let sampled = lambdarank(
            &labels,
            vec![n],
            &GbdtParams {
                lambdarank_pair_sample: 3,
                ..base.clone()
            },
        );
        let mut all_pairs = lambdarank(
            &labels,
            vec![n],
            &GbdtParams {
                lambdarank_truncation_level: n,
                ..base.clone()
            },
        );
        // Same NDCG normaliser as the truncated objective (max DCG at the truncation level).
        all_pairs.inverse_max_dcg = sampled.inverse_max_dcg.clone();
        let want = all_pairs.query_sums(0, 0, 0, &scores).unwrap();
        let top_only = lambdarank(&labels, vec![n], &base)
            .query_sums(0, 0, 0, &scores)
            .unwrap();
        assert!(
            relative_error(&top_only.lambdas, &want.lambdas) > 0.5,
            "deep pairs carry most of the gradient here, so the check below is not trivial"
        );
        let rounds = 4000;
        let (mut g, mut h) = (vec![0.0; n], vec![0.0; n]);
        for round in 0..rounds {
            let sums = sampled.query_sums(round, 0, 0, &scores).unwrap();
            for k in 0..n {
                g[k] += sums.lambdas[k] / rounds as f64;
                h[k] += sums.hessians[k] / rounds as f64;
            }
        }
        // Tolerance: 3 %, relative L2 over the 200 rows (about 3x the sampling noise of
        // 4000 rounds x 3 partners; a biased weight would miss by far more).
        let (eg, eh) = (
            relative_error(&g, &want.lambdas),
            relative_error(&h, &want.hessians),
        );
        assert!(
            eg < 0.03 && eh < 0.03,
            "gradient error {eg}, hessian error {eh}"
        );
        let one_round = sampled.query_sums(0, 0, 0, &scores).unwrap();
        assert!(
            relative_error(&one_round.lambdas, &want.lambdas) > eg,
            "averaging helps"
        );
    }

    #[test]
    fn sampled_pairs_differ_in_label_lie_below_the_top_and_number_m_per_row() {
        let n = 300;
        let (labels, scores, order) = ranked_query(n, 4);
        let (top, m) = (30, 4);
        let mut drawn = Vec::new();
        let rng = ChaCha8Rng::seed_from_u64(1);
        sample_deep_pairs(&labels, &order, top, m, rng, 0, |a, i, b, j, w| {
            drawn.push((a, i, b, j, w))
        });
        assert_eq!(drawn.len(), (n - top) * m);
        let mut partners_of = vec![std::collections::BTreeSet::new(); n];
        for &(a, i, b, j, w) in &drawn {
            assert!(labels[a] != labels[b], "pair ({a}, {b}) has equal labels");
            assert!(i >= top && j >= top && order[i] == a && order[j] == b);
            assert!(w > 0.0 && w.is_finite());
            partners_of[a].insert(b);
        }
        // Draws are spread out: grade-0 rows are drawn by many different rows.
        assert!(partners_of.iter().filter(|p| p.len() == m).count() > (n - top) / 2);

        // Below the top every row has one label: nothing to draw.
        let mut flat = vec![0; n];
        for (p, &r) in order.iter().enumerate() {
            flat[r] = usize::from(p < top);
        }
        let mut none = 0;
        sample_deep_pairs(
            &flat,
            &order,
            top,
            m,
            ChaCha8Rng::seed_from_u64(1),
            0,
            |_, _, _, _, _| none += 1,
        );
        assert_eq!(none, 0);

        // A whole round: every row takes part in at most T + m pairs of its own plus the draws
        // of others; the query's pair count stays within n * (T + m).
        let truncation = 30;
        let params = GbdtParams {
            lambdarank_truncation_level: truncation,
            lambdarank_pair_sample: m,
            ..GbdtParams::default()
        };
        let labels_f: Vec<f64> = labels.iter().map(|&l| l as f64).collect();
        let sums = lambdarank(&labels_f, vec![n], &params)
            .query_sums(0, 0, 0, &scores)
            .unwrap();
        let pairs: u64 = sums.pairs.iter().map(|&c| u64::from(c)).sum::<u64>() / 2;
        assert!(pairs <= (n * (truncation + m)) as u64, "{pairs} pairs");
        assert!(pairs > (n * m / 2) as u64);
    }

    #[test]
    fn top_pair_counts_match_counting_the_pairs() {
        let n = 60;
        let (labels, _, order) = ranked_query(n, 6);
        for top in [1, 7, n - 1] {
            let mut want = vec![0u32; n];
            for i in 0..top {
                for j in i + 1..n {
                    if labels[order[i]] != labels[order[j]] {
                        want[order[i]] += 1;
                        want[order[j]] += 1;
                    }
                }
            }
            assert_eq!(top_pair_counts(&labels, &order, top, 4), want, "top {top}");
        }
    }

    #[test]
    fn pair_norm_divides_by_the_root_of_each_rows_pair_count() {
        let n = 80;
        let (labels, scores) = graded_query(n, 7);
        let params = GbdtParams {
            lambdarank_norm: false,
            lambdarank_truncation_level: 5,
            lambdarank_pair_sample: 2,
            ..GbdtParams::default()
        };
        let plain = lambdarank(&labels, vec![n], &params);
        let normed = lambdarank(
            &labels,
            vec![n],
            &GbdtParams {
                lambdarank_pair_norm: true,
                ..params.clone()
            },
        );
        let sums = plain.query_sums(0, 0, 0, &scores).unwrap();
        let mut gh = vec![[0.0f32; 2]; n];
        normed.gradients(&scores, &mut gh);
        for (k, g) in gh.iter().enumerate() {
            let root = f64::from(sums.pairs[k].max(1)).sqrt();
            assert_eq!(g[0], (sums.lambdas[k] / root) as f32, "row {k}");
            assert_eq!(g[1], (sums.hessians[k] / root) as f32, "row {k}");
        }
        assert!(sums.pairs.iter().any(|&c| c > 4));
    }

    #[test]
    fn sampling_is_seeded_draws_anew_each_round_and_ignores_threads() {
        let groups = vec![150, 90, 260];
        let n: usize = groups.iter().sum();
        let (labels, scores) = graded_query(n, 8);
        let params = |seed| GbdtParams {
            lambdarank_pair_sample: 3,
            lambdarank_pair_norm: true,
            seed,
            ..GbdtParams::default()
        };
        let rounds = |seed, threads| {
            let r = lambdarank(&labels, groups.clone(), &params(seed));
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                (0..2)
                    .map(|_| {
                        let mut gh = vec![[0.0f32; 2]; n];
                        r.gradients(&scores, &mut gh);
                        gh
                    })
                    .collect::<Vec<_>>()
            })
        };
        let one = rounds(1, 1);
        assert_eq!(one, rounds(1, 2), "thread count changes nothing");
        assert_eq!(one, rounds(1, 1), "same seed, same draws");
        assert_ne!(one[0], one[1], "every round draws anew");
        assert_ne!(one, rounds(2, 1), "the seed matters");
    }
}
