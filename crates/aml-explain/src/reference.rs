//! Exact path-dependent TreeSHAP, written as the textbook recursion (Lundberg et al. 2018, Algorithm 2).
//!
//! This is the oracle the fast algorithm is tested against, and the fallback the fast explainer uses
//! for trees it cannot tabulate (more than 64 internal nodes, or a leaf with too many distinct path
//! features). It costs O(L D^2) per tree and row.
//!
//! The recursion keeps, for the current root-to-node path, one entry per distinct feature with
//! its "zero fraction" (share of training cover that would flow this way if the feature were unknown),
//! its "one fraction" (1 if the row itself follows this way, else 0) and the permutation weights of
//! all subset sizes. A feature met twice on one path is first removed ("unwound") and re-added with
//! the product of both fractions, so duplicated splits are attributed once, as LightGBM does.
//! Covers are the per-node data counts (`internal_count` / `leaf_count`), as in LightGBM's
//! `pred_contrib`; the row's ("hot") child of every node, numerical or categorical, is the one
//! `Tree::goes_left` picks, so missing values and category sets follow the prediction path exactly.
//! Tree `t` of a multiclass ensemble adds to class `t % num_class`'s block.

use aml_models::{Tree, TreeEnsemble};

use crate::error::ExplainError;

/// Marker for "no feature" (the root's dummy path entry).
const NO_FEATURE: usize = usize::MAX;

/// One entry of the TreeSHAP path.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PathElement {
    feature: usize,
    zero_fraction: f64,
    one_fraction: f64,
    weight: f64,
}

/// Number of path entries `tree_shap` needs for a tree of `max_depth` split levels.
pub(crate) fn path_buffer_len(max_depth: usize) -> usize {
    (max_depth + 2) * (max_depth + 3) / 2
}

/// Number of split levels on the deepest root-to-leaf path.
pub(crate) fn max_depth(tree: &Tree) -> usize {
    fn walk(tree: &Tree, node: i32, depth: usize) -> usize {
        if node < 0 {
            return depth;
        }
        let n = node as usize;
        walk(tree, tree.left_child[n], depth + 1).max(walk(tree, tree.right_child[n], depth + 1))
    }
    if tree.num_internal() == 0 {
        0
    } else {
        walk(tree, 0, 0)
    }
}

/// Data count of a child reference (`>= 0` internal node, `< 0` leaf `!c`).
#[inline]
pub(crate) fn child_count(tree: &Tree, child: i32) -> f64 {
    if child < 0 {
        tree.leaf_count[(!child) as usize] as f64
    } else {
        tree.internal_count[child as usize] as f64
    }
}

/// The tree's SHAP base value: the cover-weighted mean of its leaf values (LightGBM's `ExpectedValue`).
pub(crate) fn tree_expected_value(tree: &Tree) -> f64 {
    if tree.num_internal() == 0 {
        return tree.leaf_value[0];
    }
    let total = tree.internal_count[0] as f64;
    tree.leaf_value
        .iter()
        .zip(&tree.leaf_count)
        .map(|(&v, &c)| (c as f64 / total) * v)
        .sum()
}

/// Per class, the ensemble's base score plus the expected values of the class's trees (tree `t`
/// belongs to class `t % num_class`), in tree order: the last column of each class block.
pub(crate) fn ensemble_expected_values(ensemble: &TreeEnsemble) -> Vec<f64> {
    let k = ensemble.num_class();
    let mut e = vec![ensemble.base_score; k];
    for (i, t) in ensemble.trees.iter().enumerate() {
        e[i % k] += tree_expected_value(t);
    }
    e
}

