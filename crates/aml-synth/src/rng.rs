//! Seed derivation and the few continuous distributions the generator needs.
//!
//! Every random stream is a `ChaCha8Rng` whose seed is a hash of a path of integers
//! (`[seed, day, stream, chunk]`), so any piece of a batch can be regenerated on its own
//! and parallel chunks never share a stream.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Stream tags: one per independent purpose, so adding a stream never shifts another.
pub(crate) mod stream {
    pub const PROFILE: u64 = 1;
    pub const COMMUNITY: u64 = 2;
    pub const COMMUNITY_DAY: u64 = 3;
    pub const FAVOURITES: u64 = 4;
    pub const DEGREES: u64 = 5;
    pub const EDGES: u64 = 6;
    pub const ILLICIT_EDGES: u64 = 7;
    pub const NODE_DAY: u64 = 8;
    pub const ALERTS: u64 = 9;
    pub const CLUSTERS: u64 = 10;
    pub const LABELS: u64 = 11;
    pub const FLOW_ROWS: u64 = 12;
    pub const ADDRESS: u64 = 13;
    pub const SHUFFLE: u64 = 14;
    pub const REGISTRY: u64 = 15;
}

/// SplitMix64 finaliser: a bijective 64-bit mixer.
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of a path of integers; order matters.
pub(crate) fn hash_path(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x6A09_E667_F3BC_C908_u64, |h, &p| splitmix(h ^ splitmix(p)))
}

/// A ChaCha8 stream for the given path.
pub(crate) fn rng_for(parts: &[u64]) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(hash_path(parts))
}

/// Uniform in [0, 1).
pub(crate) fn unit(rng: &mut ChaCha8Rng) -> f64 {
    rng.random::<f64>()
}

/// Standard normal (Box-Muller; one draw per call keeps streams simple).
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - unit(rng); // (0, 1]
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal with the given median and log-scale sigma.
pub(crate) fn lognormal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Pareto with minimum 1 and tail index `alpha` (heavy tails for degrees).
pub(crate) fn pareto(rng: &mut ChaCha8Rng, alpha: f64) -> f64 {
    (1.0 - unit(rng)).powf(-1.0 / alpha)
}

/// Geometric count >= 0 with the given mean.
pub(crate) fn geometric(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    let p = 1.0 / (1.0 + mean);
    let u = 1.0 - unit(rng);
    (u.ln() / (1.0 - p).ln()).floor().min(1e9) as u64
}

/// Logistic function.
pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Index drawn from a cumulative weight table (last entry = total).
pub(crate) fn pick_cumulative(rng: &mut ChaCha8Rng, cumulative: &[f64]) -> usize {
    let total = *cumulative.last().unwrap_or(&0.0);
    let target = unit(rng) * total;
    cumulative
        .partition_point(|&c| c <= target)
        .min(cumulative.len().saturating_sub(1))
}

/// Uniform index below `n` (n > 0).
pub(crate) fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    rng.random_range(0..n.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_path_and_repeat_for_same_path() {
        let a: u64 = rng_for(&[1, 2, 3]).random();
        let b: u64 = rng_for(&[1, 2, 3]).random();
        let c: u64 = rng_for(&[1, 3, 2]).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn distributions_have_expected_centres() {
        let mut rng = rng_for(&[7]);
        let n = 20_000;
        let mean_normal = (0..n).map(|_| normal(&mut rng)).sum::<f64>() / n as f64;
        assert!(mean_normal.abs() < 0.05, "{mean_normal}");
        let mean_geo = (0..n).map(|_| geometric(&mut rng, 3.0) as f64).sum::<f64>() / n as f64;
        assert!((mean_geo - 3.0).abs() < 0.2, "{mean_geo}");
        assert!((0..1000).all(|_| pareto(&mut rng, 1.5) >= 1.0));
        let cum = [1.0, 1.0, 3.0];
        assert!((0..1000).all(|_| pick_cumulative(&mut rng, &cum) != 1));
    }
}
