//! Training parameters, named and defaulted like LightGBM's.
//!
//! `GbdtParams::default()` equals LightGBM 4's defaults for every field that
//! LightGBM has, so a model trained with the same parameter values in both
//! engines is comparable. Parameters deserialize from JSON with missing fields
//! taking their defaults.

use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// The loss being minimised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Binary log loss on labels in {0, 1} (LightGBM `binary`).
    #[default]
    Binary,
    /// LambdaRank optimising NDCG within query groups (LightGBM `lambdarank`).
    LambdaRank,
    /// Squared error (LightGBM `regression`).
    Regression,
    /// XE-NDCG, a cross-entropy ranking loss within query groups (LightGBM `rank_xendcg`).
    #[serde(rename = "rank_xendcg")]
    RankXendcg,
}

impl Objective {
    /// The metric LightGBM uses for this objective when none is given.
    pub fn default_metric(self) -> Metric {
        match self {
            Objective::Binary => Metric::LogLoss,
            Objective::LambdaRank | Objective::RankXendcg => Metric::Ndcg(10),
            Objective::Regression => Metric::L2,
        }
    }
}

/// An evaluation metric for progress reporting and early stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Area under the ROC curve (ties averaged).
    Auc,
    /// Area under the precision-recall curve (average precision).
    AveragePrecision,
    /// Binary log loss on probabilities.
    LogLoss,
    /// Brier score (mean squared error of probabilities).
    Brier,
    /// NDCG at the given cut-off, averaged over queries.
    Ndcg(usize),
    /// Mean squared error.
    L2,
}

impl Metric {
    /// Whether larger values are better (decides the direction of early stopping).
    ///
    /// ```
    /// use aml_train::params::Metric;
    /// assert!(Metric::Auc.higher_is_better());
    /// assert!(!Metric::LogLoss.higher_is_better());
    /// ```
    pub fn higher_is_better(&self) -> bool {
        matches!(
            self,
            Metric::Auc | Metric::AveragePrecision | Metric::Ndcg(_)
        )
    }

    /// LightGBM's name for the metric (`auc`, `average_precision`, `binary_logloss`, ...).
    pub fn name(&self) -> String {
        match self {
            Metric::Auc => "auc".into(),
            Metric::AveragePrecision => "average_precision".into(),
            Metric::LogLoss => "binary_logloss".into(),
            Metric::Brier => "brier".into(),
            Metric::Ndcg(k) => format!("ndcg@{k}"),
            Metric::L2 => "l2".into(),
        }
    }
}

/// How the rows of each tree are sampled (LightGBM's `data_sample_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DataSampleStrategy {
    /// Uniform row bagging (`bagging_fraction`, `bagging_freq`); no sampling by default.
    #[default]
    Bagging,
    /// Gradient-based one-side sampling: every round after the first `1 / learning_rate`,
    /// keep the `top_rate` share of rows with the largest `|gradient * hessian|` and draw an
    /// `other_rate` share of all rows from the rest, whose gradients and hessians are scaled
    /// up by `(1 - top_rate) / other_rate`.
    Goss,
}

fn is_bagging(v: &DataSampleStrategy) -> bool {
    *v == DataSampleStrategy::Bagging
}

/// LightGBM's default `top_rate`.
const DEFAULT_TOP_RATE: f64 = 0.2;
/// LightGBM's default `other_rate`.
const DEFAULT_OTHER_RATE: f64 = 0.1;

fn is_default_top_rate(v: &f64) -> bool {
    *v == DEFAULT_TOP_RATE
}

fn is_default_other_rate(v: &f64) -> bool {
    *v == DEFAULT_OTHER_RATE
}

/// Largest `lambdarank_pair_sample`: more partners per row only cost time (measured worse
/// from 30 on, `crates/aml-train/README.md`).
pub const MAX_LAMBDARANK_PAIR_SAMPLE: usize = 1000;

