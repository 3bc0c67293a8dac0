//! Whole-query LambdaRank with sampled deep pairs (`lambdarank_pair_sample`) and per-row pair
//! normalisation (`lambdarank_pair_norm`), end to end: the defaults train exactly the model
//! the code before these options trained, sampling is seeded and independent of threads, it
//! ranks one large query better than LightGBM's top-pairs-only LambdaRank, and the parameters
//! load, validate and serialize as documented.

use aml_train::metric::ndcg_at_k;
use aml_train::predict::predict_raw;
use aml_train::{train, Dataset, GbdtParams, Objective, TrainError};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Queries of the given sizes, `features` columns in [-1, 1); grades 0-3 at 85/10/4/1 % of a
/// noisy nonlinear relevance of features 0..4 (the rest is noise), like a day of alerts.
fn day(groups: &[usize], features: usize, seed: u64) -> Dataset {
    let n: usize = groups.iter().sum();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, features), |_| rng.random::<f32>() * 2.0 - 1.0);
    let latent: Vec<f64> = (0..n)
        .map(|r| {
            let f = |c: usize| f64::from(x[[r, c]]);
            f(0) + 0.7 * (f(1) * f(2)).tanh() + 0.5 * (2.0 * f(3)).sin() + 0.6 * rng.random::<f64>()
        })
        .collect();
    let mut sorted = latent.clone();
    sorted.sort_by(f64::total_cmp);
    let cut = |share: f64| sorted[((n as f64) * share) as usize];
    let (c1, c2, c3) = (cut(0.85), cut(0.95), cut(0.99));
    let y = latent
        .iter()
        .map(|&v| f64::from(u8::from(v >= c1) + u8::from(v >= c2) + u8::from(v >= c3)))
        .collect();
    Dataset::new(x, y, vec![])
        .unwrap()
        .with_groups(groups.to_vec())
        .unwrap()
}

fn fixture_params() -> GbdtParams {
    GbdtParams {
        objective: Objective::LambdaRank,
        num_iterations: 8,
        num_leaves: 7,
        min_data_in_leaf: 5,
        lambdarank_truncation_level: 10,
        learning_rate: 0.1,
        ..GbdtParams::default()
    }
}

#[test]
fn defaults_train_the_same_model_as_before_the_sampling_options() {
    // `lambdarank_main.model.txt` was written by the LambdaRank of main before these options
    // existed (same data, same parameters).
    let want = include_str!("fixtures/ranking/lambdarank_main.model.txt");
    let d = day(&[300, 120, 80], 5, 11);
    let params = GbdtParams {
        lambdarank_pair_sample: 0,
        lambdarank_pair_norm: false,
        ..fixture_params()
    };
    assert_eq!(params, fixture_params(), "the options are off by default");
    let text = train(&params, &d, None, None)
        .unwrap()
        .ensemble
        .to_model_string()
        .unwrap();
    assert!(text == want, "the default LambdaRank model changed");
}

fn sampled(seed: u64, threads: usize) -> GbdtParams {
    GbdtParams {
        objective: Objective::LambdaRank,
        num_iterations: 10,
        num_leaves: 15,
        min_data_in_leaf: 10,
        learning_rate: 0.1,
        lambdarank_pair_sample: 3,
        lambdarank_pair_norm: true,
        seed,
        num_threads: threads,
        ..GbdtParams::default()
    }
}

#[test]
fn sampled_training_is_seeded_and_thread_independent() {
    let d = day(&[1500, 700], 6, 2);
    let model = |params: &GbdtParams| {
        train(params, &d, None, None)
            .unwrap()
            .ensemble
            .to_model_string()
            .unwrap()
    };
    let one = model(&sampled(7, 1));
    assert!(
        one == model(&sampled(7, 2)),
        "1 and 2 threads give the same model"
    );
    assert!(
        one == model(&sampled(7, 1)),
        "retraining gives the same bytes"
    );
    assert!(one != model(&sampled(8, 1)), "the seed draws the pairs");
    let top_only = GbdtParams {
        lambdarank_pair_sample: 0,
        lambdarank_pair_norm: false,
        ..sampled(7, 1)
    };
    assert!(one != model(&top_only));
}

#[test]
fn sampled_pairs_rank_one_large_query_better_than_top_pairs_only() {
    // One 6,000-row query with 1 % grade-3 rows: with LightGBM's pairs only (truncation 30)
    // the rows below the top 30 never compare with each other; sampled deep pairs and the
    // per-row normalisation fix that (issue 15 item 1; the peer script measures 50,000 rows).
    // Scored by NDCG@500 on a 30,000-row next day. Measured over six day seeds (21..71) the gain
    // was +0.03 to +0.14 (+0.049 on these days); the margin asked here is 0.02.
    let (tr, te) = (day(&[6000], 12, 21), day(&[30000], 12, 22));
    let ndcg = |sample: usize, norm: bool| {
        let params = GbdtParams {
            objective: Objective::LambdaRank,
            num_iterations: 40,
            num_leaves: 15,
            learning_rate: 0.1,
            lambdarank_pair_sample: sample,
            lambdarank_pair_norm: norm,
            ..GbdtParams::default()
        };
        let out = train(&params, &tr, None, None).unwrap();
        let pred = predict_raw(&out.ensemble, te.features.view()).unwrap();
        ndcg_at_k(&te.labels, &pred, 500)
    };
    let (top_only, with_sampling) = (ndcg(0, false), ndcg(3, true));
    eprintln!(
        "MEASURE top_only {top_only} sampled {with_sampling} m3 no norm {} norm only {}",
        ndcg(3, false),
        ndcg(0, true)
    );
    assert!(
        with_sampling > top_only + 0.02,
        "NDCG@500 on the next day: sampled {with_sampling}, top pairs only {top_only}"
    );
}

#[test]
fn parameters_load_validate_and_serialize() {
    // Files written before the options existed load with the options off.
    let old: GbdtParams =
        serde_json::from_str(r#"{"objective":"lambdarank","lambdarank_truncation_level":100}"#)
            .unwrap();
    assert_eq!(
        (old.lambdarank_pair_sample, old.lambdarank_pair_norm),
        (0, false)
    );
    // Off, they are not written (model files and metadata stay byte for byte as before); on,
    // they are, and read back.
    let json = serde_json::to_string(&GbdtParams::default()).unwrap();
    assert!(!json.contains("lambdarank_pair"), "{json}");
    let on = sampled(3, 0);
    let value = serde_json::to_value(&on).unwrap();
    assert_eq!(value["lambdarank_pair_sample"], 3);
    assert_eq!(value["lambdarank_pair_norm"], true);
    assert_eq!(serde_json::from_value::<GbdtParams>(value).unwrap(), on);
    let too_many = GbdtParams {
        lambdarank_pair_sample: 1001,
        ..on
    };
    match too_many.validate() {
        Err(TrainError::InvalidParam { name, .. }) => assert_eq!(name, "lambdarank_pair_sample"),
        other => panic!("{other:?}"),
    }
}
