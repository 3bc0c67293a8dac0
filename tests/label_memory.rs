//! Scoring with the bundle's label memory: every scoring path (score_batch's `score_rows`, the
//! HTTP routes' `score_alerts` and `rank_alerts`) builds alert features through
//! `Bundle::alert_features`, so it sees the memory; a bundle without one (as every bundle written
//! before the memory existed) scores exactly as the spec alone does.

mod common;

use std::path::Path;

use aml_core::batch::Batch;
use aml_features::FeatureWarning;
use aml_miner::pipeline::{self, ScoreOptions};
use aml_models::Bundle;
use aml_synth::write_batch;
use aml_train::pipeline::{load_history, train_bundle};

fn bits(values: impl IntoIterator<Item = f64>) -> Vec<u64> {
    values.into_iter().map(f64::to_bits).collect()
}

/// Three labelled generated days under `root`.
fn labelled_history(root: &Path) -> Vec<std::path::PathBuf> {
    (0..3)
        .map(|d| write_batch(&root.join(format!("h{d}")), &common::world(true), d).unwrap())
        .collect()
}

#[test]
fn every_scoring_path_uses_the_bundles_label_memory() {
    let root = tempfile::tempdir().unwrap();
    let history = labelled_history(root.path());
    let day = write_batch(&root.path().join("day"), &common::world(false), 3).unwrap();
    let bundle = train_bundle(
        load_history(&history).unwrap(),
        &common::small_config(7, 20, 30),
        &mut |_| {},
    )
    .unwrap()
    .bundle;
    assert!(bundle.feature_spec().groups.label_memory);
    assert!(bundle.label_memory().is_some_and(|m| !m.is_empty()));
    let (batch, _) = Batch::load(&day).unwrap();

    // The memory reaches the features of the scored day.
    let matrix = bundle.alert_matrix(&batch).unwrap();
    let known = matrix.column_index("mem_days_labelled").unwrap();
    assert!(matrix.values.column(known).iter().any(|&v| v > 0.0));
    let expected = bundle.scorer().score(&matrix).unwrap();

    // ... and every path scores from it.
    let rows =
        pipeline::score_rows(&batch, &bundle, &ScoreOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(
        bits(rows.scores.iter().map(|s| s.score)),
        bits(expected.clone())
    );
    let alerts = pipeline::score_alerts(&batch, &bundle).unwrap();
    assert_eq!(bits(alerts.iter().map(|s| s.score)), bits(expected.clone()));
    let ranks = pipeline::rank_alerts(&batch, &bundle, &alerts).unwrap();
    assert_eq!(
        bits(ranks.iter().map(|r| r.ranking_score)),
        bits(rows.rankings.iter().map(|r| r.ranking_score))
    );

    // Without the memory every address is unknown to the same models.
    let forgetful = bundle.clone().with_label_memory(None).unwrap();
    assert_ne!(forgetful.version(), bundle.version());
    let blind = forgetful.alert_matrix(&batch).unwrap();
    assert!(blind.values.column(known).iter().all(|&v| v == 0.0));

    // Scoring a day the memory already holds: score_batch's path reports the leak, so it did
    // build its features with the memory.
    let (seen, _) = Batch::load(&history[2]).unwrap();
    let scored =
        pipeline::score_rows(&seen, &bundle, &ScoreOptions::default(), &mut |_| {}).unwrap();
    let leak = |w: &FeatureWarning| matches!(w, FeatureWarning::LabelMemoryNotBefore { .. });
    assert!(scored.warnings.iter().any(leak), "{:?}", scored.warnings);
    let scored =
        pipeline::score_rows(&seen, &forgetful, &ScoreOptions::default(), &mut |_| {}).unwrap();
    assert!(!scored.warnings.iter().any(leak));
}

#[test]
fn the_shipped_bundle_remembers_only_days_before_the_example_day() {
    // score_batch scores 2025-10-08 with the shipped bundle: its memory must end before that day,
    // or the example's features would see labels a miner scoring that day could not have.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("trained_models");
    let bundle = Bundle::load(&dir).unwrap();
    assert!(bundle.feature_spec().groups.label_memory);
    let memory = bundle
        .label_memory()
        .expect("the shipped bundle has a label memory");
    assert!(!memory.is_empty());
    let last = memory.last_day().unwrap();
    assert!(
        last < aml_core::date::Date::parse("2025-10-08").unwrap(),
        "{last:?}"
    );
}

#[test]
fn a_bundle_without_memory_scores_as_its_spec_alone() {
    let root = tempfile::tempdir().unwrap();
    let history = labelled_history(root.path());
    let mut config = common::small_config(7, 20, 30);
    config.label_memory.enabled = false;
    let bundle = train_bundle(load_history(&history).unwrap(), &config, &mut |_| {})
        .unwrap()
        .bundle;
    let dir = root.path().join("bundle");
    bundle.save(&dir, &[]).unwrap();
    let bundle = Bundle::load(&dir).unwrap();
    assert!(!bundle.feature_spec().groups.label_memory);
    assert!(bundle.label_memory().is_none());
    assert!(bundle.metadata().label_memory.is_none());
    // Its metadata.json has no trace of the memory, as bundles written before it existed.
    let text = std::fs::read_to_string(dir.join("metadata.json")).unwrap();
    assert!(!text.contains("label_memory"), "{text}");
    assert_eq!(bundle.metadata().to_json(), text);
    assert_eq!(bundle.version(), aml_models::model_version(&text));

    let root = tempfile::tempdir().unwrap();
    let day = write_batch(&root.path().join("day"), &common::world(false), 3).unwrap();
    let (batch, _) = Batch::load(&day).unwrap();
    let old_path = bundle.feature_spec().transform(&batch).unwrap();
    let new_path = bundle.alert_matrix(&batch).unwrap();
    assert_eq!(old_path.feature_names, new_path.feature_names);
    assert_eq!(
        old_path
            .values
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>(),
        new_path
            .values
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    );
    let rows =
        pipeline::score_rows(&batch, &bundle, &ScoreOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(
        bits(rows.scores.iter().map(|s| s.score)),
        bits(bundle.scorer().score(&old_path).unwrap())
    );
}
