//! Fast prediction: compact layouts compiled from a [`TreeEnsemble`].
//!
//! # Row layout (single rows, fallback)
//!
//! All trees live in one `Vec<Node>`; each tree is stored in pre-order starting
//! at `roots[t]`. A `Node` is 16 bytes:
//!
//! | field   | bits | meaning                                                                 |
//! |---------|------|-------------------------------------------------------------------------|
//! | `value` | 64   | split threshold (internal node) or output (leaf)                        |
//! | `meta`  | 32   | bit 31 leaf, bit 30 NaN/default goes left, bit 29 exact path, bits 27-28 missing type, bits 0-26 feature |
//! | `right` | 32   | index of the right child; the left child is always the next node        |
//!
//! Pre-order puts the left child right after its parent, so one child index is
//! implicit and a whole 31-leaf tree (61 nodes, ~1 KB) fits in a few cache lines.
//!
//! Two node kinds beyond numerical splits and constant leaves take the exact path:
//! * a **categorical split** has missing-type code 3 (LightGBM uses 0-2) and `value`
//!   `c * 2^32 + set`: category set `set` of the tree's [`CategoricalSplits`] number `c`,
//!   tested with [`CategoricalSplits::contains`] after the `|x| <= ZERO_THRESHOLD -> 0` rule;
//! * a **linear leaf** (bit 30 on a leaf) computes [`LinearLeaves::output`] of leaf
//!   `meta & 0x7ff_ffff` of linear model `right`, with `value` (the leaf constant) as its
//!   NaN fall-back.
//!
//! # Batch layout (branch-free walk)
//!
//! A data-dependent branch per tree level is mispredicted about half the time, which
//! dominated batch prediction. Batches therefore use a second layout in which every
//! node is decided by one comparison and the walk has no branches:
//!
//! * **Slot rewrite.** Each row is first rewritten into *slot values*, one per
//!   (feature, missing-value rule) pair the trees use, so that `!(v <= threshold)`
//!   (true for NaN) is the "go right" decision of every node: NaN stays NaN where
//!   missing values go right, becomes `-inf` where they go left (`-inf <= t` for any
//!   non-NaN `t`, as for a real `-inf`), and for missing type `Zero` zero-like values
//!   are rewritten the same way. Slot 0 is the constant `0.0`.
//! * **Integer keys.** Slot values and thresholds are stored as order-preserving
//!   unsigned keys of their bits (`Lane`; NaN is the largest key, a NaN threshold
//!   key 0), so the decision is one integer compare `key > threshold_key`: integer
//!   loads and compares have a shorter latency than floating-point ones.
//! * **Nodes** (`LaneNode`, 8 bytes for `f32` input): threshold, slot, and the
//!   tree-relative index of the left child; trees are stored breadth-first so the
//!   right child is `child + 1` and the next index is `child + go_right`. A leaf
//!   points to itself through slot 0 (`key(0.0) > key(0.0)` is false), so running every row for the
//!   tree's maximum depth lands each one on its leaf without a branch.
//! * **Walk.** Per block of rows, trees outermost: `GROUP` rows walk a tree side by
//!   side so their independent loads overlap (the walk is bound by load latency), and
//!   the tree stays in L1. Slot values are stored lane-interleaved per group
//!   (`[group][slot][lane]`). The walk indexes without bounds checks; that is sound
//!   because `Lanes::in_bounds` checks every child and slot index once at build time
//!   (each tree ends with a padding node so a leaf's unused `child + 1` is in the tree).
//! * **`f32` input** is compared as `f32` keys against thresholds rounded down to the
//!   largest `f32 <= t`: for an `f32` value `x`, `x <= t` iff `x <= round_down(t)`,
//!   so decisions equal LightGBM's `f64` comparison and the nodes are half the size.
//!
//! The nodes the rewrite cannot express, categorical splits and a NaN threshold whose
//! missing values go left (which LightGBM never writes), send their tree to the row layout's
//! walk for every row of the block (`LaneTree::Scalar`). A linear tree walks branch-free to
//! its leaves, then evaluates each row's leaf model (`LaneTree::LinearWalk`).
//!
//! # Exactness
//!
//! Decisions reproduce LightGBM's dense prediction path bit for bit: inputs are
//! widened to `f64` (an `f32` input is compared as the `f64` it converts to, like
//! LightGBM), values with `|x| <= ZERO_THRESHOLD` count as `0.0`, missing values
//! follow the node's rule, then `x <= threshold`. For the common missing types
//! (`None`, `NaN`) this is folded at compile time into one comparison: the
//! threshold is nudged out of `(-ZERO_THRESHOLD, ZERO_THRESHOLD)` so tiny
//! inputs need no test, and a NaN input lands on the correct side by choosing
//! `x <= t` (NaN goes right) or `!(x > t)` (NaN goes left). Nodes with missing
//! type `Zero` take an exact slow path in the row layout, which calls
//! [`numerical_goes_left`], the rule [`Tree::goes_left`] applies.
//!
//! [`Tree::leaf_index`] (the walk [`Tree::leaf_by`] with [`Tree::goes_left`]) is the reference;
//! both layouts here are fast paths, proved equal to it bit for bit by the tests
//! (`tests/random_lightgbm_trees.rs` on every path with `f32` and `f64` input, the LightGBM zoo
//! and conformance fixtures, and this module's edge-value tests).
//!
//! # Precision of the inputs
//!
//! `f64` input is never narrowed: the batch layout compares `u64` keys of the `f64` slot
//! values with `u64` keys of the `f64` thresholds, the row layout compares `f64` with `f64`, so a
//! value between a threshold and its `f32` rounding (`1.649` against `1.6490000000000002`) goes
//! the way LightGBM sends it. Only [`FeatureValue::EXACT_F32`] input (`f32`) uses the `u32` keys.
//! The miner is `f32` end to end: aml-features builds `f32` matrices, aml-train learns its
//! thresholds from those `f32` values and the `Model` trait scores the same `f32` matrices.
//!
//! # Classes and averaging
//!
//! A multiclass model (`num_class` K > 1) has K raw scores per row: tree `t` adds to class
//! `t % K`. The per-class methods (`predict_raw_classes`, `predict_classes`,
//! `predict_raw_row_classes`) return them for every model (one column for single-output
//! models); the single-score methods (`predict_raw`, `predict`, `predict_row`, ...) refuse a
//! multiclass model with [`PredictError::MultipleClasses`] instead of answering for class 0.
//! With `average_output` (random forest) the raw score is the plain sum, like LightGBM's
//! `raw_score`; predictions divide it by the number of iterations, then transform (softmax
//! across classes for multiclass, a sigmoid per class for multiclassova), as
//! [`TreeEnsemble::transform_classes`] does.
//!
//! # Order of summation
//!
//! Every row's raw score of class `c` is `base_score + tree_c + tree_{c+K} + ...` added in
//! tree order, whatever the batch size, layout or thread count, so batch, parallel and
//! single-row results are bit-identical.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::tree::{
    fold_zero, numerical_goes_left, CategoricalSplits, LinearLeaves, MissingType, OutputTransform,
    Tree, TreeEnsemble, ZERO_THRESHOLD,
};

