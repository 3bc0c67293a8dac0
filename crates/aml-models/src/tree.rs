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

/// One regression tree with numerical splits (`x <= threshold` goes left).
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

    /// Decides the direction at internal node `node` for feature value `x`: `true` = left.
    ///
    /// Follows LightGBM's prediction path exactly: inputs with `|x| <= ZERO_THRESHOLD`
    /// become `0.0` first (its dense-row conversion drops them), then the node's
    /// missing-value rule applies, then `x <= threshold`.
    #[inline]
    pub fn goes_left(&self, node: usize, x: f64) -> bool {
        let mut x = if x.abs() <= ZERO_THRESHOLD { 0.0 } else { x };
        match self.missing_type[node] {
            MissingType::None => {
                if x.is_nan() {
                    x = 0.0;
                }
            }
            MissingType::Zero => {
                if x.is_nan() || x.abs() <= ZERO_THRESHOLD {
                    return self.default_left[node];
                }
            }
            MissingType::NaN => {
                if x.is_nan() {
                    return self.default_left[node];
                }
            }
        }
        x <= self.threshold[node]
    }

    /// Index of the leaf that `row` falls into (reference traversal, not the fast path).
    pub fn leaf_index(&self, row: &[f64]) -> usize {
        if self.num_internal() == 0 {
            return 0;
        }
        let mut node = 0usize;
        loop {
            let f = self.split_feature[node] as usize;
            let c = if self.goes_left(node, row[f]) {
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
}

impl OutputTransform {
    /// The prediction for a raw score: the one place every prediction path transforms.
    pub fn apply(self, raw: f64) -> f64 {
        match self {
            OutputTransform::Identity => raw,
            OutputTransform::Sigmoid { sigmoid } => 1.0 / (1.0 + (-sigmoid * raw).exp()),
            OutputTransform::Exp => raw.exp(),
            OutputTransform::Log1pExp => raw.exp().ln_1p(),
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
            ObjectiveKind::LambdaRank | ObjectiveKind::Regression | ObjectiveKind::Identity(_) => {
                OutputTransform::Identity
            }
            ObjectiveKind::LogLink(_) => OutputTransform::Exp,
            ObjectiveKind::CrossEntropyLambda => OutputTransform::Log1pExp,
        }
    }
}

/// An additive ensemble of regression trees: `raw(x) = base_score + sum_t tree_t(x)`.
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
}

impl TreeEnsemble {
    /// Number of input features.
    pub fn num_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Raw score of one row via the reference traversal (no layout tricks); used as the oracle in tests.
    pub fn predict_raw_reference(&self, row: &[f64]) -> f64 {
        let mut s = self.base_score;
        for t in &self.trees {
            s += t.leaf_value[t.leaf_index(row)];
        }
        s
    }

    /// The ensemble LightGBM predicts with for `start_iteration` and `num_iteration`
    /// (one tree per iteration): trees `start..start + num`, clipped to the trees there
    /// are; `num_iteration` `None` means all from `start_iteration` on. An early-stopped
    /// model is predicted as LightGBM does with `num_iteration = best_iteration`.
    pub fn select_iterations(
        &self,
        start_iteration: usize,
        num_iteration: Option<usize>,
    ) -> TreeEnsemble {
        let start = start_iteration.min(self.trees.len());
        let end = match num_iteration {
            Some(n) => start.saturating_add(n).min(self.trees.len()),
            None => self.trees.len(),
        };
        TreeEnsemble {
            trees: self.trees[start..end].to_vec(),
            base_score: self.base_score,
            feature_names: self.feature_names.clone(),
            feature_infos: self.feature_infos.clone(),
            objective: self.objective.clone(),
        }
    }

    /// Applies the objective's output transform to a raw score.
    pub fn transform(&self, raw: f64) -> f64 {
        self.objective.transform().apply(raw)
    }

    /// Validates every tree against the feature count.
    pub fn validate(&self) -> Result<(), String> {
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
