//! End-to-end training behaviour: learning, determinism across thread counts,
//! missing values, early stopping, ranking on a huge query and bad input.

use aml_train::metric::{mean_ndcg_at_k, roc_auc};
use aml_train::predict::predict_raw;
use aml_train::{train, Dataset, GbdtParams, Metric, Objective, RoundInfo, TrainError};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Synthetic binary data: the label depends on features 0..3 (with noise);
/// feature 3 is missing for 20% of rows and missingness itself is informative.
fn binary_data(n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let f = 6;
    let mut x = Array2::<f32>::zeros((n, f));
    let mut y = Vec::with_capacity(n);
    for r in 0..n {
        for c in 0..f {
            x[[r, c]] = rng.random::<f32>() * 2.0 - 1.0;
        }
        let missing = rng.random::<f64>() < 0.2;
        let logit = 3.0 * f64::from(x[[r, 0]]) - 2.0 * f64::from(x[[r, 1]]) * f64::from(x[[r, 2]])
            + if missing { 1.5 } else { f64::from(x[[r, 3]]) };
        if missing {
            x[[r, 3]] = f32::NAN;
        }
        let p = 1.0 / (1.0 + (-logit).exp());
        y.push(f64::from(rng.random::<f64>() < p));
    }
    Dataset::new(x, y, vec![]).unwrap()
}

fn probs(out: &aml_train::TrainOutput, d: &Dataset) -> Vec<f64> {
    predict_raw(&out.ensemble, d.features.view())
        .unwrap()
        .into_iter()
        .map(|r| out.ensemble.transform(r))
        .collect()
}

#[test]
fn binary_model_generalises_and_is_well_formed() {
    let (tr, te) = (binary_data(4000, 1), binary_data(2000, 2));
    let params = GbdtParams {
        num_iterations: 60,
        learning_rate: 0.1,
        ..GbdtParams::default()
    };
    let out = train(&params, &tr, None, None).unwrap();
    out.ensemble.validate().unwrap();
    assert_eq!(out.ensemble.trees.len(), 60);
    let auc = roc_auc(&te.labels, &probs(&out, &te));
    assert!(auc > 0.8, "test AUC {auc}");
    for t in &out.ensemble.trees {
        assert_eq!(t.internal_count[0], 4000, "root covers every row");
        assert_eq!(t.leaf_count.iter().sum::<u64>(), 4000);
        assert!(t.split_gain.iter().all(|&g| g > 0.0));
        for node in 0..t.num_internal() {
            // Children counts add up to the parent's.
            let count = |c: i32| {
                if c < 0 {
                    t.leaf_count[(!c) as usize]
                } else {
                    t.internal_count[c as usize]
                }
            };
            assert_eq!(
                count(t.left_child[node]) + count(t.right_child[node]),
                t.internal_count[node]
            );
        }
    }
    // Missing values of feature 3 carry signal, so some split on it sends NaN to a learned side.
    assert!(out.ensemble.trees.iter().any(|t| t
        .split_feature
        .iter()
        .zip(&t.missing_type)
        .any(|(&f, &m)| f == 3 && m == aml_models::MissingType::NaN)));
    // The first tree carries the boost-from-average score: mean prediction ~ base rate.
    let p0: f64 = tr.labels.iter().sum::<f64>() / 4000.0;
    let first = &out.ensemble.trees[0];
    let mean_leaf: f64 = first
        .leaf_value
        .iter()
        .zip(&first.leaf_count)
        .map(|(v, &c)| v * c as f64)
        .sum::<f64>()
        / 4000.0;
    assert!((mean_leaf - (p0 / (1.0 - p0)).ln()).abs() < 0.05);
}

#[test]
fn same_model_with_one_or_two_threads_and_sampling() {
    let d = binary_data(3000, 5);
    let base = GbdtParams {
        num_iterations: 15,
        feature_fraction: 0.7,
        bagging_fraction: 0.8,
        bagging_freq: 1,
        seed: 42,
        ..GbdtParams::default()
    };
    let models: Vec<_> = [1, 2]
        .iter()
        .map(|&t| {
            let p = GbdtParams {
                num_threads: t,
                ..base.clone()
            };
            let model = train(&p, &d, None, None).unwrap();
            model.ensemble.to_model_string().unwrap()
        })
        .collect();
    assert_eq!(models[0], models[1]);
    let other_seed = GbdtParams {
        seed: 43,
        num_threads: 1,
        ..base
    };
    assert_ne!(
        train(&other_seed, &d, None, None)
            .unwrap()
            .ensemble
            .to_model_string()
            .unwrap(),
        models[0]
    );
}