/// Errors raised when building a predictor or predicting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PredictError {
    /// The input has a different number of features than the model.
    #[error("feature count mismatch: model expects {expected} features, input has {got}")]
    FeatureCountMismatch {
        /// Features the model was trained on.
        expected: usize,
        /// Features in the input.
        got: usize,
    },
    /// The ensemble is structurally invalid.
    #[error("invalid ensemble: {0}")]
    InvalidEnsemble(String),
    /// The ensemble exceeds the compact layout's limits.
    #[error("ensemble too large for the compact layout: {0}")]
    TooLarge(String),
    /// A single-score prediction was asked of a multiclass model.
    #[error(
        "the model has {num_class} classes (one raw score per class): use the per-class \
         predictions (predict_raw_classes, predict_classes, predict_raw_row_classes)"
    )]
    MultipleClasses {
        /// Classes of the model.
        num_class: usize,
    },
    /// The buffer for one row's class scores has the wrong length.
    #[error("class count mismatch: model has {expected} classes, output buffer holds {got}")]
    ClassCountMismatch {
        /// Classes of the model.
        expected: usize,
        /// Length of the buffer.
        got: usize,
    },
}

/// An input scalar type: widened to `f64` exactly before comparing, as LightGBM does.
pub trait FeatureValue: Copy + Send + Sync + Into<f64> {
    /// Whether every value of the type is exactly an `f32`: batch prediction then compares in
    /// `f32` (half the bytes per threshold) with thresholds rounded down, which decides the same.
    const EXACT_F32: bool = false;

    /// The exact `f64` value.
    fn to_f64(self) -> f64;
}

impl FeatureValue for f32 {
    const EXACT_F32: bool = true;

    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl FeatureValue for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

const LEAF: u32 = 1 << 31;
const NAN_LEFT: u32 = 1 << 30;
/// On a leaf: the output is a linear model (`right` indexes `Predictor::linear`, bits 0-26 are
/// the leaf's index in its tree) with the leaf's constant as NaN fall-back.
const LINEAR_LEAF: u32 = 1 << 30;
const EXACT: u32 = 1 << 29;
const MISSING_SHIFT: u32 = 27;
/// Missing-type code (bits 27-28, next to LightGBM's 0-2) of a categorical node: its `value` is
/// `categorical_index * 2^32 + set`.
const CATEGORICAL: u32 = 3;
const FEATURE_MASK: u32 = (1 << MISSING_SHIFT) - 1;
/// One more than the trees with categorical splits the row layout addresses.
const MAX_CATEGORICAL_TREES: usize = 1 << 21;
/// Largest number of features the layout can address.
pub const MAX_FEATURES: usize = FEATURE_MASK as usize + 1;

/// One node of the compact layout (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
struct Node {
    value: f64,
    meta: u32,
    right: u32,
}

/// Rows predicted together per tree pass: the tree stays in L1 while the block's rows go through it.
const BLOCK_ROWS: usize = 64;

/// An ensemble compiled into the compact layout, ready to predict.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictor {
    nodes: Vec<Node>,
    roots: Vec<u32>,
    base_score: f64,
    num_features: usize,
    /// Raw scores per row; tree `t` adds to class `t % num_class`.
    num_class: usize,
    /// The raw score is divided by this before the transform (iterations for `average_output`).
    divisor: f64,
    transform: OutputTransform,
    /// Category sets of the trees with categorical nodes.
    categorical: Vec<CategoricalSplits>,
    /// Leaf models of the linear trees.
    linear: Vec<LinearLeaves>,
    /// The branch-free batch layout; `None` if the ensemble needs more slots than it addresses.
    lanes: Option<Lanes>,
}

/// The threshold to compare against once inputs with `|x| <= ZERO_THRESHOLD` are known to be `0.0`.
fn zero_folded_threshold(t: f64) -> f64 {
    if (-ZERO_THRESHOLD..ZERO_THRESHOLD).contains(&t) {
        if t >= 0.0 {
            // Everything up to +ZERO_THRESHOLD (zeroed or not) goes left.
            ZERO_THRESHOLD
        } else {
            // Only values below -ZERO_THRESHOLD go left: the next double below it.
            f64::from_bits((-ZERO_THRESHOLD).to_bits() + 1)
        }
    } else {
        t
    }
}

impl Predictor {
    /// Compiles an ensemble; fails on an invalid ensemble instead of panicking later.
    pub fn new(ensemble: &TreeEnsemble) -> Result<Self, PredictError> {
        ensemble.validate().map_err(PredictError::InvalidEnsemble)?;
        let num_features = ensemble.num_features();
        if num_features > MAX_FEATURES {
            return Err(PredictError::TooLarge(format!(
                "{num_features} features (max {MAX_FEATURES})"
            )));
        }
        let total: usize = ensemble.trees.iter().map(|t| 2 * t.num_leaves() - 1).sum();
        if total > u32::MAX as usize {
            return Err(PredictError::TooLarge(format!("{total} nodes")));
        }
        if let Some(big) = ensemble
            .trees
            .iter()
            .find(|t| t.linear.is_some() && t.num_leaves() > FEATURE_MASK as usize)
        {
            return Err(PredictError::TooLarge(format!(
                "a linear tree with {} leaves",
                big.num_leaves()
            )));
        }
        // A categorical node's `value` is `c * 2^32 + set`, exact in an f64 while `c < 2^21`.
        let categorical_trees = ensemble
            .trees
            .iter()
            .filter(|t| t.categorical.is_some())
            .count();
        if categorical_trees >= MAX_CATEGORICAL_TREES {
            return Err(PredictError::TooLarge(format!(
                "{categorical_trees} trees with categorical splits (max {})",
                MAX_CATEGORICAL_TREES - 1
            )));
        }
        let mut nodes = Vec::with_capacity(total);
        let mut roots = Vec::with_capacity(ensemble.trees.len());
        let mut categorical = Vec::new();
        let mut linear = Vec::new();
        // (LightGBM child reference, index of the parent whose `right` must point here)
        let mut stack: Vec<(i32, Option<usize>)> = Vec::new();
        for tree in &ensemble.trees {
            roots.push(nodes.len() as u32);
            let leaf_node = |leaf: usize| match &tree.linear {
                Some(_) => Node {
                    value: tree.leaf_value[leaf],
                    meta: LEAF | LINEAR_LEAF | leaf as u32,
                    right: linear.len() as u32,
                },
                None => Node {
                    value: tree.leaf_value[leaf],
                    meta: LEAF,
                    right: 0,
                },
            };
            // The categorical sets of this tree, if any: entry `categorical.len()` once pushed.
            let cat_index = categorical.len() as u64;
            if tree.num_internal() == 0 {
                nodes.push(leaf_node(0));
            }
            if tree.num_internal() > 0 {
                stack.push((0, None));
            }
            while let Some((child, patch)) = stack.pop() {
                let here = nodes.len();
                if let Some(p) = patch {
                    nodes[p].right = here as u32;
                }
                if child < 0 {
                    nodes.push(leaf_node((!child) as usize));
                    continue;
                }
                let i = child as usize;
                let t = tree.threshold[i];
                let missing = tree.missing_type[i];
                let mut meta = tree.split_feature[i] | (u32::from(missing.code()) << MISSING_SHIFT);
                let value = if tree.is_categorical(i) {
                    // `validate` checked that `t` names one of the tree's sets.
                    meta = tree.split_feature[i] | EXACT | (CATEGORICAL << MISSING_SHIFT);
                    (cat_index * (1 << 32) + t as u64) as f64
                } else if missing == MissingType::Zero || t.is_nan() {
                    meta |= EXACT;
                    if tree.default_left[i] {
                        meta |= NAN_LEFT;
                    }
                    t
                } else {
                    let nan_left = match missing {
                        MissingType::NaN => tree.default_left[i],
                        // NaN is read as 0.0, which goes left iff 0 <= t.
                        _ => 0.0 <= t,
                    };
                    if nan_left {
                        meta |= NAN_LEFT;
                    }
                    zero_folded_threshold(t)
                };
                nodes.push(Node {
                    value,
                    meta,
                    right: 0,
                });
                stack.push((tree.right_child[i], Some(here)));
                stack.push((tree.left_child[i], None));
            }
            if let Some(c) = &tree.categorical {
                categorical.push(c.clone());
            }
            if let Some(l) = &tree.linear {
                linear.push(l.clone());
            }
        }
        let lanes = Lanes::new(ensemble, &roots);
        Ok(Predictor {
            nodes,
            roots,
            lanes,
            base_score: ensemble.base_score,
            num_features,
            num_class: ensemble.num_class(),
            divisor: ensemble.output_divisor(),
            transform: ensemble.objective.transform(),
            categorical,
            linear,
        })
    }