fn is_zero(v: &usize) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// All training parameters. `Default` gives LightGBM's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GbdtParams {
    /// Loss to minimise.
    pub objective: Objective,
    /// Number of boosting rounds (trees).
    pub num_iterations: usize,
    /// Shrinkage applied to every tree.
    pub learning_rate: f64,
    /// Maximum number of leaves per tree (leaf-wise growth), >= 2.
    pub num_leaves: usize,
    /// Maximum tree depth; `<= 0` means unlimited.
    pub max_depth: i32,
    /// Minimum number of rows in a leaf.
    pub min_data_in_leaf: usize,
    /// Minimum sum of hessians in a leaf.
    pub min_sum_hessian_in_leaf: f64,
    /// L1 regularisation of leaf values.
    pub lambda_l1: f64,
    /// L2 regularisation of leaf values.
    pub lambda_l2: f64,
    /// Minimum gain a split must reach.
    pub min_gain_to_split: f64,
    /// Fraction of features sampled (seeded) for each tree, in (0, 1].
    pub feature_fraction: f64,
    /// Fraction of rows sampled (seeded) every `bagging_freq` rounds, in (0, 1].
    pub bagging_fraction: f64,
    /// Re-sample rows every this many rounds; 0 disables bagging.
    pub bagging_freq: usize,
    /// Row sampling: `bagging` (LightGBM's default) or `goss`. Not written out (model file,
    /// metadata) while `bagging`, nor are the GOSS rates while at their defaults, so files of
    /// the defaults stay as before.
    #[serde(skip_serializing_if = "is_bagging")]
    pub data_sample_strategy: DataSampleStrategy,
    /// GOSS: share of rows with the largest gradients kept every round, in (0, 1).
    #[serde(skip_serializing_if = "is_default_top_rate")]
    pub top_rate: f64,
    /// GOSS: share of all rows drawn (seeded) from the other rows every round, in (0, 1);
    /// `top_rate + other_rate <= 1`.
    #[serde(skip_serializing_if = "is_default_other_rate")]
    pub other_rate: f64,
    /// Maximum number of value bins per feature (a missing-value bin comes on top), 2..=65535.
    pub max_bin: usize,
    /// Weight multiplier of positive rows (binary only).
    pub scale_pos_weight: f64,
    /// Sigmoid scale for binary and LambdaRank.
    pub sigmoid: f64,
    /// LambdaRank only considers pairs with one item in the top this-many positions.
    pub lambdarank_truncation_level: usize,
    /// Gain per relevance label; `None` = `2^i - 1` for i in 0..31.
    pub label_gain: Option<Vec<f64>>,
    /// Normalise LambdaRank gradients per query like LightGBM.
    pub lambdarank_norm: bool,
    /// LambdaRank: every row below the truncation level also pairs with this many partners
    /// drawn (seeded) from the rows below it of other labels, weighted so that the expected
    /// sum is LambdaRank over all those deep pairs. 0 (the default) draws none: LightGBM's
    /// pairs only. Not written out (model file, metadata) while 0, so files stay as before.
    #[serde(skip_serializing_if = "is_zero")]
    pub lambdarank_pair_sample: usize,
    /// LambdaRank: divide each row's gradient and hessian by the square root of the number of
    /// pairs it took part in. Off by default (LightGBM has no such option); not written out
    /// while off.
    #[serde(skip_serializing_if = "is_false")]
    pub lambdarank_pair_norm: bool,
    /// Stop when the validation metric has not improved for this many rounds.
    pub early_stopping_rounds: Option<usize>,
    /// Metric for validation and early stopping; `None` = the objective's default.
    pub metric: Option<Metric>,
    /// Also evaluate the metric on the training data every round (LightGBM's
    /// `is_provide_training_metric`; off by default because it costs a sort per round).
    pub provide_training_metric: bool,
    /// Rows used to find bin boundaries (LightGBM's `bin_construct_sample_cnt`).
    pub bin_construct_sample_cnt: usize,
    /// Seed of every random choice (binning sample, bagging, feature sampling).
    pub seed: u64,
    /// Threads to use; 0 = rayon's global pool. The model does not depend on it.
    pub num_threads: usize,
}

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            objective: Objective::Binary,
            num_iterations: 100,
            learning_rate: 0.1,
            num_leaves: 31,
            max_depth: -1,
            min_data_in_leaf: 20,
            min_sum_hessian_in_leaf: 1e-3,
            lambda_l1: 0.0,
            lambda_l2: 0.0,
            min_gain_to_split: 0.0,
            feature_fraction: 1.0,
            bagging_fraction: 1.0,
            bagging_freq: 0,
            data_sample_strategy: DataSampleStrategy::Bagging,
            top_rate: DEFAULT_TOP_RATE,
            other_rate: DEFAULT_OTHER_RATE,
            max_bin: 255,
            scale_pos_weight: 1.0,
            sigmoid: 1.0,
            lambdarank_truncation_level: 30,
            label_gain: None,
            lambdarank_norm: true,
            lambdarank_pair_sample: 0,
            lambdarank_pair_norm: false,
            early_stopping_rounds: None,
            metric: None,
            provide_training_metric: false,
            bin_construct_sample_cnt: 200_000,
            seed: 0,
            num_threads: 0,
        }
    }
}

