//! What a miner submits: `scores.parquet`, `rankings.parquet`, `cluster_scores.parquet`, `manifest.json`
//! and a signed `receipt.json`.
//!
//! Parquet files are written with fixed writer properties (fixed `created_by`, Snappy, one row group, no
//! timestamps anywhere), so the same rows always give the same bytes, which the validator's determinism
//! check and the receipt's `scores_hash` rely on. The receipt is signed over exactly the bytes Python's
//! `json.dumps(receipt_without_signature, sort_keys=True)` produces, because validators verify it in Python.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Schema};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::columns::TextView;
use crate::error::{BatchError, SubmissionError};
use crate::schema::{Cell, SotType, SubmissionRow};

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

pub use crate::schema::{ClusterScoreRow, RankingRow, ScoreRow};

/// `manifest.json`: what produced the submission, so a run can be reproduced.
///
/// The template's keys (`repo_commit`, `image_digest`, `model_version`, `libs`, `seeds`, `hardware`
/// with `cpu` and `ram_gb`) are fields; `model_versions` is ours. Manifests written before the
/// template's names were adopted are still read (`code_commit` as `repo_commit`, `library_versions` as
/// `libs`). Unknown keys are kept in `extra` so a manifest read and written again loses nothing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// Git commit the miner was built from (recorded at build time), or `unknown`.
    #[serde(default, alias = "code_commit")]
    pub repo_commit: String,
    /// `sha256:` digest of the OCI image or of the running executable, as in the receipt.
    #[serde(default)]
    pub image_digest: String,
    /// Version of the model bundle that produced the scores (the receipt's `model_version`).
    #[serde(default)]
    pub model_version: String,
    /// Model name -> version.
    #[serde(default)]
    pub model_versions: BTreeMap<String, String>,
    /// Library (crate) name -> version.
    #[serde(default, alias = "library_versions")]
    pub libs: BTreeMap<String, String>,
    /// Seed name -> value.
    #[serde(default)]
    pub seeds: BTreeMap<String, u64>,
    /// The machine that scored.
    #[serde(default)]
    pub hardware: Hardware,
    /// Which model's score `rankings.parquet` orders by, and why (absent in manifests written
    /// before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking_source: Option<RankingSource>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The model whose score orders `rankings.parquet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankingModel {
    /// The alert ranker: `ranking_score` is its score (boosted from the scorer's log-odds).
    AlertRanker,
    /// The alert scorer: `ranking_score` is the alert's `score` (the ranker did not help).
    AlertScorer,
}

/// `ranking_source` of the bundle's and the submission's metadata: where the rankings come from
/// and why (the measured numbers behind the choice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankingSource {
    /// The model whose score orders the alerts.
    pub model: RankingModel,
    /// Why, in words and numbers.
    pub reason: String,
}

/// `hardware` of [`Manifest`]: the template's `cpu` and `ram_gb`, plus any other keys (cores, threads,
/// operating system ...).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Hardware {
    /// CPU model name (or architecture when the model is unknown).
    #[serde(default)]
    pub cpu: String,
    /// Installed memory in GiB (0 when unknown).
    #[serde(default)]
    pub ram_gb: f64,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Environment variable naming the OCI image the miner runs in (`sha256:` + 64 lower-case hex); when
/// unset, the receipt's `image_digest` is the sha256 of the running executable.
pub const IMAGE_DIGEST_ENV: &str = "AML_MINER_IMAGE_DIGEST";

/// Receipt key of our extra hash over the batch's `META.json` (see [`crate::io::batch_hash`]).
pub const BATCH_HASH_KEY: &str = "batch_hash";

