//! The three models a miner runs every day, on top of [`GbdtModel`]:
//!
//! - [`AlertScorer`]: binary GBDT on the alert [`FeatureMatrix`] -> P(illicit) in `[0, 1]`,
//!   optionally passed through a fitted [`Calibration`] (which may also read the alert's own
//!   evidence columns, such as its confidence).
//! - [`AlertRanker`]: ranking GBDT (lambdarank, rank_xendcg or binary, chosen out of fold at
//!   training time) on the alert matrix plus one extra column, the scorer's
//!   probability ([`SCORER_FEATURE`]); gives a `ranking_score` and a `rank` (1 = most urgent,
//!   ties share the lowest rank).
//! - [`ClusterScorer`]: binary GBDT on the cluster matrix -> P(cluster holds an illicit alert).
//!
//! TreeSHAP explanations are *not* produced here: `aml-explain` depends on this crate, so the
//! top-5 explanation of every alert is attached by the root pipeline (`aml_miner::pipeline`),
//! which owns both crates.
//!
//! Every scorer checks, before predicting, that the matrix columns are exactly the model's
//! feature names in the same order, and fails with [`ScorerError::FeatureMismatch`] naming the
//! first differing column otherwise: a model silently applied to shifted columns would give
//! plausible-looking nonsense.

use aml_features::FeatureMatrix;
use ndarray::{concatenate, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::model::{GbdtModel, Model, ModelError};
use crate::tree::{IdentityObjective, ObjectiveKind};

/// Name of the ranker's extra input column: the alert scorer's (calibrated) probability.
pub const SCORER_FEATURE: &str = "scorer_probability";

/// Why a scorer could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum ScorerError {
    /// The model was trained with another objective than this scorer needs.
    #[error("{scorer}: model objective is {found:?}, expected {expected}")]
    WrongObjective {
        /// Which scorer.
        scorer: &'static str,
        /// Objective of the model file.
        found: ObjectiveKind,
        /// Objective the scorer needs.
        expected: &'static str,
    },
    /// The matrix columns differ from the model's feature names.
    #[error(
        "{scorer}: feature mismatch: model has {expected} features, matrix has {got}; {detail}"
    )]
    FeatureMismatch {
        /// Which scorer.
        scorer: &'static str,
        /// Number of model features.
        expected: usize,
        /// Number of matrix columns.
        got: usize,
        /// First differing position and names.
        detail: String,
    },
    /// A side input has the wrong length.
    #[error("{scorer}: {what} has {got} values, expected {expected}")]
    LengthMismatch {
        /// Which scorer.
        scorer: &'static str,
        /// The input.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A calibration map is malformed.
    #[error("invalid calibration: {0}")]
    Calibration(String),
    /// Prediction failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// A map from a model's probability (and, for [`Calibration::EvidencePlatt`], the alert's own
/// evidence columns) to a calibrated probability, non-decreasing in the model's probability.
///
/// Fitted by `aml_train::pipeline::calibration` on the validation day and kept only when it
/// lowers the Brier score there. Stored in the bundle's `metadata.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibration {
    /// Platt scaling on the log-odds: `p' = 1 / (1 + exp(-(a * logit(p) + b)))`.
    Platt {
        /// Slope on the log-odds.
        a: f64,
        /// Intercept.
        b: f64,
    },
    /// Isotonic regression: a non-decreasing map linearly interpolated between `(x[i], y[i])`
    /// knots (`x` strictly increasing), constant outside the knots (like scikit-learn's
    /// `IsotonicRegression(out_of_bounds="clip")`).
    Isotonic {
        /// Knot positions (input probabilities), strictly increasing.
        x: Vec<f64>,
        /// Knot values (calibrated probabilities), non-decreasing, in `[0, 1]`.
        y: Vec<f64>,
    },
    /// Platt scaling that also sees the alert's own evidence:
    /// `p' = 1 / (1 + exp(-(a * logit(p) + b + sum_k weight_k * x_k)))`, where `x_k` is the
    /// alert's value in the matrix column `evidence[k].feature` (its `fill` when missing).
    /// `a >= 0`, so the map never reverses the model's order among alerts with equal evidence.
    EvidencePlatt {
        /// Slope on the log-odds (non-negative).
        a: f64,
        /// Intercept.
        b: f64,
        /// Evidence columns with their fitted weights.
        evidence: Vec<EvidenceTerm>,
    },
}

