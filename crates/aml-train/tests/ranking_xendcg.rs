//! `rank_xendcg` (XE-NDCG) end to end: it learns to rank a held-out query, is seeded and
//! deterministic, and its model file says `objective=rank_xendcg` and reads back.

use aml_models::{parse_model, IdentityObjective, ObjectiveKind};
use aml_train::metric::ndcg_at_k;
use aml_train::predict::predict_raw;
use aml_train::{train, Dataset, GbdtParams, Objective, TrainError};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One query of `n` rows, 6 features; grades 0-3 skewed (most rows 0) from a noisy
/// nonlinear relevance of features 0..3.
fn day(n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 6), |_| rng.random::<f32>() * 2.0 - 1.0);
    let y: Vec<f64> = (0..n)
        .map(|r| {
            let f = |c: usize| f64::from(x[[r, c]]);
            let s = 1.5 * f(0) + (2.0 * f(1)).sin() + f(2) * f(3) + 0.4 * rng.random::<f64>();
            match s {
                s if s > 1.9 => 3.0,
                s if s > 1.4 => 2.0,
                s if s > 0.8 => 1.0,
                _ => 0.0,
            }
        })
        .collect();
    Dataset::new(x, y, vec![])
        .unwrap()
        .with_groups(vec![n])
        .unwrap()
}

fn params(seed: u64) -> GbdtParams {
    GbdtParams {
        objective: Objective::RankXendcg,
        num_iterations: 40,
        num_leaves: 15,
        learning_rate: 0.1,
        seed,
        ..GbdtParams::default()
    }
}

#[test]
fn xendcg_ranks_a_held_out_query_better_than_random_and_constant() {
    let (tr, te) = (day(3000, 1), day(3000, 2));
    let out = train(&params(5), &tr, None, None).unwrap();
    let pred = predict_raw(&out.ensemble, te.features.view()).unwrap();
    let k = 100;
    let learned = ndcg_at_k(&te.labels, &pred, k);
    let constant = ndcg_at_k(&te.labels, &vec![0.0; pred.len()], k);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let random: Vec<f64> = (0..pred.len()).map(|_| rng.random::<f64>()).collect();
    let random = ndcg_at_k(&te.labels, &random, k);
    assert!(
        learned > 0.8 && learned > constant + 0.3 && learned > random + 0.3,
        "ndcg@{k}: learned {learned}, constant {constant}, random {random}"
    );
}

#[test]
fn xendcg_is_seeded_and_its_model_file_round_trips() {
    let tr = day(1500, 3);
    let model = |seed| {
        train(&params(seed), &tr, None, None)
            .unwrap()
            .ensemble
            .to_model_string()
            .unwrap()
    };
    let text = model(5);
    assert_eq!(text, model(5), "same seed, same bytes");
    assert_ne!(text, model(6), "the seed draws the target noise");
    assert!(
        text.contains("\nobjective=rank_xendcg\n"),
        "{}",
        &text[..200]
    );
    let parsed = parse_model(&text).unwrap().ensemble;
    assert_eq!(
        parsed.objective,
        ObjectiveKind::Identity(IdentityObjective::RankXendcg)
    );
    assert_eq!(parsed.to_model_string().unwrap(), text);
}

#[test]
fn xendcg_needs_groups_and_integer_grades() {
    let mut d = day(200, 4);
    d.labels[17] = 0.5;
    assert!(matches!(
        train(&params(0), &d, None, None),
        Err(TrainError::InvalidLabel { row: 17, .. })
    ));
    let plain = Dataset::new(Array2::zeros((10, 2)), vec![0.0; 10], vec![]).unwrap();
    assert!(matches!(
        train(&params(0), &plain, None, None),
        Err(TrainError::InvalidGroups(_))
    ));
    let json: GbdtParams = serde_json::from_str(r#"{"objective":"rank_xendcg"}"#).unwrap();
    assert_eq!(json.objective, Objective::RankXendcg);
}
