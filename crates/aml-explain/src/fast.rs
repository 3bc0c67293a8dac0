//! Fast exact TreeSHAP: every leaf's attribution as a one-dimensional integral evaluated exactly by
//! Gauss-Legendre quadrature, vectorised across rows.
//!
//! # Why this is exact
//! Fix one leaf with value `v` whose root path tests `d` distinct features `P` (a feature tested
//! several times is merged into one entry). For path feature `j` let `z_j` be the product of the
//! cover ratios `count(child) / count(parent)` at its splits, and `o_j` = 1 if the row satisfies all
//! of them, else 0. Path-dependent TreeSHAP attributes this leaf as the Shapley values of the game
//! `f(S) = v * prod_{j in S} o_j * prod_{j in P\S} z_j`. Writing the Shapley weight
//! `s!(d-s-1)!/d!` as the Beta integral `int_0^1 t^s (1-t)^(d-1-s) dt` and summing over subsets
//! (the generating-function step of Linear TreeSHAP, Yu et al. 2022) gives, with
//! `g_j(t) = o_j t + z_j (1 - t)`,
//!
//! `phi_i = (o_i - z_i) * v * int_0^1 prod_{j in P, j != i} g_j(t) dt`.
//!
//! The integrand is a polynomial of degree `d - 1`, so Gauss-Legendre quadrature with
//! `q = ceil(d / 2)` nodes is exact (up to rounding). Every factor is positive, so there is no
//! cancellation: the result agrees with the reference recursion to a few ulps. The products
//! without one factor come from prefix and suffix products (no division).
//!
//! # Cost and layout
//! Per tree and block of rows: one pass over the internal nodes computes, for every node, the set
//! of path features a row fails on the way down (a bitmask, one comparison per row and node); a
//! leaf's `o` is then the complement of its mask. Two sibling leaves share all path features but
//! their parent's, so they are evaluated in one pass (`leaf_kernel`). Per item and row the
//! quadrature costs about `6 d q` flops, done for 8 or 32 rows at once (one row per SIMD lane,
//! lanes never interact), with `z_j (1 - t_k)` precomputed per item: about 4 MB for a 500 x 31
//! model instead of 58 MB of `2^d` subset tables. AVX2 / AVX-512 code is selected at run time;
//! Rust never contracts `a * b + c` into an FMA and lanes never mix, so every instruction set
//! produces the same bits.
//!
//! # Determinism
//! Every row is computed independently: trees in model order, items in preorder of their parent,
//! path features in path order, quadrature nodes in a fixed order. Blocks, lanes and threads only decide which
//! rows run together, so the output is bit-identical for any thread count or row order.

use aml_models::tree::CategoricalSplits;
use aml_models::tree::ZERO_THRESHOLD;
use aml_models::{MissingType, Tree, TreeEnsemble};
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use crate::error::ExplainError;
use crate::reference::{self, PathElement};

/// Largest number of distinct features on one root-to-leaf path handled by the fast path (a
/// row's failed-feature set is a `u32` bitmask). Trees with a deeper leaf use the reference recursion.
pub const MAX_TABLE_DEPTH: usize = 32;

/// Most quadrature nodes any leaf needs: `ceil(MAX_TABLE_DEPTH / 2)`.
const MAX_NODES: usize = MAX_TABLE_DEPTH.div_ceil(2);

/// Rows evaluated together by the AVX-512 leaf kernel, one per SIMD lane: 32 doubles are four
/// AVX-512 registers per operation, enough independent work to hide latency (64 was slower).
const WIDE_LANES: usize = 32;

/// Rows evaluated together by the AVX2 and portable leaf kernels. With 16 vector registers
/// (AVX2: 4 doubles each) the kernel's per-node running products of 32-lane values no longer fit
/// and spill on every operation: 8 lanes measured 27-30% faster than 32 on an AVX2 machine
/// (docs/benchmarks.md, round six). Lanes never interact, so the width never changes a bit.
const NARROW_LANES: usize = 8;

/// Rows explained together: a tree's node and leaf data are read once per block, and the block's
/// inputs, masks and outputs (feature-major) stay in L1/L2. A multiple of both lane widths.
const BLOCK_ROWS: usize = 128;

/// How one tree is explained.
#[derive(Debug, Clone)]
enum TreePlan {
    /// A single leaf: it only adds to the expected value.
    Constant,
    /// Quadrature over nodes `node_start..node_start + n_nodes` (preorder) and leaves
    /// `leaf_start..leaf_start + n_leaves` of the explainer's arrays.
    Fast {
        node_start: usize,
        n_nodes: usize,
        leaf_start: usize,
        n_leaves: usize,
    },
    /// A leaf has too many distinct path features: the reference recursion.
    Reference,
}

/// One internal node, in preorder, with its split decision made branch-free.
#[derive(Debug, Clone, Copy)]
struct NodePlan {
    feature: u32,
    threshold: f64,
    /// Direction of a NaN input (after LightGBM's missing-type rules).
    nan_left: bool,
    /// `MissingType::Zero`: an exact zero (after the zero threshold) takes the default direction.
    zero_is_missing: bool,
    default_left: bool,
    /// A categorical split: `threshold` is the index of the tree's category set, and a row goes
    /// left when `CategoricalSplits::contains` says so (the missing-value fields are unused).
    categorical: bool,
    /// Index of this node's feature in the distinct-feature list of every path through the node.
    bit: u32,
    /// Mask slots (internal node `n` -> `n`, leaf `l` -> `num_internal + l`) of node and children.
    slot: u32,
    left_slot: u32,
    right_slot: u32,
}