/// One evidence column of a [`Calibration::EvidencePlatt`] map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceTerm {
    /// Alert matrix column (one of the scorer model's features).
    pub feature: String,
    /// Weight of the column's value on the log-odds.
    pub weight: f64,
    /// Value used for a missing (NaN) entry: the column's mean on the fitting rows.
    pub fill: f64,
}

impl Calibration {
    /// Checks the map is well formed (finite, sorted, monotone, values in `[0, 1]`).
    pub fn validate(&self) -> Result<(), ScorerError> {
        let bad = |m: &str| Err(ScorerError::Calibration(m.to_string()));
        match self {
            Calibration::Platt { a, b } => {
                if !a.is_finite() || !b.is_finite() {
                    return bad("platt coefficients must be finite");
                }
            }
            Calibration::EvidencePlatt { a, b, evidence } => {
                if !a.is_finite() || !b.is_finite() || *a < 0.0 {
                    return bad("evidence_platt a must be finite and non-negative, b finite");
                }
                for (k, term) in evidence.iter().enumerate() {
                    if !term.weight.is_finite() || !term.fill.is_finite() {
                        return bad(&format!(
                            "evidence_platt term {:?}: weight and fill must be finite",
                            term.feature
                        ));
                    }
                    if evidence[..k].iter().any(|t| t.feature == term.feature) {
                        return bad(&format!(
                            "evidence_platt column {:?} appears twice",
                            term.feature
                        ));
                    }
                }
            }
            Calibration::Isotonic { x, y } => {
                if x.is_empty() || x.len() != y.len() {
                    return bad("isotonic knots must be non-empty with x and y of equal length");
                }
                if x.iter().any(|v| !v.is_finite()) || x.windows(2).any(|w| w[0] >= w[1]) {
                    return bad("isotonic x must be finite and strictly increasing");
                }
                if y.windows(2).any(|w| w[0] > w[1]) || y.iter().any(|v| !(0.0..=1.0).contains(v)) {
                    return bad("isotonic y must be non-decreasing in [0, 1]");
                }
            }
        }
        Ok(())
    }

