//! Self-validation against real (small) submissions, good and malformed: every malformed case is a
//! submission written to disk the way a faulty miner would produce it.

mod service_support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aml_core::submission::{self, files, read_submission, Receipt, ScoreRow, Submission};
use aml_miner::cli::validate as validate_submission;
use aml_miner::pipeline;
use aml_miner::validation::{self, labels::read_labels_file, tier3, Check, ValidationReport};
use clap::Parser;
use ed25519_dalek::SigningKey;
use service_support::{fixture, TIMESTAMP};

/// A fixed signing key for test submissions: the development key now fails tier 1.
fn test_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

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

/// The check named `name` of tier 1.
fn check<'a>(report: &'a ValidationReport, name: &str) -> &'a Check {
    report
        .tier1
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

/// Asserts that `name` is the only failed tier 1 check of `dir` and that its detail contains each of
/// `mentions`; returns the detail.
fn only_failure(dir: &Path, name: &str, mentions: &[&str]) -> String {
    let report = validate(dir, false);
    assert_eq!(failed(&report), vec![name], "{}", report.to_text());
    let detail = check(&report, name).detail.clone();
    for text in mentions {
        assert!(detail.contains(text), "`{text}` not in: {detail}");
    }
    detail
}

/// Writes a copy of the fixture's submission with `edit` applied to it, signed with [`test_key`]. The
/// files are written one by one, as a faulty miner would: `write_submission` refuses to sign bad values.
fn variant(name: &str, edit: impl FnOnce(&mut Submission)) -> PathBuf {
    signed_variant(name, edit, |_| {})
}

/// [`variant`] with `edit_receipt` applied to the receipt before it is signed.
fn signed_variant(
    name: &str,
    edit: impl FnOnce(&mut Submission),
    edit_receipt: impl FnOnce(&mut Receipt),
) -> PathBuf {
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
    let mut receipt = Receipt {
        scores_hash: aml_core::io::sha256_file(&dir.join(files::SCORES)).unwrap(),
        model_version: sub.model_version.clone(),
        timestamp: TIMESTAMP.into(),
        ..receipt
    };
    edit_receipt(&mut receipt);
    let receipt = submission::sign_receipt(&test_key(), receipt);
    std::fs::write(dir.join(files::RECEIPT), json(serde_json::json!(receipt))).unwrap();
    dir
}

/// The fixture's submission exactly as the miner wrote it, signed with [`test_key`].
fn good() -> &'static Path {
    static GOOD: OnceLock<PathBuf> = OnceLock::new();
    GOOD.get_or_init(|| variant("good", |_| {}))
}

/// Sets a score row's score and the `score` inside its `explain_json`, so only the score changes.
fn set_score(row: &mut ScoreRow, score: f64) {
    let mut explain: serde_json::Value = serde_json::from_str(&row.explain_json).unwrap();
    explain["score"] = score.into();
    row.explain_json = explain.to_string();
    row.score = score;
}

#[test]
fn good_submission_passes_tier1_and_reports_every_tier() {
    let f = fixture();
    let report = validate(good(), true);
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
    // The NDCG in tau is the template's: binary relevance over the scores, scikit-learn's ties.
    let (mut y, mut s) = (Vec::new(), Vec::new());
    let labels = f.batch.labels.as_ref().unwrap();
    let rows = submission::read_scores(&good().join(files::SCORES)).unwrap();
    for row in &rows {
        let address = &f.batch.alerts.address[f.batch.alerts.row_of(&row.alert_id).unwrap()];
        if let Some(label) = labels.label_of(address) {
            y.push(f64::from(label));
            s.push(row.score);
        }
    }
    let sklearn = tier3::sklearn_ndcg_at_k(&y, &s, 500);
    assert!(
        (t3.ndcg_at_500 - sklearn).abs() < 1e-12,
        "{} vs {sklearn}",
        t3.ndcg_at_500
    );
    assert!(t3.graded_ndcg_at_500.is_finite() && t3.graded_ndcg_at_500 != t3.ndcg_at_500);
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
        s.scores.iter_mut().for_each(|r| set_score(r, 0.5))
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
    copy_dir(good(), &dir);
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
    copy_dir(good(), &dir);
    let mut rows = submission::read_scores(&dir.join(files::SCORES)).unwrap();
    let score = (rows[0].score + 0.25) % 1.0;
    set_score(&mut rows[0], score);
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
    copy_dir(good(), &dir);
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
    let report =
        validation::validate_submission(&f.batch, Some(&f.day), good(), Some(&labels), None);
    let own_report = validate(good(), false);
    assert_eq!(report.tier3, own_report.tier3);
    assert!(read_labels_file(&f.day.join("alerts.parquet")).is_err());
}