/// `receipt.json`: binds the scores to the input batch, the running code and the miner's key.
///
/// The template's keys are fields; every other key (ours, such as [`BATCH_HASH_KEY`], or one this
/// version does not know) is kept in `extra` with its JSON value, so a receipt read and written again
/// loses nothing and a receipt signed with keys we do not know still verifies.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Receipt {
    /// sha256 of the batch's `alerts.parquet` bytes (see [`crate::io::input_hash`]).
    pub input_hash: String,
    /// `sha256:` + hex digest of the OCI image or of the running executable (see [`image_digest`]).
    /// Absent in receipts written before it existed (read as empty).
    #[serde(default)]
    pub image_digest: String,
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
    /// Every other key with its value, signed like the fields above.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Receipt {
    /// Our extra hash over the batch's `META.json`, when the receipt has one.
    pub fn batch_hash(&self) -> Option<&str> {
        self.extra.get(BATCH_HASH_KEY)?.as_str()
    }

    /// Parses `receipt.json` bytes. Besides malformed JSON, a number this verifier cannot carry
    /// exactly as Python reads it (an integer outside 64 bits, or `-0`, which Python reads as the
    /// integer 0) is an error naming it, instead of a signature that would not verify.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Receipt, String> {
        if let Some(literal) = inexact_integer(bytes) {
            return Err(format!(
                "integer {literal} cannot be carried exactly (only 64-bit integers other than -0 are)"
            ));
        }
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

/// The first integer literal (outside strings) of the JSON text `bytes` that a 64-bit integer does
/// not hold exactly as Python's `json.loads` reads it: wider than `i64`/`u64`, or `-0`.
fn inexact_integer(bytes: &[u8]) -> Option<String> {
    let (mut in_string, mut escaped, mut at) = (false, false, 0);
    while at < bytes.len() {
        let byte = bytes[at];
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            at += 1;
            continue;
        }
        if byte == b'"' {
            in_string = true;
            at += 1;
            continue;
        }
        if byte != b'-' && !byte.is_ascii_digit() {
            at += 1;
            continue;
        }
        let start = at;
        while at < bytes.len()
            && matches!(bytes[at], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        {
            at += 1;
        }
        let literal = String::from_utf8_lossy(&bytes[start..at]);
        let integer = !literal.contains(['.', 'e', 'E']);
        let exact = literal.parse::<i64>().is_ok() || literal.parse::<u64>().is_ok();
        if integer && (literal == "-0" || !exact) {
            return Some(literal.into_owned());
        }
    }
    None
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

/// Appends a finite `value` as Python's `repr(float)` writes it (what `json.dumps` uses): the shortest
/// digits that read back to the same value, positional when the decimal exponent is in `-4..16`
/// (`0.0001`, `123.0`, `1e+16` is not), otherwise `d.ddde±XX` with at least two exponent digits.
fn push_python_float(out: &mut String, value: f64) {
    if value.is_sign_negative() {
        out.push('-');
    }
    if value == 0.0 {
        out.push_str("0.0");
        return;
    }
    // Rust's `{:e}` prints the same shortest round-trip digits as Python's repr.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let point = exponent + 1; // digits are 0.d1d2... times 10^point
    if !(-4 < point && point <= 16) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        out.push_str(&format!("e{sign}{:02}", exponent.abs()));
    } else if point <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat(point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else {
        let point = point as usize;
        if point >= digits.len() {
            out.push_str(&digits);
            out.push_str(&"0".repeat(point - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
}

/// Appends `value` as Python's `json.dumps(value, sort_keys=True)` writes it: object keys sorted by code
/// point, `", "` and `": "` separators, ASCII-only strings, integers as integers and floats as
/// `repr(float)`. A `serde_json::Value` cannot hold a non-finite number, so none is ever written.
fn push_python_json(out: &mut String, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(integer), _, _) => out.push_str(&integer.to_string()),
            (None, Some(integer), _) => out.push_str(&integer.to_string()),
            (None, None, Some(float)) => push_python_float(out, float),
            (None, None, None) => out.push_str(&number.to_string()),
        },
        Value::String(text) => push_python_json_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                push_python_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let sorted: BTreeMap<&str, &Value> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
            push_python_object(out, sorted);
        }
    }
}

/// Appends an object whose entries are already in key order.
fn push_python_object<'a>(
    out: &mut String,
    entries: impl IntoIterator<Item = (&'a str, &'a serde_json::Value)>,
) {
    out.push('{');
    for (index, (key, value)) in entries.into_iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        push_python_json_string(out, key);
        out.push_str(": ");
        push_python_json(out, value);
    }
    out.push('}');
}

