//! Reading training data files into a [`Dataset`] and writing predictions.
//!
//! Formats (the ones LightGBM's command line reads, plus Parquet):
//! - **CSV / TSV**: one row per line, the label in the first column (LightGBM's
//!   convention). The header is auto-detected: a first line with any field that
//!   is not a number is a header and gives the feature names.
//! - **LibSVM**: `label idx:value idx:value ...` with zero-based feature
//!   indices, as LightGBM reads them; absent entries are `0.0` (LightGBM's
//!   sparse semantics), so the feature count is the largest index + 1.
//! - **Parquet**: numeric/boolean columns; the label column is named by
//!   [`ReadOptions::label`] (default `label`), an optional group column by
//!   [`ReadOptions::group`]: consecutive rows with equal group values form one
//!   query. Nulls are missing values (NaN). Needs the `parquet` cargo feature (on by default);
//!   without it a Parquet file is a [`DataFileError::Invalid`] saying so.
//!
//! Text cells `""`, `na`, `nan`, `null` (any case) are missing values (NaN).
//! Labels must be finite. Next to a data file `FILE`, an optional `FILE.query`
//! holds query sizes (one integer per line, LightGBM's sidecar) and an optional
//! `FILE.weight` per-row weights. The format is detected from the content:
//! the Parquet magic bytes, else a `idx:value` token on the first data line
//! (LibSVM), else a tab (TSV), else a comma (CSV).
//!
//! Every malformed input is a [`DataFileError`] naming the file, line and
//! column; nothing here panics on bad data.

#[cfg(feature = "parquet")]
mod parquet_table;
mod predictions;
mod sidecar;
mod text;

use std::path::{Path, PathBuf};

use ndarray::Array2;
use thiserror::Error;

use crate::dataset::Dataset;
use crate::error::TrainError;

pub use predictions::{format_predictions, write_predictions};

/// Everything that can go wrong reading a data file or writing predictions.
#[derive(Debug, Error)]
pub enum DataFileError {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A line of a text file is malformed.
    #[error("{}: line {line}{}: {message}", .path.display(), column_suffix(.column))]
    Parse {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        line: usize,
        /// One-based field (CSV/TSV) or token (LibSVM) number, when one is to blame.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The file as a whole does not fit the expected shape (no rows, missing column...).
    #[error("{}: {message}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The parsed data was rejected by [`Dataset`] validation.
    #[error("{}: {source}", .path.display())]
    Dataset {
        /// The file.
        path: PathBuf,
        /// Why the dataset was rejected.
        source: TrainError,
    },
}

fn column_suffix(column: &Option<usize>) -> String {
    column.map(|c| format!(", column {c}")).unwrap_or_default()
}

/// The on-disk formats [`read_data_file`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    /// Comma-separated values, label first.
    Csv,
    /// Tab-separated values, label first.
    Tsv,
    /// `label idx:value ...`, zero-based indices.
    LibSvm,
    /// Apache Parquet, label and group columns chosen by name.
    Parquet,
}

/// How to read a data file. The default reads the label from the first column
/// (text) or from a column named `label` (Parquet) and requires it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// Label column name. For CSV/TSV it needs a header (or is a zero-based
    /// column index); for Parquet it defaults to `label`.
    pub label: Option<String>,
    /// Query column name (CSV/TSV with header, Parquet): consecutive equal
    /// values form one query. Exclusive with a `FILE.query` sidecar.
    pub group: Option<String>,
    /// When false, a Parquet file without the label column reads with all
    /// labels 0.0 (prediction input). Text formats always have a label column.
    pub require_label: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            label: None,
            group: None,
            require_label: true,
        }
    }
}

/// Columns of a parsed file before the label/group/feature split.
/// Column-major; `names` is empty when the file had no header.
#[derive(Debug)]
pub(crate) struct RawTable {
    pub(crate) names: Vec<String>,
    pub(crate) columns: Vec<Vec<f64>>,
    /// For each row, the one-based line it came from (text formats), for error messages.
    pub(crate) lines: Option<Vec<usize>>,
}

/// Rows x features matrix (full `f64` precision) and labels ready for [`Dataset::new`], plus any groups.
pub(crate) struct SplitTable {
    pub(crate) features: Array2<f64>,
    pub(crate) labels: Vec<f64>,
    pub(crate) groups: Option<Vec<usize>>,
    pub(crate) feature_names: Vec<String>,
}

/// Detects the format of `path` from its content (see the module docs).
pub fn detect_format(path: &Path) -> Result<DataFormat, DataFileError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|source| io_error(path, source))?;
    let mut prefix = Vec::new();
    file.take(1 << 16)
        .read_to_end(&mut prefix)
        .map_err(|source| io_error(path, source))?;
    Ok(detect_format_of(&prefix))
}

fn detect_format_of(bytes: &[u8]) -> DataFormat {
    if bytes.starts_with(b"PAR1") {
        return DataFormat::Parquet;
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(1 << 16)]);
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first
        .split_whitespace()
        .skip(1)
        .any(|token| token.contains(':'))
    {
        DataFormat::LibSvm
    } else if first.contains('\t') {
        DataFormat::Tsv
    } else {
        DataFormat::Csv
    }
}

