//! Submission files: round trips, byte determinism, atomic directory writes and the Python receipt vector.

use aml_core::submission::{
    canonical_receipt_json, encode_scores, files, image_digest_from, read_cluster_scores,
    read_rankings, read_scores, read_submission, sign_receipt, verify_receipt,
    write_cluster_scores, write_rankings, write_scores, write_submission, ClusterScoreRow,
    Manifest, RankingRow, Receipt, ScoreRow, Submission, IMAGE_DIGEST_ENV,
};
use aml_core::{OutputError, SubmissionError};
use ed25519_dalek::SigningKey;

fn scores() -> Vec<ScoreRow> {
    (0..5)
        .map(|i| ScoreRow {
            alert_id: format!("a{i}"),
            score: i as f64 / 4.0,
            model_version: "gbdt-v1".into(),
            latency_ms: 0.5 * i as f64,
            explain_json: format!("{{\"score\": {}, \"top_features\": []}}", i as f64 / 4.0),
        })
        .collect()
}

fn submission() -> Submission {
    let mut manifest = Manifest {
        repo_commit: "abc123".into(),
        image_digest: image(),
        model_version: "gbdt-v1".into(),
        ..Manifest::default()
    };
    manifest
        .model_versions
        .insert("scorer".into(), "gbdt-v1".into());
    manifest.seeds.insert("train".into(), 42);
    Submission {
        scores: scores(),
        rankings: vec![
            RankingRow {
                alert_id: "a0".into(),
                ranking_score: 2.0,
                rank: 1,
            },
            RankingRow {
                alert_id: "a1".into(),
                ranking_score: 1.0,
                rank: 2,
            },
            RankingRow {
                alert_id: "a2".into(),
                ranking_score: 1.0,
                rank: 2,
            },
        ],
        cluster_scores: vec![ClusterScoreRow {
            cluster_id: "c1".into(),
            score: 0.7,
            model_version: "gbdt-v1".into(),
        }],
        manifest,
        model_version: "gbdt-v1".into(),
        image_digest: image(),
        batch_hash: Some("b".repeat(64)),
    }
}

/// A well-formed image digest.
fn image() -> String {
    format!("sha256:{}", "d1".repeat(32))
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

#[test]
fn parquet_files_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let s = submission();
    write_scores(&dir.path().join(files::SCORES), &s.scores).unwrap();
    write_rankings(&dir.path().join(files::RANKINGS), &s.rankings).unwrap();
    write_cluster_scores(&dir.path().join(files::CLUSTER_SCORES), &s.cluster_scores).unwrap();
    assert_eq!(
        read_scores(&dir.path().join(files::SCORES)).unwrap(),
        s.scores
    );
    assert_eq!(
        read_rankings(&dir.path().join(files::RANKINGS)).unwrap(),
        s.rankings
    );
    assert_eq!(
        read_cluster_scores(&dir.path().join(files::CLUSTER_SCORES)).unwrap(),
        s.cluster_scores
    );
}

#[test]
fn scores_have_the_contract_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(files::SCORES);
    write_scores(&path, &scores()).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let fields: Vec<(String, String)> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().to_string()))
        .collect();
    let expected = [
        ("alert_id", "Utf8"),
        ("score", "Float64"),
        ("model_version", "Utf8"),
        ("latency_ms", "Float64"),
        ("explain_json", "Utf8"),
    ];
    assert_eq!(
        fields,
        expected.map(|(n, t)| (n.to_string(), t.to_string()))
    );
}