/// Precomputed data of one kernel item: a leaf, or two sibling leaves merged (see [`leaf_kernel`]).
#[derive(Debug, Clone, Copy)]
struct LeafPlan {
    /// Start of the item's entries in `path_feature` / `path_zero` / `path_bit`.
    path_start: usize,
    /// Number of distinct path features `d'` other than the parent's feature.
    path_len: usize,
    /// Number of quadrature nodes: `ceil(d / 2)` for `d = d' + 1` (enough for exactness) rounded
    /// up to a kernel size (1..=8 or 16).
    nodes: usize,
    /// Start in `scaled_zero` of `z_j (1 - t_k)` (`d' x q`, feature-major), then
    /// `z_s (1 - t_k)` of each side (`2 x q`).
    scaled_start: usize,
    /// The parent's output column (`class * num_features + feature`) and its feature's bit in
    /// the failed-feature masks.
    last_feature: u32,
    last_bit: u32,
    /// The leaves: (mask slot, `z` of the parent's feature, value); 1 or 2 of them.
    sides: [(usize, f64, f64); 2],
    n_sides: usize,
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
///     average_output: false,
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
    /// Per class: base score plus the expected values of the class's trees.
    expected_values: Vec<f64>,
    plans: Vec<TreePlan>,
    nodes: Vec<NodePlan>,
    leaves: Vec<LeafPlan>,
    /// Output column of each distinct path feature: `class * num_features + feature`, where
    /// `class` is the tree's class (always 0 for single-output models).
    path_feature: Vec<u32>,
    /// Its bit in the failed-feature masks.
    path_bit: Vec<u8>,
    /// `z_j` of each distinct path feature.
    path_zero: Vec<f64>,
    /// Per leaf, `z_j (1 - t_k)` for its quadrature nodes `k` and path features `j`.
    scaled_zero: Vec<f64>,
    /// Gauss-Legendre nodes on [0, 1]: the rule with `q` nodes starts at `q (q - 1) / 2`.
    quad_node: Vec<f64>,
    /// Matching weights (they sum to 1 for every rule).
    quad_weight: Vec<f64>,
    /// Most mask slots (internal nodes + leaves) of any `Fast` tree.
    max_slots: usize,
    /// Scratch length the reference recursion needs for the deepest `Reference` tree.
    reference_buffer_len: usize,
    /// Widest SIMD level the kernels may use (see [`Self::with_portable_kernels`]).
    simd: Simd,
}

/// Instruction set the block kernel is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Simd {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Simd {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Simd::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::Portable
    }
}

/// Per-thread scratch of [`TreeShapExplainer::contributions_into`]; allocate once, reuse for every row.
#[derive(Debug, Clone)]
pub struct ShapScratch {
    /// Staged rows, row-major (`BLOCK_ROWS x nf`), for the reference recursion.
    rows: Vec<f64>,
    /// Staged rows, feature-major (`nf x BLOCK_ROWS`), zero threshold applied.
    columns: Vec<f64>,
    /// Failed-feature masks, slot-major (`max_slots x BLOCK_ROWS`).
    fails: Vec<u32>,
    /// Contributions, column-major (`num_class * nf x BLOCK_ROWS`, column `class * nf + feature`).
    phi: Vec<f64>,
    /// One row's contributions from a reference tree.
    row_phi: Vec<f64>,
    path: Vec<PathElement>,
    /// Leaf kernel work space (`o`, `g`, prefix products) of each lane width, reused so no leaf
    /// zeroes a stack frame.
    wide: KernelScratch<WIDE_LANES>,
    narrow: KernelScratch<NARROW_LANES>,
}

/// Work space of the leaf kernel, indexed `[j]` (`one`) or `[j * q + k]` (`g`, `prefix`).
#[derive(Debug, Clone, Default)]
struct KernelScratch<const L: usize> {
    one: Vec<Lanes<L>>,
    g: Vec<Lanes<L>>,
    prefix: Vec<Lanes<L>>,
}

impl<const L: usize> KernelScratch<L> {
    fn new() -> Self {
        KernelScratch {
            one: vec![Lanes::splat(0.0); MAX_TABLE_DEPTH],
            g: vec![Lanes::splat(0.0); MAX_TABLE_DEPTH * MAX_NODES],
            prefix: vec![Lanes::splat(0.0); MAX_TABLE_DEPTH * MAX_NODES],
        }
    }
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

/// Gauss-Legendre rule with `q` nodes mapped to [0, 1]: (nodes, weights), by Newton's method on
/// the Legendre recurrence (converges to full double precision for the small `q` used here).
fn gauss_legendre(q: usize) -> (Vec<f64>, Vec<f64>) {
    // P_q(x) and P_q'(x) by the three-term recurrence (q >= 1).
    let legendre = |x: f64| {
        let (mut p0, mut p1) = (1.0, x);
        for n in 2..=q {
            let p2 = ((2 * n - 1) as f64 * x * p1 - (n - 1) as f64 * p0) / n as f64;
            p0 = p1;
            p1 = p2;
        }
        (p1, q as f64 * (x * p1 - p0) / (x * x - 1.0))
    };
    let mut nodes = Vec::with_capacity(q);
    let mut weights = Vec::with_capacity(q);
    for i in 0..q {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (q as f64 + 0.5)).cos();
        for _ in 0..100 {
            let (p, dp) = legendre(x);
            let step = p / dp;
            x -= step;
            if step.abs() <= 1e-16 {
                break;
            }
        }
        let (_, dp) = legendre(x);
        nodes.push(0.5 * (1.0 - x));
        weights.push(1.0 / ((1.0 - x * x) * dp * dp));
    }
    (nodes, weights)
}

