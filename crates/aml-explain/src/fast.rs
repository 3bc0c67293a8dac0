//! Fast exact TreeSHAP: per-leaf subset tables (the Fast TreeSHAP v2 idea, Yang 2021), evaluated
//! for blocks of rows so a tree's tables stay in cache.
//!
//! # Why this is exact
//! Fix one leaf with value `v` whose root path tests `d` distinct features `P` (a feature tested
//! several times is merged into one entry). For feature `j` let `z_j` be the product of the cover
//! ratios `count(child) / count(parent)` along the path at its splits, and `o_j` = 1 if the row
//! satisfies all of them, else 0. Path-dependent TreeSHAP attributes this leaf exactly as the
//! Shapley values of the game `f(S) = v * prod_{j in S} o_j * prod_{j in P\S} z_j`. Because every
//! `o_j` is 0 or 1, with `O = {j : o_j = 1}` and
//! `R(U) = sum_{S subset of U} w(|S|, d) * prod_{j in U\S} z_j` (`w(s, d) = s!(d-s-1)!/d!`) and
//! `Zc(U) = prod_{j in P\U} z_j`, the Shapley value of feature `i` reduces to
//!
//! * `i in O`:     `phi_i = (1 - z_i) * Zc(O) * v * R(O \ {i})`
//! * `i not in O`: `phi_i = -Zc(O) * v * R(O)` (the same for every failing feature).
//!
//! `R` and `Zc` depend only on the model, so they are tabulated once per leaf for all `2^d`
//! subsets (`TreeShapExplainer::new`); a row then costs, per leaf, one pass to find `O` (bit tests
//! against the row's split decisions) and `d` table reads: O(T L D) per row instead of the
//! reference's O(T L D^2), with no allocation. Linear TreeSHAP (Yu et al. 2022) reaches the same
//! per-row order without tables but needs polynomial arithmetic per node and has weaker numerics for
//! deep trees, so tables are used up to `MAX_TABLE_DEPTH` distinct features per leaf and the
//! reference recursion beyond (or for trees with more than 64 internal nodes).
//!
//! # Determinism
//! Every row is computed independently: trees in model order, leaves in index order, path features
//! in path order. Blocks and threads only decide which rows run together, so the output is
//! bit-identical for any thread count or row order.

use aml_models::{Tree, TreeEnsemble};
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use crate::error::ExplainError;
use crate::reference::{self, PathElement};

/// Largest number of distinct features on one root-to-leaf path that still gets a subset table
/// (`2^16` entries of 8 bytes = 512 KiB for that leaf). Deeper leaves use the reference recursion.
pub const MAX_TABLE_DEPTH: usize = 16;

/// Most rows explained together: the decisions of a tree are computed for the block, then every
/// leaf table is read once per block. The tables of a whole model do not fit in cache, so large
/// blocks amortise reading them (the block's contributions, 256 x (features + 1) doubles, stay in L2).
const BLOCK_ROWS: usize = 256;

/// How one tree is explained.
#[derive(Debug, Clone)]
enum TreePlan {
    /// A single leaf: it only adds to the expected value.
    Constant,
    /// Tabulated leaves `leaf_start..leaf_start + n_leaves` of `TreeShapExplainer::leaves`.
    Table { leaf_start: usize, n_leaves: usize },
    /// Too large to tabulate: the reference recursion.
    Reference,
}

/// Precomputed data of one leaf: its distinct path features and subset table.
#[derive(Debug, Clone, Copy)]
struct LeafPlan {
    /// Start of the leaf's entries in the `path_*` arrays.
    path_start: usize,
    /// Number of distinct path features `d`.
    path_len: usize,
    /// Start of the leaf's `2^d` entries in `table`.
    table_start: usize,
}