/// Reads `path` (format detected from content) plus its `.query` / `.weight`
/// sidecars into a validated [`Dataset`].
///
/// ```
/// use aml_train::data_file::{read_data_file, ReadOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("train.csv");
/// std::fs::write(&path, "y,age,amount\n1,30,2.5\n0,41,\n").unwrap();
/// let ds = read_data_file(&path, &ReadOptions::default()).unwrap();
/// assert_eq!(ds.labels, [1.0, 0.0]);
/// assert_eq!(ds.feature_names, ["age", "amount"]);
/// assert!(ds.features[[1, 1]].is_nan());
/// ```
pub fn read_data_file(path: &Path, options: &ReadOptions) -> Result<Dataset, DataFileError> {
    read_dataset(path, options).map(|(dataset, _)| dataset)
}

/// The feature matrix of a data file in full `f64` precision, for prediction: a model read
/// from LightGBM compares `f64` inputs with `f64` thresholds, and a value narrowed to `f32` can
/// land on the other side of one. The file is read and checked exactly as [`read_data_file`]
/// reads it (the [`Dataset`], whose features are `f32`, is returned alongside).
///
/// ```
/// use aml_train::data_file::{read_features_f64, ReadOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("test.csv");
/// std::fs::write(&path, "y,x\n0,1.649\n").unwrap();
/// let (dataset, x) = read_features_f64(&path, &ReadOptions::default()).unwrap();
/// assert_eq!(x[[0, 0]], 1.649);
/// assert_eq!(dataset.features[[0, 0]], 1.649f32);
/// ```
pub fn read_features_f64(
    path: &Path,
    options: &ReadOptions,
) -> Result<(Dataset, Array2<f64>), DataFileError> {
    read_dataset(path, options)
}

/// [`read_data_file`] plus the `f64` features its `f32` ones were narrowed from.
fn read_dataset(
    path: &Path,
    options: &ReadOptions,
) -> Result<(Dataset, Array2<f64>), DataFileError> {
    let split = match detect_format(path)? {
        #[cfg(feature = "parquet")]
        DataFormat::Parquet => parquet_table::read(path, options)?,
        #[cfg(not(feature = "parquet"))]
        DataFormat::Parquet => {
            return Err(invalid(
                path,
                "a Parquet file: this build of aml-train has no `parquet` feature".into(),
            ))
        }
        format => {
            let bytes = std::fs::read(path).map_err(|source| io_error(path, source))?;
            let text = String::from_utf8(bytes)
                .map_err(|e| invalid(path, format!("not UTF-8 text: {e}")))?;
            match format {
                DataFormat::LibSvm => {
                    if options.label.is_some() || options.group.is_some() {
                        return Err(invalid(
                            path,
                            "LibSVM files have no named columns (label is first)".into(),
                        ));
                    }
                    text::parse_libsvm(path, &text)?
                }
                DataFormat::Tsv => {
                    split_columns(path, text::parse_delimited(path, &text, '\t')?, options)?
                }
                _ => split_columns(path, text::parse_delimited(path, &text, ',')?, options)?,
            }
        }
    };
    let SplitTable {
        features,
        labels,
        groups,
        feature_names,
    } = split;
    let n_rows = labels.len();
    let dataset_error = |source| DataFileError::Dataset {
        path: path.to_path_buf(),
        source,
    };
    let narrowed = features.mapv(|v| v as f32);
    let mut dataset = Dataset::new(narrowed, labels, feature_names).map_err(dataset_error)?;
    let query_sizes = sidecar::read_query(path)?;
    let groups = match (groups, query_sizes) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                path,
                "both a group column and a .query file give query groups".into(),
            ));
        }
        (groups, query_sizes) => groups.or(query_sizes),
    };
    if let Some(groups) = groups {
        dataset = dataset.with_groups(groups).map_err(dataset_error)?;
    }
    if let Some(weights) = sidecar::read_weights(path, n_rows)? {
        dataset = dataset.with_weights(weights).map_err(dataset_error)?;
    }
    Ok((dataset, features))
}

/// Finds a column by name, or (without a header) by zero-based index.
fn find_column(
    path: &Path,
    table: &RawTable,
    wanted: &str,
    role: &str,
) -> Result<usize, DataFileError> {
    if let Some(i) = table.names.iter().position(|n| n == wanted) {
        return Ok(i);
    }
    match wanted.parse::<usize>() {
        Ok(i) if table.names.is_empty() && i < table.columns.len() => Ok(i),
        _ => Err(invalid(
            path,
            format!(
                "{role} column {wanted:?} not found (columns: {:?})",
                table.names
            ),
        )),
    }
}

