//! What a miner submits: `scores.parquet`, `rankings.parquet`, `cluster_scores.parquet`, `manifest.json`
//! and a signed `receipt.json`.
//!
//! Parquet files are written with fixed writer properties (fixed `created_by`, Snappy, one row group, no
//! timestamps anywhere), so the same rows always give the same bytes, which the validator's determinism
//! check and the receipt's `scores_hash` rely on. The receipt is signed over exactly the bytes Python's
//! `json.dumps(receipt_without_signature, sort_keys=True)` produces, because validators verify it in Python.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Schema};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};

use crate::columns::TextView;
use crate::error::SubmissionError;

/// File names of a submission directory.
pub mod files {
    /// Per-alert scores.
    pub const SCORES: &str = "scores.parquet";
    /// Per-alert ranking.
    pub const RANKINGS: &str = "rankings.parquet";
    /// Per-cluster scores.
    pub const CLUSTER_SCORES: &str = "cluster_scores.parquet";
    /// Provenance manifest.
    pub const MANIFEST: &str = "manifest.json";
    /// Signed receipt.
    pub const RECEIPT: &str = "receipt.json";
}

/// One row of `scores.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    /// The scored alert.
    pub alert_id: String,
    /// Probability of illicit activity in `[0, 1]`.
    pub score: f64,
    /// Model that produced the score.
    pub model_version: String,
    /// Scoring latency attributed to this alert, in milliseconds.
    pub latency_ms: f64,
    /// `{"score": .., "top_features": [..]}` explanation.
    pub explain_json: String,
}

/// One row of `rankings.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct RankingRow {
    /// The ranked alert.
    pub alert_id: String,
    /// Ranking model output (higher is more urgent).
    pub ranking_score: f64,
    /// 1 = most urgent; ties share the lowest rank.
    pub rank: i32,
}

/// One row of `cluster_scores.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterScoreRow {
    /// The scored cluster.
    pub cluster_id: String,
    /// Cluster score in `[0, 1]`.
    pub score: f64,
    /// Model that produced the score.
    pub model_version: String,
}

/// `manifest.json`: what produced the submission, so a run can be reproduced. Unknown keys are kept in
/// `extra` so a manifest read and written again loses nothing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// Git commit of the miner code.
    #[serde(default)]
    pub code_commit: String,
    /// Model name -> version.
    #[serde(default)]
    pub model_versions: BTreeMap<String, String>,
    /// Library name -> version.
    #[serde(default)]
    pub library_versions: BTreeMap<String, String>,
    /// Seed name -> value.
    #[serde(default)]
    pub seeds: BTreeMap<String, u64>,
    /// Hardware description (cpu, cores, memory ...).
    #[serde(default)]
    pub hardware: BTreeMap<String, String>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// `receipt.json`: binds the scores to the input batch and the miner's key. Every field is a string.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Receipt {
    /// sha256 of the batch input (see [`crate::io::input_hash`]).
    pub input_hash: String,
    /// sha256 of the `scores.parquet` bytes.
    pub scores_hash: String,
    /// Model version.
    pub model_version: String,
    /// When the receipt was made (free text, e.g. RFC 3339).
    pub timestamp: String,
    /// Hex ed25519 public key of the miner.
    pub miner_pubkey: String,
    /// Hex ed25519 signature over [`canonical_receipt_json`].
    pub signature: String,
}