/// Edits the JSON of a score row's `explain_json`.
fn edit_explain(row: &mut ScoreRow, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut explain: serde_json::Value = serde_json::from_str(&row.explain_json).unwrap();
    edit(&mut explain);
    row.explain_json = explain.to_string();
}

#[test]
fn development_key_signature_fails_tier1() {
    // The fixture's submission is score_batch's own output, signed with the public development key.
    let development = pipeline::development_key().verifying_key().to_bytes();
    let key = hex::encode(development);
    only_failure(&fixture().submission(), "not_development_key", &[&key]);
}

#[test]
fn ranking_rows_cover_every_alert_once() {
    let rows = submission::read_rankings(&good().join(files::RANKINGS)).unwrap();
    let duplicate = variant("rank_duplicate", |s| {
        s.rankings[5].alert_id = s.rankings[4].alert_id.clone()
    });
    let (id4, id5) = (&rows[4].alert_id, &rows[5].alert_id);
    only_failure(
        &duplicate,
        "rankings_alerts",
        &[
            &format!("rankings.parquet row 5 (alert_id {id4}): already on row 4"),
            &format!("batch alert_id {id5} has no row"),
        ],
    );
    let unknown = variant("rank_unknown", |s| {
        s.rankings[7].alert_id = "no-such-alert".into()
    });
    only_failure(
        &unknown,
        "rankings_alerts",
        &["rankings.parquet row 7 (alert_id no-such-alert): not in the batch"],
    );
}

#[test]
fn ranks_follow_ranking_scores() {
    let rows = submission::read_rankings(&good().join(files::RANKINGS)).unwrap();
    let with_rank = |rank: i32| rows.iter().position(|r| r.rank == rank).unwrap();
    let (first, second, third) = (with_rank(1), with_rank(2), with_rank(3));
    let last = (0..rows.len()).max_by_key(|&i| rows[i].rank).unwrap();
    let (n, bottom) = (rows.len() as i32, rows[last].rank);
    let place = |row: usize| {
        format!(
            "rankings.parquet row {row} (alert_id {})",
            rows[row].alert_id
        )
    };

    // The most and the least urgent alert swap ranks.
    let swapped = variant("rank_swap", |s| {
        s.rankings[first].rank = bottom;
        s.rankings[last].rank = 1;
    });
    let wrong = |row: usize, rank: i32, want: i32| {
        let score = rows[row].ranking_score;
        format!(
            "{}: rank {rank} but ranking_score {score} gives rank {want} ",
            place(row)
        )
    };
    let detail = only_failure(
        &swapped,
        "rankings_order",
        &[&wrong(first, bottom, 1), &wrong(last, 1, bottom)],
    );
    assert!(detail.starts_with("2 problem(s)"), "{detail}");

    // Ties share the lowest rank: 2 and 2 (then 4) is right, 2 and 3 is not.
    let tie = |name: &str, rank_of_third: i32| {
        variant(name, |s| {
            s.rankings[third].ranking_score = s.rankings[second].ranking_score;
            s.rankings[third].rank = rank_of_third;
        })
    };
    let shared = validate(&tie("rank_tie_shared", 2), false);
    assert_eq!(failed(&shared), Vec::<String>::new());
    let split = &format!("{}: rank 3 but ranking_score", place(third));
    only_failure(
        &tie("rank_tie_split", 3),
        "rankings_order",
        &[split, "gives rank 2"],
    );

    let zero = variant("rank_zero", |s| s.rankings[first].rank = 0);
    let outside = format!("{}: rank 0 outside 1..={n}", place(first));
    only_failure(&zero, "rankings_order", &[&outside]);
    // The least urgent alert's ranking score becomes NaN: NaN ranks last, but is refused.
    let nan = variant("rank_nan", |s| s.rankings[last].ranking_score = f64::NAN);
    let not_finite = format!("{}: ranking_score NaN is not finite", place(last));
    only_failure(&nan, "rankings_order", &[&not_finite]);
}

#[test]
fn cluster_scores_cover_the_batch_and_are_probabilities() {
    let rows = submission::read_cluster_scores(&good().join(files::CLUSTER_SCORES)).unwrap();
    assert_eq!(rows.len(), fixture().batch.clusters.len());
    let unknown = variant("cluster_unknown", |s| {
        s.cluster_scores[3].cluster_id = "no-such-cluster".into()
    });
    only_failure(
        &unknown,
        "cluster_ids",
        &[
            "cluster_scores.parquet row 3 (cluster_id no-such-cluster): not in the batch",
            &format!("batch cluster_id {} has no row", rows[3].cluster_id),
        ],
    );
    let duplicate = variant("cluster_duplicate", |s| {
        s.cluster_scores[4].cluster_id = s.cluster_scores[2].cluster_id.clone()
    });
    let id2 = &rows[2].cluster_id;
    let again = format!("cluster_scores.parquet row 4 (cluster_id {id2}): already on row 2");
    only_failure(&duplicate, "cluster_ids", &[&again]);
    for (name, value) in [
        ("cluster_high", 1.5),
        ("cluster_negative", -0.25),
        ("cluster_nan", f64::NAN),
        ("cluster_inf", f64::INFINITY),
    ] {
        let dir = variant(name, |s| s.cluster_scores[6].score = value);
        let id6 = &rows[6].cluster_id;
        let bad = format!("cluster_scores.parquet row 6 (cluster_id {id6}): score {value} not");
        only_failure(&dir, "cluster_score_range", &[&bad, "outside [0, 1]"]);
    }
}

