//! The tree ensemble data model, laid out like LightGBM's `Tree=N` blocks.
//!
//! This is the shared representation between model files (`io`), prediction,
//! training (`aml-train` builds it) and TreeSHAP (`aml-explain` walks it).
//! Keeping LightGBM's own array-of-fields layout makes reading and writing the
//! text format a field-for-field copy; prediction uses a compact node layout
//! derived from it (see the `predict` module).
//!
//! Node addressing follows LightGBM: internal nodes are `0..num_leaves-1`,
//! a child index `c >= 0` is an internal node and `c < 0` is leaf `!c`
//! (that is, `-(leaf + 1)`). A tree with a single leaf has no internal nodes.

use serde::{Deserialize, Serialize};

/// How a split treats missing values (LightGBM's `missing_type`, bits 2-3 of `decision_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MissingType {
    /// No special handling: NaN is treated as 0.0 before the comparison.
    None,
    /// Zero (and NaN) values follow the default direction.
    Zero,
    /// NaN values follow the default direction.
    NaN,
}

impl MissingType {
    /// The two-bit code used in LightGBM's `decision_type`.
    pub fn code(self) -> u8 {
        match self {
            MissingType::None => 0,
            MissingType::Zero => 1,
            MissingType::NaN => 2,
        }
    }

    /// Parses the two-bit code used in LightGBM's `decision_type`.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(MissingType::None),
            1 => Some(MissingType::Zero),
            2 => Some(MissingType::NaN),
            _ => None,
        }
    }
}

/// LightGBM's threshold under which a value counts as zero (`kZeroThreshold`).
///
/// LightGBM declares it as the *float* literal `1e-35f` widened to double, so it is
/// `1.0000000180025095e-35`, not the double `1e-35`; matching it bit for bit keeps
/// decisions on tiny inputs identical. LightGBM's dense predictor also turns every
/// input with `|x| <= ZERO_THRESHOLD` into exactly `0.0` before walking the trees.
pub const ZERO_THRESHOLD: f64 = 1e-35_f32 as f64;

/// The category sets of a tree's categorical splits (LightGBM's `num_cat`, `cat_boundaries`,
/// `cat_threshold`).
///
/// A categorical node's `threshold` is the index `i` of its set; the set is the bitset
/// `bits[boundaries[i]..boundaries[i + 1]]` (bit `c % 32` of word `c / 32` is category `c`).
/// A value goes left when it is a non-negative integer category in the set (the value is
/// truncated towards zero first); NaN, negative values and categories past the set go right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoricalSplits {
    /// Whether each internal node splits on categories (bit 0 of LightGBM's `decision_type`).
    pub is_categorical: Vec<bool>,
    /// `num_cat + 1` offsets into `bits`, starting at 0 and non-decreasing.
    pub boundaries: Vec<u32>,
    /// The concatenated 32-bit words of every set.
    pub bits: Vec<u32>,
}

impl CategoricalSplits {
    /// Number of category sets (`num_cat`).
    pub fn num_sets(&self) -> usize {
        self.boundaries.len().saturating_sub(1)
    }

    /// Whether `x` falls in category set `set` (LightGBM's categorical decision: `true` = left).
    #[inline]
    pub fn contains(&self, set: usize, x: f64) -> bool {
        if x.is_nan() {
            return false;
        }
        // Truncation towards zero like C's `static_cast<int>`; huge values saturate and miss.
        let category = x as i64;
        if category < 0 {
            return false;
        }
        let (start, end) = (
            self.boundaries[set] as usize,
            self.boundaries[set + 1] as usize,
        );
        let word = (category / 32) as usize;
        word < end - start && (self.bits[start + word] >> (category % 32)) & 1 == 1
    }
}

/// Linear models in the leaves of a tree (LightGBM's `linear_tree`): leaf `l` outputs
/// `leaf_const[l] + sum_i leaf_coeff[l][i] * x[leaf_features[l][i]]`, added in that order,
/// and its constant `leaf_value[l]` instead when one of those features is NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearLeaves {
    /// Constant term of each leaf.
    pub leaf_const: Vec<f64>,
    /// Features of each leaf's linear model.
    pub leaf_features: Vec<Vec<u32>>,
    /// Coefficients of each leaf's linear model, one per feature.
    pub leaf_coeff: Vec<Vec<f64>>,
}