/// The signed bytes: Python's `json.dumps(receipt_without_signature, sort_keys=True)` over every key but
/// `signature`, the ones this version does not know included.
///
/// ```
/// let mut receipt = aml_core::submission::Receipt { input_hash: "i".into(), timestamp: "t\u{e9}".into(), ..Default::default() };
/// receipt.extra.insert("zone".into(), serde_json::json!({"b": [1, 0.5, 1e16], "a": null}));
/// assert_eq!(
///     aml_core::submission::canonical_receipt_json(&receipt),
///     r#"{"image_digest": "", "input_hash": "i", "miner_pubkey": "", "model_version": "", "scores_hash": "", "timestamp": "t\u00e9", "zone": {"a": null, "b": [1, 0.5, 1e+16]}}"#
/// );
/// ```
pub fn canonical_receipt_json(receipt: &Receipt) -> String {
    use serde_json::Value;
    let fields = [
        ("input_hash", &receipt.input_hash),
        ("image_digest", &receipt.image_digest),
        ("scores_hash", &receipt.scores_hash),
        ("model_version", &receipt.model_version),
        ("timestamp", &receipt.timestamp),
        ("miner_pubkey", &receipt.miner_pubkey),
    ]
    .map(|(key, text)| (key, Value::String(text.clone())));
    let mut entries: BTreeMap<&str, &Value> = receipt
        .extra
        .iter()
        .filter(|(key, _)| key.as_str() != "signature")
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    entries.extend(fields.iter().map(|(key, value)| (*key, value)));
    let mut out = String::new();
    push_python_object(&mut out, entries);
    out
}

/// Signs `receipt`: sets `miner_pubkey` to the hex public key of `key` and `signature` to the hex
/// ed25519 signature of [`canonical_receipt_json`] (every other key, `extra` included).
pub fn sign_receipt(key: &SigningKey, mut receipt: Receipt) -> Receipt {
    receipt.miner_pubkey = hex::encode(key.verifying_key().to_bytes());
    let signature = key.sign(canonical_receipt_json(&receipt).as_bytes());
    receipt.signature = hex::encode(signature.to_bytes());
    receipt
}

/// Checks that `digest` has the form of an image digest: `sha256:` and 64 lower-case hex digits.
pub fn check_image_digest(digest: &str) -> Result<(), String> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("image digest `{digest}` does not start with `sha256:`"))?;
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "image digest `{digest}` must be `sha256:` and 64 lower-case hex digits"
        ));
    }
    Ok(())
}

/// The digest of what is running: [`IMAGE_DIGEST_ENV`] when set (the OCI image's digest), else
/// `sha256:` + the sha256 of the running executable (hashed once per process). See
/// [`image_digest_from`].
pub fn image_digest() -> Result<String, SubmissionError> {
    image_digest_from(std::env::var_os(IMAGE_DIGEST_ENV).as_deref())
}

