//! Seeded row bagging, GOSS and per-tree feature sampling.
//!
//! Each concern draws from its own `ChaCha8Rng` stream derived from the
//! user's seed, so the same seed always selects the same rows and features,
//! independent of thread count.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Gradient-based one-side sampling (LightGBM's `data_sample_strategy=goss`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Goss {
    /// Share of rows with the largest `|gradient * hessian|` always kept.
    pub top_rate: f64,
    /// Share of all rows drawn from the others.
    pub other_rate: f64,
    /// Rounds before sampling starts (LightGBM: `1 / learning_rate`, truncated).
    pub warm_up: usize,
}

impl Goss {
    /// GOSS with LightGBM's warm-up of `1 / learning_rate` rounds.
    pub fn new(top_rate: f64, other_rate: f64, learning_rate: f64) -> Self {
        Goss {
            top_rate,
            other_rate,
            warm_up: (1.0 / learning_rate) as usize,
        }
    }
}

/// Draws row subsets (`bagging_fraction`, `bagging_freq`, or GOSS) and feature subsets
/// (`feature_fraction`).
#[derive(Debug, Clone)]
pub struct Sampler {
    bagging_rng: ChaCha8Rng,
    feature_rng: ChaCha8Rng,
    seed: u64,
    bagging_fraction: f64,
    bagging_freq: usize,
    feature_fraction: f64,
    goss: Option<Goss>,
}