impl LinearLeaves {
    /// Output of leaf `leaf` for `row`, or `fallback` when a feature of its model is NaN.
    ///
    /// Values with `|x| <= ZERO_THRESHOLD` count as `0.0`, as on the split path.
    #[inline]
    pub fn output<T: Copy + Into<f64>>(&self, leaf: usize, row: &[T], fallback: f64) -> f64 {
        let mut out = self.leaf_const[leaf];
        for (&f, &c) in self.leaf_features[leaf].iter().zip(&self.leaf_coeff[leaf]) {
            let x: f64 = row[f as usize].into();
            if x.is_nan() {
                return fallback;
            }
            out += c * fold_zero(x);
        }
        out
    }
}

/// One regression tree: numerical splits (`x <= threshold` goes left), optionally
/// categorical splits and linear leaves.
///
/// Invariants (checked by [`Tree::validate`]): every internal-node vector has
/// `num_leaves - 1` entries, every leaf vector has `num_leaves` entries, leaf and
/// internal values are finite, and the child indices form a binary tree rooted at
/// internal node 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Feature index used by each internal node.
    pub split_feature: Vec<u32>,
    /// Gain of each split (informational; used for gain importance).
    pub split_gain: Vec<f64>,
    /// Split threshold: `x <= threshold` goes to the left child.
    pub threshold: Vec<f64>,
    /// Whether missing values go left at each internal node.
    pub default_left: Vec<bool>,
    /// Missing-value handling at each internal node.
    pub missing_type: Vec<MissingType>,
    /// Left child: `>= 0` internal node, `< 0` leaf `!c`.
    pub left_child: Vec<i32>,
    /// Right child: `>= 0` internal node, `< 0` leaf `!c`.
    pub right_child: Vec<i32>,
    /// Output the node would have as a leaf (already shrunk).
    pub internal_value: Vec<f64>,
    /// Sum of hessians of the training rows reaching each internal node.
    pub internal_weight: Vec<f64>,
    /// Number of training rows reaching each internal node (TreeSHAP cover).
    pub internal_count: Vec<u64>,
    /// Output of each leaf (already multiplied by the shrinkage).
    pub leaf_value: Vec<f64>,
    /// Sum of hessians of the training rows in each leaf.
    pub leaf_weight: Vec<f64>,
    /// Number of training rows in each leaf (TreeSHAP cover).
    pub leaf_count: Vec<u64>,
    /// Learning rate applied to this tree when it was trained.
    pub shrinkage: f64,
    /// Category sets when some node splits on categories; `None` for numerical trees.
    #[serde(default)]
    pub categorical: Option<CategoricalSplits>,
    /// Leaf linear models (`is_linear=1`); `None` for constant leaves.
    #[serde(default)]
    pub linear: Option<LinearLeaves>,
}

impl Tree {
    /// A tree with a single leaf that always outputs `value`.
    pub fn constant(value: f64, count: u64) -> Self {
        Tree {
            split_feature: Vec::new(),
            split_gain: Vec::new(),
            threshold: Vec::new(),
            default_left: Vec::new(),
            missing_type: Vec::new(),
            left_child: Vec::new(),
            right_child: Vec::new(),
            internal_value: Vec::new(),
            internal_weight: Vec::new(),
            internal_count: Vec::new(),
            leaf_value: vec![value],
            leaf_weight: vec![0.0],
            leaf_count: vec![count],
            shrinkage: 1.0,
            categorical: None,
            linear: None,
        }
    }

    /// Number of leaves.
    pub fn num_leaves(&self) -> usize {
        self.leaf_value.len()
    }

    /// Number of internal (split) nodes.
    pub fn num_internal(&self) -> usize {
        self.split_feature.len()
    }