#[test]
fn early_stopping_keeps_the_best_round() {
    let (tr, va) = (binary_data(1500, 7), binary_data(1500, 8));
    let params = GbdtParams {
        num_iterations: 400,
        learning_rate: 0.3,
        num_leaves: 63,
        min_data_in_leaf: 2,
        early_stopping_rounds: Some(5),
        metric: Some(Metric::LogLoss),
        ..GbdtParams::default()
    };
    let mut seen = 0;
    let mut cb = |info: &RoundInfo| {
        seen += 1;
        assert!(info.valid_metric.is_some() && info.train_metric.is_none());
        true
    };
    let out = train(&params, &tr, Some(&va), Some(&mut cb)).unwrap();
    assert!(
        out.best_iteration < 100,
        "overfits quickly: best {}",
        out.best_iteration
    );
    assert_eq!(out.ensemble.trees.len(), out.best_iteration);
    assert_eq!(seen, out.history.len());
    assert_eq!(out.history.len(), out.best_iteration + 5);
    let best = out.history[out.best_iteration - 1].valid_metric.unwrap();
    assert!(out.history.iter().all(|h| h.valid_metric.unwrap() >= best));
}

#[test]
fn callback_can_stop_training() {
    let d = binary_data(500, 9);
    let mut cb = |info: &RoundInfo| info.iteration < 2;
    let out = train(&GbdtParams::default(), &d, None, Some(&mut cb)).unwrap();
    assert_eq!(out.ensemble.trees.len(), 3);
}

#[test]
fn regression_fits_a_smooth_function() {
    let n = 3000;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x = Array2::from_shape_fn((n, 2), |_| rng.random::<f32>() * 4.0);
    let y: Vec<f64> = (0..n)
        .map(|r| f64::from(x[[r, 0]]).sin() * 3.0 + f64::from(x[[r, 1]]))
        .collect();
    let d = Dataset::new(x, y.clone(), vec![]).unwrap();
    let params = GbdtParams {
        objective: Objective::Regression,
        num_iterations: 100,
        ..GbdtParams::default()
    };
    let out = train(&params, &d, None, None).unwrap();
    let pred = predict_raw(&out.ensemble, d.features.view()).unwrap();
    let mse: f64 = pred
        .iter()
        .zip(&y)
        .map(|(p, y)| (p - y) * (p - y))
        .sum::<f64>()
        / n as f64;
    let var = {
        let m = y.iter().sum::<f64>() / n as f64;
        y.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64
    };
    assert!(mse < 0.02 * var, "mse {mse} vs variance {var}");
}

fn ranking_data(groups: &[usize], seed: u64) -> Dataset {
    let n: usize = groups.iter().sum();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 4), |_| rng.random::<f32>());
    let y: Vec<f64> = (0..n)
        .map(|r| {
            let s = f64::from(x[[r, 0]]) + 0.5 * f64::from(x[[r, 1]]) + 0.3 * rng.random::<f64>();
            (s * 2.0).floor().clamp(0.0, 3.0)
        })
        .collect();
    Dataset::new(x, y, vec![])
        .unwrap()
        .with_groups(groups.to_vec())
        .unwrap()
}

#[test]
fn lambdarank_improves_ndcg() {
    let groups = vec![40; 50];
    let (tr, te) = (ranking_data(&groups, 1), ranking_data(&groups, 2));
    let params = GbdtParams {
        objective: Objective::LambdaRank,
        num_iterations: 30,
        min_data_in_leaf: 5,
        ..GbdtParams::default()
    };
    let out = train(&params, &tr, Some(&te), None).unwrap();
    let pred = predict_raw(&out.ensemble, te.features.view()).unwrap();
    let ndcg = mean_ndcg_at_k(&te.labels, &pred, &groups, 10);
    let random = mean_ndcg_at_k(&te.labels, &vec![0.0; pred.len()], &groups, 10);
    assert!(
        ndcg > random + 0.15 && ndcg > 0.85,
        "ndcg {ndcg} vs unranked {random}"
    );
    assert!(out.history[0].valid_metric.is_some());
}

