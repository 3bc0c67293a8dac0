//! The ranker's ship rule judged on more than one held-out day (issue 15 item 2): the alert
//! ranker orders the submission only when it beats ranking by the scorer on the out-of-fold days
//! and the validation day together, by more than the margin on average and consistently, not
//! when a single validation day favours it.
//!
//! The histories are designed: seven small synthetic days (six to train on, one held out) whose
//! labels, graded relevance, one feature column ("the cue") and scorer probabilities are
//! replaced. The scorer separates illicit from licit alerts perfectly but ties every illicit
//! alert, so it cannot tell grade 3 from grade 2; the cue can, when it points the same way on
//! the days the ranker learns from and the day it ranks.

mod common;

use aml_core::submission::RankingModel;
use aml_models::bundle::{HeldOutBy, RankingChoice};
use aml_train::pipeline::ranking::{ranker_stage, RankerCandidate, RankerStage};
use aml_train::pipeline::training::prepare_days;
use aml_train::pipeline::{load_history, DayData, TrainConfig};

/// Column replaced by the cue.
const CUE: usize = 0;

/// A deterministic 64-bit mix of `(day, row)`.
fn mix(day: usize, row: usize) -> u64 {
    let mut z = (day as u64) << 32 ^ row as u64 ^ 0x9E37_79B9_7F4A_7C15;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seven days featurised as training does, with labels, relevance, the cue and scorer
/// probabilities designed as the module docs say. On day `d` the cue marks grade 3 when
/// `cue_points_up(d)`, grade 2 otherwise. Returns (training days, validation day, names, scores).
fn designed_history(
    cue_points_up: impl Fn(usize) -> bool,
) -> (Vec<DayData>, Vec<DayData>, Vec<String>, Vec<Vec<f64>>) {
    let root = tempfile::tempdir().unwrap();
    let world = common::labelled_world(400, 4_000, 12_000);
    let batches = load_history(&common::write_days(root.path(), &world, 7)).unwrap();
    let (spec, mut days, n_train) = prepare_days(batches, 1).unwrap();
    let mut scores = Vec::new();
    for (d, day) in days.iter_mut().enumerate() {
        let mut day_scores = Vec::new();
        for r in 0..day.labels.len() {
            let h = mix(d, r);
            let illicit = h % 10 < 3;
            let grade_three = (h >> 8) & 1 == 1;
            let cue = if illicit {
                grade_three == cue_points_up(d)
            } else {
                (h >> 9) & 1 == 1
            };
            day.labels[r] = Some(u8::from(illicit));
            day.relevance[r] = Some(match (illicit, grade_three) {
                (false, _) => 0,
                (true, false) => 2,
                (true, true) => 3,
            });
            day.matrix.values[[r, CUE]] = f32::from(u8::from(cue));
            day_scores.push(if illicit { 0.9 } else { 0.1 });
        }
        scores.push(day_scores);
    }
    let valid = days.split_off(n_train);
    (days, valid, spec.feature_names(), scores)
}

/// One LambdaRank candidate of small, stump-like trees: the cue is what it can learn.
fn config() -> TrainConfig {
    let mut config = common::fast_config(5, 20, 40);
    let p = &mut config.ranker_params;
    p.num_leaves = 4;
    p.feature_fraction = 1.0;
    p.bagging_fraction = 1.0;
    p.bagging_freq = 0;
    p.early_stopping_rounds = Some(5);
    config.ranker_candidates = vec![RankerCandidate::new("lambdarank", [])];
    config
}

fn stage(cue_points_up: impl Fn(usize) -> bool) -> RankerStage {
    let (train, valid, names, scores) = designed_history(cue_points_up);
    ranker_stage(&config(), &names, (&train, &valid), &scores).unwrap()
}

/// The ranker's NDCG@500 minus the scorer's on the validation day.
fn validation_gain(choice: &RankingChoice) -> f64 {
    choice.held_out_ranker.ndcg_500.unwrap() - choice.held_out_scorer.ndcg_500.unwrap()
}

#[test]
fn a_ranker_that_wins_only_on_the_validation_day_does_not_ship() {
    // The cue points down on the training days of fold 0 (positions 0 and 3) and up on the
    // others and on the validation day: the ranker fitted on all six days learns "up" and wins
    // the validation day, but judged out of fold it ranks fold 0 the wrong way round and
    // learns nothing for folds 1 and 2 (their fitting days disagree).
    let choice = stage(|d| d != 0 && d != 3).choice;
    let margin = choice.margin;
    // One-day evidence alone (the rule before) would ship it.
    assert!(validation_gain(&choice) > margin, "{choice:#?}");
    assert_eq!(
        choice.source.model,
        RankingModel::AlertScorer,
        "{}",
        choice.source.reason
    );
    let judged = &choice.judged_days;
    assert_eq!(
        judged.len(),
        7,
        "six out-of-fold days and the validation day"
    );
    for d in [0, 3] {
        assert!(judged[d].difference < -margin, "{:?}", judged[d]);
    }
    let summary = choice.judgement.as_ref().unwrap();
    assert!(summary.mean_difference <= margin, "{summary:?}");
    assert!(!summary.ships);
    assert!(
        choice.source.reason.contains("not")
            && choice
                .source
                .reason
                .contains(&format!("{:+.4}", summary.mean_difference)),
        "{}",
        choice.source.reason
    );
}

#[test]
fn a_ranker_that_wins_on_every_day_ships() {
    let choice = stage(|_| true).choice;
    assert_eq!(
        choice.source.model,
        RankingModel::AlertRanker,
        "{}",
        choice.source.reason
    );
    let summary = choice.judgement.as_ref().unwrap();
    assert_eq!(summary.days, 7);
    assert_eq!(summary.wins, 7, "{:?}", choice.judged_days);
    assert!(summary.mean_difference > choice.margin);
    assert!(summary.mean_difference - summary.standard_error.unwrap() > 0.0);
    assert!(summary.ships);
}

#[test]
fn judged_days_are_recorded_as_measured_and_round_trip() {
    let choice = stage(|d| d != 0 && d != 3).choice;
    let judged = &choice.judged_days;
    // Out-of-fold days in date order, then the validation day, each with both orders' figures.
    let dates: Vec<&str> = judged.iter().map(|j| j.date.as_str()).collect();
    assert_eq!(
        dates,
        [
            "2025-10-01",
            "2025-10-02",
            "2025-10-03",
            "2025-10-04",
            "2025-10-05",
            "2025-10-06",
            "2025-10-07"
        ]
    );
    assert!(judged[..6]
        .iter()
        .all(|j| j.held_out_by == HeldOutBy::OutOfFold));
    assert_eq!(judged[6].held_out_by, HeldOutBy::Validation);
    for j in judged {
        let (r, s) = (j.ranker.ndcg_500.unwrap(), j.scorer.ndcg_500.unwrap());
        assert_eq!(j.difference, r - s);
        assert!(j.ranker.ndcg_100.is_some() && j.scorer.precision_100.is_some());
    }
    // The validation day is the comparison the bundle reports as held out.
    assert_eq!(judged[6].ranker, choice.held_out_ranker);
    assert_eq!(judged[6].scorer, choice.held_out_scorer);
    // The summary is recomputable from the per-day figures.
    let d: Vec<f64> = judged.iter().map(|j| j.difference).collect();
    let n = d.len() as f64;
    let mean = d.iter().sum::<f64>() / n;
    let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let summary = choice.judgement.as_ref().unwrap();
    assert!((summary.mean_difference - mean).abs() < 1e-12);
    assert!((summary.standard_deviation.unwrap() - sd).abs() < 1e-12);
    assert!((summary.standard_error.unwrap() - sd / n.sqrt()).abs() < 1e-12);
    assert_eq!(summary.wins, d.iter().filter(|&&x| x > 0.0).count());

    // metadata.json's `ranking` round trips, and its form before the judgement existed loads
    // with no judged days and serialises without the new keys.
    let text = serde_json::to_string_pretty(&choice).unwrap();
    let back: RankingChoice = serde_json::from_str(&text).unwrap();
    assert_eq!(back, choice);
    let mut old: serde_json::Value = serde_json::from_str(&text).unwrap();
    let object = old.as_object_mut().unwrap();
    object.remove("judged_days");
    object.remove("judgement");
    let old: RankingChoice = serde_json::from_value(old).unwrap();
    assert!(old.judged_days.is_empty() && old.judgement.is_none());
    let again = serde_json::to_string(&old).unwrap();
    assert!(
        !again.contains("judged_days") && !again.contains("judgement"),
        "{again}"
    );
}

#[test]
fn the_judgement_is_deterministic_and_thread_count_free() {
    let (train, valid, names, scores) = designed_history(|d| d != 0 && d != 3);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| ranker_stage(&config(), &names, (&train, &valid), &scores).unwrap())
    };
    let (one, two, again) = (run(1), run(2), run(2));
    for other in [&two, &again] {
        assert_eq!(other.choice, one.choice);
        assert_eq!(
            other.ranker.model().model_text(),
            one.ranker.model().model_text()
        );
    }
}