    /// Checks the structural invariants; returns a description of the first violation.
    pub fn validate(&self, num_features: usize) -> Result<(), String> {
        let nl = self.leaf_value.len();
        if nl == 0 {
            return Err("tree has no leaves".into());
        }
        let ni = nl - 1;
        let internal_lens = [
            ("split_feature", self.split_feature.len()),
            ("split_gain", self.split_gain.len()),
            ("threshold", self.threshold.len()),
            ("default_left", self.default_left.len()),
            ("missing_type", self.missing_type.len()),
            ("left_child", self.left_child.len()),
            ("right_child", self.right_child.len()),
            ("internal_value", self.internal_value.len()),
            ("internal_weight", self.internal_weight.len()),
            ("internal_count", self.internal_count.len()),
        ];
        for (name, len) in internal_lens {
            if len != ni {
                return Err(format!("{name} has {len} entries, expected {ni}"));
            }
        }
        for (name, len) in [
            ("leaf_weight", self.leaf_weight.len()),
            ("leaf_count", self.leaf_count.len()),
        ] {
            if len != nl {
                return Err(format!("{name} has {len} entries, expected {nl}"));
            }
        }
        for (name, values) in [
            ("leaf_value", &self.leaf_value),
            ("internal_value", &self.internal_value),
        ] {
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(format!("{name} entry {i} is {}, not finite", values[i]));
            }
        }
        if let Some(&f) = self
            .split_feature
            .iter()
            .find(|&&f| f as usize >= num_features)
        {
            return Err(format!(
                "split_feature {f} out of range for {num_features} features"
            ));
        }
        if let Some(c) = &self.categorical {
            c.validate(&self.threshold)?;
        }
        if let Some(l) = &self.linear {
            l.validate(nl, num_features)?;
        }
        self.check_links()
    }

    /// Checks that the child indices form a binary tree rooted at internal node 0 whose children
    /// come after their parent.
    fn check_links(&self) -> Result<(), String> {
        let nl = self.leaf_value.len();
        let ni = nl - 1;
        // Every internal node except the root and every leaf must be referenced exactly once.
        let mut seen_internal = vec![false; ni];
        let mut seen_leaf = vec![false; nl];
        if ni > 0 {
            seen_internal[0] = true;
        }
        for (node, child) in self
            .left_child
            .iter()
            .chain(self.right_child.iter())
            .enumerate()
        {
            let c = *child;
            if c >= 0 {
                let c = c as usize;
                if c >= ni || c == 0 || seen_internal[c] {
                    return Err(format!(
                        "node {} has invalid internal child {c}",
                        node % ni.max(1)
                    ));
                }
                seen_internal[c] = true;
            } else {
                let l = (!c) as usize;
                if l >= nl || seen_leaf[l] {
                    return Err(format!(
                        "node {} has invalid leaf child {l}",
                        node % ni.max(1)
                    ));
                }
                seen_leaf[l] = true;
            }
        }
        if ni > 0 && (seen_internal.iter().any(|s| !s) || seen_leaf.iter().any(|s| !s)) {
            return Err("tree has unreachable nodes".into());
        }
        // Children must come after their parent so the structure is acyclic.
        for i in 0..ni {
            for c in [self.left_child[i], self.right_child[i]] {
                if c >= 0 && (c as usize) <= i {
                    return Err(format!("node {i} points back to node {c}"));
                }
            }
        }
        Ok(())
    }

    /// Whether internal node `node` splits on categories.
    #[inline]
    pub fn is_categorical(&self, node: usize) -> bool {
        self.categorical
            .as_ref()
            .is_some_and(|c| c.is_categorical[node])
    }

    /// Decides the direction at internal node `node` for feature value `x`: `true` = left.
    ///
    /// Follows LightGBM's prediction path exactly: inputs with `|x| <= ZERO_THRESHOLD`
    /// become `0.0` first (its dense-row conversion drops them); a categorical node then
    /// asks whether `x` is in its category set; a numerical node applies
    /// [`numerical_goes_left`].
    #[inline]
    pub fn goes_left(&self, node: usize, x: f64) -> bool {
        if let Some(c) = &self.categorical {
            if c.is_categorical[node] {
                return c.contains(self.threshold[node] as usize, fold_zero(x));
            }
        }
        numerical_goes_left(
            x,
            self.threshold[node],
            self.missing_type[node],
            self.default_left[node],
        )
    }

    /// The one tree walk: from the root, to the left child where `goes_left(node)` holds and to
    /// the right child otherwise, until a leaf; returns the leaf's index.
    ///
    /// Every route through a [`Tree`] outside the batch predictor is this walk with a decision:
    /// [`Tree::leaf_index`] on feature values, the trainer's on bin indices (it decides each bin
    /// with [`Tree::goes_left`] once per split).
    #[inline]
    pub fn leaf_by(&self, mut goes_left: impl FnMut(usize) -> bool) -> usize {
        if self.num_internal() == 0 {
            return 0;
        }
        let mut node = 0usize;
        loop {
            let c = if goes_left(node) {
                self.left_child[node]
            } else {
                self.right_child[node]
            };
            if c < 0 {
                return (!c) as usize;
            }
            node = c as usize;
        }
    }

    /// Index of the leaf that `row` falls into: the reference traversal ([`Tree::leaf_by`] with
    /// [`Tree::goes_left`]) for any row element that widens to `f64` exactly (`f64`, `f32`).
    #[inline]
    pub fn leaf_index<T: Copy + Into<f64>>(&self, row: &[T]) -> usize {
        self.leaf_by(|node| self.goes_left(node, row[self.split_feature[node] as usize].into()))
    }

    /// The internal node whose child is leaf `leaf`, and whether it is the left child; `None` for
    /// the root leaf of a single-leaf tree (or a leaf no node points to).
    pub fn leaf_parent(&self, leaf: usize) -> Option<(usize, bool)> {
        let code = !(leaf as i32);
        (0..self.num_internal()).rev().find_map(|node| {
            if self.left_child[node] == code {
                Some((node, true))
            } else if self.right_child[node] == code {
                Some((node, false))
            } else {
                None
            }
        })
    }

    /// Splits leaf `leaf` with `split`, the way LightGBM grows trees: the new internal node is
    /// `num_internal()` and takes the leaf's place under its parent; it records the leaf's value,
    /// weight and count as its own; its left child keeps leaf index `leaf` with `left`'s stats and
    /// its right child is the new leaf `num_leaves()` with `right`'s. Returns `(left, right)`
    /// leaf indices.
    ///
    /// This is the one place that knows the bookkeeping (the `!leaf` child encoding, the parent
    /// link, the per-node and per-leaf vectors); a tree grown only by `split_leaf` from
    /// [`Tree::constant`] passes [`Tree::validate`] whenever its features are in range and its
    /// values finite. The new node is numerical (`is_categorical` false when the tree has
    /// category sets).
    ///
    /// # Panics
    /// When `leaf` is not a leaf of the tree, or the tree has linear leaves (their models are
    /// not split).
    pub fn split_leaf(
        &mut self,
        leaf: usize,
        split: NodeSplit,
        left: LeafStats,
        right: LeafStats,
    ) -> (usize, usize) {
        assert!(
            leaf < self.num_leaves(),
            "split_leaf: leaf {leaf} out of range for a tree with {} leaves",
            self.num_leaves()
        );
        assert!(
            self.linear.is_none(),
            "split_leaf: linear leaves cannot be split"
        );
        let node = self.num_internal();
        let new_leaf = self.num_leaves();
        if let Some((parent, is_left)) = self.leaf_parent(leaf) {
            let child = if is_left {
                &mut self.left_child[parent]
            } else {
                &mut self.right_child[parent]
            };
            *child = node as i32;
        }
        self.split_feature.push(split.feature);
        self.split_gain.push(split.gain);
        self.threshold.push(split.threshold);
        self.default_left.push(split.default_left);
        self.missing_type.push(split.missing_type);
        self.left_child.push(!(leaf as i32));
        self.right_child.push(!(new_leaf as i32));
        self.internal_value.push(self.leaf_value[leaf]);
        self.internal_weight.push(self.leaf_weight[leaf]);
        self.internal_count.push(self.leaf_count[leaf]);
        if let Some(c) = &mut self.categorical {
            c.is_categorical.push(false);
        }
        self.set_leaf(leaf, left);
        self.leaf_value.push(right.value);
        self.leaf_weight.push(right.weight);
        self.leaf_count.push(right.count);
        (leaf, new_leaf)
    }

    /// Sets the value, weight and count of leaf `leaf`.
    pub fn set_leaf(&mut self, leaf: usize, stats: LeafStats) {
        self.leaf_value[leaf] = stats.value;
        self.leaf_weight[leaf] = stats.weight;
        self.leaf_count[leaf] = stats.count;
    }

    /// Output of the leaf `row` falls into: its constant, or its linear model for a linear tree.
    pub fn output(&self, row: &[f64]) -> f64 {
        let leaf = self.leaf_index(row);
        match &self.linear {
            Some(l) => l.output(leaf, row, self.leaf_value[leaf]),
            None => self.leaf_value[leaf],
        }
    }
}