/// What LightGBM's `pred_contrib` cannot explain either: linear trees (their leaves are models of
/// the row, not constants; LightGBM 4 refuses `pred_contrib` for `linear_tree` models).
pub(crate) fn check_explainable(ensemble: &TreeEnsemble) -> Result<(), ExplainError> {
    if ensemble.trees.iter().any(|t| t.linear.is_some()) {
        return Err(ExplainError::Unsupported(
            "linear trees (linear_tree models): TreeSHAP needs constant leaves, and LightGBM \
             refuses pred_contrib for linear trees too"
                .into(),
        ));
    }
    Ok(())
}

/// Adds a feature to the path of `unique_depth` entries (so it then has `unique_depth + 1`).
fn extend_path(path: &mut [PathElement], unique_depth: usize, zero: f64, one: f64, feature: usize) {
    path[unique_depth] = PathElement {
        feature,
        zero_fraction: zero,
        one_fraction: one,
        weight: if unique_depth == 0 { 1.0 } else { 0.0 },
    };
    let denom = (unique_depth + 1) as f64;
    for i in (0..unique_depth).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 / denom;
        path[i].weight = zero * path[i].weight * (unique_depth - i) as f64 / denom;
    }
}

/// Removes entry `index` from a path with entries `0..=unique_depth`, undoing its `extend_path`.
fn unwind_path(path: &mut [PathElement], unique_depth: usize, index: usize) {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let denom = (unique_depth + 1) as f64;
    let mut next = path[unique_depth].weight;
    for i in (0..unique_depth).rev() {
        if one != 0.0 {
            let kept = path[i].weight;
            path[i].weight = next * denom / ((i + 1) as f64 * one);
            next = kept - path[i].weight * zero * (unique_depth - i) as f64 / denom;
        } else {
            path[i].weight = path[i].weight * denom / (zero * (unique_depth - i) as f64);
        }
    }
    for i in index..unique_depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

/// Total permutation weight the path would have with entry `index` removed (no mutation).
fn unwound_path_sum(path: &[PathElement], unique_depth: usize, index: usize) -> f64 {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let denom = (unique_depth + 1) as f64;
    let mut next = path[unique_depth].weight;
    let mut total = 0.0;
    for i in (0..unique_depth).rev() {
        if one != 0.0 {
            let w = next * denom / ((i + 1) as f64 * one);
            total += w;
            next = path[i].weight - w * zero * (unique_depth - i) as f64 / denom;
        } else {
            total += path[i].weight / zero * denom / (unique_depth - i) as f64;
        }
    }
    total
}

/// Incoming fractions and feature of the edge that led to a node.
#[derive(Clone, Copy)]
struct Incoming {
    zero: f64,
    one: f64,
    feature: usize,
}

#[allow(clippy::too_many_arguments)]
fn recurse(
    tree: &Tree,
    row: &[f64],
    phi: &mut [f64],
    node: i32,
    buf: &mut [PathElement],
    seg: usize,
    unique_depth: usize,
    incoming: Incoming,
) {
    let mut ud = unique_depth;
    extend_path(
        &mut buf[seg..],
        ud,
        incoming.zero,
        incoming.one,
        incoming.feature,
    );
    if node < 0 {
        let value = tree.leaf_value[(!node) as usize];
        let path = &buf[seg..=seg + ud];
        for i in 1..=ud {
            let w = unwound_path_sum(path, ud, i);
            let el = path[i];
            phi[el.feature] += w * (el.one_fraction - el.zero_fraction) * value;
        }
        return;
    }
    let n = node as usize;
    let feature = tree.split_feature[n] as usize;
    let (hot, cold) = if tree.goes_left(n, row[feature]) {
        (tree.left_child[n], tree.right_child[n])
    } else {
        (tree.right_child[n], tree.left_child[n])
    };
    let mut zero = 1.0;
    let mut one = 1.0;
    if let Some(k) = (1..=ud).find(|&k| buf[seg + k].feature == feature) {
        zero = buf[seg + k].zero_fraction;
        one = buf[seg + k].one_fraction;
        unwind_path(&mut buf[seg..], ud, k);
        ud -= 1;
    }
    let count = tree.internal_count[n] as f64;
    let child_seg = seg + ud + 1;
    for (child, child_one) in [(hot, one), (cold, 0.0)] {
        buf.copy_within(seg..=seg + ud, child_seg);
        let child_in = Incoming {
            zero: zero * child_count(tree, child) / count,
            one: child_one,
            feature,
        };
        recurse(tree, row, phi, child, buf, child_seg, ud + 1, child_in);
    }
}

/// Adds one tree's SHAP values for `row` to `phi` (length >= number of features).
///
/// `buf` must hold at least `path_buffer_len(max_depth(tree))` entries; it is scratch only.
pub(crate) fn tree_shap_into(tree: &Tree, row: &[f64], phi: &mut [f64], buf: &mut [PathElement]) {
    if tree.num_internal() == 0 {
        return;
    }
    let root = Incoming {
        zero: 1.0,
        one: 1.0,
        feature: NO_FEATURE,
    };
    recurse(tree, row, phi, 0, buf, 0, 0, root);
}

/// Exact TreeSHAP values of one row by the reference recursion, in LightGBM `pred_contrib` layout:
/// per class (`num_class` blocks, one for single-output models), `num_features` contributions
/// followed by the class's expected value. The values are the plain sum over trees, also for
/// `average_output` (random forest) models, as LightGBM's `raw_score` and `pred_contrib` are.
/// Allocates; meant for tests and checks.
///
/// Errors: linear trees ([`ExplainError::Unsupported`], as LightGBM refuses them) and a row
/// shorter than the model's features ([`ExplainError::FeatureCountMismatch`]).
///
/// ```
/// use aml_models::{MissingType, ObjectiveKind, Tree, TreeEnsemble};
/// let mut tree = Tree::constant(0.0, 10);
/// tree.split_feature = vec![0];
/// tree.split_gain = vec![1.0];
/// tree.threshold = vec![0.5];
/// tree.default_left = vec![false];
/// tree.missing_type = vec![MissingType::NaN];
/// tree.left_child = vec![-1];
/// tree.right_child = vec![-2];
/// tree.internal_value = vec![0.0];
/// tree.internal_weight = vec![10.0];
/// tree.internal_count = vec![10];
/// tree.leaf_value = vec![-1.0, 1.0];
/// tree.leaf_weight = vec![5.0, 5.0];
/// tree.leaf_count = vec![5, 5];
/// let model = TreeEnsemble {
///     trees: vec![tree],
///     base_score: 0.0,
///     feature_names: vec!["a".into(), "b".into()],
///     feature_infos: vec!["none".into(), "none".into()],
///     objective: ObjectiveKind::Regression,
///     average_output: false,
/// };
/// let phi = aml_explain::reference_contributions(&model, &[1.0, 7.0]).unwrap();
/// assert_eq!(phi, vec![1.0, 0.0, 0.0]); // feature a moves the output from the mean 0 to 1
/// ```
pub fn reference_contributions(
    ensemble: &TreeEnsemble,
    row: &[f64],
) -> Result<Vec<f64>, ExplainError> {
    check_explainable(ensemble)?;
    let nf = ensemble.num_features();
    if row.len() < nf {
        return Err(ExplainError::FeatureCountMismatch {
            expected: nf,
            got: row.len(),
        });
    }
    let k = ensemble.num_class();
    let stride = nf + 1;
    let mut phi = vec![0.0; k * stride];
    let depth = ensemble.trees.iter().map(max_depth).max().unwrap_or(0);
    let mut buf = vec![PathElement::default(); path_buffer_len(depth)];
    for (i, tree) in ensemble.trees.iter().enumerate() {
        let block = (i % k) * stride;
        tree_shap_into(tree, row, &mut phi[block..block + nf], &mut buf);
    }
    for (c, e) in ensemble_expected_values(ensemble).into_iter().enumerate() {
        phi[c * stride + nf] = e;
    }
    Ok(phi)
}
