//! `write_submission` encodes its files in parallel: every file must be the bytes of the
//! one-at-a-time encoders (the oracle), the receipt signed over the same `scores_hash`, on any
//! number of threads; a write that fails leaves nothing behind.

use std::path::Path;

use aml_core::submission::{
    competition_ranks, encode_cluster_scores, encode_rankings, encode_scores, files, sign_receipt,
    verify_receipt, write_submission, ClusterScoreRow, Manifest, RankingRow, Receipt, ScoreRow,
    Submission, BATCH_HASH_KEY,
};
use aml_core::SubmissionError;
use ed25519_dalek::SigningKey;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const TIMESTAMP: &str = "2025-10-08T00:00:00Z";
const INPUT_HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn image() -> String {
    format!("sha256:{}", "5e".repeat(32))
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[3u8; 32])
}

/// A random submission of `n` alerts (0 included) with ties, long and non-ASCII explanations.
fn random_submission(rng: &mut ChaCha8Rng, n: usize) -> Submission {
    let scores: Vec<ScoreRow> = (0..n)
        .map(|i| ScoreRow {
            alert_id: format!("alert-{i:05}-\u{e9}"),
            score: f64::from(rng.random_range(0..=8u32)) / 8.0,
            model_version: "m1".into(),
            latency_ms: 0.0,
            explain_json: "{\"top\": \"\u{1f600}\"}".repeat(rng.random_range(1..40)),
        })
        .collect();
    let ranking_scores: Vec<f64> = (0..n)
        .map(|_| f64::from(rng.random_range(0..5u32)) - 2.0)
        .collect();
    let rankings = scores
        .iter()
        .zip(&ranking_scores)
        .zip(competition_ranks(&ranking_scores))
        .map(|((s, &ranking_score), rank)| RankingRow {
            alert_id: s.alert_id.clone(),
            ranking_score,
            rank,
        })
        .collect();
    let cluster_scores = (0..rng.random_range(0..6))
        .map(|c| ClusterScoreRow {
            cluster_id: format!("c{c}"),
            score: rng.random_range(0.0..=1.0),
            model_version: "m1".into(),
        })
        .collect();
    let mut manifest = Manifest {
        repo_commit: "abc".into(),
        model_version: "m1".into(),
        ..Manifest::default()
    };
    manifest.seeds.insert("training".into(), rng.random());
    Submission {
        scores,
        rankings,
        cluster_scores,
        manifest,
        model_version: "m1".into(),
        image_digest: image(),
        batch_hash: Some("ab".repeat(32)),
    }
}

/// The five files as the one-at-a-time encoders make them.
fn oracle(submission: &Submission) -> Vec<(&'static str, Vec<u8>)> {
    let scores = encode_scores(&submission.scores).unwrap();
    let mut extra = std::collections::BTreeMap::new();
    extra.insert(
        BATCH_HASH_KEY.to_string(),
        submission.batch_hash.clone().unwrap().into(),
    );
    let receipt = sign_receipt(
        &key(),
        Receipt {
            input_hash: INPUT_HASH.into(),
            image_digest: image(),
            scores_hash: aml_core::io::sha256_hex(&scores),
            model_version: submission.model_version.clone(),
            timestamp: TIMESTAMP.into(),
            extra,
            ..Receipt::default()
        },
    );
    vec![
        (files::SCORES, scores),
        (
            files::RANKINGS,
            encode_rankings(&submission.rankings).unwrap(),
        ),
        (
            files::CLUSTER_SCORES,
            encode_cluster_scores(&submission.cluster_scores).unwrap(),
        ),
        (files::MANIFEST, pretty(&submission.manifest)),
        (files::RECEIPT, pretty(&receipt)),
    ]
}

/// Pretty JSON with a final newline, as submission JSON files are written.
fn pretty<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap();
    bytes.push(b'\n');
    bytes
}

fn write_on(threads: usize, dir: &Path, submission: &Submission) -> Receipt {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| write_submission(dir, &[], submission, &key(), INPUT_HASH, TIMESTAMP))
        .unwrap()
}

#[test]
fn parallel_encoding_writes_the_oracles_bytes_on_one_or_two_threads() {
    let root = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    for case in 0..24 {
        let n = match case {
            0 => 0,
            1 => 1,
            _ => rng.random_range(2..300),
        };
        let submission = random_submission(&mut rng, n);
        let expected = oracle(&submission);
        for threads in [1, 2] {
            let dir = root.path().join(format!("case{case}-t{threads}"));
            let receipt = write_on(threads, &dir, &submission);
            verify_receipt(&receipt).unwrap();
            for (name, bytes) in &expected {
                let written = std::fs::read(dir.join(name)).unwrap();
                assert!(
                    written == *bytes,
                    "case {case} ({n} alerts), {threads} thread(s): {name} differs"
                );
            }
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            assert_eq!(names.len(), 5, "{names:?}");
        }
    }
}

#[test]
fn a_failed_write_leaves_no_output_and_no_staging_directory() {
    let root = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let good = random_submission(&mut rng, 50);

    // A value unfit to sign, in the last-encoded file: refused before anything is written.
    let mut bad = good.clone();
    bad.cluster_scores.push(ClusterScoreRow {
        cluster_id: "nan".into(),
        score: f64::NAN,
        model_version: "m1".into(),
    });
    let out = root.path().join("out");
    let err = write_submission(&out, &[], &bad, &key(), INPUT_HASH, TIMESTAMP).unwrap_err();
    assert!(matches!(err, SubmissionError::InvalidValue(_)), "{err}");
    assert!(!out.exists());

    // The output's parent is a file: the directory cannot be made; nothing is left around it.
    let blocker = root.path().join("blocker");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let err = write_submission(
        &blocker.join("out"),
        &[],
        &good,
        &key(),
        INPUT_HASH,
        TIMESTAMP,
    )
    .unwrap_err();
    assert!(err.to_string().contains("blocker"), "{err}");
    let mut left: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["blocker"]);
    assert_eq!(std::fs::read(&blocker).unwrap(), b"not a directory");

    // A previous submission stays whole when the next one is refused.
    write_on(2, &out, &good);
    let before: Vec<Vec<u8>> = oracle(&good).into_iter().map(|(_, b)| b).collect();
    assert!(write_submission(&out, &[], &bad, &key(), INPUT_HASH, TIMESTAMP).is_err());
    for ((name, _), bytes) in oracle(&good).iter().zip(&before) {
        assert_eq!(std::fs::read(out.join(name)).unwrap(), *bytes, "{name}");
    }
}
