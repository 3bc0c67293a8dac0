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

use aml_models::{MissingType, Tree};

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

/// Builds a [`Tree`] node by node in pre-order (children after their parent, as LightGBM requires).
#[derive(Debug)]
pub(crate) struct TreeBuilder {
    tree: Tree,
}

impl TreeBuilder {
    pub(crate) fn new() -> Self {
        let mut tree = Tree::constant(0.0, 0);
        tree.leaf_value.clear();
        tree.leaf_weight.clear();
        tree.leaf_count.clear();
        TreeBuilder { tree }
    }

    /// Adds a split `x <= threshold` goes left, NaN goes right; children are set later.
    pub(crate) fn push_split(
        &mut self,
        feature: usize,
        threshold: f64,
        gain: f64,
        count: u64,
    ) -> usize {
        let t = &mut self.tree;
        t.split_feature.push(feature as u32);
        t.split_gain.push(gain);
        t.threshold.push(threshold);
        t.default_left.push(false);
        t.missing_type.push(MissingType::NaN);
        t.left_child.push(0);
        t.right_child.push(0);
        t.internal_value.push(0.0);
        t.internal_weight.push(count as f64);
        t.internal_count.push(count);
        t.split_feature.len() - 1
    }

    /// Adds a leaf and returns its child code `!leaf`.
    pub(crate) fn push_leaf(&mut self, value: f64, count: u64) -> i32 {
        let t = &mut self.tree;
        t.leaf_value.push(value);
        t.leaf_weight.push(count as f64);
        t.leaf_count.push(count);
        !((t.leaf_value.len() - 1) as i32)
    }

    pub(crate) fn set_children(&mut self, node: usize, left: i32, right: i32) {
        self.tree.left_child[node] = left;
        self.tree.right_child[node] = right;
    }

    /// Sets counts from the rows that reach each node (when the source model has none).
    pub(crate) fn recount<'a>(&mut self, rows: impl Iterator<Item = &'a [f64]>) {
        let t = &mut self.tree;
        t.internal_count.iter_mut().for_each(|c| *c = 0);
        t.leaf_count.iter_mut().for_each(|c| *c = 0);
        for row in rows {
            if t.split_feature.is_empty() {
                t.leaf_count[0] += 1;
                continue;
            }
            let mut node = 0usize;
            loop {
                t.internal_count[node] += 1;
                let c = if t.goes_left(node, row[t.split_feature[node] as usize]) {
                    t.left_child[node]
                } else {
                    t.right_child[node]
                };
                if c < 0 {
                    t.leaf_count[(!c) as usize] += 1;
                    break;
                }
                node = c as usize;
            }
        }
        for (w, &c) in t.internal_weight.iter_mut().zip(&t.internal_count) {
            *w = c as f64;
        }
        for (w, &c) in t.leaf_weight.iter_mut().zip(&t.leaf_count) {
            *w = c as f64;
        }
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
