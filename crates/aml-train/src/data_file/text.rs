//! CSV/TSV and LibSVM text parsing (see the parent module for the formats).

use std::path::Path;

use ndarray::Array2;

use super::{invalid, parse_cell, DataFileError, RawTable, SplitTable};

/// Largest accepted LibSVM feature index: the matrix is dense, so a stray
/// huge index would otherwise try to allocate an absurd matrix.
pub(crate) const MAX_LIBSVM_FEATURE_INDEX: usize = 1 << 20;

fn parse_error(path: &Path, line: usize, column: Option<usize>, message: String) -> DataFileError {
    DataFileError::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

/// Non-empty lines with their one-based line numbers.
fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
}

/// Parses a delimited file into columns; the first line is a header when any
/// of its fields is not a number.
pub(crate) fn parse_delimited(
    path: &Path,
    text: &str,
    delimiter: char,
) -> Result<RawTable, DataFileError> {
    let mut lines = data_lines(text).peekable();
    let Some(&(_, first)) = lines.peek() else {
        return Err(invalid(path, "no data rows".into()));
    };
    let has_header = first
        .split(delimiter)
        .any(|cell| parse_cell(cell).is_none());
    let names: Vec<String> = if has_header {
        lines.next();
        first
            .split(delimiter)
            .map(|c| c.trim().trim_matches('"').to_string())
            .collect()
    } else {
        Vec::new()
    };
    let width = if has_header {
        names.len()
    } else {
        first.split(delimiter).count()
    };
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); width];
    let mut line_numbers = Vec::new();
    for (line, content) in lines {
        let mut fields = 0;
        for (i, cell) in content.split(delimiter).enumerate() {
            if i >= width {
                fields = content.split(delimiter).count();
                break;
            }
            let value = parse_cell(cell).ok_or_else(|| {
                parse_error(
                    path,
                    line,
                    Some(i + 1),
                    format!("cannot parse {:?} as a number", cell.trim()),
                )
            })?;
            columns[i].push(value);
            fields = i + 1;
        }
        if fields != width {
            return Err(parse_error(
                path,
                line,
                None,
                format!("expected {width} fields, found {fields}"),
            ));
        }
        line_numbers.push(line);
    }
    if line_numbers.is_empty() {
        return Err(invalid(path, "no data rows after the header".into()));
    }
    Ok(RawTable {
        names,
        columns,
        lines: Some(line_numbers),
    })
}