#[test]
fn identical_rows_give_identical_bytes() {
    let first = encode_scores(&scores()).unwrap();
    let second = encode_scores(&scores().into_iter().collect::<Vec<_>>()).unwrap();
    assert_eq!(first, second);
    let mut changed = scores();
    changed[2].score = 0.51;
    assert_ne!(encode_scores(&changed).unwrap(), first);
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    write_submission(&a, &[], &submission(), &key(), "in", "t").unwrap();
    write_submission(&b, &[], &submission(), &key(), "in", "t").unwrap();
    for name in [
        files::SCORES,
        files::RANKINGS,
        files::CLUSTER_SCORES,
        files::MANIFEST,
        files::RECEIPT,
    ] {
        assert_eq!(
            std::fs::read(a.join(name)).unwrap(),
            std::fs::read(b.join(name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn submission_directory_round_trips_and_replaces_atomically() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "the operator's").unwrap();
    std::fs::write(dir.join(files::RECEIPT), "{}").unwrap(); // a previous submission
    let write = || {
        write_submission(
            &dir,
            &[],
            &submission(),
            &key(),
            "input-hash",
            "2025-10-30T00:00:00Z",
        )
    };
    // Our own directory, but replacing it would delete a file we never write: refused, untouched.
    let refused = write().unwrap_err().to_string();
    assert!(refused.contains("notes.txt"), "{refused}");
    assert_eq!(std::fs::read(dir.join(files::RECEIPT)).unwrap(), b"{}");
    assert!(dir.join("notes.txt").exists());
    std::fs::remove_file(dir.join("notes.txt")).unwrap();
    std::fs::write(dir.join(files::SCORES), "old run").unwrap();
    let receipt = write().unwrap();
    assert_ne!(
        std::fs::read(dir.join(files::SCORES)).unwrap(),
        b"old run",
        "a previous submission is replaced as a whole"
    );
    let leftovers: Vec<_> = std::fs::read_dir(parent.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("out")]);
    let (read_back, read_receipt) = read_submission(&dir).unwrap();
    assert_eq!(read_back, submission());
    assert_eq!(read_receipt, receipt);
    assert_eq!(
        receipt.scores_hash,
        aml_core::io::sha256_file(&dir.join(files::SCORES)).unwrap()
    );
    // A scores file changed after signing is caught.
    let mut other = submission();
    other.scores[0].score = 0.99;
    write_scores(&dir.join(files::SCORES), &other.scores).unwrap();
    assert!(read_submission(&dir).is_err());
}

fn vector() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/receipt_vector.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn receipt_matches_the_python_vector() {
    let vector = vector();
    let seed: [u8; 32] = hex::decode(vector["seed_hex"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let received = vector["receipt_json"].as_str().unwrap();
    let receipt = Receipt::from_json_bytes(received.as_bytes()).unwrap();
    // Every key survives, the unknown ones with their values (nothing dropped, nothing added).
    assert_eq!(
        serde_json::to_value(&receipt).unwrap(),
        serde_json::from_str::<serde_json::Value>(received).unwrap()
    );
    assert_eq!(receipt.batch_hash(), Some("c0".repeat(32).as_str()));
    assert_eq!(receipt.image_digest, format!("sha256:{}", "5e".repeat(32)));
    assert!(receipt.extra.contains_key("nested") && receipt.extra.contains_key("floats"));
    assert_eq!(
        canonical_receipt_json(&receipt),
        vector["canonical"].as_str().unwrap()
    );
    verify_receipt(&receipt).unwrap();
    // Signing the same keys with the same key gives Python's signature byte for byte.
    let unsigned = Receipt {
        miner_pubkey: String::new(),
        signature: String::new(),
        ..receipt.clone()
    };
    let signed = sign_receipt(&SigningKey::from_bytes(&seed), unsigned);
    assert_eq!(signed.signature, vector["signature"].as_str().unwrap());
    assert_eq!(signed, receipt);
    // Any change, in a known or an unknown key, breaks the signature.
    let mut tampered = receipt.clone();
    tampered.timestamp.push('!');
    assert!(verify_receipt(&tampered).is_err());
    let mut tampered = receipt.clone();
    tampered.extra.get_mut("nested").unwrap()["A"] = 8.into();
    assert!(verify_receipt(&tampered).is_err());
    let mut tampered = receipt.clone();
    tampered
        .extra
        .insert("added".into(), serde_json::Value::Null);
    assert!(verify_receipt(&tampered).is_err());
    let mut bad_key = receipt;
    bad_key.miner_pubkey = "zz".into();
    assert!(verify_receipt(&bad_key).is_err());
}

#[test]
fn receipts_with_numbers_that_cannot_be_carried_exactly_are_refused_by_name() {
    for literal in [
        "18446744073709551616",
        "-9223372036854775809",
        "-0",
        "100000000000000000000000",
    ] {
        let text = format!(r#"{{"input_hash": "i", "n": [1, {{"x": {literal}}}]}}"#);
        let error = Receipt::from_json_bytes(text.as_bytes()).unwrap_err();
        assert!(error.contains(&format!("integer {literal} ")), "{error}");
    }
    // The same characters inside strings, and numbers that are exact, are fine.
    let text = r#"{"input_hash": "-0 18446744073709551616 \" -0", "scores_hash": "", "model_version": "",
        "timestamp": "", "miner_pubkey": "", "signature": "", "n": [-1, 18446744073709551615, -0.0, 1e400000]}"#;
    let error = Receipt::from_json_bytes(text.as_bytes()).unwrap_err();
    assert!(error.contains("number out of range"), "{error}");
    let receipt = Receipt::from_json_bytes(text.replace("1e400000", "1e4").as_bytes()).unwrap();
    assert!(canonical_receipt_json(&receipt)
        .contains(r#""n": [-1, 18446744073709551615, -0.0, 10000.0]"#));
}

#[test]
fn receipt_and_manifest_carry_the_template_keys() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out");
    write_submission(&dir, &[], &submission(), &key(), "in", "t").unwrap();
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
    };
    let receipt = read(files::RECEIPT);
    for key in [
        "input_hash",
        "image_digest",
        "scores_hash",
        "model_version",
        "timestamp",
        "miner_pubkey",
        "signature",
    ] {
        assert!(
            receipt[key].is_string(),
            "receipt.json lacks {key}: {receipt}"
        );
    }
    assert_eq!(receipt["image_digest"], image().as_str());
    assert_eq!(receipt["batch_hash"], "b".repeat(64).as_str());
    let manifest = read(files::MANIFEST);
    assert_eq!(manifest["repo_commit"], "abc123");
    assert_eq!(manifest["image_digest"], image().as_str());
    assert_eq!(manifest["model_version"], "gbdt-v1");
    assert!(manifest["libs"].is_object() && manifest["seeds"]["train"] == 42);
    assert!(manifest["hardware"]["cpu"].is_string() && manifest["hardware"]["ram_gb"].is_number());
}

#[test]
fn manifests_written_before_the_template_names_still_read() {
    let old = r#"{"code_commit": "abc", "model_versions": {"scorer": "v"},
        "library_versions": {"aml-core": "0.1.0"}, "seeds": {"training": 7},
        "hardware": {"cores": "2", "os": "linux"}, "batch_id": "b1"}"#;
    let manifest: Manifest = serde_json::from_str(old).unwrap();
    assert_eq!(manifest.repo_commit, "abc");
    assert_eq!(manifest.libs["aml-core"], "0.1.0");
    assert_eq!(manifest.hardware.extra["cores"], "2");
    assert_eq!(manifest.extra["batch_id"], "b1");
}

#[test]
fn image_digests_are_checked_before_anything_is_written() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out");
    for bad in [
        "latest".to_string(),
        format!("sha256:{}", "D1".repeat(32)),
        format!("sha256:{}", "d1".repeat(31)),
        format!("sha512:{}", "d1".repeat(32)),
    ] {
        let mut submission = submission();
        submission.image_digest = bad.clone();
        let error = write_submission(&dir, &[], &submission, &key(), "in", "t").unwrap_err();
        assert!(error.to_string().contains(&bad), "{error}");
        assert!(!dir.exists());
    }
    // Not given: the running executable's digest.
    let mut submission = submission();
    submission.image_digest = String::new();
    let receipt = write_submission(&dir, &[], &submission, &key(), "in", "t").unwrap();
    let executable = aml_core::io::sha256_file(&std::env::current_exe().unwrap()).unwrap();
    assert_eq!(receipt.image_digest, format!("sha256:{executable}"));
    let error = image_digest_from(Some("sha256:abc".as_ref())).unwrap_err();
    assert!(error.to_string().contains(IMAGE_DIGEST_ENV), "{error}");
}

#[test]
fn atomic_write_replaces_whole_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    aml_core::io::atomic_write(&path, b"first version, long").unwrap();
    aml_core::io::atomic_write(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    assert_eq!(
        aml_core::io::sha256_file(&path).unwrap(),
        "16367aacb67a4a017c8da8ab95682ccb390863780f7114dda0a0e0c55644c7c4"
    );
}

/// Every file below `dir` with its bytes (symbolic links as their target text).
fn snapshot(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).unwrap();
            out.push((path, target.to_string_lossy().as_bytes().to_vec()));
        } else if meta.is_dir() {
            out.push((path.clone(), Vec::new()));
            out.extend(snapshot(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    out
}

fn write(dir: &std::path::Path, inputs: &[&std::path::Path]) -> Result<Receipt, SubmissionError> {
    write_submission(dir, inputs, &submission(), &key(), "in", "t")
}

#[test]
fn only_a_submission_or_an_empty_directory_is_replaced() {
    let root = tempfile::tempdir().unwrap();
    // A file at the output path.
    let file = root.path().join("out.txt");
    std::fs::write(&file, "precious").unwrap();
    // A directory of somebody else's.
    let foreign = root.path().join("photos");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("cat.jpg"), "meow").unwrap();
    // A symbolic link to a submission.
    let real = root.path().join("real");
    write(&real, &[]).unwrap();
    let link = root.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let snapshot_before = snapshot(root.path());
    let errors = [
        write(&file, &[]).unwrap_err(),
        write(&foreign, &[]).unwrap_err(),
        write(&link, &[]).unwrap_err(),
    ];
    assert!(
        matches!(&errors[0], SubmissionError::Output(OutputError::NotADirectory { found, .. }) if found == "a regular file"),
        "{}",
        errors[0]
    );
    assert!(
        matches!(&errors[1], SubmissionError::Output(OutputError::Foreign { marker, .. }) if marker == files::RECEIPT),
        "{}",
        errors[1]
    );
    assert!(
        matches!(&errors[2], SubmissionError::Output(OutputError::NotADirectory { found, .. }) if found == "a symbolic link"),
        "{}",
        errors[2]
    );
    for error in &errors {
        assert!(error.to_string().contains("refusing"), "{error}");
    }
    assert_eq!(
        snapshot(root.path()),
        snapshot_before,
        "a refusal touched something"
    );
    // Ours (holds receipt.json) and empty directories are replaced.
    write(&real, &[]).unwrap();
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    write(&empty, &[]).unwrap();
    assert!(empty.join(files::RECEIPT).is_file());
    assert!(matches!(
        write(&root.path().join(".."), &[]).unwrap_err(),
        SubmissionError::Output(OutputError::NoName { .. })
    ));
}

#[test]
fn output_is_never_the_input_or_a_parent_of_it() {
    let root = tempfile::tempdir().unwrap();
    let batch = root.path().join("days").join("batch");
    std::fs::create_dir_all(&batch).unwrap();
    std::fs::write(batch.join(files::RECEIPT), "a batch that looks like ours").unwrap();
    std::os::unix::fs::symlink(root.path().join("days"), root.path().join("alias")).unwrap();
    let snapshot_before = snapshot(root.path());
    for out in [
        batch.clone(),
        batch.join("..").join("batch"),
        root.path().join("days"),
        root.path().join("alias").join("batch"),
        root.path().join("alias"),
        root.path().to_path_buf(),
    ] {
        match write(&out, &[&batch]).unwrap_err() {
            SubmissionError::Output(OutputError::ContainsInput { input, .. }) => {
                assert_eq!(input, batch)
            }
            other => panic!("{}: unexpected {other}", out.display()),
        }
    }
    // Relative paths are resolved against the working directory before comparing.
    let cwd = std::env::current_dir().unwrap();
    let relative = pathdiff(&batch, &cwd);
    assert!(write(&relative, &[&batch]).is_err());
    assert_eq!(snapshot(root.path()), snapshot_before);
    // A sibling is fine.
    write(&root.path().join("days").join("out"), &[&batch]).unwrap();
}

/// `path` relative to `base` (both absolute), with `..` steps.
fn pathdiff(path: &std::path::Path, base: &std::path::Path) -> std::path::PathBuf {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut out = std::path::PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for c in &path[common..] {
        out.push(c);
    }
    out
}

#[test]
fn leftovers_of_a_killed_run_for_the_same_output_are_removed() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    // What a run killed between its renames leaves: its staging and retired directories (pid
    // 4294967295 is never a running process).
    let killed = [".out.staging.4294967295.17", ".out.old.4294967295.18"];
    // Not ours to remove: another output's, a name of another shape, a user's file.
    let kept = [
        ".other.staging.4294967295.17",
        ".out.staging.keep",
        ".out.staging.4294967295.17.bak",
        "out.staging.4294967295.17",
    ];
    for name in killed.iter().chain(&kept) {
        std::fs::create_dir(root.path().join(name)).unwrap();
        std::fs::write(root.path().join(name).join(files::SCORES), "half").unwrap();
    }
    write(&out, &[]).unwrap();
    let mut left: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut expected: Vec<String> = kept.iter().map(|s| s.to_string()).collect();
    expected.push("out".into());
    expected.sort();
    assert_eq!(left, expected);
}

#[test]
fn values_unfit_to_sign_are_refused_naming_file_column_and_row() {
    type Edit = fn(&mut Submission);
    let cases: [(Edit, &str, &str, usize); 8] = [
        (|s| s.scores[2].score = f64::NAN, files::SCORES, "score", 2),
        (|s| s.scores[1].score = 1.5, files::SCORES, "score", 1),
        (
            |s| s.scores[4].score = -0.0 - 1e-9,
            files::SCORES,
            "score",
            4,
        ),
        (
            |s| s.scores[3].latency_ms = f64::INFINITY,
            files::SCORES,
            "latency_ms",
            3,
        ),
        (
            |s| s.cluster_scores[0].score = f64::NAN,
            files::CLUSTER_SCORES,
            "score",
            0,
        ),
        (
            |s| s.rankings[1].ranking_score = f64::INFINITY,
            files::RANKINGS,
            "ranking_score",
            1,
        ),
        (|s| s.rankings[2].rank = 3, files::RANKINGS, "rank", 2),
        (|s| s.rankings[0].rank = 2, files::RANKINGS, "rank", 0),
    ];
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    write(&out, &[]).unwrap();
    let good = snapshot(root.path());
    for (edit, file, column, bad_row) in cases {
        let mut bad = submission();
        edit(&mut bad);
        match aml_core::submission::check_submission(&bad).unwrap_err() {
            SubmissionError::InvalidValue(aml_core::InvalidValue {
                file: f,
                column: c,
                row,
                ..
            }) => assert_eq!((f.as_str(), c.as_str(), row), (file, column, bad_row)),
            other => panic!("unexpected {other}"),
        }
        let error = write_submission(&out, &[], &bad, &key(), "in", "t").unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(file) && text.contains(&format!("row {bad_row}")),
            "{text}"
        );
        assert_eq!(
            snapshot(root.path()),
            good,
            "{text}: the good submission changed"
        );
    }
}