    /// Number of input features expected.
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// Number of trees.
    pub fn num_trees(&self) -> usize {
        self.roots.len()
    }

    /// Raw scores per row: the number of classes (1 except for multiclass models).
    pub fn num_class(&self) -> usize {
        self.num_class
    }

    /// The prediction for the raw score of a single-output model: divided by the number of
    /// iterations for `average_output` (random forest), then the output transform (sigmoid for
    /// binary). Like [`TreeEnsemble::transform`].
    #[inline]
    pub fn transform(&self, raw: f64) -> f64 {
        if self.divisor == 1.0 {
            self.transform.apply(raw)
        } else {
            self.transform.apply(raw / self.divisor)
        }
    }

    /// The predictions for one row's raw class scores, in place: averaged for `average_output`,
    /// then softmax across the classes (multiclass) or the per-score transform (sigmoid per
    /// class for multiclassova). Like [`TreeEnsemble::transform_classes`].
    pub fn transform_classes(&self, raw: &mut [f64]) {
        if self.divisor != 1.0 {
            raw.iter_mut().for_each(|v| *v /= self.divisor);
        }
        self.transform.apply_classes(raw);
    }

    fn check_features(&self, got: usize) -> Result<(), PredictError> {
        if got == self.num_features {
            Ok(())
        } else {
            Err(PredictError::FeatureCountMismatch {
                expected: self.num_features,
                got,
            })
        }
    }

    /// The single-score paths refuse multiclass models rather than answer for class 0.
    fn check_single_output(&self) -> Result<(), PredictError> {
        if self.num_class == 1 {
            Ok(())
        } else {
            Err(PredictError::MultipleClasses {
                num_class: self.num_class,
            })
        }
    }

    /// Output of the tree rooted at `root` for `row` (`row.len() == num_features` is checked by callers).
    ///
    /// `!(x > t)` is deliberate: unlike `x <= t` it is true for NaN, which sends NaN left.
    #[inline(always)]
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    fn tree_output<T: FeatureValue>(&self, root: usize, row: &[T]) -> f64 {
        let nodes = &self.nodes[..];
        let mut i = root;
        loop {
            let n = nodes[i];
            if n.meta & LEAF != 0 {
                if n.meta & LINEAR_LEAF != 0 {
                    return self.linear_output(n, row);
                }
                return n.value;
            }
            let x = row[(n.meta & FEATURE_MASK) as usize].to_f64();
            let left = if n.meta & EXACT == 0 {
                if n.meta & NAN_LEFT != 0 {
                    !(x > n.value)
                } else {
                    x <= n.value
                }
            } else if (n.meta >> MISSING_SHIFT) & 3 == CATEGORICAL {
                self.categorical_goes_left(n, x)
            } else {
                exact_goes_left(n, x)
            };
            i = if left { i + 1 } else { n.right as usize };
        }
    }

    /// LightGBM's categorical decision at a categorical node (see [`CategoricalSplits::contains`]).
    #[inline]
    fn categorical_goes_left(&self, n: Node, x: f64) -> bool {
        let at = n.value as u64;
        self.categorical[(at >> 32) as usize]
            .contains((at & u64::from(u32::MAX)) as usize, fold_zero(x))
    }

    /// The linear model of a linear leaf (its constant when one of its features is NaN).
    #[inline(never)]
    fn linear_output<T: FeatureValue>(&self, n: Node, row: &[T]) -> f64 {
        let leaf = (n.meta & FEATURE_MASK) as usize;
        self.linear[n.right as usize].output(leaf, row, n.value)
    }

    /// Adds every tree's output to the raw class scores in `out` (`out.len() == num_class`).
    #[inline]
    fn add_trees<T: FeatureValue>(&self, row: &[T], out: &mut [f64]) {
        out.fill(self.base_score);
        if self.num_class == 1 {
            for &r in &self.roots {
                out[0] += self.tree_output(r as usize, row);
            }
        } else {
            for (t, &r) in self.roots.iter().enumerate() {
                out[t % self.num_class] += self.tree_output(r as usize, row);
            }
        }
    }

    /// Raw score of one row (`f32` or `f64` values) of a single-output model.
    pub fn predict_raw_row<T: FeatureValue>(&self, row: &[T]) -> Result<f64, PredictError> {
        self.check_features(row.len())?;
        self.check_single_output()?;
        let mut s = [0.0];
        self.add_trees(row, &mut s);
        Ok(s[0])
    }

    /// Transformed prediction of one row (probability for binary models) of a single-output model.
    pub fn predict_row<T: FeatureValue>(&self, row: &[T]) -> Result<f64, PredictError> {
        self.predict_raw_row(row).map(|r| self.transform(r))
    }

    /// Raw score of every class for one row into `out` (`out.len() == num_class()`); works for
    /// every model (one class for single-output models).
    pub fn predict_raw_row_classes<T: FeatureValue>(
        &self,
        row: &[T],
        out: &mut [f64],
    ) -> Result<(), PredictError> {
        self.check_features(row.len())?;
        if out.len() != self.num_class {
            return Err(PredictError::ClassCountMismatch {
                expected: self.num_class,
                got: out.len(),
            });
        }
        self.add_trees(row, out);
        Ok(())
    }

    /// Raw class scores of a block of contiguous row-major rows, trees outermost
    /// (`out.len() == rows * num_class`, row-major).
    fn block_raw<T: FeatureValue>(&self, rows: &[T], out: &mut [f64]) {
        match &self.lanes {
            Some(lanes) if T::EXACT_F32 => self.block_lanes(lanes, &lanes.n32, rows, out),
            Some(lanes) => self.block_lanes(lanes, &lanes.n64, rows, out),
            None => self.block_scalar(rows, out),
        }
    }