/// `0.0` for inputs with `|x| <= ZERO_THRESHOLD` (LightGBM's dense-row conversion), `x` otherwise.
#[inline]
pub fn fold_zero(x: f64) -> f64 {
    if x.abs() <= ZERO_THRESHOLD {
        0.0
    } else {
        x
    }
}

/// LightGBM's decision at a numerical node (`true` = left): the single rule behind
/// [`Tree::goes_left`], the predictor's exact path and the trainer's routing of bins.
///
/// `x` is folded to `0.0` when `|x| <= ZERO_THRESHOLD`; then `MissingType::Zero` sends zero and
/// NaN the default way, `MissingType::NaN` sends NaN the default way, `MissingType::None` reads
/// NaN as `0.0`; everything else goes left when `x <= threshold`.
#[inline]
pub fn numerical_goes_left(
    x: f64,
    threshold: f64,
    missing_type: MissingType,
    default_left: bool,
) -> bool {
    let x = fold_zero(x);
    match missing_type {
        MissingType::Zero if x.is_nan() || x == 0.0 => default_left,
        MissingType::NaN if x.is_nan() => default_left,
        MissingType::None if x.is_nan() => 0.0 <= threshold,
        _ => x <= threshold,
    }
}

/// The decision of a node created by [`Tree::split_leaf`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeSplit {
    /// Feature the node splits on.
    pub feature: u32,
    /// `x <= threshold` goes left.
    pub threshold: f64,
    /// Whether missing values go left.
    pub default_left: bool,
    /// Which values count as missing.
    pub missing_type: MissingType,
    /// Gain of the split.
    pub gain: f64,
}