/// Distinct features of one root-to-leaf path, in order of first appearance, with their `z`.
#[derive(Debug, Clone, Default)]
struct PathFeatures {
    feature: Vec<u32>,
    zero: Vec<f64>,
}

impl TreeShapExplainer {
    /// Prepares `ensemble`: validates it, requires positive covers and precomputes every leaf.
    ///
    /// Explains everything LightGBM's `pred_contrib` does: numerical and categorical splits,
    /// every missing-value rule, multiclass ensembles (one block per class) and `average_output`
    /// (the plain sum over trees, like LightGBM). Linear trees are refused
    /// ([`ExplainError::Unsupported`]), as LightGBM refuses them.
    pub fn new(ensemble: &TreeEnsemble) -> Result<Self, ExplainError> {
        ensemble.validate().map_err(ExplainError::InvalidEnsemble)?;
        reference::check_explainable(ensemble)?;
        let mut quad_node = Vec::new();
        let mut quad_weight = Vec::new();
        for q in 1..=MAX_NODES {
            let (t, w) = gauss_legendre(q);
            quad_node.extend(t);
            quad_weight.extend(w);
        }
        let mut ex = TreeShapExplainer {
            ensemble: ensemble.clone(),
            expected_values: reference::ensemble_expected_values(ensemble),
            plans: Vec::with_capacity(ensemble.trees.len()),
            nodes: Vec::new(),
            leaves: Vec::new(),
            path_feature: Vec::new(),
            path_bit: Vec::new(),
            path_zero: Vec::new(),
            scaled_zero: Vec::new(),
            quad_node,
            quad_weight,
            max_slots: 0,
            reference_buffer_len: 0,
            simd: Simd::detect(),
        };
        let k = ensemble.num_class();
        for (ti, tree) in ensemble.trees.iter().enumerate() {
            check_covers(ti, tree)?;
            let column_offset = (ti % k) * ensemble.num_features();
            let plan = ex.plan_tree(tree, column_offset as u32);
            if let TreePlan::Reference = plan {
                let len = reference::path_buffer_len(reference::max_depth(tree));
                ex.reference_buffer_len = ex.reference_buffer_len.max(len);
            }
            ex.plans.push(plan);
        }
        Ok(ex)
    }

    /// The same explainer with SIMD kernels disabled. Results are bit-identical (tests check it);
    /// this exists to test exactly that and to measure what SIMD buys.
    pub fn with_portable_kernels(mut self) -> Self {
        self.simd = Simd::Portable;
        self
    }

    /// The quadrature rule with `q` nodes: (nodes, weights).
    fn rule(&self, q: usize) -> (&[f64], &[f64]) {
        let start = q * (q - 1) / 2;
        (
            &self.quad_node[start..start + q],
            &self.quad_weight[start..start + q],
        )
    }

    /// Plans one tree whose contributions go to output columns `column_offset + feature`.
    fn plan_tree(&mut self, tree: &Tree, column_offset: u32) -> TreePlan {
        let n_internal = tree.num_internal();
        if n_internal == 0 {
            return TreePlan::Constant;
        }
        let slot_of = |child: i32| -> u32 {
            if child < 0 {
                (n_internal + (!child) as usize) as u32
            } else {
                child as u32
            }
        };
        let mut nodes = Vec::with_capacity(n_internal);
        let mut leaf_paths: Vec<PathFeatures> = vec![PathFeatures::default(); tree.num_leaves()];
        // Preorder walk carrying the path's distinct features (parents before children).
        let mut stack: Vec<(i32, PathFeatures)> = vec![(0, PathFeatures::default())];
        while let Some((node, path)) = stack.pop() {
            if node < 0 {
                if path.feature.len() > MAX_TABLE_DEPTH {
                    return TreePlan::Reference;
                }
                leaf_paths[(!node) as usize] = path;
                continue;
            }
            let n = node as usize;
            let feature = tree.split_feature[n];
            let bit = path
                .feature
                .iter()
                .position(|&f| f == feature)
                .unwrap_or(path.feature.len());
            let (left, right) = (tree.left_child[n], tree.right_child[n]);
            nodes.push(NodePlan {
                feature,
                threshold: tree.threshold[n],
                nan_left: match tree.missing_type[n] {
                    MissingType::None => 0.0 <= tree.threshold[n],
                    MissingType::Zero | MissingType::NaN => tree.default_left[n],
                },
                zero_is_missing: tree.missing_type[n] == MissingType::Zero,
                default_left: tree.default_left[n],
                categorical: tree.is_categorical(n),
                bit: bit.min(MAX_TABLE_DEPTH - 1) as u32,
                slot: n as u32,
                left_slot: slot_of(left),
                right_slot: slot_of(right),
            });
            let count = tree.internal_count[n] as f64;
            for child in [right, left] {
                let mut p = path.clone();
                if bit == p.feature.len() {
                    p.feature.push(feature);
                    p.zero.push(1.0);
                }
                p.zero[bit] *= reference::child_count(tree, child) / count;
                stack.push((child, p));
            }
        }
        let node_start = self.nodes.len();
        self.nodes.extend(nodes);
        let leaf_start = self.leaves.len();
        // Items in preorder of their parent: two leaf children are merged into one item.
        for i in node_start..self.nodes.len() {
            let node = self.nodes[i];
            let n = node.slot as usize;
            let children = [tree.left_child[n], tree.right_child[n]];
            let groups: Vec<Vec<usize>> = if children.iter().all(|&c| c < 0) {
                vec![children.iter().map(|&c| (!c) as usize).collect()]
            } else {
                children
                    .iter()
                    .filter(|&&c| c < 0)
                    .map(|&c| vec![(!c) as usize])
                    .collect()
            };
            for group in groups {
                self.push_item(tree, &node, &group, &leaf_paths, column_offset);
            }
        }
        let n_leaves = self.leaves.len() - leaf_start;
        self.max_slots = self.max_slots.max(n_internal + tree.num_leaves());
        TreePlan::Fast {
            node_start,
            n_nodes: n_internal,
            leaf_start,
            n_leaves,
        }
    }

