//! Error and warning types of batch loading and submission I/O.
//!
//! Every variant names the file and, where it applies, the column and the row, so an operator can find the
//! offending value without a debugger.

use std::path::PathBuf;

use thiserror::Error;

/// A value that breaks a rule of the contract, located by file, column and row: the one shape of
/// [`BatchError::InvalidValue`] (input batches) and [`SubmissionError::InvalidValue`] (submissions).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}: column `{column}` row {row}: invalid value {value}: {reason}")]
pub struct InvalidValue {
    /// File (or table) name.
    pub file: String,
    /// Column name.
    pub column: String,
    /// Row in file order.
    pub row: usize,
    /// The offending value, as text.
    pub value: String,
    /// Which rule it breaks.
    pub reason: String,
}

/// Why a batch was rejected. Each integrity failure has its own variant so callers and tests can tell them apart.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BatchError {
    /// Reading a file failed at the OS level.
    #[error("{path}: I/O error: {source}")]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file required by the contract or listed in META.json does not exist.
    #[error("{file}: missing file")]
    MissingFile {
        /// File name inside the batch directory.
        file: String,
    },
    /// The sha256 of a file differs from META.json.
    #[error("{file}: sha256 mismatch: META.json says {expected}, file has {actual}")]
    HashMismatch {
        /// File name inside the batch directory.
        file: String,
        /// Hash listed in META.json.
        expected: String,
        /// Hash of the bytes on disk.
        actual: String,
    },
    /// META.json is missing required keys, is not JSON, or has impossible content.
    #[error("META.json: {reason}")]
    BadMeta {
        /// What is wrong.
        reason: String,
    },
    /// The file is not readable Parquet (truncated, bad footer, undecodable page).
    #[error("{file}: corrupt parquet: {reason}")]
    CorruptParquet {
        /// File name inside the batch directory.
        file: String,
        /// Decoder message.
        reason: String,
    },
    /// A required column is absent.
    #[error("{file}: missing required column `{column}`")]
    MissingColumn {
        /// File name (or table name for in-memory tables).
        file: String,
        /// Column name.
        column: String,
    },
    /// A column has a type that cannot be coerced to what the contract requires.
    #[error("{file}: column `{column}` has type {found}, expected {expected}")]
    WrongType {
        /// File name (or table name).
        file: String,
        /// Column name.
        column: String,
        /// What the file holds.
        found: String,
        /// What the contract accepts.
        expected: String,
    },
    /// A key that must be unique appears twice.
    #[error("{file}: duplicate {column} `{key}` at row {row}")]
    DuplicateKey {
        /// File name (or table name).
        file: String,
        /// Key column (alert_id, address, cluster_id).
        column: String,
        /// The repeated value.
        key: String,
        /// Row (in file order) of the second occurrence.
        row: usize,
    },
    /// A value is impossible: NaN, negative count or volume, probability outside `[0, 1]`, null key, bad
    /// digit string or date.
    #[error(transparent)]
    InvalidValue(InvalidValue),
    /// Encoding a table as Parquet failed (writers only).
    #[error("{file}: cannot encode parquet: {reason}")]
    Encode {
        /// File name.
        file: String,
        /// Encoder message.
        reason: String,
    },
    /// A file of the batch is not something the miner reads: a FIFO, a device, a socket, a
    /// directory, or a symbolic link resolving outside the batch directory. Refused before it is opened.
    #[error("{file}: refused: {reason}")]
    UnsafeFile {
        /// File name inside the batch directory.
        file: String,
        /// What it is instead of a regular file inside the batch.
        reason: String,
    },
    /// A table's row count differs from the count META.json declares (or the alerts table is empty).
    #[error("{file}: META.json `{key}` says {meta} rows, the table has {actual}")]
    CountMismatch {
        /// File name (or table name).
        file: String,
        /// META.json key (`n_alerts`, `n_addresses`, `n_clusters`, `n_money_flows`).
        key: String,
        /// Count in META.json.
        meta: u64,
        /// Rows read.
        actual: u64,
    },
    /// The alerts table has no rows: there is nothing to score, and an empty submission must not be signed.
    #[error("{file}: no alerts (an empty batch is not scored)")]
    NoAlerts {
        /// File name (or table name).
        file: String,
    },
    /// In-memory tables whose columns have different lengths.
    #[error("{file}: column `{column}` has {found} rows, expected {expected}")]
    LengthMismatch {
        /// Table name.
        file: String,
        /// Column name.
        column: String,
        /// Rows of the table's key column.
        expected: usize,
        /// Rows of this column.
        found: usize,
    },
    /// The Parquet decoder panicked on a corrupt file (caught at the decode boundary, so a bad input
    /// file never ends the process).
    #[error("{file}: corrupt parquet{}: decoder panicked: {message}", .column.as_deref().map(|c| format!(" in column `{c}`")).unwrap_or_default())]
    DecodePanic {
        /// File name inside the batch directory.
        file: String,
        /// The column whose decoding panics, when it could be isolated.
        column: Option<String>,
        /// The panic message.
        message: String,
    },
}