/// Output, sum of hessians and row count of a leaf (see [`Tree::split_leaf`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeafStats {
    /// Output of the leaf.
    pub value: f64,
    /// Sum of hessians of its training rows.
    pub weight: f64,
    /// Number of its training rows.
    pub count: u64,
}

impl CategoricalSplits {
    /// Checks the sets and that every categorical node's threshold names one.
    fn validate(&self, threshold: &[f64]) -> Result<(), String> {
        if self.is_categorical.len() != threshold.len() {
            return Err(format!(
                "{} categorical flags for {} internal nodes",
                self.is_categorical.len(),
                threshold.len()
            ));
        }
        if self.boundaries.first() != Some(&0)
            || self.boundaries.windows(2).any(|w| w[0] > w[1])
            || *self.boundaries.last().unwrap_or(&0) as usize != self.bits.len()
        {
            return Err(format!(
                "cat_boundaries {:?} do not split {} cat_threshold words",
                self.boundaries,
                self.bits.len()
            ));
        }
        for (node, (&is_cat, &t)) in self.is_categorical.iter().zip(threshold).enumerate() {
            if is_cat && !(t >= 0.0 && t.fract() == 0.0 && (t as usize) < self.num_sets()) {
                return Err(format!(
                    "categorical node {node} names category set {t}, the tree has {}",
                    self.num_sets()
                ));
            }
        }
        Ok(())
    }
}

impl LinearLeaves {
    /// Checks one model per leaf, matching lengths, known features and finite numbers.
    fn validate(&self, num_leaves: usize, num_features: usize) -> Result<(), String> {
        for (name, len) in [
            ("leaf_const", self.leaf_const.len()),
            ("leaf_features", self.leaf_features.len()),
            ("leaf_coeff", self.leaf_coeff.len()),
        ] {
            if len != num_leaves {
                return Err(format!("{name} has {len} leaves, expected {num_leaves}"));
            }
        }
        for (leaf, (features, coeff)) in self.leaf_features.iter().zip(&self.leaf_coeff).enumerate()
        {
            if features.len() != coeff.len() {
                return Err(format!(
                    "leaf {leaf} has {} linear features and {} coefficients",
                    features.len(),
                    coeff.len()
                ));
            }
            if let Some(&f) = features.iter().find(|&&f| f as usize >= num_features) {
                return Err(format!(
                    "leaf {leaf} linear feature {f} out of range for {num_features} features"
                ));
            }
            if !self.leaf_const[leaf].is_finite() || coeff.iter().any(|c| !c.is_finite()) {
                return Err(format!("leaf {leaf} linear model is not finite"));
            }
        }
        Ok(())
    }
}