#[test]
fn lambdarank_handles_one_query_of_50000_rows() {
    let n = 50_000;
    let d = ranking_data(&[n], 4);
    let params = GbdtParams {
        objective: Objective::LambdaRank,
        num_iterations: 3,
        ..GbdtParams::default()
    };
    // Speed is measured in benches (criterion, peer scripts), not asserted here: this test checks
    // that one 50,000-row query trains and ranks.
    let out = train(&params, &d, None, None).unwrap();
    assert_eq!(out.ensemble.trees.len(), 3);
    let pred = predict_raw(&out.ensemble, d.features.view()).unwrap();
    let ndcg = mean_ndcg_at_k(&d.labels, &pred, &[n], 30);
    assert!(ndcg > 0.5, "ndcg@30 {ndcg}");
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let d = binary_data(100, 1);
    let mut bad_labels = d.clone();
    bad_labels.labels[7] = 2.0;
    assert!(matches!(
        train(&GbdtParams::default(), &bad_labels, None, None),
        Err(TrainError::InvalidLabel { row: 7, .. })
    ));
    let rank = GbdtParams {
        objective: Objective::LambdaRank,
        ..GbdtParams::default()
    };
    assert!(matches!(
        train(&rank, &d, None, None),
        Err(TrainError::InvalidGroups(_))
    ));
    let narrow = Dataset::new(Array2::zeros((10, 2)), vec![0.0; 10], vec![]).unwrap();
    assert!(matches!(
        train(&GbdtParams::default(), &d, Some(&narrow), None),
        Err(TrainError::InvalidValidation(_))
    ));
    let mut bad_valid = d.clone();
    bad_valid.labels[0] = -1.0;
    assert!(matches!(
        train(&GbdtParams::default(), &d, Some(&bad_valid), None),
        Err(TrainError::InvalidValidation(_))
    ));
    let p = GbdtParams {
        num_leaves: 0,
        ..GbdtParams::default()
    };
    assert!(matches!(
        train(&p, &d, None, None),
        Err(TrainError::InvalidParam { .. })
    ));
}

#[test]
fn constant_data_gives_one_constant_tree() {
    // Zero-variance features (one all-missing): nothing to split, the model predicts the base rate.
    let mut x = Array2::<f32>::from_elem((50, 2), 1.5);
    x.column_mut(1).fill(f32::NAN);
    let y: Vec<f64> = (0..50).map(|r| f64::from(r % 5 == 0)).collect();
    let d = Dataset::new(x, y, vec![]).unwrap();
    let out = train(&GbdtParams::default(), &d, None, None).unwrap();
    assert_eq!(out.ensemble.trees.len(), 1);
    assert_eq!(out.ensemble.trees[0].num_leaves(), 1);
    let p = out
        .ensemble
        .transform(predict_raw(&out.ensemble, d.features.view()).unwrap()[0]);
    assert!((p - 0.2).abs() < 1e-9);
    assert_eq!(out.ensemble.feature_infos, ["none", "none"]);
    // All-equal labels are fine too (no split has positive gain).
    let flat = Dataset::new(
        Array2::from_shape_fn((50, 1), |(r, _)| r as f32),
        vec![1.0; 50],
        vec![],
    )
    .unwrap();
    let out = train(&GbdtParams::default(), &flat, None, None).unwrap();
    assert!(out
        .ensemble
        .trees
        .iter()
        .all(|t| t.leaf_value.iter().all(|v| v.is_finite())));
}

#[test]
fn init_scores_are_boosted_from_and_left_out_of_the_model() {
    let tr = binary_data(3000, 7);
    let params = GbdtParams {
        num_iterations: 30,
        learning_rate: 0.1,
        ..GbdtParams::default()
    };
    // Offsets carrying most of the signal (3 * x0): the trees only learn the rest.
    let offsets: Vec<f64> = (0..tr.n_rows())
        .map(|r| 3.0 * f64::from(tr.features[[r, 0]]))
        .collect();
    let with = tr.clone().with_init_scores(offsets.clone()).unwrap();
    let plain = train(&params, &tr, None, None).unwrap();
    let boosted = train(&params, &with, None, None).unwrap();
    let raw_plain = predict_raw(&plain.ensemble, tr.features.view()).unwrap();
    let raw_trees = predict_raw(&boosted.ensemble, tr.features.view()).unwrap();
    // The model file holds the correction only; offset + trees is the full score.
    let full: Vec<f64> = raw_trees.iter().zip(&offsets).map(|(t, o)| t + o).collect();
    let auc_full = roc_auc(&tr.labels, &full);
    let auc_trees = roc_auc(&tr.labels, &raw_trees);
    assert!(auc_full > auc_trees + 0.05, "{auc_full} vs {auc_trees}");
    assert!(auc_full >= roc_auc(&tr.labels, &raw_plain) - 0.02);
    // Wrong lengths and non-finite offsets are refused.
    assert!(tr.clone().with_init_scores(vec![0.0; 3]).is_err());
    let mut bad = offsets;
    bad[5] = f64::NAN;
    assert!(tr.with_init_scores(bad).is_err());
}