/// A non-fatal finding about a batch: the batch is still scored, but the operator should know.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum BatchWarning {
    /// A cluster lists an alert id that is not in alerts.parquet.
    UnknownClusterAlert {
        /// The cluster.
        cluster_id: String,
        /// The unknown alert id.
        alert_id: String,
    },
    /// An alert's address has no row in features.parquet.
    AlertWithoutFeatures {
        /// The alert.
        alert_id: String,
        /// Its address.
        address: String,
    },
    /// A file in the batch directory that META.json does not list: it is not hash-checked, so it is
    /// not read.
    UnlistedFile {
        /// File name inside the batch directory.
        file: String,
    },
    /// A pattern trap names an alert that is not in alerts.parquet.
    UnknownTrapAlert {
        /// The trap.
        trap_id: String,
        /// The unknown alert id.
        alert_id: String,
    },
}

impl std::fmt::Display for BatchWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchWarning::UnknownClusterAlert {
                cluster_id,
                alert_id,
            } => {
                write!(f, "clusters.parquet: cluster `{cluster_id}` references unknown alert `{alert_id}`")
            }
            BatchWarning::AlertWithoutFeatures { alert_id, address } => {
                write!(
                    f,
                    "alerts.parquet: alert `{alert_id}` address `{address}` has no features row"
                )
            }
            BatchWarning::UnlistedFile { file } => {
                write!(
                    f,
                    "{file}: not listed in META.json sha256, ignored (only hash-checked files are read)"
                )
            }
            BatchWarning::UnknownTrapAlert { trap_id, alert_id } => {
                write!(
                    f,
                    "META.json: trap `{trap_id}` references unknown alert `{alert_id}`"
                )
            }
        }
    }
}

/// Why writing or reading a submission failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SubmissionError {
    /// OS-level I/O failure.
    #[error("{path}: I/O error: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Parquet encoding or decoding failed.
    #[error("{path}: parquet error: {reason}")]
    Parquet {
        /// The file involved.
        path: PathBuf,
        /// Encoder/decoder message.
        reason: String,
    },
    /// A submission file does not have the contract's columns or types.
    #[error("{path}: column `{column}`: {reason}")]
    Schema {
        /// The file involved.
        path: PathBuf,
        /// Column name.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// JSON (manifest, receipt) could not be parsed or produced.
    #[error("{path}: JSON error: {reason}")]
    Json {
        /// The file involved.
        path: PathBuf,
        /// Parser message.
        reason: String,
    },
    /// A row holds a value that must not be signed: a score outside `[0, 1]` or not finite, a
    /// ranking score that is not finite, a rank inconsistent with the ranking scores.
    #[error(transparent)]
    InvalidValue(InvalidValue),
    /// The output directory may not be written (see [`OutputError`]).
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A receipt field is malformed (bad hex key or signature) or the signature does not verify.
    #[error("receipt: {reason}")]
    Receipt {
        /// What is wrong.
        reason: String,
    },
}

/// Why an output directory (a submission, a model bundle) was not written. Every refusal happens
/// before anything is touched.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OutputError {
    /// OS-level I/O failure.
    #[error("{path}: I/O error: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The output would be one of the inputs, or a directory containing one.
    #[error("{output}: refusing to write the output here: it is or contains the input {input}")]
    ContainsInput {
        /// The output path as given.
        output: PathBuf,
        /// The input it would replace.
        input: PathBuf,
    },
    /// Something that is not a directory (a file, a symbolic link, a device) is at the output path.
    #[error("{path}: refusing to replace it: it is {found}, not a {kind} directory")]
    NotADirectory {
        /// The output path.
        path: PathBuf,
        /// What the output replaces when it is its own kind (`submission`, `model bundle`).
        kind: String,
        /// What is there instead.
        found: String,
    },
    /// A non-empty directory that is not the writer's own kind is at the output path.
    #[error("{path}: refusing to replace a non-empty directory that is not a {kind} (it has no {marker})")]
    Foreign {
        /// The output path.
        path: PathBuf,
        /// The writer's kind of output.
        kind: String,
        /// The file that identifies that kind.
        marker: String,
    },
    /// The writer's own kind of directory is at the output path, but it also holds an entry that
    /// kind never writes (an operator's notes, another tool's file): replacing the directory
    /// would delete it.
    #[error("{path}: refusing to replace this {kind}: it also holds {entry:?}, which a {kind} never contains (move it elsewhere first)")]
    UnexpectedEntry {
        /// The output path.
        path: PathBuf,
        /// The writer's kind of output.
        kind: String,
        /// The entry's name.
        entry: String,
    },
    /// The output path does not end in a directory name (`.`, `..`, `/`).
    #[error("{path}: an output path must end in a directory name")]
    NoName {
        /// The output path.
        path: PathBuf,
    },
}