    /// [`Predictor::block_raw`] with the branch-free layout: rows are rewritten into slot
    /// values once, then every tree walks `GROUP` rows at a time, adding to each row in tree order.
    fn block_lanes<T: FeatureValue, C: Lane>(
        &self,
        lanes: &Lanes,
        nodes: &LaneNodes<C>,
        rows: &[T],
        out: &mut [f64],
    ) {
        let nf = self.num_features;
        let ns = lanes.num_slots();
        let k = self.num_class;
        let n = out.len() / k;
        let groups = n.div_ceil(GROUP);
        // Slot values lane-interleaved per group (`[group][slot][lane]`), so one slot index
        // addresses all rows of a group; a short last group is padded with zeros, walked and dropped.
        let mut slots = vec![C::default(); groups * ns * GROUP];
        let mut row_slots = vec![C::default(); ns];
        for r in 0..n {
            lanes.fill_slots(&rows[r * nf..(r + 1) * nf], &mut row_slots);
            let group = &mut slots[(r / GROUP) * ns * GROUP..][..ns * GROUP];
            for (s, &v) in row_slots.iter().enumerate() {
                group[s * GROUP + r % GROUP] = v;
            }
        }
        // `acc[g * k + class]`: the scores of class `class` for the rows of group `g`.
        let mut acc = vec![[self.base_score; GROUP]; groups * k];
        for (t, tree) in lanes.trees.iter().enumerate() {
            let class = t % k;
            match *tree {
                LaneTree::Walk { base, len, depth } => {
                    let range = base as usize..(base + len) as usize;
                    let (tree_nodes, leaf) = (&nodes.nodes[range.clone()], &lanes.leaf[range]);
                    for (g, a) in acc.iter_mut().skip(class).step_by(k).enumerate() {
                        let s = &slots[g * ns * GROUP..(g + 1) * ns * GROUP];
                        // SAFETY: `tree_nodes` is one tree of a layout `Lanes::in_bounds` checked,
                        // `leaf` is as long, and `s` is exactly one group's `ns * GROUP` slots.
                        unsafe { walk_group(tree_nodes, leaf, depth, s, a) };
                    }
                }
                LaneTree::LinearWalk {
                    base,
                    len,
                    depth,
                    model,
                } => {
                    let range = base as usize..(base + len) as usize;
                    let tree_nodes = &nodes.nodes[range.clone()];
                    let (leaf, leaf_id) = (&lanes.leaf[range.clone()], &lanes.leaf_id[range]);
                    let linear = &self.linear[model as usize];
                    for (g, a) in acc.iter_mut().skip(class).step_by(k).enumerate() {
                        let s = &slots[g * ns * GROUP..(g + 1) * ns * GROUP];
                        // SAFETY: as for `walk_group` above: a checked tree, one group's slots.
                        let idx = unsafe { walk_to_leaves(tree_nodes, depth, s) };
                        // Padding rows of a short last group are not rows: skip them.
                        let rows_here = (n - g * GROUP).min(GROUP);
                        for (l, (o, &i)) in a.iter_mut().zip(&idx).take(rows_here).enumerate() {
                            let r = g * GROUP + l;
                            let row = &rows[r * nf..(r + 1) * nf];
                            *o += linear.output(leaf_id[i] as usize, row, leaf[i]);
                        }
                    }
                }
                LaneTree::Scalar { root } => {
                    for r in 0..n {
                        acc[(r / GROUP) * k + class][r % GROUP] +=
                            self.tree_output(root as usize, &rows[r * nf..(r + 1) * nf]);
                    }
                }
            }
        }
        for (r, o) in out.chunks_exact_mut(k).enumerate() {
            for (class, o) in o.iter_mut().enumerate() {
                *o = acc[(r / GROUP) * k + class][r % GROUP];
            }
        }
    }

    /// [`Predictor::block_raw`] with the compact layout, one row after the other.
    fn block_scalar<T: FeatureValue>(&self, rows: &[T], out: &mut [f64]) {
        let nf = self.num_features;
        let k = self.num_class;
        out.fill(self.base_score);
        for (t, &r) in self.roots.iter().enumerate() {
            let class = t % k;
            for (i, o) in out.iter_mut().skip(class).step_by(k).enumerate() {
                *o += self.tree_output(r as usize, &rows[i * nf..(i + 1) * nf]);
            }
        }
    }

    /// Raw class scores for rows `start..` of `x` into `out` (`rows * num_class` values).
    fn chunk_raw<T: FeatureValue>(&self, x: &ArrayView2<'_, T>, start: usize, out: &mut [f64]) {
        let rows = out.len() / self.num_class;
        let view = x.slice(ndarray::s![start..start + rows, ..]);
        match view.as_slice() {
            Some(rows) => self.block_raw(rows, out),
            None => {
                let copy: Vec<T> = view.iter().copied().collect();
                self.block_raw(&copy, out);
            }
        }
    }

    /// Raw class scores of every row, row-major (`nrows * num_class`), in parallel over row
    /// blocks (rayon's current pool) or on the calling thread.
    fn raw_all<T: FeatureValue>(
        &self,
        x: ArrayView2<'_, T>,
        parallel: bool,
    ) -> Result<Vec<f64>, PredictError> {
        self.check_features(x.len_of(Axis(1)))?;
        let k = self.num_class;
        let mut out = vec![0.0; x.nrows() * k];
        if parallel {
            out.par_chunks_mut(BLOCK_ROWS * k)
                .enumerate()
                .for_each(|(b, chunk)| self.chunk_raw(&x, b * BLOCK_ROWS, chunk));
        } else {
            for (b, chunk) in out.chunks_mut(BLOCK_ROWS * k).enumerate() {
                self.chunk_raw(&x, b * BLOCK_ROWS, chunk);
            }
        }
        Ok(out)
    }

    /// Raw scores for every row of a single-output model, in parallel over row blocks (rayon's
    /// current pool).
    ///
    /// Bit-identical to [`Predictor::predict_raw_sequential`].
    pub fn predict_raw<T: FeatureValue>(
        &self,
        x: ArrayView2<'_, T>,
    ) -> Result<Vec<f64>, PredictError> {
        self.check_single_output()?;
        self.raw_all(x, true)
    }

    /// Raw scores for every row of a single-output model on the calling thread only.
    pub fn predict_raw_sequential<T: FeatureValue>(
        &self,
        x: ArrayView2<'_, T>,
    ) -> Result<Vec<f64>, PredictError> {
        self.check_single_output()?;
        self.raw_all(x, false)
    }

    /// Transformed predictions for every row of a single-output model, in parallel.
    pub fn predict<T: FeatureValue>(&self, x: ArrayView2<'_, T>) -> Result<Vec<f64>, PredictError> {
        let mut out = self.predict_raw(x)?;
        out.par_iter_mut().for_each(|v| *v = self.transform(*v));
        Ok(out)
    }

    /// Raw score of every class for every row (`nrows x num_class`), in parallel; for a
    /// single-output model the one column equals [`Predictor::predict_raw`].
    pub fn predict_raw_classes<T: FeatureValue>(
        &self,
        x: ArrayView2<'_, T>,
    ) -> Result<Array2<f64>, PredictError> {
        self.raw_classes(x, true)
    }

    /// [`Predictor::predict_raw_classes`] on the calling thread only (bit-identical).
    pub fn predict_raw_classes_sequential<T: FeatureValue>(
        &self,
        x: ArrayView2<'_, T>,
    ) -> Result<Array2<f64>, PredictError> {
        self.raw_classes(x, false)
    }

    fn raw_classes<T: FeatureValue>(
        &self,
        x: ArrayView2<'_, T>,
        parallel: bool,
    ) -> Result<Array2<f64>, PredictError> {
        let n = x.nrows();
        let out = self.raw_all(x, parallel)?;
        Ok(Array2::from_shape_vec((n, self.num_class), out).expect("n x num_class scores"))
    }

