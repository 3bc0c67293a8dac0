//! Fast prediction: a compact node layout compiled from a [`TreeEnsemble`].
//!
//! # Layout
//!
//! All trees live in one `Vec<Node>`; each tree is stored in pre-order starting
//! at `roots[t]`. A [`Node`] is 16 bytes:
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
//! type `Zero` take an exact slow path.
//!
//! # Order of summation
//!
//! Every row's raw score is `base_score + tree_0 + tree_1 + ...` added in tree
//! order, whatever the batch size or thread count, so batch, parallel and
//! single-row results are bit-identical.

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;

use crate::tree::{MissingType, OutputTransform, TreeEnsemble, ZERO_THRESHOLD};

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
}

/// An input scalar type: widened to `f64` exactly before comparing, as LightGBM does.
pub trait FeatureValue: Copy + Send + Sync {
    /// The exact `f64` value.
    fn to_f64(self) -> f64;
}

impl FeatureValue for f32 {
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
const EXACT: u32 = 1 << 29;
const MISSING_SHIFT: u32 = 27;
const FEATURE_MASK: u32 = (1 << MISSING_SHIFT) - 1;
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
    transform: OutputTransform,
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
        let mut nodes = Vec::with_capacity(total);
        let mut roots = Vec::with_capacity(ensemble.trees.len());
        // (LightGBM child reference, index of the parent whose `right` must point here)
        let mut stack: Vec<(i32, Option<usize>)> = Vec::new();
        for tree in &ensemble.trees {
            roots.push(nodes.len() as u32);
            if tree.num_internal() == 0 {
                nodes.push(Node {
                    value: tree.leaf_value[0],
                    meta: LEAF,
                    right: 0,
                });
                continue;
            }
            stack.push((0, None));
            while let Some((child, patch)) = stack.pop() {
                let here = nodes.len();
                if let Some(p) = patch {
                    nodes[p].right = here as u32;
                }
                if child < 0 {
                    nodes.push(Node {
                        value: tree.leaf_value[(!child) as usize],
                        meta: LEAF,
                        right: 0,
                    });
                    continue;
                }
                let i = child as usize;
                let t = tree.threshold[i];
                let missing = tree.missing_type[i];
                let mut meta = tree.split_feature[i] | (u32::from(missing.code()) << MISSING_SHIFT);
                let value = if missing == MissingType::Zero || t.is_nan() {
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
        }
        Ok(Predictor {
            nodes,
            roots,
            base_score: ensemble.base_score,
            num_features,
            transform: ensemble.objective.transform(),
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

    /// Applies the output transform (sigmoid for binary) to a raw score.
    #[inline]
    pub fn transform(&self, raw: f64) -> f64 {
        match self.transform {
            OutputTransform::Identity => raw,
            OutputTransform::Sigmoid { sigmoid } => 1.0 / (1.0 + (-sigmoid * raw).exp()),
        }
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
                return n.value;
            }
            let x = row[(n.meta & FEATURE_MASK) as usize].to_f64();
            let left = if n.meta & EXACT == 0 {
                if n.meta & NAN_LEFT != 0 {
                    !(x > n.value)
                } else {
                    x <= n.value
                }
            } else {
                exact_goes_left(n, x)
            };
            i = if left { i + 1 } else { n.right as usize };
        }
    }

    /// Raw score of one row (`f32` or `f64` values).
    pub fn predict_raw_row<T: FeatureValue>(&self, row: &[T]) -> Result<f64, PredictError> {
        self.check_features(row.len())?;
        let mut s = self.base_score;
        for &r in &self.roots {
            s += self.tree_output(r as usize, row);
        }
        Ok(s)
    }

    /// Transformed prediction of one row (probability for binary models).
    pub fn predict_row<T: FeatureValue>(&self, row: &[T]) -> Result<f64, PredictError> {
        self.predict_raw_row(row).map(|r| self.transform(r))
    }

    /// Raw scores of a block of contiguous row-major rows, trees outermost.
    fn block_raw<T: FeatureValue>(&self, rows: &[T], out: &mut [f64]) {
        let nf = self.num_features;
        out.fill(self.base_score);
        if nf == 0 {
            for &r in &self.roots {
                let v = self.tree_output::<T>(r as usize, &[]);
                out.iter_mut().for_each(|o| *o += v);
            }
            return;
        }
        for &r in &self.roots {
            for (o, row) in out.iter_mut().zip(rows.chunks_exact(nf)) {
                *o += self.tree_output(r as usize, row);
            }
        }
    }

    /// Raw scores for rows `start..start + out.len()` of `x`.
    fn chunk_raw<T: FeatureValue>(&self, x: &ArrayView2<'_, T>, start: usize, out: &mut [f64]) {
        let view = x.slice(ndarray::s![start..start + out.len(), ..]);
        match view.as_slice() {
            Some(rows) => self.block_raw(rows, out),
            None => {
                let copy: Vec<T> = view.iter().copied().collect();
                self.block_raw(&copy, out);
            }
        }
    }

    /// Raw scores for every row, in parallel over row blocks (rayon's current pool).
    ///
    /// Bit-identical to [`Predictor::predict_raw_sequential`].
    pub fn predict_raw<T: FeatureValue>(
        &self,
        x: ArrayView2<'_, T>,
    ) -> Result<Vec<f64>, PredictError> {
        self.check_features(x.len_of(Axis(1)))?;
        let mut out = vec![0.0; x.nrows()];
        out.par_chunks_mut(BLOCK_ROWS)
            .enumerate()
            .for_each(|(b, chunk)| self.chunk_raw(&x, b * BLOCK_ROWS, chunk));
        Ok(out)
    }

    /// Raw scores for every row on the calling thread only.
    pub fn predict_raw_sequential<T: FeatureValue>(
        &self,
        x: ArrayView2<'_, T>,
    ) -> Result<Vec<f64>, PredictError> {
        self.check_features(x.len_of(Axis(1)))?;
        let mut out = vec![0.0; x.nrows()];
        for (b, chunk) in out.chunks_mut(BLOCK_ROWS).enumerate() {
            self.chunk_raw(&x, b * BLOCK_ROWS, chunk);
        }
        Ok(out)
    }

    /// Transformed predictions for every row, in parallel.
    pub fn predict<T: FeatureValue>(&self, x: ArrayView2<'_, T>) -> Result<Vec<f64>, PredictError> {
        let mut out = self.predict_raw(x)?;
        out.par_iter_mut().for_each(|v| *v = self.transform(*v));
        Ok(out)
    }
}

/// LightGBM's full decision rule, for nodes the fast path does not cover.
#[cold]
fn exact_goes_left(n: Node, x: f64) -> bool {
    let default_left = n.meta & NAN_LEFT != 0;
    let mut x = if x.abs() <= ZERO_THRESHOLD { 0.0 } else { x };
    match MissingType::from_code(((n.meta >> MISSING_SHIFT) & 3) as u8) {
        Some(MissingType::Zero) => {
            if x.is_nan() || x == 0.0 {
                return default_left;
            }
        }
        Some(MissingType::NaN) => {
            if x.is_nan() {
                return default_left;
            }
        }
        _ => {
            if x.is_nan() {
                x = 0.0;
            }
        }
    }
    x <= n.value
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
                },
                Tree::constant(0.125, 3),
            ],
            base_score: 0.0,
            feature_names: vec!["a".into(), "b".into()],
            feature_infos: vec!["none".into(), "none".into()],
            objective: ObjectiveKind::Binary { sigmoid: 1.0 },
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
                ] {
                    let e = ensemble(missing, dl, t);
                    let p = e.predictor().unwrap();
                    for &a in &xs {
                        for &b in &[f64::NAN, 0.5, 0.75, 0.0] {
                            let want = e.predict_raw_reference(&[a, b]);
                            let got = p.predict_raw_row(&[a, b]).unwrap();
                            assert_eq!(
                                got.to_bits(),
                                want.to_bits(),
                                "missing {missing:?} dl {dl} t {t:e} x {a:e}"
                            );
                        }
                    }
                }
            }
        }
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
