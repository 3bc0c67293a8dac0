//! Global feature importance: mean |SHAP| over explained rows, total split gain and split count.

use aml_models::TreeEnsemble;
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::error::ExplainError;

/// Importance of one feature over a model and a set of explained rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureImportance {
    /// Feature name from the model.
    pub feature: String,
    /// Mean absolute SHAP value over the rows (raw space); 0 when no rows were given.
    pub mean_abs_shap: f64,
    /// Sum of `split_gain` over every split on this feature.
    pub total_gain: f64,
    /// Number of splits on this feature.
    pub split_count: u64,
}

/// Importance of every feature, in feature order. `contributions` is the `n x (num_features + 1)`
/// output of the explainer (the expected-value column is ignored). Sums run over rows and trees in
/// order, so the result is deterministic.
pub fn global_importance(
    ensemble: &TreeEnsemble,
    contributions: ArrayView2<'_, f64>,
) -> Result<Vec<FeatureImportance>, ExplainError> {
    let nf = ensemble.num_features();
    if contributions.ncols() != nf + 1 {
        return Err(ExplainError::FeatureCountMismatch {
            expected: nf + 1,
            got: contributions.ncols(),
        });
    }
    let gain = ensemble.gain_importance();
    let count = ensemble.split_importance();
    let n = contributions.nrows();
    Ok((0..nf)
        .map(|f| {
            let sum: f64 = contributions.column(f).iter().map(|v| v.abs()).sum();
            FeatureImportance {
                feature: ensemble.feature_names[f].clone(),
                mean_abs_shap: if n == 0 { 0.0 } else { sum / n as f64 },
                total_gain: gain[f],
                split_count: count[f],
            }
        })
        .collect())
}