/// [`image_digest`] with the value of [`IMAGE_DIGEST_ENV`] given: `Some` must pass
/// [`check_image_digest`] (surrounding whitespace ignored); set but blank or malformed is an error
/// naming the variable, never a silent fall-back to the executable's digest.
///
/// ```
/// use aml_core::submission::image_digest_from;
/// let oci = format!("sha256:{}", "ab".repeat(32));
/// assert_eq!(image_digest_from(Some(oci.as_ref())).unwrap(), oci);
/// assert!(image_digest_from(Some("latest".as_ref())).is_err());
/// assert!(image_digest_from(None).unwrap().starts_with("sha256:"));
/// ```
pub fn image_digest_from(value: Option<&std::ffi::OsStr>) -> Result<String, SubmissionError> {
    let fail = |reason: String| SubmissionError::Receipt { reason };
    if let Some(value) = value {
        let text = value
            .to_str()
            .ok_or_else(|| fail(format!("{IMAGE_DIGEST_ENV} is not UTF-8")))?
            .trim();
        check_image_digest(text).map_err(|e| fail(format!("{IMAGE_DIGEST_ENV}: {e}")))?;
        return Ok(text.to_string());
    }
    static EXECUTABLE: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    EXECUTABLE
        .get_or_init(|| {
            let path = std::env::current_exe().map_err(|e| format!("running executable: {e}"))?;
            crate::io::sha256_file(&path)
                .map(|hex| format!("sha256:{hex}"))
                .map_err(|e| format!("{}: {e}", path.display()))
        })
        .clone()
        .map_err(fail)
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

/// The Arrow type a submission column is written and read as.
fn arrow_type(sot: SotType) -> DataType {
    match sot {
        SotType::Int32 => DataType::Int32,
        SotType::String => DataType::Utf8,
        _ => DataType::Float64,
    }
}

/// The Parquet bytes of submission rows: the columns of `R::SCHEMA` in order, non-nullable, encoded with
/// fixed properties (`aml_core::io::encode_parquet`, one row group), so identical rows give identical bytes.
pub fn encode_rows<R: SubmissionRow>(rows: &[R]) -> Result<Vec<u8>, SubmissionError> {
    let schema = R::SCHEMA;
    let path = Path::new(schema.file);
    let cells: Vec<Vec<Cell>> = rows.iter().map(SubmissionRow::cells).collect();
    let mut fields = Vec::with_capacity(schema.columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.columns.len());
    for (index, spec) in schema.columns.iter().enumerate() {
        let column = cells.iter().map(|row| &row[index]);
        let array: ArrayRef = match spec.sot {
            SotType::String => Arc::new(StringArray::from_iter_values(column.map(
                |cell| match cell {
                    Cell::Text(text) => text.as_str(),
                    _ => "",
                },
            ))),
            SotType::Int32 => Arc::new(Int32Array::from_iter_values(column.map(
                |cell| match cell {
                    Cell::Int(value) => *value,
                    _ => 0,
                },
            ))),
            _ => Arc::new(Float64Array::from_iter_values(column.map(
                |cell| match cell {
                    Cell::Float(value) => *value,
                    _ => f64::NAN,
                },
            ))),
        };
        fields.push(Field::new(spec.name, arrow_type(spec.sot), schema.nullable));
        arrays.push(array);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| parquet_error(path, e))?;
    crate::io::encode_parquet(&batch, usize::MAX).map_err(|e| parquet_error(path, e))
}

/// `scores.parquet` bytes: the columns of [`crate::schema::SCORES`].
pub fn encode_scores(rows: &[ScoreRow]) -> Result<Vec<u8>, SubmissionError> {
    encode_rows(rows)
}

/// `rankings.parquet` bytes: the columns of [`crate::schema::RANKINGS`].
pub fn encode_rankings(rows: &[RankingRow]) -> Result<Vec<u8>, SubmissionError> {
    encode_rows(rows)
}

/// `cluster_scores.parquet` bytes: the columns of [`crate::schema::CLUSTER_SCORES`].
pub fn encode_cluster_scores(rows: &[ClusterScoreRow]) -> Result<Vec<u8>, SubmissionError> {
    encode_rows(rows)
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

/// A reader error as a submission error naming the file.
fn read_error(path: &Path, error: BatchError) -> SubmissionError {
    match error {
        BatchError::Io { path, source } => SubmissionError::Io { path, source },
        BatchError::MissingFile { .. } => io_error(path, std::io::ErrorKind::NotFound.into()),
        BatchError::MissingColumn { column, .. } => SubmissionError::Schema {
            path: path.to_path_buf(),
            column,
            reason: "missing column".to_string(),
        },
        BatchError::CorruptParquet { reason, .. } => parquet_error(path, reason),
        other => parquet_error(path, other),
    }
}

/// Reads a submission file through [`crate::read::ParquetFile`]: every column of `R::SCHEMA` must be
/// present with exactly its type (any string encoding for text) and hold no null.
pub fn read_rows<R: SubmissionRow>(path: &Path) -> Result<Vec<R>, SubmissionError> {
    let file = crate::read::ParquetFile::open(path).map_err(|e| read_error(path, e))?;
    let schema_error = |column: &str, reason: String| SubmissionError::Schema {
        path: path.to_path_buf(),
        column: column.to_string(),
        reason,
    };
    let mut indices = Vec::with_capacity(R::SCHEMA.columns.len());
    for spec in R::SCHEMA.columns {
        let index = file
            .schema()
            .index_of(spec.name)
            .map_err(|_| read_error(path, file.missing_column(spec.name)))?;
        let found = file.schema().field(index).data_type();
        let expected = arrow_type(spec.sot);
        let text_ok = expected == DataType::Utf8 && crate::columns::Kind::Text.accepts(found);
        if *found != expected && !text_ok {
            return Err(schema_error(
                spec.name,
                format!("type {found} instead of {expected}"),
            ));
        }
        indices.push(index);
    }
    let parts = file
        .read(
            &indices,
            Vec::new,
            |part: &mut Vec<RecordBatch>, batch, _| {
                part.push(batch.clone());
                Ok(())
            },
        )
        .map_err(|e| read_error(path, e))?;
    let batches: Vec<RecordBatch> = parts.into_iter().flatten().collect();
    let mut columns = Vec::with_capacity(indices.len());
    for spec in R::SCHEMA.columns {
        let mut cells = Vec::new();
        for batch in &batches {
            let array = batch
                .column_by_name(spec.name)
                .ok_or_else(|| schema_error(spec.name, "missing column".to_string()))?;
            if array.null_count() > 0 {
                return Err(schema_error(spec.name, "contains nulls".to_string()));
            }
            match spec.sot {
                SotType::String => {
                    let view = TextView::new(array.as_ref())
                        .ok_or_else(|| schema_error(spec.name, "not text".to_string()))?;
                    for row in 0..view.len() {
                        let text = view
                            .get(row)
                            .ok_or_else(|| schema_error(spec.name, "contains nulls".to_string()))?;
                        cells.push(Cell::Text(text.to_string()));
                    }
                }
                SotType::Int32 => cells.extend(
                    array
                        .as_primitive::<Int32Type>()
                        .values()
                        .iter()
                        .map(|v| Cell::Int(*v)),
                ),
                _ => cells.extend(
                    array
                        .as_primitive::<Float64Type>()
                        .values()
                        .iter()
                        .map(|v| Cell::Float(*v)),
                ),
            }
        }
        columns.push(cells);
    }
    R::from_columns(columns).ok_or_else(|| parquet_error(path, "columns of different lengths"))
}

/// Reads `scores.parquet`, checking column names and types.
pub fn read_scores(path: &Path) -> Result<Vec<ScoreRow>, SubmissionError> {
    read_rows(path)
}

/// Reads `rankings.parquet`, checking column names and types.
pub fn read_rankings(path: &Path) -> Result<Vec<RankingRow>, SubmissionError> {
    read_rows(path)
}

/// Reads `cluster_scores.parquet`, checking column names and types.
pub fn read_cluster_scores(path: &Path) -> Result<Vec<ClusterScoreRow>, SubmissionError> {
    read_rows(path)
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
    /// The receipt's `image_digest`; empty means [`image_digest`] (the environment's OCI image
    /// digest, else the running executable's).
    pub image_digest: String,
    /// Our extra hash over the batch's `META.json` ([`crate::io::batch_hash`]), recorded in the
    /// receipt under [`BATCH_HASH_KEY`] when given.
    pub batch_hash: Option<String>,
}

/// The kind of output [`write_submission`] replaces: a directory holding a `receipt.json`.
pub const OUTPUT_KIND: crate::io::OutputKind = crate::io::OutputKind {
    name: "submission",
    marker: files::RECEIPT,
    files: &[
        files::SCORES,
        files::RANKINGS,
        files::CLUSTER_SCORES,
        files::MANIFEST,
        files::RECEIPT,
    ],
};

fn invalid_value(
    file: &str,
    column: &str,
    row: usize,
    value: impl ToString,
    reason: &str,
) -> SubmissionError {
    SubmissionError::InvalidValue(crate::error::InvalidValue {
        file: file.to_string(),
        column: column.to_string(),
        row,
        value: value.to_string(),
        reason: reason.to_string(),
    })
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
/// Nothing is signed or written unless [`check_submission`] passes and the image digest has the
/// form [`check_image_digest`] asks for. `dir` is written by
/// [`crate::io::write_output_dir`]: it may not be one of `inputs` (the batch directory it was
/// scored from) or contain one, an existing `dir` is replaced only when it is a submission (holds
/// `receipt.json`) or empty, and all five files are written into a temporary sibling directory
/// that is renamed into place, so `dir` never holds a partial submission. The receipt's
/// `input_hash` is `input_hash` (the sha256 of `alerts.parquet`, see [`crate::io::input_hash`]),
/// its `scores_hash` the sha256 of the exact `scores.parquet` bytes written.
pub fn write_submission(
    dir: &Path,
    inputs: &[&Path],
    submission: &Submission,
    key: &SigningKey,
    input_hash: &str,
    timestamp: &str,
) -> Result<Receipt, SubmissionError> {
    check_submission(submission)?;
    let image_digest = match submission.image_digest.as_str() {
        "" => image_digest()?,
        given => {
            check_image_digest(given).map_err(|reason| SubmissionError::Receipt { reason })?;
            given.to_string()
        }
    };
    // The four files that do not depend on the receipt are encoded in parallel (the scores,
    // with every explanation, dominate); errors are reported in the fixed file order.
    let ((scores, rankings), (cluster_scores, manifest)) = rayon::join(
        || {
            rayon::join(
                || encode_scores(&submission.scores),
                || encode_rankings(&submission.rankings),
            )
        },
        || {
            rayon::join(
                || encode_cluster_scores(&submission.cluster_scores),
                || to_pretty_json(Path::new(files::MANIFEST), &submission.manifest),
            )
        },
    );
    let (scores, rankings, cluster_scores, manifest) =
        (scores?, rankings?, cluster_scores?, manifest?);
    let mut extra = BTreeMap::new();
    if let Some(hash) = &submission.batch_hash {
        extra.insert(BATCH_HASH_KEY.to_string(), hash.clone().into());
    }
    let receipt = sign_receipt(
        key,
        Receipt {
            input_hash: input_hash.to_string(),
            image_digest,
            scores_hash: crate::io::sha256_hex(&scores),
            model_version: submission.model_version.clone(),
            timestamp: timestamp.to_string(),
            extra,
            ..Receipt::default()
        },
    );
    let contents: [(&str, Vec<u8>); 5] = [
        (files::SCORES, scores),
        (files::RANKINGS, rankings),
        (files::CLUSTER_SCORES, cluster_scores),
        (files::MANIFEST, manifest),
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

/// Reads `receipt.json` ([`Receipt::from_json_bytes`]) without verifying it.
pub fn read_receipt(path: &Path) -> Result<Receipt, SubmissionError> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    Receipt::from_json_bytes(&bytes).map_err(|reason| SubmissionError::Json {
        path: path.to_path_buf(),
        reason,
    })
}

/// Reads a submission directory back: the five files, with the receipt's signature verified and its
/// `scores_hash` checked against the `scores.parquet` bytes.
pub fn read_submission(dir: &Path) -> Result<(Submission, Receipt), SubmissionError> {
    let receipt = read_receipt(&dir.join(files::RECEIPT))?;
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
        image_digest: receipt.image_digest.clone(),
        batch_hash: receipt.batch_hash().map(str::to_string),
    };
    Ok((submission, receipt))
}