#[test]
fn explain_json_has_the_documented_fields() {
    let scores = submission::read_scores(&good().join(files::SCORES)).unwrap();
    type Edit = fn(&mut ScoreRow);
    let cases: [(&str, Edit, &str); 6] = [
        (
            "explain_not_json",
            |r| r.explain_json = r#"{"score": 0.5"#.into(),
            "not valid JSON",
        ),
        (
            "explain_not_object",
            |r| r.explain_json = "[1, 2]".into(),
            "not a JSON object",
        ),
        (
            "explain_score",
            |r| {
                edit_explain(r, |e| {
                    e["score"] = (0.5 * e["score"].as_f64().unwrap() + 0.25).into()
                })
            },
            "differs from the row's score",
        ),
        (
            "explain_no_features",
            |r| {
                edit_explain(r, |e| {
                    e.as_object_mut().unwrap().remove("top_features");
                })
            },
            "`top_features` missing or not an array",
        ),
        (
            "explain_no_impact",
            |r| {
                edit_explain(r, |e| {
                    e["top_features"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("impact");
                })
            },
            "top_features[0].impact missing or not a number",
        ),
        (
            "explain_text_value",
            |r| edit_explain(r, |e| e["top_features"][0]["value"] = "1.0".into()),
            "top_features[0].value missing or not a number or null",
        ),
    ];
    let id9 = &scores[9].alert_id;
    let row9 = format!("1 problem(s): scores.parquet row 9 (alert_id {id9}): explain_json ");
    for (name, edit, problem) in cases {
        let dir = variant(name, |s| edit(&mut s.scores[9]));
        let detail = only_failure(&dir, "explain_json", &[problem]);
        assert!(detail.starts_with(&row9), "{name}: {detail}");
    }
    // Several bad rows: the first one in file order is named first.
    let dir = variant("explain_two_rows", |s| {
        s.scores[30].explain_json = "null".into();
        s.scores[20].explain_json = String::new();
    });
    let detail = only_failure(&dir, "explain_json", &[]);
    let id20 = &scores[20].alert_id;
    let row20 = format!("2 problem(s): scores.parquet row 20 (alert_id {id20}): explain_json not");
    assert!(detail.starts_with(&row20), "{detail}");
}

#[test]
fn every_row_carries_the_receipts_model_version() {
    let (sub, receipt) = read_submission(good()).unwrap();
    let version = &receipt.model_version;
    let score_row = variant("version_score", |s| {
        s.scores[13].model_version = "other".into()
    });
    let id13 = &sub.scores[13].alert_id;
    let differs = format!(
        "scores.parquet row 13 (alert_id {id13}): model_version `other` differs from the receipt's `{version}`"
    );
    only_failure(&score_row, "model_version", &[&differs]);
    let cluster_row = variant("version_cluster", |s| {
        s.cluster_scores[2].model_version = "other".into()
    });
    let id2 = &sub.cluster_scores[2].cluster_id;
    let differs = format!("cluster_scores.parquet row 2 (cluster_id {id2}): model_version `other`");
    only_failure(&cluster_row, "model_version", &[&differs]);
    // A receipt naming another version than its rows: every row differs.
    let receipt_version = variant("version_receipt", |s| s.model_version = "other".into());
    let detail = only_failure(&receipt_version, "model_version", &[]);
    let n = sub.scores.len() + sub.cluster_scores.len();
    let first = format!("{n} problem(s): scores.parquet row 0 ");
    assert!(detail.starts_with(&first), "{detail}");
}

/// Runs the example's code on `batch` and `submission` and returns its exit code.
fn exit_code(batch: &Path, submission: &Path) -> u8 {
    let args = validate_submission::Args::try_parse_from([
        "validate_submission".as_ref(),
        "--batch".as_ref(),
        batch.as_os_str(),
        "--submission".as_ref(),
        submission.as_os_str(),
    ])
    .unwrap();
    validate_submission::run(&args)
}

#[test]
fn example_exit_code_is_non_zero_when_a_tier_fails() {
    use validate_submission::{EXIT_FAILED, EXIT_PASSED, EXIT_UNREADABLE};
    let f = fixture();
    // Every trap alert moved to the side its trap does not expect: tier 1 still passes, tier 2
    // fails, and that is a failure. (Built by hand: whether the fixture's own small model meets
    // the traps depends on the generated day, not on the validator.)
    let on_side = |name: &str, expected_side: bool| {
        variant(name, |s| {
            for trap in &f.batch.meta.pattern_traps {
                for id in &trap.alert_ids {
                    let row = s.scores.iter_mut().find(|r| &r.alert_id == id).unwrap();
                    let high = (trap.expected_result == 1) == expected_side;
                    set_score(row, if high { 0.999 } else { 0.0 });
                }
            }
        })
    };
    let traps_missed = on_side("traps_missed", false);
    let report = validate(&traps_missed, false);
    assert!(
        report.tier1.passed && !report.tier2.passed,
        "{}",
        report.to_text()
    );
    assert_eq!(exit_code(&f.day, &traps_missed), EXIT_FAILED);
    // The same submission with every trap alert moved to its expected side passes both tiers.
    let traps_met = on_side("traps_met", true);
    let report = validate(&traps_met, false);
    assert!(report.passed(), "{}", report.to_text());
    assert_eq!(exit_code(&f.day, &traps_met), EXIT_PASSED);
    // Tier 1 fails: signed with the development key.
    assert_eq!(exit_code(&f.day, &f.submission()), EXIT_FAILED);
    let missing = f.root.path().join("no-such-batch");
    assert_eq!(exit_code(&missing, good()), EXIT_UNREADABLE);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn tier3_ndcg_matches_scikit_learn_with_ties() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sklearn_ndcg.json"
    );
    let fixture: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let floats = |value: &serde_json::Value| -> Vec<f64> {
        let items = value.as_array().unwrap();
        items.iter().map(|v| v.as_f64().unwrap()).collect()
    };
    let mut compared = 0;
    for case in fixture["cases"].as_array().unwrap() {
        let (relevance, scores) = (floats(&case["relevance"]), floats(&case["scores"]));
        for (k, expected) in case["ndcg"].as_object().unwrap() {
            let ours = tier3::sklearn_ndcg_at_k(&relevance, &scores, k.parse().unwrap());
            let expected = expected.as_f64().unwrap();
            assert!(
                (ours - expected).abs() <= 1e-12,
                "{} k={k}: ours {ours} vs scikit-learn {expected}",
                case["name"]
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 50);
    // Where scikit-learn refuses, NaN.
    assert!(tier3::sklearn_ndcg_at_k(&[1.0], &[0.5], 10).is_nan());
    assert!(tier3::sklearn_ndcg_at_k(&[1.0, -1.0], &[0.5, 0.2], 10).is_nan());
    assert!(tier3::sklearn_ndcg_at_k(&[1.0, 0.0], &[0.5, f64::NAN], 10).is_nan());
}

#[test]
fn input_hash_is_the_templates_and_batch_hash_ours() {
    let f = fixture();
    let alerts = aml_core::io::sha256_file(&f.day.join("alerts.parquet")).unwrap();
    let meta = aml_core::io::sha256_file(&f.day.join("META.json")).unwrap();
    let (_, receipt) = read_submission(good()).unwrap();
    assert_eq!(receipt.input_hash, alerts);
    assert_eq!(receipt.batch_hash(), Some(meta.as_str()));
    for name in ["input_hash", "batch_hash", "image_digest"] {
        assert!(check(&validate(good(), false), name).passed);
    }
    // The hash of META.json where the template expects the alerts' hash.
    let old = signed_variant("input_meta", |_| {}, |r| r.input_hash = meta.clone());
    only_failure(&old, "input_hash", &[&meta, &alerts]);
    let batch = signed_variant(
        "batch_other",
        |_| {},
        |r| {
            r.extra.insert("batch_hash".into(), alerts.clone().into());
        },
    );
    only_failure(&batch, "batch_hash", &[&meta]);
    let missing = signed_variant("batch_missing", |_| {}, |r| r.extra.clear());
    only_failure(&missing, "batch_hash", &["no `batch_hash`"]);
    let image = signed_variant("image", |_| {}, |r| r.image_digest = "latest".into());
    only_failure(&image, "image_digest", &["`latest`", "sha256:"]);
    // Keys the validator does not know are signed and kept: the receipt still verifies.
    let extra = signed_variant(
        "extra_keys",
        |_| {},
        |r| {
            r.extra.insert(
                "gpu".into(),
                serde_json::json!({"name": "none", "count": 0, "share": 0.5, "ok": true, "x": null}),
            );
        },
    );
    assert!(validate(&extra, false).tier1.passed);
}