    /// Predictions of every class for every row (`nrows x num_class`): the raw scores averaged
    /// for `average_output`, then softmax (multiclass) or the per-class transform
    /// ([`Predictor::transform_classes`]).
    pub fn predict_classes<T: FeatureValue>(
        &self,
        x: ArrayView2<'_, T>,
    ) -> Result<Array2<f64>, PredictError> {
        let mut out = self.predict_raw_classes(x)?;
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .for_each(|mut row| {
                self.transform_classes(row.as_slice_mut().expect("standard layout"))
            });
        Ok(out)
    }
}

/// The largest `f32 <= t` (NaN stays NaN): for an `f32` value `x`, `x <= t` iff `x <= round_down_f32(t)`.
fn round_down_f32(t: f64) -> f32 {
    let r = t as f32;
    if f64::from(r) > t {
        // Rounded up: step to the next f32 below (never NaN or -inf here, since r > t).
        if r == 0.0 {
            -f32::from_bits(1)
        } else if r > 0.0 {
            f32::from_bits(r.to_bits() - 1)
        } else {
            f32::from_bits(r.to_bits() + 1)
        }
    } else {
        r
    }
}

/// An order-preserving integer key of the batch layout: `u32` for `f32` input, `u64` otherwise.
///
/// Keys of non-NaN values order like the floats except that `-0.0 < +0.0`, which never
/// matters: thresholds compared with zero-like values are folded away from zero, and slots of
/// missing type `Zero` never hold a zero. Integer loads and compares have a shorter latency
/// than floating-point ones, and the walk is latency-bound.
trait Lane: Copy + Ord + Default + Send + Sync + std::fmt::Debug {
    /// Key of `-inf`: the smallest key of a number.
    const NEG_INFINITY: Self;
    /// Key of NaN: above every number's key, so NaN goes right everywhere.
    const NAN: Self;
    /// Key of a non-NaN value, exactly representable in this precision.
    fn key(v: f64) -> Self;
    /// Key of a threshold: `key(x) > threshold(t)` iff `!(x <= t)` for every value `x` of this
    /// precision (NaN included); a NaN threshold sends everything right.
    fn threshold(t: f64) -> Self;
}

impl Lane for u64 {
    const NEG_INFINITY: Self = !f64::NEG_INFINITY.to_bits();
    const NAN: Self = u64::MAX;
    #[inline(always)]
    fn key(v: f64) -> Self {
        let b = v.to_bits();
        if b >> 63 == 1 {
            !b
        } else {
            b | 1 << 63
        }
    }
    fn threshold(t: f64) -> Self {
        if t.is_nan() {
            0
        } else {
            Self::key(t)
        }
    }
}

impl Lane for u32 {
    const NEG_INFINITY: Self = !f32::NEG_INFINITY.to_bits();
    const NAN: Self = u32::MAX;
    #[inline(always)]
    fn key(v: f64) -> Self {
        let b = (v as f32).to_bits();
        if b >> 31 == 1 {
            !b
        } else {
            b | 1 << 31
        }
    }
    fn threshold(t: f64) -> Self {
        if t.is_nan() {
            0
        } else {
            Self::key(f64::from(round_down_f32(t)))
        }
    }
}

/// How a feature value is rewritten into a slot before the branch-free walk, so that one
/// comparison `!(v <= threshold)` (true for NaN) decides every node, missing values included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum SlotKind {
    /// The value as is: NaN goes right (`!(NaN <= t)`). Missing types None/NaN, NaN going right.
    Plain,
    /// NaN becomes -inf, which goes left at every non-NaN threshold, as does a real -inf.
    NanLow,
    /// NaN and zero-like values become -inf (missing type Zero, default left).
    ZeroLow,
    /// NaN and zero-like values become NaN (missing type Zero, default right).
    ZeroHigh,
}

/// One node of the branch-free layout: 8 bytes for `f32` lanes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LaneNode<C> {
    /// Threshold key: go right iff the slot key is above it.
    thr: C,
    /// Index into the row's slot keys; slot 0 is the key of the constant 0.0 (leaves).
    slot: u16,
    /// Tree-relative index of the left child; the right child is `child + 1`. A leaf points to itself.
    child: u16,
}

/// The nodes of every lane-compiled tree in one precision.
#[derive(Debug, Clone, PartialEq)]
struct LaneNodes<C> {
    nodes: Vec<LaneNode<C>>,
}

/// A tree as the batch kernel runs it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum LaneTree {
    /// Branch-free walk: nodes `base..base + len`, `depth` steps reach every leaf. The last
    /// node is padding (see [`Lanes::in_bounds`]).
    Walk { base: u32, len: u32, depth: u32 },
    /// A branch-free walk to the leaves of a linear tree, whose output is then leaf model
    /// `Lanes::leaf_id[node]` of `Predictor::linear[model]` on the row's values.
    LinearWalk {
        base: u32,
        len: u32,
        depth: u32,
        model: u32,
    },
    /// A node the slot rewrite cannot express (a categorical split, or a NaN threshold with
    /// missing values going left): the scalar walk of the compact layout from this root.
    Scalar { root: u32 },
}

/// The batch layout: slot rewrite plus branch-free trees (see the module docs).
#[derive(Debug, Clone, PartialEq)]
struct Lanes {
    /// Features of slots `1..`, grouped by kind; slot 0 is the constant 0.0.
    slot_features: Vec<u32>,
    /// `kind_end[k]`: one past the last slot of kind `k` (in `SlotKind` order).
    kind_end: [usize; 4],
    trees: Vec<LaneTree>,
    /// Leaf value per node of `n32`/`n64` (0.0 for internal nodes).
    leaf: Vec<f64>,
    /// Index of the leaf in its tree, per node of `n32`/`n64` (0 for internal nodes).
    leaf_id: Vec<u32>,
    n32: LaneNodes<u32>,
    n64: LaneNodes<u64>,
}

/// Most slots the `u16` slot index can address.
const MAX_SLOTS: usize = u16::MAX as usize + 1;
/// Most nodes a tree may have for the `u16` child index.
const MAX_LANE_TREE_NODES: usize = u16::MAX as usize;

/// Slot kind and threshold for LightGBM internal node `i`, or `None` if not expressible.
fn lane_split(tree: &Tree, i: usize) -> Option<(SlotKind, f64)> {
    if tree.is_categorical(i) {
        // Category sets are not one comparison: the tree takes the row layout's walk.
        return None;
    }
    let t = tree.threshold[i];
    let dl = tree.default_left[i];
    let (missing_left, kind_left, kind_right) = match tree.missing_type[i] {
        // NaN is read as 0.0; zero-like inputs act as 0.0 thanks to the folded threshold.
        MissingType::None => (0.0 <= t, SlotKind::NanLow, SlotKind::Plain),
        MissingType::NaN => (dl, SlotKind::NanLow, SlotKind::Plain),
        MissingType::Zero => (dl, SlotKind::ZeroLow, SlotKind::ZeroHigh),
    };
    if missing_left && t.is_nan() {
        // Nothing compares `<= NaN`: a missing value cannot be sent left by the rewrite.
        return None;
    }
    let kind = if missing_left { kind_left } else { kind_right };
    // Missing type Zero compares non-zero inputs with the raw threshold; the others fold it.
    let thr = if kind_left == SlotKind::ZeroLow {
        t
    } else {
        zero_folded_threshold(t)
    };
    Some((kind, thr))
}