    /// Appends the kernel item of `leaves` (one leaf, or both children of `parent`).
    fn push_item(
        &mut self,
        tree: &Tree,
        parent: &NodePlan,
        leaves: &[usize],
        leaf_paths: &[PathFeatures],
        column_offset: u32,
    ) {
        let path = &leaf_paths[leaves[0]];
        let last = parent.bit as usize;
        let d = path.feature.len();
        let q = kernel_nodes(d);
        let mut sides = [(0usize, 0.0f64, 0.0f64); 2];
        for (side, &leaf) in sides.iter_mut().zip(leaves) {
            *side = (
                tree.num_internal() + leaf,
                leaf_paths[leaf].zero[last],
                tree.leaf_value[leaf],
            );
        }
        self.leaves.push(LeafPlan {
            path_start: self.path_feature.len(),
            path_len: d - 1,
            nodes: q,
            scaled_start: self.scaled_zero.len(),
            last_feature: column_offset + parent.feature,
            last_bit: parent.bit,
            sides,
            n_sides: leaves.len(),
        });
        let (t, _) = self.rule(q);
        let t = t.to_vec();
        for (j, (&f, &z)) in path.feature.iter().zip(&path.zero).enumerate() {
            if j != last {
                self.path_feature.push(column_offset + f);
                self.path_zero.push(z);
                self.path_bit.push(j as u8);
                self.scaled_zero.extend(t.iter().map(|&tk| z * (1.0 - tk)));
            }
        }
        for &(_, z, _) in &sides {
            self.scaled_zero.extend(t.iter().map(|&tk| z * (1.0 - tk)));
        }
    }

    /// The model being explained.
    pub fn ensemble(&self) -> &TreeEnsemble {
        &self.ensemble
    }

    /// Number of input features (each class block of a contribution row has one more column:
    /// the expected value).
    pub fn num_features(&self) -> usize {
        self.ensemble.num_features()
    }

    /// Number of class blocks per contribution row (`num_class`; 1 for single-output models).
    pub fn num_class(&self) -> usize {
        self.expected_values.len()
    }

    /// Length of one contribution row: `num_class * (num_features + 1)`.
    pub fn output_len(&self) -> usize {
        self.num_class() * (self.num_features() + 1)
    }

    /// The SHAP base value in raw space: `base_score` + sum over trees of the cover-weighted mean
    /// leaf value (class 0's for a multiclass model; see [`Self::expected_values`]).
    pub fn expected_value(&self) -> f64 {
        self.expected_values[0]
    }

    /// The SHAP base value of every class (one value for single-output models).
    pub fn expected_values(&self) -> &[f64] {
        &self.expected_values
    }

    /// Bytes held by the precomputed per-node and per-leaf data (memory cost of the fast path).
    pub fn table_bytes(&self) -> usize {
        use std::mem::size_of;
        self.nodes.len() * size_of::<NodePlan>()
            + self.leaves.len() * size_of::<LeafPlan>()
            + self.path_feature.len() * (size_of::<u32>() + size_of::<u8>())
            + (self.path_zero.len() + self.scaled_zero.len()) * size_of::<f64>()
    }

    /// Number of trees explained by the reference recursion instead of the fast path.
    pub fn num_reference_trees(&self) -> usize {
        self.plans
            .iter()
            .filter(|p| matches!(p, TreePlan::Reference))
            .count()
    }

    /// Fresh scratch buffers for [`Self::contributions_into`] (one per thread).
    pub fn new_scratch(&self) -> ShapScratch {
        let nf = self.num_features();
        ShapScratch {
            rows: vec![0.0; BLOCK_ROWS * nf],
            columns: vec![0.0; BLOCK_ROWS * nf],
            fails: vec![0; BLOCK_ROWS * self.max_slots],
            phi: vec![0.0; BLOCK_ROWS * nf * self.num_class()],
            row_phi: vec![0.0; nf],
            path: vec![PathElement::default(); self.reference_buffer_len],
            wide: KernelScratch::new(),
            narrow: KernelScratch::new(),
        }
    }

    /// SHAP values of one row into `out` ([`Self::output_len`] values: per class, the
    /// contributions then the expected value).
    ///
    /// Panics if `row` is shorter than `num_features` or `out` is not `output_len` long:
    /// these are programming errors of the caller, checked by the batch API for you.
    pub fn contributions_into(&self, row: &[f64], out: &mut [f64], scratch: &mut ShapScratch) {
        let nf = self.num_features();
        assert!(
            row.len() >= nf,
            "row has {} values, model needs {nf}",
            row.len()
        );
        assert_eq!(
            out.len(),
            self.output_len(),
            "output must have num_class * (num_features + 1) slots"
        );
        scratch.rows[..nf].copy_from_slice(&row[..nf]);
        self.explain_block(1, out, scratch);
    }