/// Appends `text` as a JSON string literal the way Python's `json.dumps` (ensure_ascii=True) does: `"` and
/// `\` escaped, `\n \r \t \b \f` short escapes, everything else outside printable ASCII as lower-case
/// `\uXXXX`, with surrogate pairs above U+FFFF.
fn push_python_json_string(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(character),
            _ => {
                let mut units = [0u16; 2];
                for unit in character.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// The signed bytes: `json.dumps(receipt_without_signature, sort_keys=True)` from Python, i.e.
/// `{"input_hash": "...", "miner_pubkey": "...", "model_version": "...", "scores_hash": "...", "timestamp": "..."}`.
///
/// ```
/// let receipt = aml_core::submission::Receipt { input_hash: "i".into(), timestamp: "t\u{e9}".into(), ..Default::default() };
/// assert_eq!(
///     aml_core::submission::canonical_receipt_json(&receipt),
///     r#"{"input_hash": "i", "miner_pubkey": "", "model_version": "", "scores_hash": "", "timestamp": "t\u00e9"}"#
/// );
/// ```
pub fn canonical_receipt_json(receipt: &Receipt) -> String {
    let fields = [
        ("input_hash", &receipt.input_hash),
        ("miner_pubkey", &receipt.miner_pubkey),
        ("model_version", &receipt.model_version),
        ("scores_hash", &receipt.scores_hash),
        ("timestamp", &receipt.timestamp),
    ];
    let mut out = String::from("{");
    for (index, (key, value)) in fields.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        push_python_json_string(&mut out, key);
        out.push_str(": ");
        push_python_json_string(&mut out, value);
    }
    out.push('}');
    out
}

/// Builds and signs a receipt; `miner_pubkey` is the hex public key of `key`.
pub fn sign_receipt(
    key: &SigningKey,
    input_hash: &str,
    scores_hash: &str,
    model_version: &str,
    timestamp: &str,
) -> Receipt {
    let mut receipt = Receipt {
        input_hash: input_hash.to_string(),
        scores_hash: scores_hash.to_string(),
        model_version: model_version.to_string(),
        timestamp: timestamp.to_string(),
        miner_pubkey: hex::encode(key.verifying_key().to_bytes()),
        signature: String::new(),
    };
    let signature = key.sign(canonical_receipt_json(&receipt).as_bytes());
    receipt.signature = hex::encode(signature.to_bytes());
    receipt
}

/// Checks the receipt's signature against its own `miner_pubkey` (strict ed25519 verification).
pub fn verify_receipt(receipt: &Receipt) -> Result<(), SubmissionError> {
    let fail = |reason: String| SubmissionError::Receipt { reason };
    let key_bytes: [u8; 32] = hex::decode(&receipt.miner_pubkey)
        .map_err(|e| fail(format!("miner_pubkey is not hex: {e}")))?
        .try_into()
        .map_err(|_| fail("miner_pubkey is not 32 bytes".to_string()))?;
    let key = VerifyingKey::from_bytes(&key_bytes)
        .map_err(|e| fail(format!("miner_pubkey is not a valid key: {e}")))?;
    let signature_bytes =
        hex::decode(&receipt.signature).map_err(|e| fail(format!("signature is not hex: {e}")))?;
    let signature = Signature::from_slice(&signature_bytes)
        .map_err(|e| fail(format!("signature is not 64 bytes: {e}")))?;
    key.verify_strict(canonical_receipt_json(receipt).as_bytes(), &signature)
        .map_err(|_| fail("signature does not verify".to_string()))
}

fn parquet_error(path: &Path, error: impl std::fmt::Display) -> SubmissionError {
    SubmissionError::Parquet {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

fn io_error(path: &Path, source: std::io::Error) -> SubmissionError {
    SubmissionError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Encodes one record batch with fixed properties, so identical rows give identical bytes.
fn encode_parquet(path: &Path, batch: &RecordBatch) -> Result<Vec<u8>, SubmissionError> {
    crate::io::encode_parquet(batch.schema(), std::slice::from_ref(batch), usize::MAX)
        .map_err(|e| parquet_error(path, e))
}

fn utf8<'a>(values: impl Iterator<Item = &'a String>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn float64(values: impl Iterator<Item = f64>) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(values))
}

fn record_batch(
    path: &Path,
    columns: Vec<(&str, Arc<dyn Array>)>,
) -> Result<RecordBatch, SubmissionError> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), false))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, array)| array).collect(),
    )
    .map_err(|e| parquet_error(path, e))
}

