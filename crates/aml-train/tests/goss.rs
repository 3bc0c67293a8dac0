//! GOSS (`data_sample_strategy = goss`, LightGBM's gradient-based one-side sampling): off by
//! default and absent from the files of default models; when on, a seeded, thread-independent
//! model that still learns; parameters checked like LightGBM's.

use aml_train::metric::roc_auc;
use aml_train::params::DataSampleStrategy;
use aml_train::predict::predict_raw;
use aml_train::{train, Dataset, GbdtParams, TrainError};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` rows of 5 features; the label follows a noisy logit of features 0-2, a tenth of
/// feature 4 is missing.
fn noisy_logit_rows(n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 5), |(_, c)| {
        if c == 4 && rng.random::<f32>() < 0.1 {
            f32::NAN
        } else {
            rng.random::<f32>() * 4.0 - 2.0
        }
    });
    let y = x
        .rows()
        .into_iter()
        .map(|r| {
            let logit = 2.0 * r[0] - r[1] * r[2] + (3.0 * r[2]).sin();
            f64::from(rng.random::<f32>() < 1.0 / (1.0 + (-logit).exp()))
        })
        .collect();
    Dataset::new(x, y, vec![]).unwrap()
}

fn params(goss: bool, threads: usize) -> GbdtParams {
    GbdtParams {
        num_iterations: 40,
        learning_rate: 0.1,
        num_leaves: 15,
        seed: 11,
        num_threads: threads,
        data_sample_strategy: if goss {
            DataSampleStrategy::Goss
        } else {
            DataSampleStrategy::Bagging
        },
        ..GbdtParams::default()
    }
}

fn model_text(p: &GbdtParams, d: &Dataset) -> String {
    train(p, d, None, None)
        .unwrap()
        .ensemble
        .to_model_string()
        .unwrap()
}

fn auc(p: &GbdtParams, train_set: &Dataset, test: &Dataset) -> f64 {
    let out = train(p, train_set, None, None).unwrap();
    roc_auc(
        &test.labels,
        &predict_raw(&out.ensemble, test.features.view()).unwrap(),
    )
}

#[test]
fn goss_is_off_by_default_and_left_out_of_default_files() {
    assert_eq!(
        GbdtParams::default().data_sample_strategy,
        DataSampleStrategy::Bagging
    );
    let lines = GbdtParams::default().lightgbm_parameter_lines();
    assert!(!lines.iter().any(|l| l.starts_with("[data_sample_strategy")
        || l.starts_with("[top_rate")
        || l.starts_with("[other_rate")));
    let goss = GbdtParams {
        top_rate: 0.3,
        ..params(true, 1)
    };
    let lines = goss.lightgbm_parameter_lines();
    for want in ["[data_sample_strategy: goss]", "[top_rate: 0.3]"] {
        assert!(lines.iter().any(|l| l == want), "{want} in {lines:?}");
    }
    assert!(!lines.iter().any(|l| l.starts_with("[other_rate")));
    let names = GbdtParams::field_names();
    for name in ["data_sample_strategy", "top_rate", "other_rate"] {
        assert!(names.iter().any(|n| n == name), "{name}");
    }
    let from_json: GbdtParams =
        serde_json::from_str(r#"{"data_sample_strategy":"goss","other_rate":0.05}"#).unwrap();
    assert_eq!(from_json.data_sample_strategy, DataSampleStrategy::Goss);
    assert_eq!((from_json.top_rate, from_json.other_rate), (0.2, 0.05));
}

#[test]
fn goss_models_are_seeded_thread_independent_and_learn() {
    let d = noisy_logit_rows(4000, 1);
    let test = noisy_logit_rows(2000, 2);
    let one = model_text(&params(true, 1), &d);
    assert_eq!(one, model_text(&params(true, 2), &d), "1 vs 2 threads");
    let plain = model_text(&params(false, 1), &d);
    assert_ne!(one, plain, "GOSS samples after its 10 warm-up rounds");
    // The first 1 / learning_rate = 10 trees use every row, as without GOSS.
    let first_trees = |text: &str| text.split("Tree=10").next().unwrap().to_string();
    let strip = |text: String| {
        text.lines()
            .filter(|l| !l.starts_with("[data_sample_strategy") && !l.starts_with("tree_sizes="))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(first_trees(&one)), strip(first_trees(&plain)));
    let other_seed = GbdtParams {
        seed: 12,
        ..params(true, 1)
    };
    let plain_other_seed = GbdtParams {
        seed: 12,
        ..params(false, 1)
    };
    assert_eq!(
        model_text(&plain_other_seed, &d),
        plain,
        "the seed only matters through GOSS here"
    );
    assert_ne!(model_text(&other_seed, &d), one);
    let (auc_goss, auc_plain) = (
        auc(&params(true, 2), &d, &test),
        auc(&params(false, 2), &d, &test),
    );
    assert!(auc_goss > 0.8, "{auc_goss}");
    assert!(
        (auc_goss - auc_plain).abs() < 0.02,
        "{auc_goss} vs {auc_plain}"
    );
}

#[test]
fn goss_parameters_are_checked() {
    let d = noisy_logit_rows(200, 3);
    let bad = [
        (
            "top_rate",
            GbdtParams {
                top_rate: 0.0,
                ..params(true, 1)
            },
        ),
        (
            "other_rate",
            GbdtParams {
                other_rate: 1.0,
                ..params(true, 1)
            },
        ),
        (
            "other_rate",
            GbdtParams {
                top_rate: 0.7,
                other_rate: 0.4,
                ..params(true, 1)
            },
        ),
        (
            "data_sample_strategy",
            GbdtParams {
                bagging_fraction: 0.5,
                bagging_freq: 1,
                ..params(true, 1)
            },
        ),
    ];
    for (name, p) in bad {
        match train(&p, &d, None, None) {
            Err(TrainError::InvalidParam { name: got, .. }) => assert_eq!(got, name),
            other => panic!("{name}: {:?}", other.map(|o| o.best_iteration)),
        }
    }
    // Out-of-range rates are fine while GOSS is off (LightGBM ignores them too).
    assert!(train(
        &GbdtParams {
            top_rate: 0.0,
            ..params(false, 1)
        },
        &d,
        None,
        None
    )
    .is_ok());
}
