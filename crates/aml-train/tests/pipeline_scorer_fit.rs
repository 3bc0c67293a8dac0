//! The alert scorer's fit (issue 15 item 5): its number of rounds is the best round of the mean
//! day-grouped cross-validation curve on the training days, and the shipped scorer is refitted
//! on training and validation days together with that many trees, keeping the calibration (both
//! opt-in). Configurations without these options keep early stopping on the validation day.

mod common;

use aml_train::metric::log_loss;
use aml_train::pipeline::data::split_days;
use aml_train::pipeline::training::{fit_gbdt, labelled, prepare_days};
use aml_train::pipeline::{cv_rounds, load_history, train_bundle, DayData, TrainConfig};
use aml_train::{GbdtParams, Metric};

use aml_core::batch::Batch;
use aml_models::Model as _;

fn history() -> Vec<Batch> {
    let root = tempfile::tempdir().unwrap();
    let world = common::labelled_world(300, 2_000, 6_000);
    load_history(&common::write_days(root.path(), &world, 4)).unwrap()
}

/// Small, fast training config (as the miner tests use).
fn small_config() -> TrainConfig {
    common::fast_config(7, 25, 10)
}

/// Training days (the first three) featurised with the spec fitted on them, and the spec's names.
fn train_days() -> (Vec<DayData>, Vec<String>) {
    let (spec, mut days, n_train) = prepare_days(history(), 1).unwrap();
    days.truncate(n_train);
    (days, spec.feature_names())
}

#[test]
fn rounds_are_the_best_round_of_the_mean_fold_curve() {
    let (days, _) = train_days();
    let params = small_config().scorer_params;
    assert_eq!(params.effective_metric(), Metric::LogLoss);
    let choice = cv_rounds(&days, &params, 3)
        .unwrap()
        .expect("three usable folds");
    assert_eq!(choice, cv_rounds(&days, &params, 3).unwrap().unwrap());
    assert_eq!(choice.folds, 3);
    assert_eq!(choice.metric, Metric::LogLoss);
    assert!(!choice.curve.is_empty() && choice.curve.len() <= params.num_iterations);
    // The earliest round with the lowest mean log loss.
    let min = choice.curve.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(
        choice.rounds,
        choice.curve.iter().position(|&m| m == min).unwrap() + 1
    );
    // Each point of the curve is the mean over folds of the held-out log loss of a model with
    // that many rounds, recomputed from the definition at the chosen round.
    let names = days[0].matrix.feature_names.clone();
    let at_rounds = GbdtParams {
        num_iterations: choice.rounds,
        early_stopping_rounds: None,
        ..params.clone()
    };
    let mut losses = Vec::new();
    for fold in 0..3 {
        let (fit, held) = split_days(&days, 3, fold);
        let (tr, va) = (labelled(&fit, None), labelled(&held, None));
        let empty = labelled::<DayData>(&[], None);
        let model = fit_gbdt("check", &at_rounds, names.clone(), &tr, &empty, false).unwrap();
        losses.push(log_loss(&va.labels, &model.predict(va.x.view()).unwrap()));
    }
    let mean = losses.iter().sum::<f64>() / 3.0;
    assert!(
        (mean - choice.curve[choice.rounds - 1]).abs() < 1e-9,
        "{mean} vs {}",
        choice.curve[choice.rounds - 1]
    );
    // One day cannot be folded.
    assert_eq!(cv_rounds(&days[..1], &params, 3).unwrap(), None);
}

#[test]
fn shipped_scorer_has_the_cv_rounds_and_is_refitted_on_every_day() {
    let mut config = small_config();
    config.scorer_cv_folds = 3;
    config.scorer_refit_all_days = true;
    let report = train_bundle(history(), &config, &mut |_| {}).unwrap();
    let (days, names) = train_days();
    let choice = cv_rounds(&days, &config.scorer_params, config.scorer_cv_folds)
        .unwrap()
        .unwrap();
    assert_eq!(report.scorer_rounds.as_ref(), Some(&choice));
    let scorer = report.bundle.scorer();
    assert_eq!(scorer.model().ensemble().trees.len(), choice.rounds);
    assert!(scorer.calibration().is_some() || report.calibration.calibration.is_none());
    assert_eq!(
        scorer.calibration(),
        report.calibration.calibration.as_ref()
    );

    // The shipped model is the one fitted on all four days with those rounds.
    let (_, all_days, _) = prepare_days(history(), 1).unwrap();
    let params = GbdtParams {
        num_iterations: choice.rounds,
        early_stopping_rounds: None,
        ..config.scorer_params.clone()
    };
    let rows = labelled(&all_days, None);
    let empty = labelled::<DayData>(&[], None);
    let all = fit_gbdt("check", &params, names.clone(), &rows, &empty, false).unwrap();
    assert_eq!(scorer.model().model_text(), all.model_text());
    // ... and not the one fitted on the training days only (which the metrics describe).
    let train_rows = labelled(&days, None);
    let train_only = fit_gbdt("check", &params, names, &train_rows, &empty, false).unwrap();
    assert_ne!(scorer.model().model_text(), train_only.model_text());
    assert_eq!(
        report.bundle.metadata().models["alert_scorer"].params["num_iterations"],
        choice.rounds
    );
}

#[test]
fn configurations_without_the_options_keep_early_stopping() {
    let mut on = small_config();
    on.scorer_cv_folds = 3;
    on.scorer_refit_all_days = true;
    let mut json = serde_json::to_value(on).unwrap();
    let map = json.as_object_mut().unwrap();
    assert!(map.remove("scorer_cv_folds").is_some());
    assert!(map.remove("scorer_refit_all_days").is_some());
    let old: TrainConfig = serde_json::from_value(json).unwrap();
    assert_eq!(old.scorer_cv_folds, 0);
    assert!(!old.scorer_refit_all_days);

    let report = train_bundle(history(), &old, &mut |_| {}).unwrap();
    assert_eq!(report.scorer_rounds, None);
    // The scorer is the early-stopped fit on the training days, validated on the last day.
    let (spec, days, n_train) = prepare_days(history(), 1).unwrap();
    let (tr, va) = (
        labelled(&days[..n_train], None),
        labelled(&days[n_train..], None),
    );
    let model = fit_gbdt(
        "check",
        &old.scorer_params,
        spec.feature_names(),
        &tr,
        &va,
        false,
    )
    .unwrap();
    assert_eq!(
        report.bundle.scorer().model().model_text(),
        model.model_text()
    );
}
