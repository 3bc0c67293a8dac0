//! LightGBM's sidecar files next to a data file `FILE`: `FILE.query` (query
//! sizes, one non-negative integer per line) and `FILE.weight` (one weight per
//! row). Both are optional; a present but malformed sidecar is an error.

use std::path::{Path, PathBuf};

use super::{invalid, io_error, DataFileError};

/// `FILE` + `suffix` (appended, not replacing the extension, as LightGBM does).
fn sidecar_path(data: &Path, suffix: &str) -> PathBuf {
    let mut name = data.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Reads the non-empty lines of a sidecar, parsing each with `parse`.
fn read_lines<T>(
    path: &Path,
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
) -> Result<Option<Vec<T>>, DataFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, e)),
    };
    let mut values = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_text = line.trim();
        if line_text.is_empty() {
            continue;
        }
        let value = parse(line_text).ok_or_else(|| DataFileError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            column: Some(1),
            message: format!("expected {what}, found {line_text:?}"),
        })?;
        values.push(value);
    }
    Ok(Some(values))
}

/// Query sizes from `FILE.query`, if that file exists.
pub(crate) fn read_query(data: &Path) -> Result<Option<Vec<usize>>, DataFileError> {
    read_lines(
        &sidecar_path(data, ".query"),
        |s| s.parse().ok(),
        "a query size (integer >= 0)",
    )
}

/// Row weights from `FILE.weight`, if that file exists; one per data row.
pub(crate) fn read_weights(data: &Path, n_rows: usize) -> Result<Option<Vec<f64>>, DataFileError> {
    let path = sidecar_path(data, ".weight");
    let weights = read_lines(
        &path,
        |s| s.parse::<f64>().ok().filter(|w| w.is_finite() && *w >= 0.0),
        "a finite weight >= 0",
    )?;
    match weights {
        Some(w) if w.len() != n_rows => Err(invalid(
            &path,
            format!("{} weights for {n_rows} data rows", w.len()),
        )),
        other => Ok(other),
    }
}