/// Splits a raw table into label, optional group sizes and features.
pub(crate) fn split_columns(
    path: &Path,
    table: RawTable,
    options: &ReadOptions,
) -> Result<SplitTable, DataFileError> {
    let label_index = match &options.label {
        Some(name) => find_column(path, &table, name, "label")?,
        None => 0,
    };
    let group_index = match &options.group {
        Some(name) => Some(find_column(path, &table, name, "group")?),
        None => None,
    };
    if group_index == Some(label_index) {
        return Err(invalid(
            path,
            "the label and group columns are the same column".into(),
        ));
    }
    let line_of = |row: usize| table.lines.as_ref().map_or(row + 1, |lines| lines[row]);
    let labels = table.columns[label_index].clone();
    if let Some(row) = labels.iter().position(|l| !l.is_finite()) {
        return Err(DataFileError::Parse {
            path: path.to_path_buf(),
            line: line_of(row),
            column: Some(label_index + 1),
            message: format!("label {} is not a finite number", labels[row]),
        });
    }
    let groups = match group_index {
        Some(g) => Some(group_sizes_from_values(&table.columns[g]).map_err(|row| {
            DataFileError::Parse {
                path: path.to_path_buf(),
                line: line_of(row),
                column: Some(g + 1),
                message: "group value is missing (NaN)".into(),
            }
        })?),
        None => None,
    };
    let feature_indices: Vec<usize> = (0..table.columns.len())
        .filter(|&i| i != label_index && Some(i) != group_index)
        .collect();
    let n_rows = labels.len();
    let features = Array2::from_shape_fn((n_rows, feature_indices.len()), |(row, f)| {
        table.columns[feature_indices[f]][row]
    });
    let feature_names = if table.names.is_empty() {
        Vec::new()
    } else {
        feature_indices
            .iter()
            .map(|&i| table.names[i].clone())
            .collect()
    };
    Ok(SplitTable {
        features,
        labels,
        groups,
        feature_names,
    })
}

/// Sizes of runs of equal consecutive values; `Err(row)` for a NaN value.
pub(crate) fn group_sizes_from_values(values: &[f64]) -> Result<Vec<usize>, usize> {
    group_sizes_by(values.len(), |row| {
        if values[row].is_nan() {
            None
        } else {
            Some(values[row])
        }
    })
}

/// Run lengths of consecutive equal keys; `Err(row)` where `key(row)` is `None`.
pub(crate) fn group_sizes_by<K: PartialEq>(
    n_rows: usize,
    key: impl Fn(usize) -> Option<K>,
) -> Result<Vec<usize>, usize> {
    let mut sizes = Vec::new();
    let mut previous: Option<K> = None;
    for row in 0..n_rows {
        let current = key(row).ok_or(row)?;
        if previous.as_ref() == Some(&current) {
            if let Some(last) = sizes.last_mut() {
                *last += 1;
            }
        } else {
            sizes.push(1);
        }
        previous = Some(current);
    }
    Ok(sizes)
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> DataFileError {
    DataFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn invalid(path: &Path, message: String) -> DataFileError {
    DataFileError::Invalid {
        path: path.to_path_buf(),
        message,
    }
}

/// Parses one text cell: `""`, `na`, `nan`, `null` (any case) are NaN; else a
/// Rust float literal (`1`, `-2.5e3`, `inf`). `None` when it is not a number.
pub(crate) fn parse_cell(cell: &str) -> Option<f64> {
    let cell = cell.trim();
    if cell.is_empty()
        || ["na", "nan", "null"]
            .iter()
            .any(|m| cell.eq_ignore_ascii_case(m))
    {
        return Some(f64::NAN);
    }
    cell.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_from_content() {
        assert_eq!(detect_format_of(b"PAR1...."), DataFormat::Parquet);
        assert_eq!(detect_format_of(b"\n1 0:2.5 3:1\n"), DataFormat::LibSvm);
        assert_eq!(detect_format_of(b"1\t2\t3\n"), DataFormat::Tsv);
        assert_eq!(detect_format_of(b"a,b\n1,2\n"), DataFormat::Csv);
        // A timestamp-like value in the first column does not make it LibSVM.
        assert_eq!(detect_format_of(b"12:30,1\n"), DataFormat::Csv);
    }

    #[test]
    fn parses_cells_and_missing_markers() {
        assert_eq!(parse_cell(" 2.5 "), Some(2.5));
        assert_eq!(parse_cell("-1e3"), Some(-1000.0));
        assert_eq!(parse_cell("inf"), Some(f64::INFINITY));
        for missing in ["", "NA", "nan", "NaN", "null"] {
            assert!(parse_cell(missing).is_some_and(f64::is_nan), "{missing}");
        }
        assert_eq!(parse_cell("abc"), None);
    }

    #[test]
    fn groups_are_runs_of_equal_values() {
        assert_eq!(
            group_sizes_from_values(&[7.0, 7.0, 3.0, 7.0, 7.0, 7.0]),
            Ok(vec![2, 1, 3])
        );
        assert_eq!(group_sizes_from_values(&[1.0, f64::NAN]), Err(1));
        assert_eq!(group_sizes_from_values(&[]), Ok(vec![]));
    }
}
