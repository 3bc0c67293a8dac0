//! Conversions of baseline tree models into [`TreeEnsemble`](aml_models::TreeEnsemble), so they are explained (and scored)
//! by the same code as the GBDT.
//!
//! * [`linfa`]: a linfa-trees `DecisionTree`. Its nodes are public through `root_node()`, but it
//!   keeps no per-node sample counts, so covers are recounted from the training records.
//! * [`smartcore`]: a smartcore `RandomForestClassifier` (binary). Its trees and nodes are private
//!   fields with no accessors; the only public way to read them is its serde `Serialize`
//!   implementation (crate feature `serde`), which this adapter reads into mirror structs. Node
//!   sample counts (`n_node_samples`) give the covers.
//!
//! Both libraries send NaN to the right child (`x < t` / `x <= t` is false), which maps to
//! `MissingType::NaN` with `default_left = false`.

pub mod linfa;
pub mod smartcore;

use aml_models::{LeafStats, MissingType, NodeSplit, Tree};

/// The largest `f64` strictly below `x` (for turning `x < t` into LightGBM's `x <= t'`).
pub(crate) fn next_down(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return x;
    }
    if x == 0.0 {
        return -f64::from_bits(1);
    }
    let bits = x.to_bits();
    if x > 0.0 {
        f64::from_bits(bits - 1)
    } else {
        f64::from_bits(bits + 1)
    }
}

/// Builds a [`Tree`] from a source tree walked in pre-order: the root lands on leaf
/// [`TreeBuilder::ROOT`], and a split node splits the leaf it lands on ([`Tree::split_leaf`]), its
/// children landing on the two leaves that returns. Internal nodes are therefore numbered in
/// pre-order, children after their parent, as LightGBM requires.
#[derive(Debug)]
pub(crate) struct TreeBuilder {
    tree: Tree,
}

impl TreeBuilder {
    /// The leaf the source tree's root lands on.
    pub(crate) const ROOT: usize = 0;

    pub(crate) fn new() -> Self {
        TreeBuilder {
            tree: Tree::constant(0.0, 0),
        }
    }

    /// Splits leaf `at`: `x <= threshold` goes left, NaN goes right. Returns the leaves the left
    /// and right children land on.
    pub(crate) fn split(
        &mut self,
        at: usize,
        feature: usize,
        threshold: f64,
        gain: f64,
        count: u64,
    ) -> (usize, usize) {
        // The node records the leaf's stats; its value is filled in by `finish`.
        self.set_leaf(at, 0.0, count);
        let split = NodeSplit {
            feature: feature as u32,
            threshold,
            default_left: false,
            missing_type: MissingType::NaN,
            gain,
        };
        let pending = LeafStats {
            value: 0.0,
            weight: 0.0,
            count: 0,
        };
        self.tree.split_leaf(at, split, pending, pending)
    }

    /// Makes leaf `at` a leaf of the source tree with output `value`.
    pub(crate) fn set_leaf(&mut self, at: usize, value: f64, count: u64) {
        let stats = LeafStats {
            value,
            weight: count as f64,
            count,
        };
        self.tree.set_leaf(at, stats);
    }

    /// Sets counts from the rows that reach each node (when the source model has none).
    pub(crate) fn recount<'a>(&mut self, rows: impl Iterator<Item = &'a [f64]>) {
        let t = &mut self.tree;
        let mut internal_count = vec![0u64; t.num_internal()];
        let mut leaf_count = vec![0u64; t.num_leaves()];
        for row in rows {
            let leaf = t.leaf_by(|node| {
                internal_count[node] += 1;
                t.goes_left(node, row[t.split_feature[node] as usize])
            });
            leaf_count[leaf] += 1;
        }
        t.internal_weight = internal_count.iter().map(|&c| c as f64).collect();
        t.leaf_weight = leaf_count.iter().map(|&c| c as f64).collect();
        t.internal_count = internal_count;
        t.leaf_count = leaf_count;
    }

    /// Fills `internal_value` (count-weighted mean of the leaves below) and returns the tree.
    pub(crate) fn finish(mut self, shrinkage: f64) -> Tree {
        let t = &mut self.tree;
        // Children come after parents, so a reverse sweep sees children first.
        for n in (0..t.split_feature.len()).rev() {
            let (mut sum, mut cnt) = (0.0, 0.0);
            for c in [t.left_child[n], t.right_child[n]] {
                let (v, k) = if c < 0 {
                    let l = (!c) as usize;
                    (t.leaf_value[l], t.leaf_count[l] as f64)
                } else {
                    let i = c as usize;
                    (t.internal_value[i], t.internal_count[i] as f64)
                };
                sum += v * k;
                cnt += k;
            }
            t.internal_value[n] = if cnt > 0.0 { sum / cnt } else { 0.0 };
        }
        t.shrinkage = shrinkage;
        self.tree
    }
}

/// Feature names for `n` columns: the given ones, or `feature-{i}` (linfa's default naming).
pub(crate) fn feature_names(
    model: &'static str,
    names: Option<&[String]>,
    n: usize,
) -> Result<Vec<String>, crate::ExplainError> {
    match names {
        Some(names) if names.len() != n => Err(crate::ExplainError::Conversion {
            model,
            reason: format!("{} feature names for {n} features", names.len()),
        }),
        Some(names) => Ok(names.to_vec()),
        None => Ok((0..n).map(|i| format!("feature-{i}")).collect()),
    }
}