/// A model prepared for fast exact TreeSHAP; build once, then explain any number of rows.
///
/// ```
/// use aml_models::{MissingType, ObjectiveKind, Tree, TreeEnsemble};
/// use aml_explain::TreeShapExplainer;
/// let mut tree = Tree::constant(0.0, 4);
/// tree.split_feature = vec![1];
/// tree.split_gain = vec![2.0];
/// tree.threshold = vec![0.0];
/// tree.default_left = vec![true];
/// tree.missing_type = vec![MissingType::NaN];
/// tree.left_child = vec![-1];
/// tree.right_child = vec![-2];
/// tree.internal_value = vec![0.0];
/// tree.internal_weight = vec![4.0];
/// tree.internal_count = vec![4];
/// tree.leaf_value = vec![-0.5, 1.5];
/// tree.leaf_weight = vec![3.0, 1.0];
/// tree.leaf_count = vec![3, 1];
/// let model = TreeEnsemble {
///     trees: vec![tree],
///     base_score: 0.0,
///     feature_names: vec!["x0".into(), "x1".into()],
///     feature_infos: vec!["none".into(), "none".into()],
///     objective: ObjectiveKind::Regression,
/// };
/// let explainer = TreeShapExplainer::new(&model).unwrap();
/// let rows = ndarray::array![[0.0f64, 2.0], [5.0, f64::NAN]];
/// let phi = explainer.contributions(rows.view()).unwrap();
/// // expected value = 0.75 * -0.5 + 0.25 * 1.5 = 0; NaN follows the default (left) branch.
/// assert_eq!(phi.row(0).to_vec(), vec![0.0, 1.5, 0.0]);
/// assert_eq!(phi.row(1).to_vec(), vec![0.0, -0.5, 0.0]);
/// ```
#[derive(Debug, Clone)]
pub struct TreeShapExplainer {
    ensemble: TreeEnsemble,
    expected_value: f64,
    plans: Vec<TreePlan>,
    leaves: Vec<LeafPlan>,
    /// Feature index of each distinct path feature.
    path_feature: Vec<u32>,
    /// Internal nodes (bit per node) where the path tests this feature.
    path_mask: Vec<u64>,
    /// Of those nodes, the ones where the path goes left.
    path_want_left: Vec<u64>,
    /// `z_j` of each distinct path feature.
    path_zero: Vec<f64>,
    /// `1 - z_j` of each distinct path feature.
    path_one_minus_zero: Vec<f64>,
    /// Per leaf and subset `U` (bit `j` = path feature `j`): `v * R(U)`. `Zc(U)` is recomputed per
    /// row (d multiplications) rather than stored, halving the memory the hot loop streams.
    table: Vec<f64>,
    /// Scratch length the reference recursion needs for the deepest `Reference` tree.
    reference_buffer_len: usize,
}

/// Per-thread scratch of [`TreeShapExplainer::contributions_into`]; allocate once, reuse for every row.
#[derive(Debug, Clone)]
pub struct ShapScratch {
    rows: Vec<f64>,
    decisions: Vec<u64>,
    path: Vec<PathElement>,
}

/// Every node of a tree with splits must have a positive data count (cover).
fn check_covers(tree_index: usize, tree: &Tree) -> Result<(), ExplainError> {
    if tree.num_internal() == 0 {
        return Ok(());
    }
    if let Some(node) = tree.internal_count.iter().position(|&c| c == 0) {
        return Err(ExplainError::ZeroCover {
            tree: tree_index,
            kind: "internal node",
            node,
        });
    }
    if let Some(node) = tree.leaf_count.iter().position(|&c| c == 0) {
        return Err(ExplainError::ZeroCover {
            tree: tree_index,
            kind: "leaf",
            node,
        });
    }
    Ok(())
}

/// The distinct features on one root-to-leaf path, in order of first appearance.
#[derive(Default)]
struct LeafPath {
    feature: Vec<u32>,
    mask: Vec<u64>,
    want_left: Vec<u64>,
    zero: Vec<f64>,
}