/// Transform applied to the raw ensemble output.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum OutputTransform {
    /// Raw score is the output (regression, ranking).
    Identity,
    /// `1 / (1 + exp(-sigmoid * raw))` (binary classification).
    Sigmoid {
        /// LightGBM's `sigmoid` parameter (1.0 by default).
        sigmoid: f64,
    },
    /// `exp(raw)`: the raw score is a log mean (poisson, gamma, tweedie).
    Exp,
    /// `log(1 + exp(raw))` (cross_entropy_lambda).
    Log1pExp,
    /// Softmax over the classes' raw scores (multiclass); see [`OutputTransform::apply_classes`].
    Softmax,
    /// `sign(raw) * raw^2`: undoes the `sqrt` label transform of a regression objective.
    SignedSquare,
}

impl OutputTransform {
    /// The prediction for a raw score: the one place every prediction path transforms.
    pub fn apply(self, raw: f64) -> f64 {
        match self {
            OutputTransform::Identity => raw,
            OutputTransform::Sigmoid { sigmoid } => 1.0 / (1.0 + (-sigmoid * raw).exp()),
            OutputTransform::Exp => raw.exp(),
            OutputTransform::Log1pExp => raw.exp().ln_1p(),
            // The softmax of a single score is 1; a row of classes goes through `apply_classes`.
            OutputTransform::Softmax => 1.0,
            OutputTransform::SignedSquare => {
                if raw > 0.0 {
                    raw * raw
                } else if raw < 0.0 {
                    -(raw * raw)
                } else {
                    0.0
                }
            }
        }
    }

    /// Transforms the raw scores of one row's classes in place: softmax for multiclass,
    /// the per-score transform otherwise (sigmoid per class for multiclassova).
    pub fn apply_classes(self, raw: &mut [f64]) {
        match self {
            OutputTransform::Softmax => {
                // LightGBM's order: subtract the maximum, exponentiate, divide by the sum.
                let max = raw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut sum = 0.0;
                for v in raw.iter_mut() {
                    *v = (*v - max).exp();
                    sum += *v;
                }
                for v in raw.iter_mut() {
                    *v /= sum;
                }
            }
            other => {
                for v in raw.iter_mut() {
                    *v = other.apply(*v);
                }
            }
        }
    }
}

/// The learning objective a model was trained with, as named in LightGBM model files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ObjectiveKind {
    /// `binary sigmoid:S`.
    Binary {
        /// Sigmoid scale.
        sigmoid: f64,
    },
    /// `lambdarank`.
    LambdaRank,
    /// `regression` (L2).
    Regression,
    /// `cross_entropy`: prediction `1 / (1 + exp(-raw))`.
    CrossEntropy,
    /// An objective whose prediction is the raw score, kept under its LightGBM name
    /// so the model is written back unchanged.
    Identity(IdentityObjective),
    /// An objective whose raw score is a log mean (prediction `exp(raw)`), kept under its
    /// LightGBM name.
    LogLink(LogLinkObjective),
    /// `cross_entropy_lambda`: prediction `log(1 + exp(raw))`.
    CrossEntropyLambda,
    /// `multiclass num_class:K`: one raw score per class, prediction softmax.
    Multiclass {
        /// Number of classes (`K >= 2`).
        num_class: usize,
    },
    /// A regression objective trained on square-rooted labels (LightGBM's `sqrt` option, written
    /// as `objective=<name> sqrt`): the prediction is `sign(raw) * raw^2`. `None` is `regression`
    /// (L2); the others are `regression_l1`, `huber`, `fair`, `quantile` and `mape`.
    Sqrt(Option<IdentityObjective>),
    /// A custom objective: LightGBM writes no `objective=` line, and predicts the raw score.
    Custom,
    /// `multiclassova num_class:K sigmoid:S`: one-vs-all, a sigmoid per class.
    MulticlassOva {
        /// Number of classes (`K >= 2`).
        num_class: usize,
        /// Sigmoid scale.
        sigmoid: f64,
    },
}

