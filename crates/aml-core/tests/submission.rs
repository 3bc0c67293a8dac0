//! Submission files: round trips, byte determinism, atomic directory writes and the Python receipt vector.

use aml_core::submission::{
    canonical_receipt_json, encode_scores, files, read_cluster_scores, read_rankings, read_scores,
    read_submission, sign_receipt, verify_receipt, write_cluster_scores, write_rankings,
    write_scores, write_submission, ClusterScoreRow, Manifest, RankingRow, Receipt, ScoreRow,
    Submission,
};
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
        code_commit: "abc123".into(),
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
    }
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
    write_submission(&a, &submission(), &key(), "in", "t").unwrap();
    write_submission(&b, &submission(), &key(), "in", "t").unwrap();
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
    std::fs::write(dir.join("stale.txt"), "old run").unwrap();
    let receipt = write_submission(
        &dir,
        &submission(),
        &key(),
        "input-hash",
        "2025-10-30T00:00:00Z",
    )
    .unwrap();
    assert!(
        !dir.join("stale.txt").exists(),
        "old directory content must be replaced as a whole"
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

#[test]
fn receipt_matches_the_python_vector() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/receipt_vector.json"
    ))
    .unwrap();
    let vector: serde_json::Value = serde_json::from_str(&text).unwrap();
    let seed: [u8; 32] = hex::decode(vector["seed_hex"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let expected: Receipt = serde_json::from_value(vector["receipt"].clone()).unwrap();
    assert_eq!(
        canonical_receipt_json(&expected),
        vector["canonical"].as_str().unwrap()
    );
    let signed = sign_receipt(
        &SigningKey::from_bytes(&seed),
        &expected.input_hash,
        &expected.scores_hash,
        &expected.model_version,
        &expected.timestamp,
    );
    assert_eq!(signed, expected);
    verify_receipt(&expected).unwrap();
    let mut tampered = expected.clone();
    tampered.timestamp.push('!');
    assert!(verify_receipt(&tampered).is_err());
    let mut bad_key = expected;
    bad_key.miner_pubkey = "zz".into();
    assert!(verify_receipt(&bad_key).is_err());
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