/// Collects the merged path of every leaf (indexed by leaf) of a tree with at most 64 internal nodes.
fn leaf_paths(tree: &Tree) -> Vec<LeafPath> {
    let mut out: Vec<LeafPath> = (0..tree.num_leaves())
        .map(|_| LeafPath::default())
        .collect();
    // Depth-first walk carrying the path as (node, went_left) pairs.
    let mut stack: Vec<(i32, Vec<(usize, bool)>)> = vec![(0, Vec::new())];
    while let Some((node, path)) = stack.pop() {
        if node < 0 {
            let leaf = &mut out[(!node) as usize];
            for &(n, left) in &path {
                let f = tree.split_feature[n];
                let j = match leaf.feature.iter().position(|&g| g == f) {
                    Some(j) => j,
                    None => {
                        leaf.feature.push(f);
                        leaf.mask.push(0);
                        leaf.want_left.push(0);
                        leaf.zero.push(1.0);
                        leaf.feature.len() - 1
                    }
                };
                let child = if left {
                    tree.left_child[n]
                } else {
                    tree.right_child[n]
                };
                leaf.mask[j] |= 1u64 << n;
                if left {
                    leaf.want_left[j] |= 1u64 << n;
                }
                leaf.zero[j] *= reference::child_count(tree, child) / tree.internal_count[n] as f64;
            }
            continue;
        }
        let n = node as usize;
        for (child, left) in [(tree.right_child[n], false), (tree.left_child[n], true)] {
            let mut p = path.clone();
            p.push((n, left));
            stack.push((child, p));
        }
    }
    out
}

/// Appends the `2^d` entries `v * R(U)` of one leaf to `table`.
fn push_leaf_table(zero: &[f64], value: f64, table: &mut Vec<f64>) {
    let d = zero.len();
    let n = 1usize << d;
    // Shapley weights w(s, d) = s! (d - s - 1)! / d! for s = 0..d-1.
    let mut w = vec![0.0; d];
    w[0] = 1.0 / d as f64;
    for s in 1..d {
        w[s] = w[s - 1] * s as f64 / (d - s) as f64;
    }
    // Elementary symmetric polynomials of {z_j : j in U}, for every subset U.
    let width = d + 1;
    let mut esp = vec![0.0; n * width];
    esp[0] = 1.0;
    for u in 1..n {
        let j = u.trailing_zeros() as usize;
        let prev = u & (u - 1);
        let k = u.count_ones() as usize;
        let z = zero[j];
        esp[u * width] = 1.0;
        for m in 1..=k {
            esp[u * width + m] = esp[prev * width + m] + z * esp[prev * width + m - 1];
        }
    }
    for u in 0..n {
        let k = u.count_ones() as usize;
        // R(U) = sum_s w(s) e_{k-s}(U); |S| = d never occurs (S excludes the explained feature).
        let mut r = 0.0;
        for (s, &ws) in w.iter().enumerate().take(k + 1) {
            r += ws * esp[u * width + (k - s)];
        }
        table.push(value * r);
    }
}

impl TreeShapExplainer {
    /// Prepares `ensemble`: validates it, requires positive covers and tabulates every leaf.
    pub fn new(ensemble: &TreeEnsemble) -> Result<Self, ExplainError> {
        ensemble.validate().map_err(ExplainError::InvalidEnsemble)?;
        let mut ex = TreeShapExplainer {
            ensemble: ensemble.clone(),
            expected_value: reference::ensemble_expected_value(ensemble),
            plans: Vec::with_capacity(ensemble.trees.len()),
            leaves: Vec::new(),
            path_feature: Vec::new(),
            path_mask: Vec::new(),
            path_want_left: Vec::new(),
            path_zero: Vec::new(),
            path_one_minus_zero: Vec::new(),
            table: Vec::new(),
            reference_buffer_len: 0,
        };
        for (ti, tree) in ensemble.trees.iter().enumerate() {
            check_covers(ti, tree)?;
            let plan = ex.plan_tree(tree);
            if let TreePlan::Reference = plan {
                let len = reference::path_buffer_len(reference::max_depth(tree));
                ex.reference_buffer_len = ex.reference_buffer_len.max(len);
            }
            ex.plans.push(plan);
        }
        Ok(ex)
    }