/// `scores.parquet` bytes: alert_id Utf8, score Float64, model_version Utf8, latency_ms Float64, explain_json Utf8.
pub fn encode_scores(rows: &[ScoreRow]) -> Result<Vec<u8>, SubmissionError> {
    let path = Path::new(files::SCORES);
    let batch = record_batch(
        path,
        vec![
            ("alert_id", utf8(rows.iter().map(|r| &r.alert_id))),
            ("score", float64(rows.iter().map(|r| r.score))),
            ("model_version", utf8(rows.iter().map(|r| &r.model_version))),
            ("latency_ms", float64(rows.iter().map(|r| r.latency_ms))),
            ("explain_json", utf8(rows.iter().map(|r| &r.explain_json))),
        ],
    )?;
    encode_parquet(path, &batch)
}

/// `rankings.parquet` bytes: alert_id Utf8, ranking_score Float64, rank Int32.
pub fn encode_rankings(rows: &[RankingRow]) -> Result<Vec<u8>, SubmissionError> {
    let path = Path::new(files::RANKINGS);
    let batch = record_batch(
        path,
        vec![
            ("alert_id", utf8(rows.iter().map(|r| &r.alert_id))),
            (
                "ranking_score",
                float64(rows.iter().map(|r| r.ranking_score)),
            ),
            (
                "rank",
                Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.rank))) as ArrayRef,
            ),
        ],
    )?;
    encode_parquet(path, &batch)
}

/// `cluster_scores.parquet` bytes: cluster_id Utf8, score Float64, model_version Utf8.
pub fn encode_cluster_scores(rows: &[ClusterScoreRow]) -> Result<Vec<u8>, SubmissionError> {
    let path = Path::new(files::CLUSTER_SCORES);
    let batch = record_batch(
        path,
        vec![
            ("cluster_id", utf8(rows.iter().map(|r| &r.cluster_id))),
            ("score", float64(rows.iter().map(|r| r.score))),
            ("model_version", utf8(rows.iter().map(|r| &r.model_version))),
        ],
    )?;
    encode_parquet(path, &batch)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SubmissionError> {
    crate::io::atomic_write(path, bytes).map_err(|e| io_error(path, e))
}

/// Writes `scores.parquet` atomically.
pub fn write_scores(path: &Path, rows: &[ScoreRow]) -> Result<(), SubmissionError> {
    write_atomically(path, &encode_scores(rows)?)
}

/// Writes `rankings.parquet` atomically.
pub fn write_rankings(path: &Path, rows: &[RankingRow]) -> Result<(), SubmissionError> {
    write_atomically(path, &encode_rankings(rows)?)
}

/// Writes `cluster_scores.parquet` atomically.
pub fn write_cluster_scores(path: &Path, rows: &[ClusterScoreRow]) -> Result<(), SubmissionError> {
    write_atomically(path, &encode_cluster_scores(rows)?)
}

/// Decoded columns of a submission Parquet file, each checked for the contract type and for nulls.
struct Columns {
    path: PathBuf,
    batches: Vec<RecordBatch>,
}

impl Columns {
    fn read(path: &Path) -> Result<Columns, SubmissionError> {
        let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
        let batches = crate::read::catch_decode_panic(|| {
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|builder| builder.build())
                .map_err(|e| parquet_error(path, e))?;
            reader
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| parquet_error(path, e))
        })
        .map_err(|message| parquet_error(path, format!("decoder panicked: {message}")))??;
        Ok(Columns {
            path: path.to_path_buf(),
            batches,
        })
    }

    fn schema_error(&self, column: &str, reason: impl Into<String>) -> SubmissionError {
        SubmissionError::Schema {
            path: self.path.clone(),
            column: column.to_string(),
            reason: reason.into(),
        }
    }

    fn arrays(
        &self,
        column: &str,
        expected: &DataType,
    ) -> Result<Vec<&Arc<dyn Array>>, SubmissionError> {
        let mut arrays = Vec::with_capacity(self.batches.len());
        for batch in &self.batches {
            let array = batch
                .column_by_name(column)
                .ok_or_else(|| self.schema_error(column, "missing column"))?;
            let text_ok = *expected == DataType::Utf8 && TextView::new(array.as_ref()).is_some();
            if array.data_type() != expected && !text_ok {
                return Err(self.schema_error(
                    column,
                    format!("type {} instead of {expected}", array.data_type()),
                ));
            }
            if array.null_count() > 0 {
                return Err(self.schema_error(column, "contains nulls"));
            }
            arrays.push(array);
        }
        Ok(arrays)
    }

    fn texts(&self, column: &str) -> Result<Vec<String>, SubmissionError> {
        let mut out = Vec::new();
        for array in self.arrays(column, &DataType::Utf8)? {
            let view = TextView::new(array.as_ref())
                .ok_or_else(|| self.schema_error(column, "not text"))?;
            for row in 0..view.len() {
                out.push(
                    view.get(row)
                        .ok_or_else(|| self.schema_error(column, "contains nulls"))?
                        .to_string(),
                );
            }
        }
        Ok(out)
    }

    fn floats(&self, column: &str) -> Result<Vec<f64>, SubmissionError> {
        let arrays = self.arrays(column, &DataType::Float64)?;
        Ok(arrays
            .iter()
            .flat_map(|a| a.as_primitive::<Float64Type>().values().iter().copied())
            .collect())
    }

    fn ints(&self, column: &str) -> Result<Vec<i32>, SubmissionError> {
        let arrays = self.arrays(column, &DataType::Int32)?;
        Ok(arrays
            .iter()
            .flat_map(|a| a.as_primitive::<Int32Type>().values().iter().copied())
            .collect())
    }
}