    /// Explains the first `nb` rows staged (row-major) in `scratch.rows` into `out` (`nb` rows of
    /// `output_len`), with the widest kernel the CPU supports.
    fn explain_block(&self, nb: usize, out: &mut [f64], scratch: &mut ShapScratch) {
        match self.simd {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Simd::detect` saw the CPU report AVX-512F.
            Simd::Avx512 => unsafe { self.explain_block_avx512(nb, out, scratch) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Simd::detect` saw the CPU report AVX2.
            Simd::Avx2 => unsafe { self.explain_block_avx2(nb, out, scratch) },
            Simd::Portable => {
                let mut kernel = std::mem::take(&mut scratch.narrow);
                self.explain_block_impl(nb, out, scratch, &mut kernel);
                scratch.narrow = kernel;
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn explain_block_avx512(&self, nb: usize, out: &mut [f64], scratch: &mut ShapScratch) {
        // The buffers move out and back (three vector headers) so the block body can borrow
        // both them and the rest of the scratch.
        let mut kernel = std::mem::take(&mut scratch.wide);
        self.explain_block_impl(nb, out, scratch, &mut kernel);
        scratch.wide = kernel;
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn explain_block_avx2(&self, nb: usize, out: &mut [f64], scratch: &mut ShapScratch) {
        let mut kernel = std::mem::take(&mut scratch.narrow);
        self.explain_block_impl(nb, out, scratch, &mut kernel);
        scratch.narrow = kernel;
    }

    /// The block body with `L` rows per kernel pass; always inlined so each `explain_block_*`
    /// compiles it for its instruction set.
    #[inline(always)]
    fn explain_block_impl<const L: usize>(
        &self,
        nb: usize,
        out: &mut [f64],
        scratch: &mut ShapScratch,
        kernel: &mut KernelScratch<L>,
    ) {
        let nf = self.num_features();
        let k = self.num_class();
        let stride = nf + 1;
        // Lanes past `nb` compute on zeros and are discarded; lanes never interact.
        let padded = nb.next_multiple_of(L);
        let ShapScratch {
            rows,
            columns,
            fails,
            phi,
            row_phi,
            path,
            ..
        } = scratch;
        for f in 0..nf {
            let col = &mut columns[f * BLOCK_ROWS..f * BLOCK_ROWS + padded];
            for (r, c) in col.iter_mut().enumerate() {
                let x = if r < nb { rows[r * nf + f] } else { 0.0 };
                // LightGBM's first step for every split: tiny magnitudes become exactly zero.
                *c = if x.abs() <= ZERO_THRESHOLD { 0.0 } else { x };
            }
        }
        phi.fill(0.0);
        for (ti, (tree, plan)) in self.ensemble.trees.iter().zip(&self.plans).enumerate() {
            match *plan {
                TreePlan::Constant => {}
                TreePlan::Reference => {
                    let offset = (ti % k) * nf;
                    for r in 0..nb {
                        row_phi.fill(0.0);
                        reference::tree_shap_into(tree, &rows[r * nf..(r + 1) * nf], row_phi, path);
                        for (f, &v) in row_phi.iter().enumerate() {
                            phi[(offset + f) * BLOCK_ROWS + r] += v;
                        }
                    }
                }
                TreePlan::Fast {
                    node_start,
                    n_nodes,
                    leaf_start,
                    n_leaves,
                } => {
                    fails[..padded].fill(0);
                    let nodes = &self.nodes[node_start..node_start + n_nodes];
                    if let Some(sets) = &tree.categorical {
                        for node in nodes {
                            if node.categorical {
                                category_masks(node, sets, columns, fails, padded);
                            } else {
                                split_masks(node, columns, fails, padded);
                            }
                        }
                    } else {
                        // Numerical trees: the same loop as before categorical splits existed.
                        for node in nodes {
                            split_masks(node, columns, fails, padded);
                        }
                    }
                    for leaf in &self.leaves[leaf_start..leaf_start + n_leaves] {
                        self.add_leaf(leaf, fails, phi, padded, kernel);
                    }
                }
            }
        }
        for r in 0..nb {
            let row_out = &mut out[r * k * stride..(r + 1) * k * stride];
            for (c, dst) in row_out.chunks_exact_mut(stride).enumerate() {
                for (f, d) in dst[..nf].iter_mut().enumerate() {
                    *d = phi[(c * nf + f) * BLOCK_ROWS + r];
                }
                dst[nf] = self.expected_values[c];
            }
        }
    }

    /// Adds one leaf's attributions to every row of the block, through the kernel compiled for
    /// its number of quadrature nodes.
    #[inline(always)]
    fn add_leaf<const L: usize>(
        &self,
        leaf: &LeafPlan,
        fails: &[u32],
        phi: &mut [f64],
        padded: usize,
        kernel: &mut KernelScratch<L>,
    ) {
        let d = leaf.path_len;
        let q = leaf.nodes;
        let (t, w) = self.rule(q);
        let side = |s: usize| {
            let (slot, zero, value) = leaf.sides[s];
            (
                &fails[slot * BLOCK_ROWS..slot * BLOCK_ROWS + padded],
                zero,
                value,
            )
        };
        let scaled = &self.scaled_zero[leaf.scaled_start..leaf.scaled_start + q * (d + 2)];
        let data = LeafData {
            features: &self.path_feature[leaf.path_start..leaf.path_start + d],
            zeros: &self.path_zero[leaf.path_start..leaf.path_start + d],
            bits: &self.path_bit[leaf.path_start..leaf.path_start + d],
            scaled: &scaled[..q * d],
            side_scaled: &scaled[q * d..],
            last_feature: leaf.last_feature,
            last_bit: leaf.last_bit,
            sides: [side(0), side(1)],
            n_sides: leaf.n_sides,
        };
        match q {
            1 => leaf_kernel::<1, L>(&data, t, w, phi, kernel),
            2 => leaf_kernel::<2, L>(&data, t, w, phi, kernel),
            3 => leaf_kernel::<3, L>(&data, t, w, phi, kernel),
            4 => leaf_kernel::<4, L>(&data, t, w, phi, kernel),
            5 => leaf_kernel::<5, L>(&data, t, w, phi, kernel),
            6 => leaf_kernel::<6, L>(&data, t, w, phi, kernel),
            7 => leaf_kernel::<7, L>(&data, t, w, phi, kernel),
            8 => leaf_kernel::<8, L>(&data, t, w, phi, kernel),
            _ => leaf_kernel::<MAX_NODES, L>(&data, t, w, phi, kernel),
        }
    }

    /// SHAP values of every row of `x` (rows = samples, columns = model features), in parallel over
    /// rows with rayon. Returns `n_rows x num_class * (num_features + 1)` in LightGBM's
    /// `pred_contrib` layout: per class, the contributions then the class's expected value (one
    /// block for single-output models). `f32` input is widened to `f64` exactly, as LightGBM does.
    pub fn contributions<T>(&self, x: ArrayView2<'_, T>) -> Result<Array2<f64>, ExplainError>
    where
        T: Copy + Into<f64> + Sync,
    {
        let n = x.nrows();
        let stride = self.output_len();
        let mut out = vec![0.0; n * stride];
        self.for_each_block(
            x,
            &mut out,
            stride,
            || (),
            |(), _, contrib, dst| dst.copy_from_slice(contrib),
        )?;
        Ok(Array2::from_shape_vec((n, stride), out).expect("shape matches buffer length"))
    }

    /// Explains `x` in blocks of rows, in parallel with rayon, and hands each block's
    /// contributions (`nb` rows of [`Self::output_len`], row-major) to `f` with the block's
    /// first row index and its part of `out` (`nb * per_row` items; `per_row` = items of `out`
    /// per input row). `init` makes each thread's state for `f`. No matrix of every row's
    /// contributions is ever held.
    pub(crate) fn for_each_block<T, R, S>(
        &self,
        x: ArrayView2<'_, T>,
        out: &mut [R],
        per_row: usize,
        init: impl Fn() -> S + Sync + Send,
        f: impl Fn(&mut S, usize, &[f64], &mut [R]) + Sync + Send,
    ) -> Result<(), ExplainError>
    where
        T: Copy + Into<f64> + Sync,
        R: Send,
    {
        let nf = self.num_features();
        if x.ncols() != nf {
            return Err(ExplainError::FeatureCountMismatch {
                expected: nf,
                got: x.ncols(),
            });
        }
        let n = x.nrows();
        assert_eq!(out.len(), n * per_row, "output has per_row items per row");
        if n == 0 || per_row == 0 {
            return Ok(());
        }
        let stride = self.output_len();
        // Enough blocks to keep every thread busy; block size never changes any row's result.
        let block_rows = n
            .div_ceil(2 * rayon::current_num_threads())
            .next_multiple_of(WIDE_LANES)
            .clamp(WIDE_LANES, BLOCK_ROWS);
        out.par_chunks_mut(block_rows * per_row)
            .enumerate()
            .for_each_init(
                || (self.new_scratch(), vec![0.0; BLOCK_ROWS * stride], init()),
                |(scratch, contrib, state), (block, chunk)| {
                    let first = block * block_rows;
                    let nb = chunk.len() / per_row;
                    for r in 0..nb {
                        let src = x.row(first + r);
                        let dst = &mut scratch.rows[r * nf..(r + 1) * nf];
                        for (d, s) in dst.iter_mut().zip(src.iter()) {
                            *d = (*s).into();
                        }
                    }
                    let contrib = &mut contrib[..nb * stride];
                    self.explain_block(nb, contrib, scratch);
                    f(state, first, contrib, chunk);
                },
            );
        Ok(())
    }
}

/// Quadrature nodes used for a leaf with `d` distinct path features: `ceil(d / 2)` makes the rule
/// exact for the degree `d - 1` integrand; above 8 the 16-node rule (also exact) keeps the number
/// of compiled kernels small.
fn kernel_nodes(d: usize) -> usize {
    match d.div_ceil(2) {
        q @ 0..=8 => q.max(1),
        _ => MAX_NODES,
    }
}

/// `L` doubles, one per row, with element-wise arithmetic written so LLVM emits one vector
/// instruction per operation (SSE2, AVX2 or AVX-512, whichever the enclosing function enables).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Lanes<const L: usize>([f64; L]);

impl<const L: usize> Lanes<L> {
    #[inline(always)]
    fn splat(v: f64) -> Self {
        Lanes([v; L])
    }

    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        let mut r = self.0;
        for (x, y) in r.iter_mut().zip(o.0) {
            *x *= y;
        }
        Lanes(r)
    }

    #[inline(always)]
    fn add(self, o: Self) -> Self {
        let mut r = self.0;
        for (x, y) in r.iter_mut().zip(o.0) {
            *x += y;
        }
        Lanes(r)
    }
}

/// One kernel item (a leaf or two sibling leaves), as the kernel sees it.
struct LeafData<'a> {
    /// Path features other than the parent's: index, `z`, mask bit.
    features: &'a [u32],
    zeros: &'a [f64],
    bits: &'a [u8],
    /// `z_j (1 - t_k)`, `d' x Q`.
    scaled: &'a [f64],
    /// `z_s (1 - t_k)` of each side, `2 x Q`.
    side_scaled: &'a [f64],
    last_feature: u32,
    last_bit: u32,
    /// Per side: failed-feature masks of the block's rows at that leaf, `z` of the parent's
    /// feature, leaf value.
    sides: [(&'a [u32], f64, f64); 2],
    n_sides: usize,
}

/// The hot loop: adds one item's attributions to `L` rows at a time, with `Q` quadrature nodes.
///
/// An item is a leaf, or two sibling leaves: they share every path feature `P'` but the parent's
/// feature `f`, so with `h(t) = sum over sides of v_s g_s(t)` (linear in `t`) the attribution of
/// `j in P'` is `(o_j - z_j) int h prod_{P' \ j} g` and that of `f` is
/// `sum_s (o_s - z_s) v_s int prod_{P'} g`: one pass does the work of two leaves.
///
/// Forward over `P'`, the running products `w_k prod_{i<j} g_i(t_k)` (one independent chain per
/// node `k`, so the multiplications pipeline); backward, suffix products seeded with `h(t_k)`
/// complete `w_k h prod_{i != j} g_i(t_k)`, summed over `k` in order and added to `j`'s column.
#[inline(always)]
fn leaf_kernel<const Q: usize, const L: usize>(
    leaf: &LeafData<'_>,
    t: &[f64],
    w: &[f64],
    phi: &mut [f64],
    kernel: &mut KernelScratch<L>,
) {
    let t: [f64; Q] = t.try_into().expect("rule has Q nodes");
    let w: [f64; Q] = w.try_into().expect("rule has Q weights");
    let d = leaf.features.len();
    let one = &mut kernel.one[..d];
    let g = &mut kernel.g[..d * Q];
    let prefix = &mut kernel.prefix[..d * Q];
    let satisfied = |masks: &[u32], bit: u32| {
        let mut o = [0.0; L];
        for (ol, &m) in o.iter_mut().zip(masks) {
            *ol = f64::from(1 - ((m >> bit) & 1));
        }
        Lanes(o)
    };
    for (chunk, lane_fails) in leaf.sides[0].0.chunks_exact(L).enumerate() {
        let base = chunk * L;
        let mut run = w.map(Lanes::splat);
        for (((oj, gj), pj), (aj, &bit)) in one
            .iter_mut()
            .zip(g.chunks_exact_mut(Q))
            .zip(prefix.chunks_exact_mut(Q))
            .zip(leaf.scaled.chunks_exact(Q).zip(leaf.bits))
        {
            *oj = satisfied(lane_fails, u32::from(bit));
            for k in 0..Q {
                // g_j(t_k) = o_j t_k + z_j (1 - t_k)
                let gv = Lanes::splat(aj[k]).add(oj.mul(Lanes::splat(t[k])));
                gj[k] = gv;
                pj[k] = run[k];
                run[k] = run[k].mul(gv);
            }
        }
        // The parent's feature, and h(t_k) to seed the suffix products.
        let mut whole = Lanes::splat(0.0);
        for r in &run {
            whole = whole.add(*r);
        }
        let mut last = Lanes::splat(0.0);
        let mut suffix = [Lanes::splat(0.0); Q];
        for (s, a) in leaf.sides[..leaf.n_sides]
            .iter()
            .zip(leaf.side_scaled.chunks_exact(Q))
        {
            let (masks, zero, value) = *s;
            let o = satisfied(&masks[base..base + L], leaf.last_bit);
            let v = Lanes::splat(value);
            last = last.add(o.add(Lanes::splat(-zero)).mul(v));
            for k in 0..Q {
                let gv = Lanes::splat(a[k]).add(o.mul(Lanes::splat(t[k])));
                suffix[k] = suffix[k].add(v.mul(gv));
            }
        }
        let dst = &mut phi[leaf.last_feature as usize * BLOCK_ROWS + base..][..L];
        for (d, c) in dst.iter_mut().zip(last.mul(whole).0) {
            *d += c;
        }
        for ((((&f, &z), oj), gj), pj) in leaf
            .features
            .iter()
            .zip(leaf.zeros)
            .zip(&*one)
            .zip(g.chunks_exact(Q))
            .zip(prefix.chunks_exact(Q))
            .rev()
        {
            let mut sum = Lanes::splat(0.0);
            for k in 0..Q {
                sum = sum.add(pj[k].mul(suffix[k]));
                suffix[k] = suffix[k].mul(gj[k]);
            }
            let contribution = oj.add(Lanes::splat(-z)).mul(sum);
            let dst = &mut phi[f as usize * BLOCK_ROWS + base..][..L];
            for (d, c) in dst.iter_mut().zip(contribution.0) {
                *d += c;
            }
        }
    }
}

/// Routes every row of the block through one split: the child a row does not enter gets the
/// node's feature bit in its failed-feature mask (`LightGBM`'s `goes_left`, branch-free; the zero
/// threshold is already applied to `columns`).
#[inline(always)]
fn split_masks(node: &NodePlan, columns: &[f64], fails: &mut [u32], padded: usize) {
    let f = node.feature as usize;
    let x = &columns[f * BLOCK_ROWS..f * BLOCK_ROWS + padded];
    let (nan_left, zero_missing, zero_left) = (
        u32::from(node.nan_left),
        u32::from(node.zero_is_missing),
        u32::from(node.default_left),
    );
    let mut go = [0u32; BLOCK_ROWS];
    for (g, &v) in go.iter_mut().zip(x) {
        let is_nan = u32::from(v.is_nan());
        let is_zero = u32::from(v == 0.0) & zero_missing;
        let compare = u32::from(v <= node.threshold);
        let special = is_nan | is_zero;
        *g = (compare & (special ^ 1)) | (is_nan & nan_left) | (is_zero & zero_left);
    }
    route_masks(node, &go, fails, padded);
}

/// [`split_masks`] for a categorical split: a row goes left when its category is in the node's
/// set (`CategoricalSplits::contains`, LightGBM's rule: NaN, negative and unseen categories go
/// right; the zero threshold is already applied to `columns`, as in `Tree::goes_left`). Kept out
/// of line so the numerical trees' loop compiles as before.
#[inline(never)]
fn category_masks(
    node: &NodePlan,
    sets: &CategoricalSplits,
    columns: &[f64],
    fails: &mut [u32],
    padded: usize,
) {
    let f = node.feature as usize;
    let x = &columns[f * BLOCK_ROWS..f * BLOCK_ROWS + padded];
    let set = node.threshold as usize;
    let mut go = [0u32; BLOCK_ROWS];
    for (g, &v) in go.iter_mut().zip(x) {
        *g = u32::from(sets.contains(set, v));
    }
    route_masks(node, &go, fails, padded);
}

/// Gives each child of `node` its parent's failed-feature masks, plus the node's feature bit for
/// the rows that do not enter it (`go` = 1: the row goes left).
#[inline(always)]
fn route_masks(node: &NodePlan, go: &[u32; BLOCK_ROWS], fails: &mut [u32], padded: usize) {
    let bit = 1u32 << node.bit;
    let (slot, left, right) = (
        node.slot as usize * BLOCK_ROWS,
        node.left_slot as usize * BLOCK_ROWS,
        node.right_slot as usize * BLOCK_ROWS,
    );
    let mut parent = [0u32; BLOCK_ROWS];
    parent[..padded].copy_from_slice(&fails[slot..slot + padded]);
    for (child, went) in [(left, 0u32), (right, 1u32)] {
        let dst = &mut fails[child..child + padded];
        for ((m, &p), &g) in dst.iter_mut().zip(&parent).zip(go) {
            // The row fails this feature on the side it does not take.
            *m = p | (bit * (g ^ went ^ 1));
        }
    }
}

/// SHAP values of every row of `x` for `ensemble` (LightGBM `pred_contrib` layout: per class,
/// `num_features` columns then the class's expected value). Builds a [`TreeShapExplainer`] each call; keep one explainer
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rule integrates the monomials it must, `t^m` for `m <= 2q - 1`, to `1 / (m + 1)`:
    /// exactness of the whole fast path rests on this.
    #[test]
    fn gauss_legendre_rules_are_exact_to_their_degree() {
        for q in 1..=MAX_NODES {
            let (t, w) = gauss_legendre(q);
            for m in 0..2 * q {
                let integral: f64 = t
                    .iter()
                    .zip(&w)
                    .map(|(&tk, &wk)| wk * tk.powi(m as i32))
                    .sum();
                let exact = 1.0 / (m + 1) as f64;
                assert!(
                    (integral - exact).abs() <= 1e-14,
                    "q {q} m {m}: {integral} vs {exact}"
                );
            }
            assert!(t.iter().all(|&tk| tk > 0.0 && tk < 1.0));
        }
    }

    /// Every SIMD level this CPU supports gives the portable kernel's bits (CI machines may pick
    /// AVX2 where the development machine picks AVX-512, so each level is run explicitly).
    #[test]
    fn every_supported_simd_level_matches_the_portable_kernel() {
        use crate::synthetic::{random_ensemble, random_rows, EnsembleShape};
        let shape = EnsembleShape {
            trees: 20,
            leaves: 31,
            features: 12,
            used_features: 10,
            root_count: 10_000,
        };
        let ensemble = random_ensemble(3, shape);
        let rows = random_rows(4, 100, 12, 0.1);
        let portable = TreeShapExplainer::new(&ensemble)
            .unwrap()
            .with_portable_kernels();
        let expected = portable.contributions(rows.view()).unwrap();
        #[allow(unused_mut)]
        let mut levels = vec![Simd::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                levels.push(Simd::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                levels.push(Simd::Avx512);
            }
        }
        for level in levels {
            let mut explainer = portable.clone();
            explainer.simd = level;
            assert_eq!(
                explainer.contributions(rows.view()).unwrap(),
                expected,
                "{level:?}"
            );
        }
    }

    /// The 8- and 32-lane kernels give the same bits for every block size: a row's arithmetic
    /// never depends on which rows share its kernel pass.
    #[test]
    fn both_lane_widths_give_the_same_bits() {
        use crate::synthetic::{random_ensemble, random_rows, EnsembleShape};
        let shape = EnsembleShape {
            trees: 20,
            leaves: 31,
            features: 12,
            used_features: 10,
            root_count: 10_000,
        };
        let explainer = TreeShapExplainer::new(&random_ensemble(5, shape))
            .unwrap()
            .with_portable_kernels();
        let rows = random_rows(6, BLOCK_ROWS, 12, 0.1);
        let stride = explainer.output_len();
        let mut scratch = explainer.new_scratch();
        for nb in [1, 7, 8, 9, 33, 100, BLOCK_ROWS] {
            for r in 0..nb {
                scratch.rows[r * 12..(r + 1) * 12].copy_from_slice(rows.row(r).as_slice().unwrap());
            }
            let mut narrow = vec![0.0; nb * stride];
            let mut wide = vec![0.0; nb * stride];
            explainer.explain_block_impl(
                nb,
                &mut narrow,
                &mut scratch,
                &mut KernelScratch::<8>::new(),
            );
            explainer.explain_block_impl(
                nb,
                &mut wide,
                &mut scratch,
                &mut KernelScratch::<32>::new(),
            );
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&narrow), bits(&wide), "{nb} rows");
            assert!(narrow.iter().any(|&v| v != 0.0));
        }
    }

    #[test]
    fn kernel_node_counts_cover_the_degree() {
        for d in 1..=MAX_TABLE_DEPTH {
            let q = kernel_nodes(d);
            assert!(2 * q >= d, "d {d} q {q}");
            assert!(q <= 8 || q == MAX_NODES);
        }
    }
}