impl Lanes {
    /// Compiles the batch layout; `None` when the ensemble needs more slots than `u16` addresses.
    fn new(ensemble: &TreeEnsemble, roots: &[u32]) -> Option<Self> {
        use std::collections::BTreeMap;
        // Every (kind, feature) pair any node reads gets a slot.
        let mut pairs = BTreeMap::new();
        for tree in &ensemble.trees {
            for i in 0..tree.num_internal() {
                if let Some((kind, _)) = lane_split(tree, i) {
                    pairs.insert((kind, tree.split_feature[i]), 0u16);
                }
            }
        }
        if pairs.len() + 1 > MAX_SLOTS {
            return None;
        }
        let mut slot_features = Vec::with_capacity(pairs.len());
        let mut kind_end = [1usize; 4];
        for (n, ((kind, f), slot)) in pairs.iter_mut().enumerate() {
            *slot = (n + 1) as u16;
            slot_features.push(*f);
            kind_end[*kind as usize] = n + 2;
        }
        for k in 1..4 {
            kind_end[k] = kind_end[k].max(kind_end[k - 1]);
        }
        let mut lanes = Lanes {
            slot_features,
            kind_end,
            trees: Vec::with_capacity(ensemble.trees.len()),
            leaf: Vec::new(),
            leaf_id: Vec::new(),
            n32: LaneNodes { nodes: Vec::new() },
            n64: LaneNodes { nodes: Vec::new() },
        };
        // Linear trees in order: their index in `Predictor::linear`.
        let mut linear_models = 0u32;
        for (tree, &root) in ensemble.trees.iter().zip(roots) {
            let model = tree.linear.as_ref().map(|_| {
                linear_models += 1;
                linear_models - 1
            });
            // The tree's nodes plus one padding node.
            let len = 2 * tree.num_leaves();
            let expressible = (0..tree.num_internal()).all(|i| lane_split(tree, i).is_some());
            if !expressible || len > MAX_LANE_TREE_NODES {
                lanes.trees.push(LaneTree::Scalar { root });
                continue;
            }
            let base = lanes.leaf.len();
            lanes.push_tree(tree, &pairs, base);
            let depth = lanes.depth_of(base, len);
            let (base, len) = (base as u32, len as u32);
            lanes.trees.push(match model {
                None => LaneTree::Walk { base, len, depth },
                Some(model) => LaneTree::LinearWalk {
                    base,
                    len,
                    depth,
                    model,
                },
            });
        }
        lanes.in_bounds().then_some(lanes)
    }

    /// Checks what makes the unchecked indexing of [`walk_group`] sound: in every walked tree,
    /// both children `child` and `child + 1` of every node lie inside the tree, and every slot
    /// is below `num_slots()`. A leaf points to itself, so its unused right "child" is the next
    /// node; the padding node at the end of each tree makes that hold for the last leaf too.
    fn in_bounds(&self) -> bool {
        let ns = self.num_slots();
        self.trees.iter().all(|t| match *t {
            LaneTree::Walk { base, len, .. } | LaneTree::LinearWalk { base, len, .. } => {
                let range = base as usize..(base + len) as usize;
                let ok32 = self.n32.nodes[range.clone()]
                    .iter()
                    .all(|n| (n.child as usize) + 1 < len as usize && (n.slot as usize) < ns);
                let ok64 = self.n64.nodes[range.clone()]
                    .iter()
                    .all(|n| (n.child as usize) + 1 < len as usize && (n.slot as usize) < ns);
                ok32 && ok64 && self.leaf.len() >= range.end
            }
            LaneTree::Scalar { .. } => true,
        })
    }

    /// Appends `tree` in breadth-first order so that siblings are adjacent.
    fn push_tree(
        &mut self,
        tree: &Tree,
        pairs: &std::collections::BTreeMap<(SlotKind, u32), u16>,
        base: usize,
    ) {
        let len = 2 * tree.num_leaves() - 1;
        self.leaf.resize(base + len + 1, 0.0);
        self.leaf_id.resize(base + len + 1, 0);
        let leaf_node = |at: usize| LaneNode {
            thr: 0.0,
            slot: 0,
            child: at as u16,
        };
        let mut n64 = vec![leaf_node(0); len];
        // (LightGBM child reference, tree-relative position)
        let mut queue = std::collections::VecDeque::from([(0i32, 0usize)]);
        let mut next = 1usize;
        while let Some((c, at)) = queue.pop_front() {
            if c < 0 || tree.num_internal() == 0 {
                let leaf = if c < 0 { (!c) as usize } else { 0 };
                self.leaf[base + at] = tree.leaf_value[leaf];
                self.leaf_id[base + at] = leaf as u32;
                n64[at] = leaf_node(at);
                continue;
            }
            let i = c as usize;
            let (kind, thr) = lane_split(tree, i).expect("checked expressible");
            n64[at] = LaneNode {
                thr,
                slot: pairs[&(kind, tree.split_feature[i])],
                child: next as u16,
            };
            queue.push_back((tree.left_child[i], next));
            queue.push_back((tree.right_child[i], next + 1));
            next += 2;
        }
        // Padding: never reached (leaves go left to themselves), its children are in the tree.
        n64.push(LaneNode {
            thr: 0.0,
            slot: 0,
            child: (len - 1) as u16,
        });
        self.n32.nodes.extend(n64.iter().map(|n| LaneNode {
            thr: u32::threshold(n.thr),
            slot: n.slot,
            child: n.child,
        }));
        self.n64.nodes.extend(n64.iter().map(|n| LaneNode {
            thr: u64::threshold(n.thr),
            slot: n.slot,
            child: n.child,
        }));
    }

    /// Longest root-to-leaf path of the tree at `base` (steps the branch-free walk needs).
    fn depth_of(&self, base: usize, len: usize) -> u32 {
        // Without the padding node.
        let len = len - 1;
        let nodes = &self.n32.nodes[base..base + len];
        let mut depth = vec![0u32; len];
        let mut max = 0;
        // Breadth-first order: a parent always precedes its children.
        for (at, n) in nodes.iter().enumerate() {
            let c = n.child as usize;
            if c != at {
                depth[c] = depth[at] + 1;
                depth[c + 1] = depth[at] + 1;
                max = max.max(depth[at] + 1);
            }
        }
        max
    }

    fn num_slots(&self) -> usize {
        self.slot_features.len() + 1
    }

    /// Rewrites one row into its slot keys (`out.len() == num_slots()`).
    #[inline]
    fn fill_slots<T: FeatureValue, C: Lane>(&self, row: &[T], out: &mut [C]) {
        let [plain, nan_low, zero_low, _] = self.kind_end;
        out[0] = C::key(0.0);
        let value = |s: usize| row[self.slot_features[s - 1] as usize].to_f64();
        let nan_or_zero = |v: f64| v.is_nan() || v.abs() <= ZERO_THRESHOLD;
        // (first slot, end, is the value missing for this kind, key of a missing value)
        let kinds: [(usize, usize, MissingTest, C); 4] = [
            (1, plain, f64::is_nan, C::NAN),
            (plain, nan_low, f64::is_nan, C::NEG_INFINITY),
            (nan_low, zero_low, nan_or_zero, C::NEG_INFINITY),
            (zero_low, out.len(), nan_or_zero, C::NAN),
        ];
        for (start, end, missing, key) in kinds {
            for (s, o) in out.iter_mut().enumerate().take(end).skip(start) {
                let v = value(s);
                *o = if missing(v) { key } else { C::key(v) };
            }
        }
    }
}

/// Whether a value counts as missing for a slot kind.
type MissingTest = fn(f64) -> bool;

/// Rows walked through a tree at once: independent walks overlap their memory latency.
const GROUP: usize = 16;