    fn plan_tree(&mut self, tree: &Tree) -> TreePlan {
        if tree.num_internal() == 0 {
            return TreePlan::Constant;
        }
        if tree.num_internal() > 64 {
            return TreePlan::Reference;
        }
        let paths = leaf_paths(tree);
        if paths.iter().any(|p| p.feature.len() > MAX_TABLE_DEPTH) {
            return TreePlan::Reference;
        }
        let leaf_start = self.leaves.len();
        for (leaf, path) in paths.iter().enumerate() {
            self.leaves.push(LeafPlan {
                path_start: self.path_feature.len(),
                path_len: path.feature.len(),
                table_start: self.table.len(),
            });
            self.path_feature.extend_from_slice(&path.feature);
            self.path_mask.extend_from_slice(&path.mask);
            self.path_want_left.extend_from_slice(&path.want_left);
            self.path_zero.extend_from_slice(&path.zero);
            self.path_one_minus_zero
                .extend(path.zero.iter().map(|z| 1.0 - z));
            push_leaf_table(&path.zero, tree.leaf_value[leaf], &mut self.table);
        }
        TreePlan::Table {
            leaf_start,
            n_leaves: paths.len(),
        }
    }

    /// The model being explained.
    pub fn ensemble(&self) -> &TreeEnsemble {
        &self.ensemble
    }

    /// Number of input features (contribution rows have one more column: the expected value).
    pub fn num_features(&self) -> usize {
        self.ensemble.num_features()
    }

    /// The SHAP base value in raw space: `base_score` + sum over trees of the cover-weighted mean leaf value.
    pub fn expected_value(&self) -> f64 {
        self.expected_value
    }

    /// Bytes held by the precomputed subset tables (memory cost of the fast path).
    pub fn table_bytes(&self) -> usize {
        self.table.len() * std::mem::size_of::<f64>()
    }

    /// Number of trees explained by the reference recursion instead of tables.
    pub fn num_reference_trees(&self) -> usize {
        self.plans
            .iter()
            .filter(|p| matches!(p, TreePlan::Reference))
            .count()
    }

    /// Fresh scratch buffers for [`Self::contributions_into`] (one per thread).
    pub fn new_scratch(&self) -> ShapScratch {
        ShapScratch {
            rows: vec![0.0; BLOCK_ROWS * self.num_features()],
            decisions: vec![0; BLOCK_ROWS],
            path: vec![PathElement::default(); self.reference_buffer_len],
        }
    }

    /// SHAP values of one row into `out` (`num_features + 1` values, expected value last).
    ///
    /// Panics if `row` is shorter than `num_features` or `out` is not `num_features + 1` long:
    /// these are programming errors of the caller, checked by the batch API for you.
    pub fn contributions_into(&self, row: &[f64], out: &mut [f64], scratch: &mut ShapScratch) {
        let nf = self.num_features();
        assert!(
            row.len() >= nf,
            "row has {} values, model needs {nf}",
            row.len()
        );
        assert_eq!(out.len(), nf + 1, "output must have num_features + 1 slots");
        scratch.rows[..nf].copy_from_slice(&row[..nf]);
        self.explain_block(1, out, scratch);
    }

    /// Explains the first `nb` rows staged in `scratch.rows` into `out` (`nb` rows of `nf + 1`).
    fn explain_block(&self, nb: usize, out: &mut [f64], scratch: &mut ShapScratch) {
        let nf = self.num_features();
        let stride = nf + 1;
        out.fill(0.0);
        let ShapScratch {
            rows,
            decisions,
            path,
        } = scratch;
        for (tree, plan) in self.ensemble.trees.iter().zip(&self.plans) {
            match *plan {
                TreePlan::Constant => {}
                TreePlan::Reference => {
                    for r in 0..nb {
                        let row = &rows[r * nf..(r + 1) * nf];
                        let phi = &mut out[r * stride..r * stride + nf];
                        reference::tree_shap_into(tree, row, phi, path);
                    }
                }
                TreePlan::Table {
                    leaf_start,
                    n_leaves,
                } => {
                    for (r, dec) in decisions.iter_mut().enumerate().take(nb) {
                        let row = &rows[r * nf..(r + 1) * nf];
                        let mut bits = 0u64;
                        for (n, &f) in tree.split_feature.iter().enumerate() {
                            if tree.goes_left(n, row[f as usize]) {
                                bits |= 1u64 << n;
                            }
                        }
                        *dec = bits;
                    }
                    for leaf in &self.leaves[leaf_start..leaf_start + n_leaves] {
                        self.add_leaf(leaf, &decisions[..nb], out, stride);
                    }
                }
            }
        }
        for r in 0..nb {
            out[r * stride + nf] = self.expected_value;
        }
    }