/// Reads `scores.parquet`, checking column names and types.
pub fn read_scores(path: &Path) -> Result<Vec<ScoreRow>, SubmissionError> {
    let columns = Columns::read(path)?;
    let (alert_id, score, model_version) = (
        columns.texts("alert_id")?,
        columns.floats("score")?,
        columns.texts("model_version")?,
    );
    let (latency_ms, explain_json) = (
        columns.floats("latency_ms")?,
        columns.texts("explain_json")?,
    );
    Ok(alert_id
        .into_iter()
        .zip(score)
        .zip(model_version)
        .zip(latency_ms)
        .zip(explain_json)
        .map(
            |((((alert_id, score), model_version), latency_ms), explain_json)| ScoreRow {
                alert_id,
                score,
                model_version,
                latency_ms,
                explain_json,
            },
        )
        .collect())
}

/// Reads `rankings.parquet`, checking column names and types.
pub fn read_rankings(path: &Path) -> Result<Vec<RankingRow>, SubmissionError> {
    let columns = Columns::read(path)?;
    let (alert_id, ranking_score, rank) = (
        columns.texts("alert_id")?,
        columns.floats("ranking_score")?,
        columns.ints("rank")?,
    );
    Ok(alert_id
        .into_iter()
        .zip(ranking_score)
        .zip(rank)
        .map(|((alert_id, ranking_score), rank)| RankingRow {
            alert_id,
            ranking_score,
            rank,
        })
        .collect())
}

/// Reads `cluster_scores.parquet`, checking column names and types.
pub fn read_cluster_scores(path: &Path) -> Result<Vec<ClusterScoreRow>, SubmissionError> {
    let columns = Columns::read(path)?;
    let (cluster_id, score, model_version) = (
        columns.texts("cluster_id")?,
        columns.floats("score")?,
        columns.texts("model_version")?,
    );
    Ok(cluster_id
        .into_iter()
        .zip(score)
        .zip(model_version)
        .map(|((cluster_id, score), model_version)| ClusterScoreRow {
            cluster_id,
            score,
            model_version,
        })
        .collect())
}