/// Adds the output of one branch-free tree to the `GROUP` rows of `slots` (`[slot][lane]`).
///
/// # Safety
/// The same as [`walk_to_leaves`]; `leaf` must be as long as `nodes`.
#[inline(always)]
unsafe fn walk_group<C: Lane>(
    nodes: &[LaneNode<C>],
    leaf: &[f64],
    depth: u32,
    slots: &[C],
    out: &mut [f64; GROUP],
) {
    // SAFETY: the caller upholds `walk_to_leaves`' contract.
    let idx = unsafe { walk_to_leaves(nodes, depth, slots) };
    for (o, &i) in out.iter_mut().zip(&idx) {
        *o += leaf[i];
    }
}

/// The tree-relative leaf node each of the `GROUP` rows of `slots` (`[slot][lane]`) reaches.
///
/// A node sends a row right iff its slot key is above the threshold key.
///
/// # Safety
/// `nodes` must be one tree of a layout that passed `Lanes::in_bounds` (node 0 exists, every
/// `child` and `child + 1` is `< nodes.len()`, every `slot` is `< num_slots`), and `slots` must
/// hold exactly one group's `num_slots * GROUP` values: the walk indexes both without bounds
/// checks.
#[inline(always)]
unsafe fn walk_to_leaves<C: Lane>(
    nodes: &[LaneNode<C>],
    depth: u32,
    slots: &[C],
) -> [usize; GROUP] {
    let mut idx = [0usize; GROUP];
    for _ in 0..depth {
        for (l, i) in idx.iter_mut().enumerate() {
            debug_assert!(*i < nodes.len());
            // SAFETY: `*i` is 0 or `child` / `child + 1` of a node of this tree, all of which are
            // `< nodes.len()` (checked once by `Lanes::in_bounds` when the layout is built).
            // Unchecked indexing saves a fifth of the instructions of this innermost loop.
            let n = unsafe { *nodes.get_unchecked(*i) };
            let at = n.slot as usize * GROUP + l;
            debug_assert!(at < slots.len());
            // SAFETY: `n.slot < num_slots()` (`Lanes::in_bounds`), `l < GROUP`, and callers pass
            // one group's `num_slots() * GROUP` slot values.
            let x = unsafe { *slots.get_unchecked(at) };
            *i = n.child as usize + usize::from(x > n.thr);
        }
    }
    idx
}

/// LightGBM's full decision rule ([`numerical_goes_left`]), for nodes the fast path does not cover.
#[cold]
fn exact_goes_left(n: Node, x: f64) -> bool {
    let missing = MissingType::from_code(((n.meta >> MISSING_SHIFT) & 3) as u8);
    numerical_goes_left(
        x,
        n.value,
        missing.unwrap_or(MissingType::None),
        n.meta & NAN_LEFT != 0,
    )
}