/// LightGBM objectives with a log link: the prediction is `exp(raw)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LogLinkObjective {
    /// `poisson`.
    Poisson,
    /// `gamma`.
    Gamma,
    /// `tweedie`.
    Tweedie,
}

impl LogLinkObjective {
    /// Every log-link objective, in a fixed order.
    pub const ALL: [LogLinkObjective; 3] = [
        LogLinkObjective::Poisson,
        LogLinkObjective::Gamma,
        LogLinkObjective::Tweedie,
    ];

    /// The name LightGBM writes in `objective=`.
    pub fn name(self) -> &'static str {
        match self {
            LogLinkObjective::Poisson => "poisson",
            LogLinkObjective::Gamma => "gamma",
            LogLinkObjective::Tweedie => "tweedie",
        }
    }
}

/// LightGBM objectives other than L2 regression and lambdarank whose prediction is the raw score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IdentityObjective {
    /// `regression_l1`.
    L1,
    /// `huber`.
    Huber,
    /// `fair`.
    Fair,
    /// `quantile`.
    Quantile,
    /// `mape`.
    Mape,
    /// `rank_xendcg`.
    RankXendcg,
}

impl IdentityObjective {
    /// Every identity objective, in a fixed order.
    pub const ALL: [IdentityObjective; 6] = [
        IdentityObjective::L1,
        IdentityObjective::Huber,
        IdentityObjective::Fair,
        IdentityObjective::Quantile,
        IdentityObjective::Mape,
        IdentityObjective::RankXendcg,
    ];

    /// The name LightGBM writes in `objective=`.
    pub fn name(self) -> &'static str {
        match self {
            IdentityObjective::L1 => "regression_l1",
            IdentityObjective::Huber => "huber",
            IdentityObjective::Fair => "fair",
            IdentityObjective::Quantile => "quantile",
            IdentityObjective::Mape => "mape",
            IdentityObjective::RankXendcg => "rank_xendcg",
        }
    }
}

impl ObjectiveKind {
    /// The transform from raw score to prediction.
    pub fn transform(&self) -> OutputTransform {
        match self {
            ObjectiveKind::Binary { sigmoid } => OutputTransform::Sigmoid { sigmoid: *sigmoid },
            ObjectiveKind::CrossEntropy => OutputTransform::Sigmoid { sigmoid: 1.0 },
            ObjectiveKind::LambdaRank
            | ObjectiveKind::Regression
            | ObjectiveKind::Identity(_)
            | ObjectiveKind::Custom => OutputTransform::Identity,
            ObjectiveKind::Sqrt(_) => OutputTransform::SignedSquare,
            ObjectiveKind::LogLink(_) => OutputTransform::Exp,
            ObjectiveKind::CrossEntropyLambda => OutputTransform::Log1pExp,
            ObjectiveKind::Multiclass { .. } => OutputTransform::Softmax,
            ObjectiveKind::MulticlassOva { sigmoid, .. } => {
                OutputTransform::Sigmoid { sigmoid: *sigmoid }
            }
        }
    }

    /// Number of raw scores per row (`num_class`; 1 for every single-output objective).
    pub fn num_class(&self) -> usize {
        match self {
            ObjectiveKind::Multiclass { num_class }
            | ObjectiveKind::MulticlassOva { num_class, .. } => *num_class,
            _ => 1,
        }
    }
}

/// An additive ensemble of regression trees: `raw(x) = base_score + sum_t tree_t(x)`.
///
/// A multiclass ensemble (`objective.num_class() == K > 1`) has one raw score per class:
/// its trees come in iterations of `K`, and tree `t` adds to class `t % K`. With
/// `average_output` (LightGBM's random forest) the raw score is still the sum, as LightGBM's
/// `raw_score` and `pred_contrib` are; the prediction divides it by the number of iterations
/// before the output transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeEnsemble {
    /// The trees, in boosting order.
    pub trees: Vec<Tree>,
    /// Constant added to every raw prediction (LightGBM folds this into the first tree, so 0.0 for its files).
    pub base_score: f64,
    /// Feature names, one per input column.
    pub feature_names: Vec<String>,
    /// LightGBM `feature_infos` strings (`[min:max]` or `none`), one per feature.
    pub feature_infos: Vec<String>,
    /// Objective the ensemble was trained with.
    pub objective: ObjectiveKind,
    /// Predictions divide the raw sum by the number of iterations (LightGBM's `average_output`,
    /// `boosting=rf`).
    #[serde(default)]
    pub average_output: bool,
}