    /// The matrix columns the map reads besides the probability (empty unless
    /// [`Calibration::EvidencePlatt`]), in the order [`Calibration::apply_with`] expects them.
    pub fn evidence_features(&self) -> Vec<&str> {
        match self {
            Calibration::EvidencePlatt { evidence, .. } => {
                evidence.iter().map(|t| t.feature.as_str()).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Calibrated probability of `p` for an alert whose evidence columns
    /// ([`Calibration::evidence_features`], same order) hold `evidence`; a missing (NaN or
    /// absent) value counts as the term's `fill`.
    ///
    /// ```
    /// use aml_models::scorers::{Calibration, EvidenceTerm};
    /// let term = EvidenceTerm { feature: "confidence".into(), weight: 2.0, fill: 0.5 };
    /// let cal = Calibration::EvidencePlatt { a: 1.0, b: -1.0, evidence: vec![term] };
    /// assert!((cal.apply_with(0.5, &[0.5]) - 0.5).abs() < 1e-12);
    /// assert!(cal.apply_with(0.5, &[0.9]) > cal.apply_with(0.5, &[0.1]));
    /// assert_eq!(cal.apply_with(0.5, &[f64::NAN]), cal.apply(0.5));
    /// ```
    pub fn apply_with(&self, p: f64, evidence: &[f64]) -> f64 {
        match self {
            Calibration::EvidencePlatt {
                a,
                b,
                evidence: terms,
            } => {
                let shift: f64 = terms
                    .iter()
                    .enumerate()
                    .map(|(k, t)| {
                        let x = evidence.get(k).copied().filter(|v| !v.is_nan());
                        t.weight * x.unwrap_or(t.fill)
                    })
                    .sum();
                1.0 / (1.0 + (-(a * logit(p) + b + shift)).exp())
            }
            other => other.apply(p),
        }
    }

    /// Calibrated probability of `p` (an [`Calibration::EvidencePlatt`] map takes every
    /// evidence column at its `fill`; use [`Calibration::apply_with`] to pass the alert's own).
    ///
    /// ```
    /// use aml_models::scorers::Calibration;
    /// let iso = Calibration::Isotonic { x: vec![0.2, 0.8], y: vec![0.1, 0.5] };
    /// assert!((iso.apply(0.5) - 0.3).abs() < 1e-12);
    /// assert_eq!(iso.apply(0.0), 0.1);
    /// let identity = Calibration::Platt { a: 1.0, b: 0.0 };
    /// assert!((identity.apply(0.3) - 0.3).abs() < 1e-12);
    /// ```
    pub fn apply(&self, p: f64) -> f64 {
        match self {
            Calibration::Platt { a, b } => 1.0 / (1.0 + (-(a * logit(p) + b)).exp()),
            Calibration::EvidencePlatt { .. } => self.apply_with(p, &[]),
            Calibration::Isotonic { x, y } => {
                let n = x.len();
                if p <= x[0] {
                    return y[0];
                }
                if p >= x[n - 1] {
                    return y[n - 1];
                }
                // First knot strictly greater than p; p lies in [x[i-1], x[i]).
                let i = x.partition_point(|&v| v <= p);
                let (x0, x1, y0, y1) = (x[i - 1], x[i], y[i - 1], y[i]);
                y0 + (y1 - y0) * (p - x0) / (x1 - x0)
            }
        }
    }
}

/// Checks that `names` equals `expected` exactly (same order).
pub fn check_feature_names(
    scorer: &'static str,
    expected: &[String],
    names: &[String],
) -> Result<(), ScorerError> {
    if expected == names {
        return Ok(());
    }
    let first = expected.iter().zip(names).position(|(a, b)| a != b);
    let detail = match first {
        Some(i) => format!(
            "column {i} is {:?} in the matrix but {:?} in the model",
            names[i], expected[i]
        ),
        None if names.len() < expected.len() => {
            format!("matrix lacks {:?} and later columns", expected[names.len()])
        }
        None => format!("matrix has extra column {:?}", names[expected.len()]),
    };
    Err(ScorerError::FeatureMismatch {
        scorer,
        expected: expected.len(),
        got: names.len(),
        detail,
    })
}

fn require_binary(scorer: &'static str, model: &GbdtModel) -> Result<(), ScorerError> {
    match &model.ensemble().objective {
        ObjectiveKind::Binary { .. } => Ok(()),
        found => Err(ScorerError::WrongObjective {
            scorer,
            found: found.clone(),
            expected: "binary",
        }),
    }
}

/// P(illicit) per alert from a model of the alert feature matrix: a binary GBDT
/// ([`AlertScorer::new`]) or any other [`Model`] whose `predict` gives probabilities
/// ([`AlertScorer::with_model`]); this is the seam where a miner plugs in its own model.
#[derive(Debug, Clone)]
pub struct AlertScorer<M: Model = GbdtModel> {
    model: M,
    calibration: Option<Calibration>,
}

impl AlertScorer {
    /// Wraps a binary model and an optional calibration map.
    pub fn new(model: GbdtModel, calibration: Option<Calibration>) -> Result<Self, ScorerError> {
        require_binary("alert_scorer", &model)?;
        Self::with_model(model, calibration)
    }
}

impl<M: Model> AlertScorer<M> {
    /// Wraps any model whose [`Model::predict`] is P(illicit) in `[0, 1]`, and an optional
    /// calibration map. The scores it writes are explained through [`Model::tree_ensemble`].
    pub fn with_model(model: M, calibration: Option<Calibration>) -> Result<Self, ScorerError> {
        if let Some(c) = &calibration {
            c.validate()?;
            if let Some(missing) = c
                .evidence_features()
                .into_iter()
                .find(|f| !model.feature_names().iter().any(|n| n == f))
            {
                return Err(ScorerError::Calibration(format!(
                    "calibration reads column {missing:?}, which is not a model feature"
                )));
            }
        }
        Ok(AlertScorer { model, calibration })
    }

    /// The underlying model (for TreeSHAP and the bundle).
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The calibration map, if one was kept at training time.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibration.as_ref()
    }

    /// Model feature names (the alert matrix columns it expects).
    pub fn feature_names(&self) -> &[String] {
        self.model.feature_names()
    }

    /// Uncalibrated model probabilities of raw rows (columns in model order, unchecked names).
    pub fn predict_uncalibrated(&self, x: ArrayView2<'_, f32>) -> Result<Vec<f64>, ScorerError> {
        Ok(self.model.predict(x)?)
    }

    /// Maps uncalibrated probabilities of the rows of `x` (columns in model order) through the
    /// calibration (identity without one); an evidence calibration reads its columns from `x`.
    pub fn calibrate(&self, probs: &mut [f64], x: ArrayView2<'_, f32>) -> Result<(), ScorerError> {
        let Some(c) = &self.calibration else {
            return Ok(());
        };
        if probs.len() != x.nrows() {
            return Err(ScorerError::LengthMismatch {
                scorer: "alert_scorer",
                what: "probabilities to calibrate",
                expected: x.nrows(),
                got: probs.len(),
            });
        }
        let names = self.feature_names();
        let columns: Vec<usize> = c
            .evidence_features()
            .into_iter()
            .filter_map(|f| names.iter().position(|n| n == f))
            .collect();
        let mut evidence = vec![0.0; columns.len()];
        for (p, row) in probs.iter_mut().zip(x.rows()) {
            for (e, &j) in evidence.iter_mut().zip(&columns) {
                *e = f64::from(row[j]);
            }
            *p = c.apply_with(*p, &evidence);
        }
        Ok(())
    }

    /// P(illicit) for every row of `matrix` (calibrated when a calibration is present).
    pub fn score(&self, matrix: &FeatureMatrix) -> Result<Vec<f64>, ScorerError> {
        check_feature_names("alert_scorer", self.feature_names(), &matrix.feature_names)?;
        let mut p = self.predict_uncalibrated(matrix.values.view())?;
        self.calibrate(&mut p, matrix.values.view())?;
        Ok(p)
    }
}

/// Ranking GBDT on the alert matrix plus the scorer's probability.
#[derive(Debug, Clone)]
pub struct AlertRanker {
    model: GbdtModel,
}

impl AlertRanker {
    /// Wraps a ranking model (lambdarank, rank_xendcg, binary or L2 regression: its raw score
    /// orders the alerts) whose last feature is [`SCORER_FEATURE`].
    pub fn new(model: GbdtModel) -> Result<Self, ScorerError> {
        let ranks = matches!(
            model.ensemble().objective,
            ObjectiveKind::LambdaRank
                | ObjectiveKind::Identity(IdentityObjective::RankXendcg)
                | ObjectiveKind::Binary { .. }
                | ObjectiveKind::Regression
        );
        if !ranks {
            return Err(ScorerError::WrongObjective {
                scorer: "alert_ranker",
                found: model.ensemble().objective.clone(),
                expected: "lambdarank, rank_xendcg, binary or regression",
            });
        }
        if model.feature_names().last().map(String::as_str) != Some(SCORER_FEATURE) {
            return Err(ScorerError::FeatureMismatch {
                scorer: "alert_ranker",
                expected: model.feature_names().len(),
                got: model.feature_names().len(),
                detail: format!("the ranker's last feature must be {SCORER_FEATURE:?}"),
            });
        }
        Ok(AlertRanker { model })
    }

    /// The underlying model.
    pub fn model(&self) -> &GbdtModel {
        &self.model
    }

    /// Model feature names: the alert matrix columns, then [`SCORER_FEATURE`].
    pub fn feature_names(&self) -> &[String] {
        self.model.feature_names()
    }

    /// The alert matrix with the scorer's probabilities appended as the last column.
    pub fn ranker_input(
        matrix_values: ArrayView2<'_, f32>,
        scorer_probabilities: &[f64],
    ) -> Array2<f32> {
        let extra: Vec<f32> = scorer_probabilities.iter().map(|&p| p as f32).collect();
        let column = Array2::from_shape_vec((extra.len(), 1), extra).expect("one value per row");
        concatenate(Axis(1), &[matrix_values.reborrow(), column.view()])
            .expect("row counts checked by caller")
    }

    /// Ranking scores (larger = more urgent), one per matrix row:
    /// [`AlertRanker::scorer_offset`] of the scorer probability plus the raw LambdaRank output.
    ///
    /// The ranker is trained to boost from the scorer's log-odds (LightGBM's `init_score`), so
    /// its trees only correct the scorer's order where the graded relevance says it is wrong;
    /// the offset is not stored in the model file and is added back here. Alerts the trees
    /// cannot tell apart keep the scorer's order instead of tying.
    pub fn ranking_scores(
        &self,
        matrix: &FeatureMatrix,
        scorer_probabilities: &[f64],
    ) -> Result<Vec<f64>, ScorerError> {
        let names = self.feature_names();
        check_feature_names(
            "alert_ranker",
            &names[..names.len() - 1],
            &matrix.feature_names,
        )?;
        if scorer_probabilities.len() != matrix.n_rows() {
            return Err(ScorerError::LengthMismatch {
                scorer: "alert_ranker",
                what: "scorer probabilities",
                expected: matrix.n_rows(),
                got: scorer_probabilities.len(),
            });
        }
        let x = Self::ranker_input(matrix.values.view(), scorer_probabilities);
        let mut scores = self.model.predict_raw(x.view())?;
        for (s, &p) in scores.iter_mut().zip(scorer_probabilities) {
            *s += Self::scorer_offset(p);
        }
        Ok(scores)
    }

    /// The raw score the ranker boosts from: the log-odds of the scorer probability `p`
    /// (clamped to `[1e-15, 1 - 1e-15]`; a non-finite `p` gives 0).
    pub fn scorer_offset(p: f64) -> f64 {
        if p.is_finite() {
            logit(p)
        } else {
            0.0
        }
    }
}

/// Log-odds of the probability `p`, clamped to `[1e-15, 1 - 1e-15]` so 0 and 1 stay finite
/// (the one logit of Platt scaling, its fit and the ranker's offset).
pub fn logit(p: f64) -> f64 {
    let q = p.clamp(1e-15, 1.0 - 1e-15);
    (q / (1.0 - q)).ln()
}

/// The rankings table's rank rule, defined once beside the table in aml-core (the submission
/// writer checks ranks with it before signing).
pub use aml_core::submission::competition_ranks;

/// Binary GBDT on the cluster matrix: P(the cluster holds at least one illicit alert).
#[derive(Debug, Clone)]
pub struct ClusterScorer {
    model: GbdtModel,
}

impl ClusterScorer {
    /// Wraps a binary model trained on the cluster matrix.
    pub fn new(model: GbdtModel) -> Result<Self, ScorerError> {
        require_binary("cluster_scorer", &model)?;
        Ok(ClusterScorer { model })
    }

    /// The underlying model.
    pub fn model(&self) -> &GbdtModel {
        &self.model
    }

    /// Model feature names (the cluster matrix columns).
    pub fn feature_names(&self) -> &[String] {
        self.model.feature_names()
    }

    /// P(illicit cluster) for every row of the cluster matrix.
    pub fn score(&self, matrix: &FeatureMatrix) -> Result<Vec<f64>, ScorerError> {
        check_feature_names(
            "cluster_scorer",
            self.feature_names(),
            &matrix.feature_names,
        )?;
        Ok(self.model.predict(matrix.values.view())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Tree, TreeEnsemble};

    fn stump_model(objective: ObjectiveKind, names: &[&str]) -> GbdtModel {
        let mut tree = Tree::constant(0.0, 10);
        tree.split_feature = vec![0];
        tree.split_gain = vec![1.0];
        tree.threshold = vec![0.5];
        tree.default_left = vec![true];
        tree.missing_type = vec![crate::tree::MissingType::NaN];
        tree.left_child = vec![-1];
        tree.right_child = vec![-2];
        tree.internal_value = vec![0.0];
        tree.internal_weight = vec![10.0];
        tree.internal_count = vec![10];
        tree.leaf_value = vec![-1.0, 1.0];
        tree.leaf_weight = vec![5.0, 5.0];
        tree.leaf_count = vec![5, 5];
        let n = names.len();
        GbdtModel::from_ensemble(TreeEnsemble {
            trees: vec![tree],
            base_score: 0.0,
            feature_names: names.iter().map(|s| s.to_string()).collect(),
            feature_infos: vec!["none".into(); n],
            objective,
            average_output: false,
        })
        .unwrap()
    }

    fn matrix(names: &[&str], rows: &[[f32; 2]]) -> FeatureMatrix {
        let values = Array2::from_shape_fn((rows.len(), 2), |(r, c)| rows[r][c]);
        FeatureMatrix {
            values,
            feature_names: names.iter().map(|s| s.to_string()).collect(),
            row_ids: (0..rows.len()).map(|i| format!("a{i}")).collect(),
        }
    }

    #[test]
    fn scorer_checks_names_and_calibrates() {
        let model = stump_model(ObjectiveKind::Binary { sigmoid: 1.0 }, &["x", "y"]);
        let scorer = AlertScorer::new(model.clone(), None).unwrap();
        let m = matrix(&["x", "y"], &[[0.0, 0.0], [1.0, 0.0]]);
        let p = scorer.score(&m).unwrap();
        assert!((p[0] - 1.0 / (1.0 + 1f64.exp())).abs() < 1e-12 && p[1] > 0.5);
        let err = scorer
            .score(&matrix(&["x", "z"], &[[0.0, 0.0]]))
            .unwrap_err();
        assert!(err.to_string().contains("\"z\""), "{err}");
        let cal = Calibration::Isotonic {
            x: vec![0.0, 1.0],
            y: vec![0.0, 0.5],
        };
        let calibrated = AlertScorer::new(model, Some(cal))
            .unwrap()
            .score(&m)
            .unwrap();
        assert!((calibrated[1] - p[1] / 2.0).abs() < 1e-12);
    }

    #[test]
    fn objectives_are_enforced() {
        let rank = stump_model(ObjectiveKind::LambdaRank, &["x", SCORER_FEATURE]);
        assert!(AlertScorer::new(rank.clone(), None).is_err());
        assert!(ClusterScorer::new(rank.clone()).is_err());
        let ranker = AlertRanker::new(rank).unwrap();
        let m = matrix(&["x", "y"], &[[0.0, 0.0]]);
        assert!(
            ranker.ranking_scores(&m, &[0.5]).is_err(),
            "ranker expects only column x"
        );
        let bad = stump_model(ObjectiveKind::LambdaRank, &["x", "y"]);
        assert!(AlertRanker::new(bad).is_err());
    }

    #[test]
    fn ranks_share_lowest_on_ties() {
        assert_eq!(competition_ranks(&[]), Vec::<i32>::new());
        assert_eq!(competition_ranks(&[1.0, 1.0, 1.0]), vec![1, 1, 1]);
        assert_eq!(
            competition_ranks(&[f64::NAN, 0.0, -0.0, 2.0]),
            vec![4, 2, 2, 1]
        );
    }

    #[test]
    fn invalid_calibrations_are_rejected() {
        assert!(Calibration::Platt {
            a: f64::NAN,
            b: 0.0
        }
        .validate()
        .is_err());
        assert!(Calibration::Isotonic {
            x: vec![0.5, 0.5],
            y: vec![0.1, 0.2]
        }
        .validate()
        .is_err());
        assert!(Calibration::Isotonic {
            x: vec![0.1, 0.5],
            y: vec![0.3, 0.2]
        }
        .validate()
        .is_err());
    }
}
