//! XE-NDCG: the cross-entropy ranking loss of Bruch et al. (2019), LightGBM's `rank_xendcg`.
//!
//! Per query, the scores become a distribution `rho = softmax(scores)` and the grades a target
//! distribution `phi_i / sum(phi)` with `phi_i = 2^label_i - gamma_i`, where `gamma_i` is drawn
//! uniformly from `[0, 1)` for every row and every boosting round (seeded `ChaCha8Rng`: the
//! stream is the round, the position the row, so the draw never depends on threads). The loss is
//! the cross entropy between the two. As LightGBM documents, the gradient is approximated by a
//! third-order expansion of the inverse of the softmax Jacobian's diagonal, and the hessian is
//! `rho_i (1 - rho_i)`:
//!
//! ```text
//! t1_i = rho_i - phi_i / sum(phi)
//! t2_i = rho_i * sum_{j != i} t1_j / (1 - rho_j)
//! t3_i = rho_i * sum_{j != i} t2_j / (1 - rho_j)
//! gradient_i = t1_i + t2_i + t3_i
//! ```
//!
//! Each term sums to zero over the query, so the gradients do too. A round is `O(n)` per query
//! (one softmax, three passes), so a whole day of 50,000 rows as one query is cheap. Labels
//! must be non-negative integers below 31; row weights multiply gradient and hessian.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{for_each_query, ObjectiveFunction};
use crate::dataset::Dataset;
use crate::error::TrainError;
use crate::params::GbdtParams;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Mixed into the seed so this objective's stream differs from sampling's.
const SEED_SALT: u64 = 0x7865_6e64_6367_2121;

/// The XE-NDCG objective.
#[derive(Debug)]
pub struct XeNdcg {
    /// `2^label` per row.
    gains: Vec<f64>,
    weights: Option<Vec<f64>>,
    /// Query boundaries: query q is rows `bounds[q]..bounds[q + 1]`.
    bounds: Vec<usize>,
    seed: u64,
    /// Rounds computed so far: the random stream of the next round.
    round: AtomicU64,
}

impl XeNdcg {
    /// Checks groups and that every label is an integer in `0..31`.
    pub fn new(data: &Dataset, params: &GbdtParams) -> Result<Self, TrainError> {
        let groups = data.groups.as_ref().ok_or_else(|| {
            TrainError::InvalidGroups(
                "rank_xendcg needs query groups (Dataset::with_groups)".into(),
            )
        })?;
        let mut gains = Vec::with_capacity(data.n_rows());
        for (row, &value) in data.labels.iter().enumerate() {
            if !(0.0..31.0).contains(&value) || value.fract() != 0.0 {
                return Err(TrainError::InvalidLabel {
                    row,
                    value,
                    reason: "rank_xendcg labels must be integers in 0..31".into(),
                });
            }
            gains.push(2f64.powi(value as i32));
        }
        let mut bounds = vec![0usize];
        for &g in groups {
            bounds.push(bounds.last().unwrap() + g);
        }
        Ok(XeNdcg {
            gains,
            weights: data.weights.clone(),
            bounds,
            seed: params.seed ^ SEED_SALT,
            round: AtomicU64::new(0),
        })
    }

    /// Gradients of one query (rows `start..start + out.len()`) in round `round`.
    fn query_gradients(&self, round: u64, start: usize, scores: &[f64], out: &mut [[f32; 2]]) {
        let n = out.len();
        if n < 2 {
            out.fill([0.0; 2]);
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(round);
        // One f64 draw takes two 32-bit words: row `start + i` always gets the same draw.
        rng.set_word_pos(2 * start as u128);
        let targets: Vec<f64> = self.gains[start..start + n]
            .iter()
            .map(|&g| g - rng.random::<f64>())
            .collect();
        let target_sum: f64 = targets.iter().sum();
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut rho: Vec<f64> = scores.iter().map(|&s| (s - max).exp()).collect();
        let rho_sum: f64 = rho.iter().sum();
        rho.iter_mut().for_each(|r| *r /= rho_sum);

        // `term` holds the current order's terms; `grad` their running total.
        let mut term: Vec<f64> = rho
            .iter()
            .zip(&targets)
            .map(|(&r, &t)| r - t / target_sum)
            .collect();
        let mut grad = term.clone();
        for _ in 0..2 {
            let scaled: Vec<f64> = term.iter().zip(&rho).map(|(t, r)| t / (1.0 - r)).collect();
            let total: f64 = scaled.iter().sum();
            for i in 0..n {
                term[i] = rho[i] * (total - scaled[i]);
                grad[i] += term[i];
            }
        }
        for (i, o) in out.iter_mut().enumerate() {
            let w = self.weights.as_ref().map_or(1.0, |w| w[start + i]);
            *o = [(grad[i] * w) as f32, (rho[i] * (1.0 - rho[i]) * w) as f32];
        }
    }
}

impl ObjectiveFunction for XeNdcg {
    fn init_score(&self) -> f64 {
        0.0
    }

