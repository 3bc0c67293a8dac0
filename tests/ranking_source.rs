//! The alert ranker's out-of-fold choice and the rule that ships it (issue 15 item 2): the choice
//! is deterministic and follows the fold metric, a ranker that does not beat the scorer leaves
//! `rankings.parquet` in score order, and bundle and submission metadata say which model ranks.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aml_core::submission::{read_submission, Manifest, RankingModel};
use aml_miner::pipeline::{self, BatchInput, KeySource, ScoreOptions};
use aml_models::{competition_ranks, Bundle, BundleError};
use aml_synth::write_batch;
use aml_train::pipeline::ranking::RankerCandidate;
use aml_train::pipeline::{load_history, train_bundle, PipelineError, TrainConfig};

struct History {
    root: tempfile::TempDir,
    days: Vec<PathBuf>,
    unlabelled_day: PathBuf,
}

/// Four labelled days (three to train on, one held out) and an unlabelled day to score.
fn history() -> &'static History {
    static HISTORY: OnceLock<History> = OnceLock::new();
    HISTORY.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        let days = (0..4)
            .map(|d| {
                write_batch(&root.path().join(format!("h{d}")), &common::world(true), d).unwrap()
            })
            .collect();
        let unlabelled_day =
            write_batch(&root.path().join("day"), &common::world(false), 4).unwrap();
        History {
            root,
            days,
            unlabelled_day,
        }
    })
}

fn small_config(margin: f64) -> TrainConfig {
    let mut c = common::small_config(11, 20, 5);
    c.ranker_ship_margin = margin;
    c
}

fn train(config: &TrainConfig) -> Bundle {
    let batches = load_history(&history().days).unwrap();
    train_bundle(batches, config, &mut |_| {}).unwrap().bundle
}

/// Scores the unlabelled day with `bundle` into `out`.
fn score(bundle: &Bundle, out: &Path) {
    let options = ScoreOptions {
        timestamp: Some("2025-10-06T00:00:00Z".into()),
        ..ScoreOptions::default()
    };
    pipeline::score_batch(
        BatchInput::Dir(&history().unlabelled_day),
        bundle,
        out,
        &pipeline::development_key(),
        KeySource::Development,
        &options,
        &mut |_| {},
    )
    .unwrap();
}

/// Whether the submission in `out` has a ranking score that is not the alert's score.
fn ranked_by_ranker(out: &Path) -> bool {
    let (sub, _) = read_submission(out).unwrap();
    sub.scores
        .iter()
        .zip(&sub.rankings)
        .any(|(s, r)| r.ranking_score != s.score)
}

fn manifest(out: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn out_of_fold_choice_is_deterministic_and_follows_the_fold_metric() {
    let mut config = small_config(0.005);
    // A candidate whose very first tree memorises single rows with huge leaf values (full
    // steps, one-row leaves, no regularisation) is clearly worse out of fold, whatever early
    // stopping does; listed first, it still must not be chosen.
    config.ranker_candidates.insert(
        0,
        RankerCandidate::new(
            "overfit",
            [
                ("objective", "binary".into()),
                ("learning_rate", 1.0.into()),
                ("num_leaves", 127.into()),
                ("min_data_in_leaf", 1.into()),
                ("min_sum_hessian_in_leaf", 0.0.into()),
                ("lambda_l2", 0.0.into()),
                ("bagging_fraction", 1.0.into()),
                ("feature_fraction", 1.0.into()),
            ],
        ),
    );
    let bundle = train(&config);
    let choice = bundle.metadata().ranking.clone().expect("ranking recorded");
    assert_eq!(choice.folds, 3, "three training days, three folds");
    let names: Vec<&str> = choice.candidates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "overfit",
            "lambdarank",
            "lambdarank_sampled",
            "rank_xendcg",
            "binary"
        ]
    );
    let ndcg = |i: usize| choice.candidates[i].out_of_fold.ndcg_500.unwrap();
    let best = (1..names.len()).map(ndcg).fold(f64::NEG_INFINITY, f64::max);
    assert!(ndcg(0) + 0.05 < best, "overfit {} vs best {best}", ndcg(0));
    let chosen = choice
        .candidates
        .iter()
        .find(|c| c.name == choice.chosen)
        .unwrap();
    assert_eq!(chosen.out_of_fold.ndcg_500, Some(best), "{choice:#?}");
    assert!(choice.candidates.iter().all(|c| c.fold_trees.len() == 3));
    // The kept ranker has the mean of its fold tree counts and no early stopping.
    let trees = chosen.fold_trees.iter().sum::<usize>() as f64 / 3.0;
    let entry = &bundle.metadata().models["alert_ranker"];
    assert_eq!(entry.num_trees, trees.round() as usize);
    assert_eq!(entry.params["num_iterations"], trees.round() as usize);
    assert!(entry.params["early_stopping_rounds"].is_null());
    // The held-out comparison is recorded for the validation day; the judgement covers the
    // three out-of-fold training days and the validation day.
    assert_eq!(choice.held_out_days, ["2025-10-04"]);
    let judged: Vec<&str> = choice.judged_days.iter().map(|d| d.date.as_str()).collect();
    assert_eq!(
        judged,
        ["2025-10-01", "2025-10-02", "2025-10-03", "2025-10-04"]
    );
    assert_eq!(choice.judgement.as_ref().unwrap().days, 4);
    assert!(choice.held_out_ranker.ndcg_100.is_some() && choice.held_out_scorer.ndcg_500.is_some());
    // Same history, same config: the same choice and the same bundle.
    let again = train(&config);
    assert_eq!(again.metadata(), bundle.metadata());
    assert_eq!(again.version(), bundle.version());
}

