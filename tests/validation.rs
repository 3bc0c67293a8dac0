//! Self-validation against real (small) submissions, good and malformed: every malformed case is a
//! submission written to disk the way a faulty miner would produce it.

mod service_support;

use std::path::{Path, PathBuf};

use aml_core::submission::{self, files, read_submission, Submission};
use aml_miner::pipeline;
use aml_miner::validation::{self, labels::read_labels_file, ValidationReport};
use service_support::{fixture, TIMESTAMP};

fn validate(dir: &Path, rerun: bool) -> ValidationReport {
    let f = fixture();
    let rows = rerun.then(|| pipeline::score_alerts(&f.batch, &f.bundle).unwrap());
    validation::validate_submission(&f.batch, Some(&f.day), dir, None, rows.as_deref())
}

fn failed(report: &ValidationReport) -> Vec<String> {
    report
        .tier1
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.clone())
        .collect()
}

/// Writes a copy of the good submission with `edit` applied to it, signed properly. The files are
/// written one by one, as a faulty miner would: `write_submission` refuses to sign bad values.
fn variant(name: &str, edit: impl FnOnce(&mut Submission)) -> PathBuf {
    let f = fixture();
    let (mut sub, receipt) = read_submission(&f.submission()).unwrap();
    edit(&mut sub);
    let dir = f.root.path().join("variants").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    submission::write_scores(&dir.join(files::SCORES), &sub.scores).unwrap();
    submission::write_rankings(&dir.join(files::RANKINGS), &sub.rankings).unwrap();
    submission::write_cluster_scores(&dir.join(files::CLUSTER_SCORES), &sub.cluster_scores)
        .unwrap();
    let json = |value: serde_json::Value| serde_json::to_vec_pretty(&value).unwrap();
    std::fs::write(
        dir.join(files::MANIFEST),
        json(serde_json::json!(sub.manifest)),
    )
    .unwrap();
    let receipt = submission::sign_receipt(
        &pipeline::development_key(),
        &receipt.input_hash,
        &aml_core::io::sha256_file(&dir.join(files::SCORES)).unwrap(),
        &sub.model_version,
        TIMESTAMP,
    );
    std::fs::write(dir.join(files::RECEIPT), json(serde_json::json!(receipt))).unwrap();
    dir
}

#[test]
fn good_submission_passes_every_tier() {
    let report = validate(&fixture().submission(), true);
    assert!(report.tier1.passed, "{}", report.to_text());
    assert_eq!(report.tier1.score, 1.0);
    let determinism = report.tier2.determinism.as_ref().unwrap();
    assert!(determinism.passed, "{}", determinism.detail);
    assert!(
        !report.tier2.traps.is_empty(),
        "synthetic batches plant traps"
    );
    let t3 = report.tier3.as_ref().expect("the day carries labels");
    assert!(t3.n_labelled > 0 && t3.n_positive > 0);
    assert!(t3.auc > 0.5 && t3.auc <= 1.0, "auc {}", t3.auc);
    let expected_tau = 0.4 * t3.auc + 0.3 * (1.0 - t3.brier) + 0.3 * t3.ndcg_at_500;
    assert!((t3.tau_score - expected_tau).abs() < 1e-12);
    assert!(
        (report.immediate_score - (0.2 + 0.3 * report.tier2.score)).abs() < 1e-12,
        "tier 1 passed fully"
    );
    let text = report.to_text();
    assert!(text.contains("Tier 1 (integrity): PASS"));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["tier1"]["passed"], true);
}

#[test]
fn constant_scores_fail_tier1() {
    let dir = variant("constant", |s| {
        s.scores.iter_mut().for_each(|r| r.score = 0.5)
    });
    let report = validate(&dir, false);
    assert!(!report.tier1.passed);
    assert_eq!(failed(&report), vec!["not_constant"]);
}

#[test]
fn missing_alert_fails_cardinality() {
    let dir = variant("missing", |s| {
        s.scores.pop();
    });
    let report = validate(&dir, false);
    let failures = failed(&report);
    assert!(
        failures.contains(&"cardinality".to_string()),
        "{failures:?}"
    );
    assert!(
        failures.contains(&"all_alerts_scored".to_string()),
        "{failures:?}"
    );
}

#[test]
fn unknown_duplicate_and_out_of_range_rows_are_named() {
    let dir = variant("unknown", |s| {
        s.scores[0].alert_id = "no-such-alert".into();
        s.scores[1].score = 1.5;
        s.scores[2].score = f64::NAN;
        let copy = s.scores[3].clone();
        s.scores[4] = copy;
    });
    let report = validate(&dir, false);
    let failures = failed(&report);
    for name in [
        "known_alert_ids",
        "all_alerts_scored",
        "score_range",
        "unique_alert_ids",
    ] {
        assert!(failures.contains(&name.to_string()), "{name}: {failures:?}");
    }
    let known = report
        .tier1
        .checks
        .iter()
        .find(|c| c.name == "known_alert_ids")
        .unwrap();
    assert!(known.detail.contains("no-such-alert"));
}

#[test]
fn bad_signature_fails() {
    let f = fixture();
    let dir = f.root.path().join("variants").join("badsig");
    copy_dir(&f.submission(), &dir);
    let path = dir.join(files::RECEIPT);
    let mut receipt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let signature = receipt["signature"].as_str().unwrap().to_string();
    let flipped = if signature.starts_with('0') { "1" } else { "0" };
    receipt["signature"] = format!("{flipped}{}", &signature[1..]).into();
    std::fs::write(&path, serde_json::to_vec(&receipt).unwrap()).unwrap();
    assert_eq!(failed(&validate(&dir, false)), vec!["signature"]);
}

#[test]
fn tampered_scores_file_fails_hash_but_not_signature() {
    let f = fixture();
    let dir = f.root.path().join("variants").join("tampered");
    copy_dir(&f.submission(), &dir);
    let mut rows = submission::read_scores(&dir.join(files::SCORES)).unwrap();
    rows[0].score = (rows[0].score + 0.25) % 1.0;
    submission::write_scores(&dir.join(files::SCORES), &rows).unwrap();
    let report = validate(&dir, true);
    assert_eq!(failed(&report), vec!["scores_hash"]);
    assert!(!report.tier2.determinism.as_ref().unwrap().passed);
    assert_eq!(report.tier2.score, 0.0);
}

#[test]
fn missing_and_mistyped_files_fail_schema() {
    let f = fixture();
    let dir = f.root.path().join("variants").join("schema");
    copy_dir(&f.submission(), &dir);
    // rankings.parquet replaced by a scores file: wrong columns.
    std::fs::copy(dir.join(files::SCORES), dir.join(files::RANKINGS)).unwrap();
    std::fs::remove_file(dir.join(files::RECEIPT)).unwrap();
    let failures = failed(&validate(&dir, false));
    assert_eq!(failures, vec!["rankings_schema", "receipt"]);
}

#[test]
fn labels_file_matches_the_batch_labels() {
    let f = fixture();
    let labels = read_labels_file(&f.day.join("address_labels.parquet")).unwrap();
    let own = f.batch.labels.as_ref().unwrap();
    for address in &f.batch.alerts.address {
        assert_eq!(labels.label_of(address), own.label_of(address));
        assert_eq!(labels.relevance_of(address), own.relevance_of(address));
    }
    let report = validation::validate_submission(
        &f.batch,
        Some(&f.day),
        &f.submission(),
        Some(&labels),
        None,
    );
    let own_report = validate(&f.submission(), false);
    assert_eq!(report.tier3, own_report.tier3);
    assert!(read_labels_file(&f.day.join("alerts.parquet")).is_err());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}