    fn gradients(&self, scores: &[f64], out: &mut [[f32; 2]]) {
        let round = self.round.fetch_add(1, Ordering::Relaxed);
        for_each_query(&self.bounds, out, |_, start, o| {
            self.query_gradients(round, start, &scores[start..start + o.len()], o)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn objective(labels: Vec<f64>, groups: Vec<usize>, seed: u64) -> XeNdcg {
        let n = labels.len();
        let d = Dataset::new(Array2::zeros((n, 1)), labels, vec![])
            .unwrap()
            .with_groups(groups)
            .unwrap();
        let params = GbdtParams {
            seed,
            ..GbdtParams::default()
        };
        XeNdcg::new(&d, &params).unwrap()
    }

    #[test]
    fn gradients_sum_to_zero_per_query_and_push_relevant_rows_up() {
        let labels = vec![0.0, 3.0, 1.0, 0.0, 2.0, 0.0, 0.0, 1.0, 0.0];
        let xe = objective(labels, vec![5, 4], 7);
        let scores = [0.4, -0.2, 0.1, 1.5, 0.0, 0.3, -1.0, 0.2, 0.9];
        let mut gh = vec![[0.0f32; 2]; 9];
        xe.gradients(&scores, &mut gh);
        for (a, b) in [(0, 5), (5, 9)] {
            let sum: f64 = gh[a..b].iter().map(|g| f64::from(g[0])).sum();
            assert!(sum.abs() < 1e-6, "query {a}..{b} sums to {sum}");
        }
        // The grade-3 row must rise (negative gradient), the top-scored grade-0 row fall.
        assert!(gh[1][0] < 0.0 && gh[3][0] > 0.0, "{gh:?}");
        assert!(gh.iter().all(|g| g[1] > 0.0 && g[1] < 0.25));
    }

    #[test]
    fn same_seed_same_gradients_and_rounds_draw_anew() {
        let labels: Vec<f64> = (0..40).map(|i| f64::from(i % 4)).collect();
        let scores: Vec<f64> = (0..40).map(|i| f64::from(i % 7) * 0.1).collect();
        let run = |seed| {
            let xe = objective(labels.clone(), vec![15, 25], seed);
            let mut first = vec![[0.0f32; 2]; 40];
            let mut second = vec![[0.0f32; 2]; 40];
            xe.gradients(&scores, &mut first);
            xe.gradients(&scores, &mut second);
            (first, second)
        };
        let (a1, a2) = run(3);
        assert_eq!(run(3), (a1.clone(), a2.clone()));
        assert_ne!(a1, a2, "each round draws new gamma");
        assert_ne!(run(4).0, a1, "the seed matters");
    }

    #[test]
    fn two_rows_by_hand() {
        // Equal scores: rho = (1/2, 1/2). Labels 1 and 0: phi = (2 - g0, 1 - g1).
        let xe = objective(vec![1.0, 0.0], vec![2], 11);
        let mut rng = ChaCha8Rng::seed_from_u64(11 ^ SEED_SALT);
        rng.set_stream(0);
        let (g0, g1) = (rng.random::<f64>(), rng.random::<f64>());
        let (p0, p1) = (2.0 - g0, 1.0 - g1);
        // t1 = (1/2 - p0/s, 1/2 - p1/s) = (d, -d); each later term is rho * (other / (1 - rho))
        // = the other row's previous term, so t2 = (-d, d), t3 = (d, -d): the total is t1.
        let d = 0.5 - p0 / (p0 + p1);
        let mut gh = vec![[0.0f32; 2]; 2];
        xe.gradients(&[0.25, 0.25], &mut gh);
        assert!((f64::from(gh[0][0]) - d).abs() < 1e-7, "{gh:?} vs {d}");
        assert!((f64::from(gh[1][0]) + d).abs() < 1e-7);
        assert_eq!(gh[0][1], 0.25);
        assert!(d < 0.0, "the relevant row is pushed up");
    }
}