    /// Adds one leaf's attributions to every row of the block (the hot loop).
    #[inline]
    fn add_leaf(&self, leaf: &LeafPlan, decisions: &[u64], out: &mut [f64], stride: usize) {
        let range = leaf.path_start..leaf.path_start + leaf.path_len;
        let features = &self.path_feature[range.clone()];
        let masks = &self.path_mask[range.clone()];
        let wants = &self.path_want_left[range.clone()];
        let zeros = &self.path_zero[range.clone()];
        let one_minus_zero = &self.path_one_minus_zero[range];
        let table = &self.table[leaf.table_start..leaf.table_start + (1usize << leaf.path_len)];
        for (r, &dec) in decisions.iter().enumerate() {
            // O (satisfied path features) and Zc(O) = product of z over the failing ones.
            let mut satisfied = 0usize;
            let mut zc = 1.0;
            // Branch-free: which way a row goes is unpredictable, mispredictions would dominate.
            for (j, ((&mask, &want), &z)) in masks.iter().zip(wants).zip(zeros).enumerate() {
                let pass = usize::from((dec ^ want) & mask == 0);
                satisfied |= pass << j;
                zc *= [z, 1.0][pass];
            }
            let vr = table[satisfied];
            let failing = -zc * vr;
            let phi = &mut out[r * stride..(r + 1) * stride];
            for (j, (&f, &omz)) in features.iter().zip(one_minus_zero).enumerate() {
                let bit = 1usize << j;
                let passing = omz * zc * table[satisfied ^ bit];
                phi[f as usize] += [failing, passing][(satisfied >> j) & 1];
            }
        }
    }

    /// SHAP values of every row of `x` (rows = samples, columns = model features), in parallel over
    /// rows with rayon. Returns `n_rows x (num_features + 1)`, expected value last (LightGBM
    /// `pred_contrib` layout). `f32` input is widened to `f64` exactly, as LightGBM does.
    pub fn contributions<T>(&self, x: ArrayView2<'_, T>) -> Result<Array2<f64>, ExplainError>
    where
        T: Copy + Into<f64> + Sync,
    {
        let nf = self.num_features();
        if x.ncols() != nf {
            return Err(ExplainError::FeatureCountMismatch {
                expected: nf,
                got: x.ncols(),
            });
        }
        let n = x.nrows();
        let stride = nf + 1;
        let mut out = vec![0.0; n * stride];
        // Enough blocks to keep every thread busy; block size never changes any row's result.
        let block_rows = n
            .div_ceil(2 * rayon::current_num_threads())
            .clamp(1, BLOCK_ROWS);
        out.par_chunks_mut(block_rows * stride)
            .enumerate()
            .for_each_init(
                || self.new_scratch(),
                |scratch, (block, chunk)| {
                    let first = block * block_rows;
                    let nb = chunk.len() / stride;
                    for r in 0..nb {
                        let src = x.row(first + r);
                        let dst = &mut scratch.rows[r * nf..(r + 1) * nf];
                        for (d, s) in dst.iter_mut().zip(src.iter()) {
                            *d = (*s).into();
                        }
                    }
                    self.explain_block(nb, chunk, scratch);
                },
            );
        Ok(Array2::from_shape_vec((n, stride), out).expect("shape matches buffer length"))
    }
}

/// SHAP values of every row of `x` for `ensemble` (LightGBM `pred_contrib` layout: `num_features`
/// columns then the expected value). Builds a [`TreeShapExplainer`] each call; keep one explainer
/// around when explaining repeatedly.
pub fn contributions<T>(
    ensemble: &TreeEnsemble,
    x: ArrayView2<'_, T>,
) -> Result<Array2<f64>, ExplainError>
where
    T: Copy + Into<f64> + Sync,
{
    TreeShapExplainer::new(ensemble)?.contributions(x)
}
