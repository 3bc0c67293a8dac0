//! Seeded random tree ensembles and rows, for property tests and benchmarks.
//!
//! Trees grow leaf-wise like LightGBM's (a chosen leaf becomes an internal node whose left child
//! keeps the leaf index and whose right child is a new leaf), with consistent positive data counts,
//! all three missing-value types and both default directions, so every code path of the explainers
//! is exercised. Rows mix ordinary values, exact zeros and NaNs. [`categorize`] and
//! [`categorical_rows`] add LightGBM-style categorical splits and category-valued columns.

use aml_models::tree::CategoricalSplits;
use aml_models::{LeafStats, MissingType, NodeSplit, ObjectiveKind, Tree, TreeEnsemble};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Shape of a synthetic ensemble.
#[derive(Debug, Clone, Copy)]
pub struct EnsembleShape {
    /// Number of trees.
    pub trees: usize,
    /// Leaves per tree (fewer if counts run out).
    pub leaves: usize,
    /// Number of input features.
    pub features: usize,
    /// Only features `0..used_features` are split on (the rest must get exactly zero SHAP).
    pub used_features: usize,
    /// Training rows reaching each root.
    pub root_count: u64,
}

fn random_tree(rng: &mut ChaCha8Rng, shape: &EnsembleShape) -> Tree {
    let mut t = Tree::constant(rng.random_range(-0.5..0.5), shape.root_count);
    // A leaf's weight is its count, so every internal node's weight is its count too.
    t.leaf_weight[0] = shape.root_count as f64;
    while t.num_leaves() < shape.leaves {
        let splittable: Vec<usize> = (0..t.num_leaves())
            .filter(|&l| t.leaf_count[l] >= 2)
            .collect();
        if splittable.is_empty() {
            break;
        }
        let leaf = splittable[rng.random_range(0..splittable.len())];
        let count = t.leaf_count[leaf];
        let left_count = rng.random_range(1..count);
        let split = NodeSplit {
            feature: rng.random_range(0..shape.used_features) as u32,
            gain: rng.random_range(0.0..10.0),
            // Thresholds on a coarse grid so rows hit them exactly now and then.
            threshold: rng.random_range(-8i32..=8) as f64 / 8.0,
            default_left: rng.random_range(0..2) == 1,
            missing_type: match rng.random_range(0..3) {
                0 => MissingType::None,
                1 => MissingType::Zero,
                _ => MissingType::NaN,
            },
        };
        let left = LeafStats {
            value: rng.random_range(-0.5..0.5),
            weight: left_count as f64,
            count: left_count,
        };
        let right = LeafStats {
            value: rng.random_range(-0.5..0.5),
            weight: (count - left_count) as f64,
            count: count - left_count,
        };
        t.split_leaf(leaf, split, left, right);
    }
    t.shrinkage = 0.1;
    t
}

/// A random ensemble of the given shape (binary objective), reproducible from `seed`.
pub fn random_ensemble(seed: u64, shape: EnsembleShape) -> TreeEnsemble {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let trees = (0..shape.trees)
        .map(|_| random_tree(&mut rng, &shape))
        .collect();
    TreeEnsemble {
        trees,
        base_score: rng.random_range(-1.0..1.0),
        feature_names: (0..shape.features).map(|i| format!("f{i}")).collect(),
        feature_infos: vec!["none".to_string(); shape.features],
        objective: ObjectiveKind::Binary { sigmoid: 1.0 },
        average_output: false,
    }
}

/// `n` random rows of `features` columns in `[-1.25, 1.25]`, with about `missing_rate` NaNs and as
/// many exact zeros, reproducible from `seed`.
pub fn random_rows(seed: u64, n: usize, features: usize, missing_rate: f64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((n, features), |_| {
        let u: f64 = rng.random_range(0.0..1.0);
        if u < missing_rate {
            f64::NAN
        } else if u < 2.0 * missing_rate {
            0.0
        } else if u < 2.5 * missing_rate {
            // exactly on the threshold grid
            rng.random_range(-8i32..=8) as f64 / 8.0
        } else {
            rng.random_range(-1.25..1.25)
        }
    })
}

/// Makes every split on a feature listed in `features` a categorical split (LightGBM's layout: the
/// node's threshold is the index of its category set) with a random set of categories below
/// `32 * words` for 1 to `max_words` words, reproducible from `seed`. Trees without such a split
/// are left numerical.
pub fn categorize(ensemble: &mut TreeEnsemble, seed: u64, features: &[u32], max_words: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for tree in &mut ensemble.trees {
        let is_categorical: Vec<bool> = tree
            .split_feature
            .iter()
            .map(|f| features.contains(f))
            .collect();
        if !is_categorical.contains(&true) {
            continue;
        }
        let mut sets = CategoricalSplits {
            is_categorical,
            boundaries: vec![0],
            bits: Vec::new(),
        };
        for (node, &cat) in sets.is_categorical.iter().enumerate() {
            if cat {
                tree.threshold[node] = sets.num_sets() as f64;
                for _ in 0..rng.random_range(1..=max_words.max(1)) {
                    sets.bits.push(rng.random());
                }
                sets.boundaries.push(sets.bits.len() as u32);
            }
        }
        tree.categorical = Some(sets);
    }
}

/// [`random_rows`] whose columns listed in `features` hold categories instead: integers up to
/// `max_category` (some past every set), NaN, negative values, fractions (truncated like
/// LightGBM) and magnitudes below the zero threshold, reproducible from `seed`.
pub fn categorical_rows(
    seed: u64,
    n: usize,
    columns: usize,
    features: &[u32],
    max_category: u32,
) -> Array2<f64> {
    let mut rows = random_rows(seed, n, columns, 0.1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15);
    for &f in features {
        for v in rows.column_mut(f as usize) {
            *v = match rng.random_range(0..10) {
                0 => f64::NAN,
                1 => -f64::from(rng.random_range(1..=3u32)),
                2 => -0.5,
                3 => f64::from(rng.random_range(0..=max_category)) + 0.75,
                4 => 1e-40,
                _ => f64::from(rng.random_range(0..=max_category)),
            };
        }
    }
    rows
}