impl TreeEnsemble {
    /// Compiles this ensemble for fast prediction.
    pub fn predictor(&self) -> Result<Predictor, PredictError> {
        Predictor::new(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{ObjectiveKind, Tree};
    use ndarray::Array2;

    fn ensemble(missing: MissingType, default_left: bool, threshold: f64) -> TreeEnsemble {
        TreeEnsemble {
            trees: vec![
                Tree {
                    split_feature: vec![0, 1],
                    split_gain: vec![1.0, 1.0],
                    threshold: vec![threshold, 0.5],
                    default_left: vec![default_left, false],
                    missing_type: vec![missing, MissingType::NaN],
                    left_child: vec![1, -2],
                    right_child: vec![-1, -3],
                    internal_value: vec![0.0; 2],
                    internal_weight: vec![0.0; 2],
                    internal_count: vec![0; 2],
                    leaf_value: vec![1.0, 2.0, 4.0],
                    leaf_weight: vec![0.0; 3],
                    leaf_count: vec![0; 3],
                    shrinkage: 1.0,
                    categorical: None,
                    linear: None,
                },
                Tree::constant(0.125, 3),
            ],
            base_score: 0.0,
            feature_names: vec!["a".into(), "b".into()],
            feature_infos: vec!["none".into(), "none".into()],
            objective: ObjectiveKind::Binary { sigmoid: 1.0 },
            average_output: false,
        }
    }

    #[test]
    fn matches_reference_on_edge_values() {
        let z = ZERO_THRESHOLD;
        let xs = [
            f64::NAN,
            0.0,
            -0.0,
            z,
            -z,
            z / 2.0,
            -z / 2.0,
            2.0 * z,
            -2.0 * z,
            1e-40,
            0.5,
            -0.5,
            0.25,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for missing in [MissingType::None, MissingType::Zero, MissingType::NaN] {
            for dl in [false, true] {
                for t in [
                    0.0,
                    -0.0,
                    z,
                    -z,
                    z / 4.0,
                    -z / 4.0,
                    0.25,
                    -0.25,
                    1e-36,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NAN,
                    0.1,
                    -0.1,
                    1e300,
                    -1e300,
                ] {
                    let e = ensemble(missing, dl, t);
                    let p = e.predictor().unwrap();
                    let mut rows = Vec::new();
                    for &a in &xs {
                        for &b in &[f64::NAN, 0.5, 0.75, 0.0] {
                            let want = e.predict_raw_reference(&[a, b]);
                            let got = p.predict_raw_row(&[a, b]).unwrap();
                            assert_eq!(
                                got.to_bits(),
                                want.to_bits(),
                                "missing {missing:?} dl {dl} t {t:e} x {a:e}"
                            );
                            rows.push([a, b]);
                        }
                    }
                    // The batch kernel (slot rewrite, branch-free walk) agrees with the reference,
                    // for f64 input and for f32 input compared in f32 against rounded-down thresholds.
                    let x = Array2::from_shape_fn((rows.len(), 2), |(i, j)| rows[i][j]);
                    let batch = p.predict_raw(x.view()).unwrap();
                    let x32 = x.mapv(|v| v as f32);
                    let batch32 = p.predict_raw(x32.view()).unwrap();
                    for (i, r) in rows.iter().enumerate() {
                        let want = e.predict_raw_reference(r);
                        assert_eq!(batch[i].to_bits(), want.to_bits(), "batch t {t:e} x {r:?}");
                        let r32 = [f64::from(r[0] as f32), f64::from(r[1] as f32)];
                        let want32 = e.predict_raw_reference(&r32);
                        assert_eq!(
                            batch32[i].to_bits(),
                            want32.to_bits(),
                            "batch f32 missing {missing:?} dl {dl} t {t:e} x {r32:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn f32_thresholds_round_down() {
        for t in [
            0.1,
            -0.1,
            1e300,
            -1e300,
            1e-46,
            -1e-46,
            0.0,
            -0.0,
            f64::MAX,
            3.5,
        ] {
            let r = round_down_f32(t);
            assert!(f64::from(r) <= t, "{t:e} -> {r:e}");
            let up = if r == f32::INFINITY {
                f64::INFINITY
            } else {
                f64::from(r.next_up())
            };
            assert!(
                up > t || r == f32::INFINITY,
                "{t:e} -> {r:e} is not the largest"
            );
        }
        assert_eq!(round_down_f32(f64::INFINITY), f32::INFINITY);
        assert_eq!(round_down_f32(f64::NEG_INFINITY), f32::NEG_INFINITY);
        assert!(round_down_f32(f64::NAN).is_nan());
    }

    #[test]
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(x <= t)` is the rule: true for NaN.
    fn keys_decide_like_float_comparisons() {
        let vals = [
            f64::NEG_INFINITY,
            -1e300,
            -3.5,
            -0.1,
            -1e-40,
            -0.0,
            0.0,
            1e-40,
            0.1,
            3.5,
            1e300,
            f64::INFINITY,
            f64::NAN,
        ];
        for &t in &vals {
            for &x in &vals {
                // -0.0 and +0.0 keys differ; the layout never compares a zero with a zero threshold.
                if x == 0.0 && t == 0.0 {
                    continue;
                }
                let right = !(x <= t);
                let k64 = if x.is_nan() { u64::NAN } else { u64::key(x) };
                assert_eq!(k64 > u64::threshold(t), right, "f64 x {x:e} t {t:e}");
                let x32 = f64::from(x as f32);
                if x32 == 0.0 && t == 0.0 {
                    continue;
                }
                let k32 = if x32.is_nan() {
                    u32::NAN
                } else {
                    u32::key(x32)
                };
                assert_eq!(
                    k32 > u32::threshold(t),
                    !(x32 <= t),
                    "f32 x {x32:e} t {t:e}"
                );
            }
        }
        assert!(u32::NEG_INFINITY == u32::key(f64::NEG_INFINITY) && u32::NEG_INFINITY > 0);
        assert!(u64::NEG_INFINITY == u64::key(f64::NEG_INFINITY) && u64::NEG_INFINITY > 0);
    }

    #[test]
    fn f32_threshold_neighbours_decide_like_f64() {
        // Inputs on both sides of a threshold that f32 cannot represent.
        for t in [0.1, -0.1, 1.0 / 3.0, -2.0 / 3.0, 1e-30] {
            let e = ensemble(MissingType::NaN, false, t);
            let p = e.predictor().unwrap();
            let c = t as f32;
            let xs = [c.next_down(), c, c.next_up()];
            let x = Array2::from_shape_fn((xs.len(), 2), |(i, j)| if j == 0 { xs[i] } else { 0.0 });
            let got = p.predict_raw(x.view()).unwrap();
            for (i, &v) in xs.iter().enumerate() {
                let want = e.predict_raw_reference(&[f64::from(v), 0.0]);
                assert_eq!(got[i].to_bits(), want.to_bits(), "t {t:e} x {v:e}");
            }
        }
    }

    #[test]
    fn batch_layout_covers_lightgbm_trees() {
        // Trees LightGBM writes (any missing type, finite thresholds) all take the branch-free walk.
        for missing in [MissingType::None, MissingType::Zero, MissingType::NaN] {
            for dl in [false, true] {
                let p = ensemble(missing, dl, 0.25).predictor().unwrap();
                let lanes = p.lanes.as_ref().unwrap();
                assert!(lanes.in_bounds());
                assert!(lanes
                    .trees
                    .iter()
                    .all(|t| matches!(t, LaneTree::Walk { .. })));
            }
        }
        // A NaN threshold with missing values going left falls back to the scalar walk.
        let p = ensemble(MissingType::NaN, true, f64::NAN)
            .predictor()
            .unwrap();
        assert!(matches!(
            p.lanes.as_ref().unwrap().trees[0],
            LaneTree::Scalar { .. }
        ));
    }

    #[test]
    fn linear_trees_walk_branch_free_and_categorical_trees_fall_back() {
        use crate::tree::{CategoricalSplits, LinearLeaves};
        let mut e = ensemble(MissingType::NaN, false, 0.25);
        e.trees[0].linear = Some(LinearLeaves {
            leaf_const: vec![0.5, -1.0, 2.0],
            leaf_features: vec![vec![1], vec![], vec![0, 1]],
            leaf_coeff: vec![vec![3.0], vec![], vec![-0.5, 0.25]],
        });
        let mut cat = e.trees[0].clone();
        cat.linear = None;
        cat.categorical = Some(CategoricalSplits {
            is_categorical: vec![true, false],
            boundaries: vec![0, 1],
            bits: vec![0b1010],
        });
        cat.threshold[0] = 0.0;
        e.trees[1] = cat;
        let p = e.predictor().unwrap();
        let trees = &p.lanes.as_ref().unwrap().trees;
        assert!(matches!(trees[0], LaneTree::LinearWalk { model: 0, .. }));
        assert!(matches!(trees[1], LaneTree::Scalar { .. }));
        // Tree 0: x0 > 0.25 -> leaf 0 (0.5 + 3 x1); else x1 <= 0.5 -> leaf 1 (-1), else leaf 2
        // (2 - 0.5 x0 + 0.25 x1, or its constant 4 when x1 is NaN). Tree 1: categories 1 and 3 of
        // x0 go on to the x1 split (leaves 2 or 4), the others to leaf 0 (1).
        let rows = [
            [0.0, 0.25],
            [0.0, f64::NAN],
            [1.0, 0.25],
            [3.9, 0.75],
            [-1.0, 0.0],
        ];
        let x = Array2::from_shape_fn((rows.len(), 2), |(i, j)| rows[i][j]);
        let batch = p.predict_raw(x.view()).unwrap();
        for (i, r) in rows.iter().enumerate() {
            let want = e.predict_raw_reference(r);
            assert_eq!(batch[i].to_bits(), want.to_bits(), "row {r:?}");
            assert_eq!(p.predict_raw_row(r).unwrap().to_bits(), want.to_bits());
        }
        assert_eq!(batch[0], -1.0 + 1.0);
        assert_eq!(batch[1], 4.0 + 1.0);
        assert_eq!(batch[2], 0.5 + 3.0 * 0.25 + 2.0);
        assert_eq!(batch[3], 0.5 + 3.0 * 0.75 + 4.0);
    }

    #[test]
    fn f32_input_compares_as_f64() {
        // 0.1f32 widens to 0.10000000149011612 > 0.1, so it must go right at threshold 0.1.
        let e = ensemble(MissingType::NaN, false, 0.1);
        let p = e.predictor().unwrap();
        let r32 = p.predict_raw_row(&[0.1f32, 0.0]).unwrap();
        let r64 = p.predict_raw_row(&[f64::from(0.1f32), 0.0]).unwrap();
        assert_eq!(r32, r64);
        assert_eq!(r32, 1.0 + 0.125);
    }

    #[test]
    fn feature_count_mismatch_is_an_error() {
        let p = ensemble(MissingType::NaN, false, 0.1).predictor().unwrap();
        assert_eq!(
            p.predict_raw_row(&[1.0f64]),
            Err(PredictError::FeatureCountMismatch {
                expected: 2,
                got: 1
            })
        );
        let x = Array2::<f32>::zeros((3, 5));
        assert!(p.predict_raw(x.view()).is_err());
    }

    #[test]
    fn batch_layouts_agree() {
        let p = ensemble(MissingType::None, true, 0.0).predictor().unwrap();
        let x = Array2::from_shape_fn((150, 2), |(i, j)| {
            ((i * 7 + j * 3) % 11) as f64 / 10.0 - 0.5
        });
        let c = x.t().to_owned();
        let fortran = c.t();
        let a = p.predict_raw(x.view()).unwrap();
        assert_eq!(a, p.predict_raw(fortran).unwrap());
        assert_eq!(a, p.predict_raw_sequential(x.view()).unwrap());
        for (i, row) in x.rows().into_iter().enumerate() {
            assert_eq!(a[i], p.predict_raw_row(row.as_slice().unwrap()).unwrap());
        }
    }
}