#[test]
fn ranker_that_does_not_beat_the_scorer_leaves_rankings_in_score_order() {
    // No ranker beats the scorer's NDCG@500 by more than 1: the scorer ranks.
    let bundle = train(&small_config(1.0));
    let source = bundle.ranking_source();
    assert_eq!(source.model, RankingModel::AlertScorer);
    assert!(
        source.reason.contains("NDCG@500")
            && source.reason.contains("the mean is not above the margin 1"),
        "{}",
        source.reason
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    score(&bundle, &out);
    let (sub, _) = read_submission(&out).unwrap();
    let scores: Vec<f64> = sub.scores.iter().map(|s| s.score).collect();
    let ranks = competition_ranks(&scores);
    for ((s, r), rank) in sub.scores.iter().zip(&sub.rankings).zip(ranks) {
        assert_eq!(s.alert_id, r.alert_id);
        assert_eq!(r.ranking_score, s.score);
        assert_eq!(r.rank, rank);
    }
    assert_eq!(manifest(&out).ranking_source, Some(source));

    // A ranker told to ship whatever the judgement says orders by its own score.
    let mut always = small_config(1.0);
    always.ranker_always_ships = true;
    let shipped = train(&always);
    let source = shipped.ranking_source();
    assert_eq!(source.model, RankingModel::AlertRanker, "{}", source.reason);
    assert!(source.reason.contains("overridden"), "{}", source.reason);
    assert!(
        !shipped
            .metadata()
            .ranking
            .as_ref()
            .unwrap()
            .judgement
            .as_ref()
            .unwrap()
            .ships
    );
    let out = tmp.path().join("shipped");
    score(&shipped, &out);
    assert!(ranked_by_ranker(&out));
    assert_eq!(manifest(&out).ranking_source, Some(source));
}

#[test]
fn ranking_choice_round_trips_and_bundles_without_it_rank_with_the_ranker() {
    let bundle = train(&small_config(1.0));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    bundle.save(&dir, &[history().root.path()]).unwrap();
    let loaded = Bundle::load(&dir).unwrap();
    assert_eq!(loaded.metadata(), bundle.metadata());
    let judged = &loaded.metadata().ranking.as_ref().unwrap().judged_days;
    assert_eq!(
        judged.len(),
        4,
        "three out-of-fold days and the validation day"
    );
    assert_eq!(loaded.version(), bundle.version());
    let text = std::fs::read_to_string(dir.join("metadata.json")).unwrap();
    assert!(text.contains("\"model\": \"alert_scorer\""), "{text}");

    // An unknown ranking model is refused, naming metadata.json.
    let bad = text.replace("\"model\": \"alert_scorer\"", "\"model\": \"oracle\"");
    std::fs::write(dir.join("metadata.json"), bad).unwrap();
    match Bundle::load(&dir) {
        Err(e @ BundleError::Metadata { .. }) => {
            assert!(e.to_string().contains("metadata.json"), "{e}")
        }
        other => panic!("expected a metadata error, got {other:?}"),
    }

    // A bundle written before the choice was recorded still loads and ranks with its ranker.
    let mut old: serde_json::Value = serde_json::from_str(&text).unwrap();
    old.as_object_mut().unwrap().remove("ranking");
    std::fs::write(dir.join("metadata.json"), old.to_string()).unwrap();
    let old_bundle = Bundle::load(&dir).unwrap();
    assert!(old_bundle.metadata().ranking.is_none());
    // Its canonical form (hence its version) has no trace of the new field.
    assert!(!old_bundle.metadata().to_json().contains("\"ranking\""));
    assert_eq!(old_bundle.ranking_source().model, RankingModel::AlertRanker);
    let out = tmp.path().join("out");
    score(&old_bundle, &out);
    assert!(ranked_by_ranker(&out));

    // Manifests written before `ranking_source` existed still read.
    let old_manifest: Manifest = serde_json::from_str(r#"{"model_version": "x"}"#).unwrap();
    assert_eq!(old_manifest.ranking_source, None);
}

#[test]
fn ranker_candidates_come_from_the_config() {
    // A configuration file from before the candidates existed gets the default list.
    let mut value = serde_json::to_value(TrainConfig::new(1)).unwrap();
    let object = value.as_object_mut().unwrap();
    object.remove("ranker_candidates");
    object.remove("ranker_ship_margin");
    let config: TrainConfig = serde_json::from_value(value).unwrap();
    assert_eq!(config, TrainConfig::new(1));
    let names: Vec<&str> = config
        .ranker_candidates
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["lambdarank", "lambdarank_sampled", "rank_xendcg", "binary"]
    );

    // A candidate naming a parameter that does not exist is refused before any training.
    let mut config = small_config(0.005);
    config.ranker_candidates.push(RankerCandidate::new(
        "typo",
        [("lambdarank_truncaton_level", serde_json::json!(50))],
    ));
    let batches = load_history(&history().days).unwrap();
    match train_bundle(batches, &config, &mut |_| {}) {
        Err(e @ PipelineError::Config(_)) => {
            let text = e.to_string();
            assert!(
                text.contains("\"typo\"") && text.contains("lambdarank_truncaton_level"),
                "{text}"
            );
        }
        other => panic!("expected a config error, got {:?}", other.map(|_| ())),
    }
}
