//! Tuning: the winner is the trial with the best mean out-of-fold AUC-PR, each trial's figure is
//! the mean over day-grouped folds it claims, and the search is seeded.

mod common;

use aml_features::FeatureBuilder;
use aml_models::Model as _;
use aml_train::metric::average_precision;
use aml_train::pipeline::data::split_days;
use aml_train::pipeline::training::{fit_gbdt, labelled};
use aml_train::pipeline::{load_history, tune_scorer, DayData};
use aml_train::GbdtParams;

fn days() -> Vec<DayData> {
    let root = tempfile::tempdir().unwrap();
    let dirs = common::write_days(root.path(), &common::labelled_world(150, 800, 2_500), 4);
    let batches = load_history(&dirs).unwrap();
    let refs: Vec<_> = batches.iter().collect();
    let spec = FeatureBuilder::new().fit(&refs).unwrap();
    batches
        .into_iter()
        .map(|b| DayData::new(b, &spec).unwrap())
        .collect()
}

/// Trial 0 (the base) cannot split (a leaf needs more rows than exist), so it scores every
/// alert the same; every sampled trial has a reachable `min_data_in_leaf` and learns.
fn crippled_base() -> GbdtParams {
    GbdtParams {
        num_iterations: 8,
        min_data_in_leaf: 1_000_000,
        early_stopping_rounds: None,
        ..GbdtParams::default()
    }
}

/// Mean AUC-PR over the day-grouped folds, recomputed from the definition.
fn cv_auc_pr(days: &[DayData], params: &GbdtParams, k: usize) -> f64 {
    let names = days[0].matrix.feature_names.clone();
    let mut scores = Vec::new();
    for fold in 0..k {
        let (fit, held) = split_days(days, k, fold);
        let (tr, va) = (labelled(&fit, None), labelled(&held, None));
        let model = fit_gbdt("check", params, names.clone(), &tr, &va, false).unwrap();
        let ap = average_precision(&va.labels, &model.predict(va.x.view()).unwrap());
        if ap.is_finite() {
            scores.push(ap);
        }
    }
    scores.iter().sum::<f64>() / scores.len() as f64
}

#[test]
fn tuning_picks_the_best_out_of_fold_trial() {
    let days = days();
    let base = crippled_base();
    let result = tune_scorer(&days, &base, 4, 2, 5).unwrap();
    assert_eq!(result.folds, 2);
    assert_eq!(result.trials.len(), 4);
    assert_eq!(result.trials[0].params, base);

    // Each trial's figure is the mean over folds of the held-out days' AUC-PR.
    for trial in &result.trials {
        assert_eq!(trial.cv_auc_pr, cv_auc_pr(&days, &trial.params, 2));
    }
    // The base scores everything alike; a sampled trial that learns beats it and wins.
    let best = result
        .trials
        .iter()
        .map(|t| t.cv_auc_pr)
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(best > result.trials[0].cv_auc_pr, "{:?}", result.trials);
    assert_eq!(result.best_cv_auc_pr, best);
    let first_best = result.trials.iter().find(|t| t.cv_auc_pr == best).unwrap();
    assert_eq!(result.best_params, first_best.params);
    assert_ne!(result.best_params, base);
}

#[test]
fn tuning_is_seeded() {
    let days = days();
    let base = GbdtParams {
        num_iterations: 4,
        ..crippled_base()
    };
    let a = tune_scorer(&days, &base, 3, 2, 9).unwrap();
    assert_eq!(tune_scorer(&days, &base, 3, 2, 9).unwrap(), a);
    let b = tune_scorer(&days, &base, 3, 2, 10).unwrap();
    let sampled = |r: &aml_train::pipeline::TuningResult| {
        r.trials[1..]
            .iter()
            .map(|t| t.params.clone())
            .collect::<Vec<_>>()
    };
    assert_ne!(
        sampled(&a),
        sampled(&b),
        "another seed samples other parameters"
    );
    assert!(
        tune_scorer(&days[..1], &base, 2, 2, 9).is_err(),
        "one day cannot be folded"
    );
}