impl TreeEnsemble {
    /// Number of input features.
    pub fn num_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Raw scores per row: the number of classes (1 except for multiclass objectives).
    pub fn num_class(&self) -> usize {
        self.objective.num_class()
    }

    /// Number of boosting iterations (trees per class).
    pub fn num_iterations(&self) -> usize {
        self.trees.len() / self.num_class()
    }

    /// Raw score of one row via the reference traversal (no layout tricks); used as the oracle
    /// in tests. For a multiclass ensemble this is class 0's score (see
    /// [`TreeEnsemble::predict_raw_reference_classes`]).
    pub fn predict_raw_reference(&self, row: &[f64]) -> f64 {
        self.predict_raw_reference_classes(row)[0]
    }

    /// Raw score of every class for one row via the reference traversal: each class adds its
    /// trees in order.
    pub fn predict_raw_reference_classes(&self, row: &[f64]) -> Vec<f64> {
        let k = self.num_class();
        let mut s = vec![self.base_score; k];
        for (i, t) in self.trees.iter().enumerate() {
            s[i % k] += t.output(row);
        }
        s
    }

    /// The ensemble LightGBM predicts with for `start_iteration` and `num_iteration`
    /// (`num_class` trees per iteration): iterations `start..start + num`, clipped to the
    /// iterations there are; `num_iteration` `None` means all from `start_iteration` on. An
    /// early-stopped model is predicted as LightGBM does with `num_iteration = best_iteration`.
    pub fn select_iterations(
        &self,
        start_iteration: usize,
        num_iteration: Option<usize>,
    ) -> TreeEnsemble {
        let k = self.num_class();
        let iterations = self.num_iterations();
        let start = start_iteration.min(iterations);
        let end = match num_iteration {
            Some(n) => start.saturating_add(n).min(iterations),
            None => iterations,
        };
        TreeEnsemble {
            trees: self.trees[start * k..end * k].to_vec(),
            base_score: self.base_score,
            feature_names: self.feature_names.clone(),
            feature_infos: self.feature_infos.clone(),
            objective: self.objective.clone(),
            average_output: self.average_output,
        }
    }

    /// The divisor of the raw score before the output transform: the number of iterations
    /// for `average_output` (random forest), 1 otherwise.
    pub fn output_divisor(&self) -> f64 {
        if self.average_output && self.num_iterations() > 0 {
            self.num_iterations() as f64
        } else {
            1.0
        }
    }

    /// The prediction for a raw score of a single-output ensemble: averaged for
    /// `average_output`, then the objective's output transform.
    pub fn transform(&self, raw: f64) -> f64 {
        self.objective
            .transform()
            .apply(raw / self.output_divisor())
    }

    /// The predictions for one row's raw class scores, in place: averaged for `average_output`,
    /// then the objective's transform (softmax across classes for multiclass).
    pub fn transform_classes(&self, raw: &mut [f64]) {
        let divisor = self.output_divisor();
        if divisor != 1.0 {
            for v in raw.iter_mut() {
                *v /= divisor;
            }
        }
        self.objective.transform().apply_classes(raw);
    }

    /// Validates every tree against the feature count, and the tree count against the classes.
    pub fn validate(&self) -> Result<(), String> {
        let k = self.num_class();
        if k == 0 || !self.trees.len().is_multiple_of(k) {
            return Err(format!(
                "{} trees is not a whole number of iterations of {k} classes",
                self.trees.len()
            ));
        }
        if self.feature_infos.len() != self.feature_names.len() {
            return Err(format!(
                "{} feature_infos for {} feature_names",
                self.feature_infos.len(),
                self.feature_names.len()
            ));
        }
        for (i, t) in self.trees.iter().enumerate() {
            t.validate(self.num_features())
                .map_err(|e| format!("Tree={i}: {e}"))?;
        }
        Ok(())
    }
}