fn to_pretty_json<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>, SubmissionError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| SubmissionError::Json {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, SubmissionError> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| SubmissionError::Json {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Everything a submission holds besides the receipt (which is derived when writing).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Submission {
    /// One row per alert.
    pub scores: Vec<ScoreRow>,
    /// One row per alert.
    pub rankings: Vec<RankingRow>,
    /// One row per cluster.
    pub cluster_scores: Vec<ClusterScoreRow>,
    /// Provenance.
    pub manifest: Manifest,
    /// Model version recorded in the receipt.
    pub model_version: String,
}

/// The kind of output [`write_submission`] replaces: a directory holding a `receipt.json`.
pub const OUTPUT_KIND: crate::io::OutputKind = crate::io::OutputKind {
    name: "submission",
    marker: files::RECEIPT,
};

fn invalid_value(
    file: &str,
    column: &str,
    row: usize,
    value: impl ToString,
    reason: &str,
) -> SubmissionError {
    SubmissionError::InvalidValue {
        file: file.to_string(),
        column: column.to_string(),
        row,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// The first row whose `value` breaks `ok`, as an error naming the file, column and row.
fn check_column(
    file: &str,
    column: &str,
    values: impl Iterator<Item = f64>,
    ok: impl Fn(f64) -> bool,
    reason: &str,
) -> Result<(), SubmissionError> {
    for (row, value) in values.enumerate() {
        if !ok(value) {
            return Err(invalid_value(file, column, row, value, reason));
        }
    }
    Ok(())
}

/// Checks what a receipt would vouch for: every score and cluster score finite and in `[0, 1]`,
/// every `latency_ms` finite and `>= 0`, every ranking score finite, and every rank equal to one
/// plus the number of strictly greater ranking scores (1 = most urgent, ties share the lowest
/// rank). The error names the file, column and row of the first bad value.
pub fn check_submission(submission: &Submission) -> Result<(), SubmissionError> {
    let probability = |v: f64| (0.0..=1.0).contains(&v);
    let scores = &submission.scores;
    check_column(
        files::SCORES,
        "score",
        scores.iter().map(|r| r.score),
        probability,
        "must be finite and in [0, 1]",
    )?;
    check_column(
        files::SCORES,
        "latency_ms",
        scores.iter().map(|r| r.latency_ms),
        |v| v.is_finite() && v >= 0.0,
        "must be finite and >= 0",
    )?;
    check_column(
        files::CLUSTER_SCORES,
        "score",
        submission.cluster_scores.iter().map(|r| r.score),
        probability,
        "must be finite and in [0, 1]",
    )?;
    let rankings = &submission.rankings;
    check_column(
        files::RANKINGS,
        "ranking_score",
        rankings.iter().map(|r| r.ranking_score),
        f64::is_finite,
        "must be finite",
    )?;
    let scores: Vec<f64> = rankings.iter().map(|r| r.ranking_score).collect();
    for (row, (ranking, expected)) in rankings.iter().zip(competition_ranks(&scores)).enumerate() {
        if ranking.rank != expected {
            return Err(invalid_value(
                files::RANKINGS,
                "rank",
                row,
                ranking.rank,
                &format!(
                    "{} ranking scores are greater than {}, so the rank must be {expected}",
                    expected - 1,
                    ranking.ranking_score,
                ),
            ));
        }
    }
    Ok(())
}

/// Competition ranks of `scores`: 1 for the largest score, equal scores share the lowest
/// (best) rank of their block, the next distinct score skips accordingly ("1, 2, 2, 4").
///
/// Deterministic: depends only on the values (NaN ranks last, all NaNs tie); `-0.0 == 0.0`.
///
/// ```
/// use aml_core::submission::competition_ranks;
/// assert_eq!(competition_ranks(&[0.5, 0.9, 0.5, 0.1]), vec![2, 1, 2, 4]);
/// ```
pub fn competition_ranks(scores: &[f64]) -> Vec<i32> {
    let key = |v: f64| if v.is_nan() { f64::NEG_INFINITY } else { v };
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        key(scores[b])
            .partial_cmp(&key(scores[a]))
            .expect("NaN mapped away")
            .then(a.cmp(&b))
    });
    let mut ranks = vec![0i32; scores.len()];
    let mut current = 0i32;
    for (pos, &i) in order.iter().enumerate() {
        let tied = pos > 0 && {
            let prev = scores[order[pos - 1]];
            key(prev) == key(scores[i])
        };
        if !tied {
            current = pos as i32 + 1;
        }
        ranks[i] = current;
    }
    ranks
}

/// Writes a complete submission to `dir` and returns its signed receipt.
///
/// Nothing is signed or written unless [`check_submission`] passes. `dir` is written by
/// [`crate::io::write_output_dir`]: it may not be one of `inputs` (the batch directory it was
/// scored from) or contain one, an existing `dir` is replaced only when it is a submission (holds
/// `receipt.json`) or empty, and all five files are written into a temporary sibling directory
/// that is renamed into place, so `dir` never holds a partial submission. The receipt's
/// `scores_hash` is the sha256 of the exact `scores.parquet` bytes written.
pub fn write_submission(
    dir: &Path,
    inputs: &[&Path],
    submission: &Submission,
    key: &SigningKey,
    input_hash: &str,
    timestamp: &str,
) -> Result<Receipt, SubmissionError> {
    check_submission(submission)?;
    let scores = encode_scores(&submission.scores)?;
    let receipt = sign_receipt(
        key,
        input_hash,
        &crate::io::sha256_hex(&scores),
        &submission.model_version,
        timestamp,
    );
    let contents: [(&str, Vec<u8>); 5] = [
        (files::SCORES, scores),
        (files::RANKINGS, encode_rankings(&submission.rankings)?),
        (
            files::CLUSTER_SCORES,
            encode_cluster_scores(&submission.cluster_scores)?,
        ),
        (
            files::MANIFEST,
            to_pretty_json(Path::new(files::MANIFEST), &submission.manifest)?,
        ),
        (
            files::RECEIPT,
            to_pretty_json(Path::new(files::RECEIPT), &receipt)?,
        ),
    ];
    let contents: Vec<(&str, &[u8])> = contents
        .iter()
        .map(|(name, bytes)| (*name, bytes.as_slice()))
        .collect();
    crate::io::write_output_dir(dir, OUTPUT_KIND, inputs, &contents)?;
    Ok(receipt)
}

/// Reads a submission directory back: the five files, with the receipt's signature verified and its
/// `scores_hash` checked against the `scores.parquet` bytes.
pub fn read_submission(dir: &Path) -> Result<(Submission, Receipt), SubmissionError> {
    let receipt: Receipt = read_json(&dir.join(files::RECEIPT))?;
    verify_receipt(&receipt)?;
    let scores_path = dir.join(files::SCORES);
    let scores_hash =
        crate::io::sha256_file(&scores_path).map_err(|e| io_error(&scores_path, e))?;
    if !scores_hash.eq_ignore_ascii_case(&receipt.scores_hash) {
        return Err(SubmissionError::Receipt {
            reason: format!(
                "scores_hash {} does not match scores.parquet ({scores_hash})",
                receipt.scores_hash
            ),
        });
    }
    let submission = Submission {
        scores: read_scores(&scores_path)?,
        rankings: read_rankings(&dir.join(files::RANKINGS))?,
        cluster_scores: read_cluster_scores(&dir.join(files::CLUSTER_SCORES))?,
        manifest: read_json(&dir.join(files::MANIFEST))?,
        model_version: receipt.model_version.clone(),
    };
    Ok((submission, receipt))
}
