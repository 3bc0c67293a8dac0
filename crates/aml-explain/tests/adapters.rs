//! Converted baselines predict exactly what the original models predict, and explain consistently.

use aml_explain::adapters::{linfa as linfa_adapter, smartcore as smartcore_adapter};
use aml_explain::synthetic::random_rows;
use aml_explain::{reference_contributions, TreeShapExplainer};
use linfa::prelude::*;
use linfa_trees::DecisionTree;
use ndarray::{Array1, Array2};
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

/// Labels from a fixed rule, so trees have something to learn.
fn labels(x: &Array2<f64>) -> Array1<usize> {
    x.rows()
        .into_iter()
        .map(|r| usize::from(r[0] + 0.5 * r[1] - r[2] * r[3] > 0.1))
        .collect()
}

fn check_explanations(model: &aml_models::TreeEnsemble, rows: &Array2<f64>) {
    let explainer = TreeShapExplainer::new(model).unwrap();
    let phi = explainer.contributions(rows.view()).unwrap();
    for (r, row) in rows.rows().into_iter().enumerate() {
        let row = row.to_vec();
        let total: f64 = phi.row(r).sum();
        assert!((total - model.predict_raw_reference(&row)).abs() < 1e-9);
        let reference = reference_contributions(model, &row).unwrap();
        for (a, b) in reference.iter().zip(phi.row(r)) {
            assert!((a - b).abs() < 1e-9);
        }
    }
}

#[test]
fn linfa_decision_tree_round_trips_predictions() {
    let x = random_rows(1, 300, 5, 0.0);
    let y = labels(&x);
    let dataset = Dataset::new(x.clone(), y);
    let tree = DecisionTree::params()
        .max_depth(Some(6))
        .fit(&dataset)
        .unwrap();
    let model =
        linfa_adapter::decision_tree_to_ensemble(&tree, x.view(), |&l| l as f64, None).unwrap();
    assert_eq!(model.feature_names[4], "feature-4");
    // Fresh rows including NaNs, zeros and values exactly on split points.
    let mut test = random_rows(2, 200, 5, 0.1);
    let splits: Vec<(usize, f64)> = tree
        .iter_nodes()
        .filter(|n| !n.is_leaf())
        .map(|n| {
            let (f, v, _) = n.split();
            (f, v)
        })
        .collect();
    for (i, (f, v)) in splits.iter().enumerate().take(test.nrows()) {
        test[[i, *f]] = *v;
    }
    let expected = tree.predict(&test);
    for (row, want) in test.rows().into_iter().zip(expected.iter()) {
        assert_eq!(model.predict_raw_reference(&row.to_vec()), *want as f64);
    }
    check_explanations(&model, &test);
}

#[test]
fn smartcore_forest_round_trips_votes() {
    let x = random_rows(3, 300, 5, 0.0);
    let y: Vec<u32> = labels(&x).iter().map(|&v| v as u32).collect();
    let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    let dm = DenseMatrix::from_2d_vec(&rows).unwrap();
    let params = RandomForestClassifierParameters::default()
        .with_n_trees(15)
        .with_max_depth(5)
        .with_seed(7);
    let forest = RandomForestClassifier::fit(&dm, &y, params).unwrap();
    let names: Vec<String> = (0..5).map(|i| format!("x{i}")).collect();
    let model =
        smartcore_adapter::random_forest_classifier_to_ensemble(&forest, Some(&names)).unwrap();
    assert_eq!(model.trees.len(), 15);
    let test = random_rows(4, 200, 5, 0.1);
    let test_rows: Vec<Vec<f64>> = test.rows().into_iter().map(|r| r.to_vec()).collect();
    let predicted = forest
        .predict(&DenseMatrix::from_2d_vec(&test_rows).unwrap())
        .unwrap();
    for (row, class) in test_rows.iter().zip(&predicted) {
        let votes = model.predict_raw_reference(row);
        assert_eq!(u32::from(votes > 0.5), *class, "vote share {votes}");
    }
    check_explanations(&model, &test);
}
