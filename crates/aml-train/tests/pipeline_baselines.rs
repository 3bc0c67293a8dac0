//! The baselines compute what their docs claim, on cases small enough to check by hand.

use aml_models::Model as _;
use aml_train::pipeline::baselines::{decision_tree, random_forest, run_all, severity_confidence};
use aml_train::pipeline::training::{fit_gbdt, Labelled};
use aml_train::pipeline::MetricsRow;
use aml_train::GbdtParams;
use ndarray::Array2;

/// One-feature rows `x` with binary `labels`.
fn rows(x: &[f32], labels: &[f64]) -> Labelled {
    let mut r = Labelled::empty(1);
    r.x = Array2::from_shape_vec((x.len(), 1), x.to_vec()).unwrap();
    r.labels = labels.to_vec();
    r.relevance = labels.to_vec();
    r.groups = vec![x.len()];
    r
}

/// x = 0..60; illicit: x < 6 and 30 <= x < 54. The only split with 20 rows on each side that
/// separates the classes best is x < 30: left leaf 6/30 illicit, right leaf 24/30.
fn two_leaves() -> Labelled {
    let x: Vec<f32> = (0..60).map(|i| i as f32).collect();
    let labels: Vec<f64> = (0..60)
        .map(|i| f64::from(i < 6 || (30..54).contains(&i)))
        .collect();
    rows(&x, &labels)
}

#[test]
fn decision_tree_gives_the_training_positive_rate_of_the_leaf() {
    let train = two_leaves();
    // 3 is in the left leaf (its class would be 0; its rate is 0.2), 50 and 59 in the right,
    // NaN stands in for -1e30, below every split: left.
    let valid = rows(&[3.0, 10.0, 50.0, 59.0, f32::NAN], &[0.0; 5]);
    let p = decision_tree(&train, &valid).unwrap();
    assert_eq!(p, vec![0.2, 0.2, 0.8, 0.8, 0.2]);
}

#[test]
fn random_forest_gives_vote_shares_and_is_seeded() {
    // Separable: x < 100 licit, x >= 100 illicit; far points get every tree's vote.
    let x: Vec<f32> = (0..200).map(|i| i as f32).collect();
    let labels: Vec<f64> = (0..200).map(|i| f64::from(i >= 100)).collect();
    let train = rows(&x, &labels);
    let valid = rows(&[-50.0, 0.0, 199.0, 500.0, 99.5, 100.5], &[0.0; 6]);
    let p = random_forest(&train, &valid, 11).unwrap();
    // Shares are sums of 1/25 per vote (25 of them add up to 1 + 2e-16).
    for (share, all) in p.iter().zip([0.0, 0.0, 1.0, 1.0]) {
        assert!((share - all).abs() < 1e-12, "{p:?}");
    }
    for share in &p {
        let votes = share * 25.0;
        assert!((votes - votes.round()).abs() < 1e-9, "{share} is not k/25");
    }
    assert_eq!(random_forest(&train, &valid, 11).unwrap(), p);
}

#[test]
fn severity_confidence_sees_only_its_two_columns() {
    // The label follows the third column; severity and confidence are constant, so a GBDT on
    // them alone cannot split and scores every row the same, unlike one on all columns.
    let n = 200;
    let names: Vec<String> = ["severity_ordinal", "alert_confidence_score", "signal"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let labelled = |offset: usize| {
        let mut r = Labelled::empty(3);
        r.x = Array2::from_shape_fn((n, 3), |(i, c)| match c {
            0 => 2.0,
            1 => 0.5,
            _ => ((i + offset) % n) as f32,
        });
        r.labels = (0..n)
            .map(|i| f64::from((i + offset) % n >= n / 2))
            .collect();
        r.relevance = r.labels.clone();
        r.groups = vec![n];
        r
    };
    let (train, valid) = (labelled(0), labelled(7));
    let params = GbdtParams {
        num_iterations: 10,
        min_data_in_leaf: 5,
        ..GbdtParams::default()
    };
    let p = severity_confidence(&names, &train, &valid, &params).unwrap();
    assert_eq!(p.len(), n);
    assert!(p.iter().all(|&v| v == p[0]), "constant inputs, one score");
    let full = fit_gbdt("full", &params, names.clone(), &train, &valid, false).unwrap();
    let q = full.predict(valid.x.view()).unwrap();
    assert!(q.iter().any(|&v| v != q[0]));

    let err = severity_confidence(&names[1..], &train, &valid, &params).unwrap_err();
    assert!(
        err.to_string().contains("no column severity_ordinal"),
        "{err}"
    );
}

#[test]
fn run_all_rows_are_the_metrics_of_each_baseline() {
    let names = vec![
        "severity_ordinal".to_string(),
        "alert_confidence_score".to_string(),
    ];
    let mut train = two_leaves();
    train.x = Array2::from_shape_fn((60, 2), |(i, c)| if c == 0 { i as f32 } else { 0.5 });
    let mut valid = train.clone();
    valid.x.column_mut(0).mapv_inplace(|v| (v + 0.25).min(59.0));
    let params = GbdtParams {
        num_iterations: 5,
        min_data_in_leaf: 5,
        ..GbdtParams::default()
    };
    let table = run_all(&names, &train, &valid, &params).unwrap();
    let models: Vec<&str> = table.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(
        models,
        [
            "baseline: severity+confidence GBDT",
            "baseline: linfa-trees decision tree",
            "baseline: smartcore random forest"
        ]
    );
    let tree = decision_tree(&train, &valid).unwrap();
    let expected = MetricsRow::evaluate(models[1], &valid.labels, &valid.relevance, &tree, true);
    assert_eq!(table[1], expected);
    assert_eq!(table[1].n, 60);
    // Leaves at 0.2 and 0.8 order every illicit alert of the right half above the left half.
    assert!(table[1].auc.unwrap() > 0.7);
}
