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
/// order, so the result is deterministic. Single-output models only (a multiclass model's
/// contributions have one block per class): others give [`ExplainError::Unsupported`].
pub fn global_importance(
    ensemble: &TreeEnsemble,
    contributions: ArrayView2<'_, f64>,
) -> Result<Vec<FeatureImportance>, ExplainError> {
    if ensemble.num_class() > 1 {
        return Err(ExplainError::Unsupported(format!(
            "global importance of a multiclass model ({} classes): one mean |SHAP| per class",
            ensemble.num_class()
        )));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{random_ensemble, random_rows, EnsembleShape};
    use crate::TreeShapExplainer;

    #[test]
    fn importance_aggregates_shap_gain_and_splits() {
        let shape = EnsembleShape {
            trees: 10,
            leaves: 8,
            features: 6,
            used_features: 4,
            root_count: 300,
        };
        let model = random_ensemble(31, shape);
        let rows = random_rows(32, 50, shape.features, 0.1);
        let phi = TreeShapExplainer::new(&model)
            .unwrap()
            .contributions(rows.view())
            .unwrap();
        let imp = global_importance(&model, phi.view()).unwrap();
        assert_eq!(imp.len(), 6);
        let splits: u64 = imp.iter().map(|i| i.split_count).sum();
        assert_eq!(
            splits as usize,
            model.trees.iter().map(|t| t.num_internal()).sum::<usize>()
        );
        for (f, i) in imp.iter().enumerate() {
            let mean = phi.column(f).iter().map(|v| v.abs()).sum::<f64>() / 50.0;
            assert_eq!(i.mean_abs_shap, mean);
            if f >= 4 {
                assert_eq!(
                    (i.mean_abs_shap, i.total_gain, i.split_count),
                    (0.0, 0.0, 0)
                );
            }
        }
        assert!(global_importance(&model, phi.slice(ndarray::s![.., ..3])).is_err());
    }
}