/// Parses a LibSVM file: `label idx:value ...`, zero-based indices, absent = 0.0.
pub(crate) fn parse_libsvm(path: &Path, text: &str) -> Result<SplitTable, DataFileError> {
    let mut labels = Vec::new();
    let mut entries: Vec<(usize, usize, f64)> = Vec::new();
    let mut n_features = 0;
    for (line, content) in data_lines(text) {
        let row = labels.len();
        let mut tokens = content.split_whitespace();
        let label_token = tokens.next().unwrap_or("");
        let label = parse_cell(label_token)
            .filter(|l| l.is_finite())
            .ok_or_else(|| {
                parse_error(
                    path,
                    line,
                    Some(1),
                    format!("label {label_token:?} is not a finite number"),
                )
            })?;
        labels.push(label);
        let row_start = entries.len();
        for (t, token) in tokens.enumerate() {
            let column = Some(t + 2);
            let (index, value) = token.split_once(':').ok_or_else(|| {
                parse_error(
                    path,
                    line,
                    column,
                    format!("expected idx:value, found {token:?}"),
                )
            })?;
            let index: usize = index
                .parse()
                .ok()
                .filter(|&i| i <= MAX_LIBSVM_FEATURE_INDEX)
                .ok_or_else(|| {
                    parse_error(
                        path,
                        line,
                        column,
                        format!("feature index {index:?} is not an integer in 0..={MAX_LIBSVM_FEATURE_INDEX}"),
                    )
                })?;
            let value = parse_cell(value).ok_or_else(|| {
                parse_error(
                    path,
                    line,
                    column,
                    format!("cannot parse {value:?} as a number"),
                )
            })?;
            if entries[row_start..].iter().any(|&(_, f, _)| f == index) {
                return Err(parse_error(
                    path,
                    line,
                    column,
                    format!("feature index {index} repeated"),
                ));
            }
            n_features = n_features.max(index + 1);
            entries.push((row, index, value));
        }
    }
    if labels.is_empty() {
        return Err(invalid(path, "no data rows".into()));
    }
    let mut features = Array2::<f64>::zeros((labels.len(), n_features));
    for (row, index, value) in entries {
        features[[row, index]] = value;
    }
    Ok(SplitTable {
        features,
        labels,
        groups: None,
        feature_names: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> &'static Path {
        Path::new("mem.txt")
    }

    #[test]
    fn header_is_detected() {
        let table = parse_delimited(path(), "y,a,b\n1,2,3\n0,,nan\n", ',').unwrap();
        assert_eq!(table.names, ["y", "a", "b"]);
        assert_eq!(table.columns[0], [1.0, 0.0]);
        assert!(table.columns[1][1].is_nan() && table.columns[2][1].is_nan());
        assert_eq!(table.lines, Some(vec![2, 3]));
        let table = parse_delimited(path(), "1\t2\n\n0\t3\n", '\t').unwrap();
        assert!(table.names.is_empty());
        assert_eq!(table.lines, Some(vec![1, 3]));
    }

    #[test]
    fn delimited_errors_name_line_and_column() {
        let err = parse_delimited(path(), "1,2\n0,x\n", ',')
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "mem.txt: line 2, column 2: cannot parse \"x\" as a number"
        );
        let err = parse_delimited(path(), "1,2\n0,1,5\n", ',')
            .unwrap_err()
            .to_string();
        assert_eq!(err, "mem.txt: line 2: expected 2 fields, found 3");
        let err = parse_delimited(path(), "1,2\n0\n", ',')
            .unwrap_err()
            .to_string();
        assert_eq!(err, "mem.txt: line 2: expected 2 fields, found 1");
        assert!(parse_delimited(path(), "a,b\n", ',').is_err());
        assert!(parse_delimited(path(), "\n\n", ',').is_err());
    }

    #[test]
    fn libsvm_is_sparse_and_zero_based() {
        let split = parse_libsvm(path(), "1 0:1.5 3:2\n0\n-1 2:nan\n").unwrap();
        assert_eq!(split.labels, [1.0, 0.0, -1.0]);
        assert_eq!(split.features.dim(), (3, 4));
        assert_eq!(split.features.row(0).to_vec(), [1.5, 0.0, 0.0, 2.0]);
        assert_eq!(split.features.row(1).to_vec(), [0.0; 4]);
        assert!(split.features[[2, 2]].is_nan());
    }

    #[test]
    fn libsvm_errors_name_line_and_token() {
        let cases = [
            (
                "1 0:1\nx 0:1\n",
                "line 2, column 1: label \"x\" is not a finite number",
            ),
            (
                "1 0:1\nnan 0:1\n",
                "line 2, column 1: label \"nan\" is not a finite number",
            ),
            (
                "1 0:1 5\n",
                "line 1, column 3: expected idx:value, found \"5\"",
            ),
            (
                "1 a:1\n",
                "line 1, column 2: feature index \"a\" is not an integer",
            ),
            (
                "1 -1:1\n",
                "line 1, column 2: feature index \"-1\" is not an integer",
            ),
            (
                "1 99999999:1\n",
                "line 1, column 2: feature index \"99999999\" is not an integer",
            ),
            (
                "1 0:z\n",
                "line 1, column 2: cannot parse \"z\" as a number",
            ),
            ("1 0:1 0:2\n", "line 1, column 3: feature index 0 repeated"),
        ];
        for (text, expected) in cases {
            let err = parse_libsvm(path(), text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
