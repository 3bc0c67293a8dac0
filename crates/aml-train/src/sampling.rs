//! Seeded row bagging and per-tree feature sampling.
//!
//! Each concern draws from its own `ChaCha8Rng` stream derived from the
//! user's seed, so the same seed always selects the same rows and features,
//! independent of thread count.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Draws row subsets (`bagging_fraction`, `bagging_freq`) and feature subsets (`feature_fraction`).
#[derive(Debug, Clone)]
pub struct Sampler {
    bagging_rng: ChaCha8Rng,
    feature_rng: ChaCha8Rng,
    bagging_fraction: f64,
    bagging_freq: usize,
    feature_fraction: f64,
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
            bagging_fraction,
            bagging_freq,
            feature_fraction,
        }
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