impl GbdtParams {
    /// The metric in effect: the explicit one or the objective's default.
    pub fn effective_metric(&self) -> Metric {
        self.metric
            .unwrap_or_else(|| self.objective.default_metric())
    }

    /// The label gains in effect (`2^i - 1` for i in 0..31 unless given).
    pub fn effective_label_gain(&self) -> Vec<f64> {
        self.label_gain
            .clone()
            .unwrap_or_else(|| (0..31).map(|i| 2f64.powi(i) - 1.0).collect())
    }

    /// The `[key: value]` lines of a LightGBM model file's `parameters:` block, in LightGBM's
    /// own syntax so LightGBM reads them back as the values we trained with: LightGBM's names
    /// (`early_stopping_round`, `is_provide_training_metric`; `boosting` is `gbdt`), booleans as `1`/`0` (LightGBM
    /// reads `true` as false there), lists comma-separated, and an NDCG metric as `ndcg` with
    /// `eval_at`. Unset options and `num_threads` are left out (a model file is the same bytes
    /// whatever the thread count). Keys are sorted; our own extensions
    /// (`lambdarank_pair_*`) appear only when set, and LightGBM ignores them with a warning.
    ///
    /// ```
    /// use aml_train::params::{GbdtParams, Metric, Objective};
    /// let p = GbdtParams {
    ///     objective: Objective::LambdaRank,
    ///     metric: Some(Metric::Ndcg(500)),
    ///     early_stopping_rounds: Some(30),
    ///     ..GbdtParams::default()
    /// };
    /// let lines = p.lightgbm_parameter_lines();
    /// assert!(lines.contains(&"[metric: ndcg]".to_string()));
    /// assert!(lines.contains(&"[eval_at: 500]".to_string()));
    /// assert!(lines.contains(&"[early_stopping_round: 30]".to_string()));
    /// assert!(lines.contains(&"[lambdarank_norm: 1]".to_string()));
    /// ```
    pub fn lightgbm_parameter_lines(&self) -> Vec<String> {
        let mut pairs = vec![("boosting".to_string(), "gbdt".to_string())];
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(self) {
            for (key, value) in map {
                let key = match key.as_str() {
                    // The model does not depend on the thread count, so neither does its file.
                    "metric" | "num_threads" => continue,
                    "early_stopping_rounds" => "early_stopping_round".to_string(),
                    "provide_training_metric" => "is_provide_training_metric".to_string(),
                    _ => key,
                };
                let text = match value {
                    serde_json::Value::Null => continue,
                    serde_json::Value::Bool(b) => u8::from(b).to_string(),
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Array(items) => items
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                pairs.push((key, text));
            }
        }
        match self.metric {
            Some(Metric::Ndcg(k)) => {
                pairs.push(("metric".into(), "ndcg".into()));
                pairs.push(("eval_at".into(), k.to_string()));
            }
            Some(metric) => pairs.push(("metric".into(), metric.name())),
            None => {}
        }
        pairs.sort();
        pairs
            .into_iter()
            .map(|(k, v)| format!("[{k}: {v}]"))
            .collect()
    }

    /// Every parameter's JSON name, including the options that are left out of the JSON form
    /// while unset (so a configuration may set them by name).
    pub fn field_names() -> Vec<String> {
        let all_set = GbdtParams {
            lambdarank_pair_sample: 1,
            lambdarank_pair_norm: true,
            data_sample_strategy: DataSampleStrategy::Goss,
            top_rate: DEFAULT_TOP_RATE / 2.0,
            other_rate: DEFAULT_OTHER_RATE / 2.0,
            ..GbdtParams::default()
        };
        match serde_json::to_value(all_set) {
            Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Checks every parameter's range; the error names the parameter.
    ///
    /// ```
    /// use aml_train::params::GbdtParams;
    /// assert!(GbdtParams::default().validate().is_ok());
    /// let bad = GbdtParams { num_leaves: 1, ..GbdtParams::default() };
    /// assert!(bad.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), TrainError> {
        fn positive_finite(name: &str, v: f64) -> Result<(), TrainError> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(TrainError::param(
                    name,
                    format!("must be finite and > 0, got {v}"),
                ))
            }
        }
        fn non_negative(name: &str, v: f64) -> Result<(), TrainError> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(TrainError::param(
                    name,
                    format!("must be finite and >= 0, got {v}"),
                ))
            }
        }
        fn fraction(name: &str, v: f64) -> Result<(), TrainError> {
            if v > 0.0 && v <= 1.0 {
                Ok(())
            } else {
                Err(TrainError::param(
                    name,
                    format!("must be in (0, 1], got {v}"),
                ))
            }
        }
        positive_finite("learning_rate", self.learning_rate)?;
        positive_finite("sigmoid", self.sigmoid)?;
        positive_finite("scale_pos_weight", self.scale_pos_weight)?;
        non_negative("min_sum_hessian_in_leaf", self.min_sum_hessian_in_leaf)?;
        non_negative("lambda_l1", self.lambda_l1)?;
        non_negative("lambda_l2", self.lambda_l2)?;
        non_negative("min_gain_to_split", self.min_gain_to_split)?;
        fraction("feature_fraction", self.feature_fraction)?;
        fraction("bagging_fraction", self.bagging_fraction)?;
        if self.data_sample_strategy == DataSampleStrategy::Goss {
            for (name, rate) in [("top_rate", self.top_rate), ("other_rate", self.other_rate)] {
                if !(rate > 0.0 && rate < 1.0) {
                    return Err(TrainError::param(
                        name,
                        format!("must be in (0, 1) with data_sample_strategy goss, got {rate}"),
                    ));
                }
            }
            if self.top_rate + self.other_rate > 1.0 {
                return Err(TrainError::param(
                    "other_rate",
                    format!(
                        "top_rate + other_rate must be <= 1, got {} + {}",
                        self.top_rate, self.other_rate
                    ),
                ));
            }
            if self.bagging_freq > 0 && self.bagging_fraction < 1.0 {
                return Err(TrainError::param(
                    "data_sample_strategy",
                    "goss samples the rows itself: it cannot be combined with bagging \
                     (bagging_fraction < 1 with bagging_freq > 0), like LightGBM",
                ));
            }
        }
        if self.num_iterations == 0 {
            return Err(TrainError::param(
                "num_iterations",
                "must be >= 1 (0 would make a model of no trees)",
            ));
        }
        if self.num_leaves < 2 || self.num_leaves > 131_072 {
            return Err(TrainError::param(
                "num_leaves",
                format!("must be in 2..=131072, got {}", self.num_leaves),
            ));
        }
        if !(2..=65_535).contains(&self.max_bin) {
            return Err(TrainError::param(
                "max_bin",
                format!("must be in 2..=65535, got {}", self.max_bin),
            ));
        }
        if self.bin_construct_sample_cnt == 0 {
            return Err(TrainError::param(
                "bin_construct_sample_cnt",
                "must be >= 1",
            ));
        }
        if self.lambdarank_truncation_level == 0 {
            return Err(TrainError::param(
                "lambdarank_truncation_level",
                "must be >= 1",
            ));
        }
        if self.lambdarank_pair_sample > MAX_LAMBDARANK_PAIR_SAMPLE {
            return Err(TrainError::param(
                "lambdarank_pair_sample",
                format!(
                    "must be <= {MAX_LAMBDARANK_PAIR_SAMPLE} (partners drawn per row and round), got {}",
                    self.lambdarank_pair_sample
                ),
            ));
        }
        if let Some(gain) = &self.label_gain {
            if gain.is_empty() || gain.iter().any(|g| !g.is_finite()) {
                return Err(TrainError::param(
                    "label_gain",
                    "must be a non-empty list of finite values",
                ));
            }
        }
        if self.early_stopping_rounds == Some(0) {
            return Err(TrainError::param(
                "early_stopping_rounds",
                "must be >= 1 when set",
            ));
        }
        if let Some(Metric::Ndcg(0)) = self.metric {
            return Err(TrainError::param("metric", "ndcg cut-off must be >= 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_lightgbm_and_json_round_trips() {
        let p = GbdtParams::default();
        assert_eq!(
            (
                p.num_iterations,
                p.num_leaves,
                p.max_bin,
                p.min_data_in_leaf
            ),
            (100, 31, 255, 20)
        );
        assert_eq!(p.effective_metric(), Metric::LogLoss);
        assert_eq!(p.effective_label_gain()[3], 7.0);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<GbdtParams>(&json).unwrap(), p);
        let partial: GbdtParams =
            serde_json::from_str(r#"{"objective":"lambdarank","metric":{"ndcg":5}}"#).unwrap();
        assert_eq!(partial.objective, Objective::LambdaRank);
        assert_eq!(partial.metric, Some(Metric::Ndcg(5)));
        assert_eq!(partial.learning_rate, 0.1);
    }

    #[test]
    fn validate_names_the_parameter() {
        let cases = [
            GbdtParams {
                learning_rate: f64::NAN,
                ..Default::default()
            },
            GbdtParams {
                feature_fraction: 0.0,
                ..Default::default()
            },
            GbdtParams {
                bagging_fraction: 1.5,
                ..Default::default()
            },
            GbdtParams {
                max_bin: 1,
                ..Default::default()
            },
            GbdtParams {
                lambda_l2: -1.0,
                ..Default::default()
            },
            GbdtParams {
                early_stopping_rounds: Some(0),
                ..Default::default()
            },
        ];
        for p in cases {
            assert!(
                matches!(p.validate(), Err(TrainError::InvalidParam { .. })),
                "{p:?}"
            );
        }
    }

    /// LightGBM's Python `Booster` turns the `parameters:` block into JSON and reads `true`
    /// as false: every value must be a plain scalar or a comma list, booleans 1/0.
    #[test]
    fn parameter_lines_are_lightgbm_syntax() {
        let p = GbdtParams {
            objective: Objective::LambdaRank,
            metric: Some(Metric::Ndcg(500)),
            label_gain: Some(vec![0.0, 1.0, 3.0]),
            early_stopping_rounds: Some(30),
            lambdarank_pair_sample: 3,
            lambdarank_pair_norm: true,
            ..GbdtParams::default()
        };
        let lines = p.lightgbm_parameter_lines();
        for line in &lines {
            assert!(line.starts_with('[') && line.ends_with(']'), "{line}");
            for bad in ['{', '"', '}'] {
                assert!(!line.contains(bad), "{line}");
            }
            assert!(!line.contains("true") && !line.contains("false"), "{line}");
        }
        for want in [
            "[boosting: gbdt]",
            "[objective: lambdarank]",
            "[metric: ndcg]",
            "[eval_at: 500]",
            "[label_gain: 0.0,1.0,3.0]",
            "[early_stopping_round: 30]",
            "[is_provide_training_metric: 0]",
            "[lambdarank_norm: 1]",
            "[lambdarank_pair_norm: 1]",
            "[lambdarank_pair_sample: 3]",
        ] {
            assert!(
                lines.iter().any(|l| l == want),
                "{want} missing in {lines:?}"
            );
        }
        let mut sorted = lines.clone();
        sorted.sort();
        assert_eq!(sorted, lines);
        let plain = GbdtParams::default().lightgbm_parameter_lines();
        assert!(!plain.iter().any(|l| l.starts_with("[metric:")
            || l.starts_with("[num_threads:")
            || l.starts_with("[label_gain:")
            || l.starts_with("[lambdarank_pair")));
    }
}
