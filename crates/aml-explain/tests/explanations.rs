//! The miner's explanation path (`explain_json` top features, global importance): single-output
//! models keep working, with categorical splits too; multiclass models are refused clearly
//! instead of explaining class 0 only.

use aml_explain::synthetic::{categorical_rows, categorize, random_ensemble, EnsembleShape};
use aml_explain::{global_importance, ExplainError, Explanation, TreeShapExplainer, DEFAULT_TOP_K};
use aml_models::ObjectiveKind;

const SHAPE: EnsembleShape = EnsembleShape {
    trees: 12,
    leaves: 15,
    features: 8,
    used_features: 8,
    root_count: 2000,
};

fn categorical_model() -> (aml_models::TreeEnsemble, ndarray::Array2<f64>) {
    let mut model = random_ensemble(41, SHAPE);
    let categorical = [0, 3, 5];
    categorize(&mut model, 42, &categorical, 2);
    let rows = categorical_rows(43, 30, SHAPE.features, &categorical, 60);
    (model, rows)
}

#[test]
fn single_output_categorical_model_explains_top_features() {
    let (model, rows) = categorical_model();
    let explainer = TreeShapExplainer::new(&model).unwrap();
    let contrib = explainer.contributions(rows.view()).unwrap();
    let all = explainer.explain(rows.view(), SHAPE.features).unwrap();
    let top = explainer.explain(rows.view(), DEFAULT_TOP_K).unwrap();
    for (r, (e, short)) in all.iter().zip(&top).enumerate() {
        let row = rows.row(r).to_vec();
        assert_eq!(e.raw_score, model.predict_raw_reference(&row));
        assert_eq!(e.score, model.transform(e.raw_score));
        assert_eq!(e.base_value, explainer.expected_value());
        let total: f64 = e.top_features.iter().map(|f| f.impact).sum::<f64>() + e.base_value;
        assert!((total - e.raw_score).abs() <= 1e-9, "row {r}");
        assert_eq!(
            short.top_features[..],
            e.top_features[..short.top_features.len()]
        );
        for f in &e.top_features {
            let i: usize = f.feature[1..].parse().unwrap();
            assert_eq!(f.impact, contrib[[r, i]]);
        }
    }
    assert_eq!(
        global_importance(&model, contrib.view()).unwrap().len(),
        SHAPE.features
    );
}

#[test]
fn multiclass_explanations_are_refused_not_truncated_to_class_zero() {
    let (mut model, rows) = categorical_model();
    model.objective = ObjectiveKind::Multiclass { num_class: 3 };
    let explainer = TreeShapExplainer::new(&model).unwrap();
    // Per-class contributions are fine ...
    let contrib = explainer.contributions(rows.view()).unwrap();
    assert_eq!(contrib.ncols(), 3 * (SHAPE.features + 1));
    // ... but one score with top features per row is not.
    let err = explainer.explain(rows.view(), DEFAULT_TOP_K).unwrap_err();
    assert!(matches!(err, ExplainError::Unsupported(_)), "{err:?}");
    assert!(
        err.to_string().contains("multiclass model (3 classes)"),
        "{err}"
    );
    let row = rows.row(0).to_vec();
    let err =
        Explanation::from_contributions(&explainer, &row, &contrib.row(0).to_vec(), 5).unwrap_err();
    assert!(err.to_string().contains("multiclass"), "{err}");
    let err = global_importance(&model, contrib.view()).unwrap_err();
    assert!(err.to_string().contains("multiclass"), "{err}");
}