impl Sampler {
    /// A sampler whose streams are derived from `seed`.
    pub fn new(
        seed: u64,
        bagging_fraction: f64,
        bagging_freq: usize,
        feature_fraction: f64,
    ) -> Self {
        Sampler {
            bagging_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x6261_6767_696e_6721),
            feature_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x6665_6174_7572_6521),
            seed,
            bagging_fraction,
            bagging_freq,
            feature_fraction,
            goss: None,
        }
    }

    /// The same sampler drawing rows by GOSS instead of bagging.
    pub fn with_goss(self, goss: Goss) -> Self {
        Sampler {
            goss: Some(goss),
            ..self
        }
    }

    /// The rows of round `iteration`'s tree: the new bag (ascending row indices), or `None`
    /// to keep the previous one (no bag at first: every row).
    ///
    /// With GOSS `gh` (this round's gradients) chooses the rows and the gradients and
    /// hessians of the rows drawn from the small ones are scaled up; GOSS draws every
    /// round, and every row is used (`None` after `None`) during its warm-up.
    pub fn rows(&mut self, iteration: usize, gh: &mut [[f32; 2]]) -> Option<Vec<u32>> {
        match self.goss {
            Some(goss) => self.goss_rows(goss, iteration, gh),
            None => self.bag(iteration, gh.len()),
        }
    }

    /// GOSS (LightGBM's semantics, over all rows at once): `top_k = max(1, top_rate * n)`
    /// rows with the largest `|g * h|` (in `f32`, ties at the `top_k`-th value all kept)
    /// and, in row order, each other row with probability `rest_need / rest_all` (the draws
    /// still needed for `other_k = max(1, other_rate * n)` over the other rows still to
    /// come), so exactly `other_k` of them when there are enough; theirs `g` and `h` are
    /// multiplied by `(n - top_k) / other_k` (in `f32`). Draws come from a `ChaCha8Rng` of
    /// the seed with the round as its stream.
    fn goss_rows(&mut self, goss: Goss, iteration: usize, gh: &mut [[f32; 2]]) -> Option<Vec<u32>> {
        if iteration < goss.warm_up {
            return None;
        }
        let n = gh.len();
        let top_k = ((n as f64 * goss.top_rate) as usize).clamp(1, n);
        let other_k = ((n as f64 * goss.other_rate) as usize).max(1);
        let size = |g: &[f32; 2]| (g[0] * g[1]).abs();
        let mut sizes: Vec<f32> = gh.iter().map(size).collect();
        let (_, &mut threshold, _) = sizes.select_nth_unstable_by(top_k - 1, |a, b| b.total_cmp(a));
        let multiply = (n - top_k) as f32 / other_k as f32;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x676f_7373_2121_2121);
        rng.set_stream(iteration as u64);
        let mut rows = Vec::with_capacity(top_k + other_k);
        let (mut big, mut small) = (0usize, 0usize);
        for (i, g) in gh.iter_mut().enumerate() {
            if size(g) >= threshold {
                rows.push(i as u32);
                big += 1;
                continue;
            }
            let rest_need = other_k.saturating_sub(small);
            // Other rows still to come, this one included (>= 1: this row is one).
            let rest_all = (n - i) as f64 - top_k.saturating_sub(big) as f64;
            if (rng.random::<f64>()) < rest_need as f64 / rest_all {
                g[0] *= multiply;
                g[1] *= multiply;
                rows.push(i as u32);
                small += 1;
            }
        }
        Some(rows)
    }

    /// Whether rows are bagged at all.
    pub fn bagging(&self) -> bool {
        self.bagging_freq > 0 && self.bagging_fraction < 1.0
    }

    /// The new bag for `iteration` (ascending row indices), or `None` to keep the previous one.
    ///
    /// Each row is kept independently with probability `bagging_fraction`;
    /// at least one row is always kept.
    pub fn bag(&mut self, iteration: usize, n_rows: usize) -> Option<Vec<u32>> {
        if !self.bagging() || !iteration.is_multiple_of(self.bagging_freq) {
            return None;
        }
        let mut rows: Vec<u32> = (0..n_rows as u32)
            .filter(|_| self.bagging_rng.random::<f64>() < self.bagging_fraction)
            .collect();
        if rows.is_empty() {
            rows.push(self.bagging_rng.random_range(0..n_rows as u32));
        }
        Some(rows)
    }

    /// Flags of the features a tree may use: `round(feature_fraction * n)` of
    /// them (at least one), chosen uniformly.
    pub fn features(&mut self, n_features: usize) -> Vec<bool> {
        if self.feature_fraction >= 1.0 {
            return vec![true; n_features];
        }
        let k = ((self.feature_fraction * n_features as f64).round() as usize).clamp(1, n_features);
        let mut idx: Vec<usize> = (0..n_features).collect();
        for i in 0..k {
            let j = self.feature_rng.random_range(i..n_features);
            idx.swap(i, j);
        }
        let mut used = vec![false; n_features];
        for &f in &idx[..k] {
            used[f] = true;
        }
        used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bags_are_seeded_and_about_the_right_size() {
        let mut a = Sampler::new(1, 0.5, 2, 1.0);
        let mut b = Sampler::new(1, 0.5, 2, 1.0);
        let bag = a.bag(0, 10_000).unwrap();
        assert_eq!(Some(bag.clone()), b.bag(0, 10_000));
        assert!((bag.len() as f64 - 5000.0).abs() < 300.0);
        assert!(bag.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a.bag(1, 10_000), None, "only every bagging_freq rounds");
        assert_ne!(a.bag(2, 10_000).unwrap(), bag);
        assert_eq!(Sampler::new(1, 1.0, 1, 1.0).bag(0, 10), None);
    }

    /// Gradients with distinct `|g * h|`: row `r` has size `r` (hessian 1).
    fn ramp(n: usize) -> Vec<[f32; 2]> {
        (0..n)
            .map(|r| [if r % 2 == 0 { r as f32 } else { -(r as f32) }, 1.0])
            .collect()
    }

    #[test]
    fn goss_keeps_the_largest_gradients_and_scales_a_draw_of_the_rest() {
        let goss = Goss::new(0.2, 0.1, 0.1);
        assert_eq!(goss.warm_up, 10);
        let mut s = Sampler::new(7, 1.0, 0, 1.0).with_goss(goss);
        let mut gh = ramp(1000);
        for it in 0..10 {
            assert_eq!(s.rows(it, &mut gh), None, "warm-up: every row");
        }
        assert_eq!(gh, ramp(1000), "nothing scaled during the warm-up");
        let rows = s.rows(10, &mut gh).unwrap();
        assert!(rows.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(rows.len(), 200 + 100);
        // The 200 largest (rows 800..1000) are kept as they are.
        assert!((800..1000).all(|r| rows.contains(&r)));
        let multiply = 800.0f32 / 100.0;
        for (r, g) in gh.iter().enumerate() {
            let kept = rows.contains(&(r as u32));
            let want = if kept && r < 800 { multiply } else { 1.0 };
            assert_eq!(g[1], want, "row {r}");
            assert_eq!(g[0], ramp(1000)[r][0] * want, "row {r}");
        }
        // Seeded per round: the same seed and round draw the same rows, another round not.
        let mut again = Sampler::new(7, 1.0, 0, 1.0).with_goss(goss);
        assert_eq!(again.rows(10, &mut ramp(1000)), Some(rows.clone()));
        assert_ne!(again.rows(11, &mut ramp(1000)), Some(rows.clone()));
        let mut other = Sampler::new(8, 1.0, 0, 1.0).with_goss(goss);
        assert_ne!(other.rows(10, &mut ramp(1000)), Some(rows));
    }

    #[test]
    fn goss_keeps_every_tie_and_handles_tiny_data() {
        let goss = Goss::new(0.2, 0.1, 1.0);
        // All sizes equal: every row ties with the top_k-th, so every row is kept unscaled.
        let mut flat = vec![[0.5f32, 0.25]; 50];
        let rows = Sampler::new(1, 1.0, 0, 1.0)
            .with_goss(goss)
            .rows(1, &mut flat)
            .unwrap();
        assert_eq!(rows, (0..50).collect::<Vec<u32>>());
        assert!(flat.iter().all(|g| *g == [0.5, 0.25]));
        // One row: top_k = 1 keeps it; two rows: the larger and (other_k = 1) the other one.
        let mut one = vec![[0.0f32, 0.0]];
        assert_eq!(
            Sampler::new(1, 1.0, 0, 1.0)
                .with_goss(goss)
                .rows(1, &mut one),
            Some(vec![0])
        );
        let mut two = vec![[1.0f32, 1.0], [2.0, 1.0]];
        let rows = Sampler::new(1, 1.0, 0, 1.0)
            .with_goss(goss)
            .rows(1, &mut two);
        assert_eq!(rows, Some(vec![0, 1]));
        assert_eq!(two, [[1.0, 1.0], [2.0, 1.0]], "(n - top_k) / other_k = 1");
        // Without GOSS `rows` is bagging.
        let mut gh = ramp(100);
        assert_eq!(Sampler::new(1, 1.0, 0, 1.0).rows(0, &mut gh), None);
        assert_eq!(gh, ramp(100));
    }

    #[test]
    fn feature_fraction_picks_the_rounded_count() {
        let mut s = Sampler::new(3, 1.0, 0, 0.3);
        let used = s.features(10);
        assert_eq!(used.iter().filter(|&&u| u).count(), 3);
        assert_eq!(Sampler::new(3, 1.0, 0, 0.3).features(10), used);
        assert_eq!(
            Sampler::new(3, 1.0, 0, 0.01)
                .features(10)
                .iter()
                .filter(|&&u| u)
                .count(),
            1
        );
    }
}
