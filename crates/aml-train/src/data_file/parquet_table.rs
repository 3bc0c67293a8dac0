//! Parquet input: label, optional group and numeric feature columns by name.

use std::path::Path;

use aml_core::BatchError;
use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use ndarray::Array2;

use super::{group_sizes_by, invalid, io_error, DataFileError, ReadOptions, SplitTable};

/// Label column used when [`ReadOptions::label`] is not given.
pub(crate) const DEFAULT_LABEL_COLUMN: &str = "label";

fn can_be_feature(data_type: &DataType) -> bool {
    data_type.is_numeric() || *data_type == DataType::Boolean
}

/// The error for a column arrow cannot convert to `expected`.
fn cast_error(file: &str, name: &str, array: &ArrayRef, expected: &str) -> BatchError {
    BatchError::WrongType {
        file: file.to_string(),
        column: name.to_string(),
        found: array.data_type().to_string(),
        expected: expected.to_string(),
    }
}

/// Appends a column's values as f64 (null = NaN).
fn push_f64(
    file: &str,
    name: &str,
    array: &ArrayRef,
    out: &mut Vec<f64>,
) -> Result<(), BatchError> {
    let as_f64 = cast(array, &DataType::Float64)
        .map_err(|_| cast_error(file, name, array, "numbers or booleans"))?;
    let values = as_f64.as_primitive::<Float64Type>();
    out.extend((0..values.len()).map(|i| {
        if values.is_null(i) {
            f64::NAN
        } else {
            values.value(i)
        }
    }));
    Ok(())
}

/// Appends a column's values as strings (the group key; null = `None`).
fn push_keys(
    file: &str,
    name: &str,
    array: &ArrayRef,
    out: &mut Vec<Option<String>>,
) -> Result<(), BatchError> {
    let as_text = cast(array, &DataType::Utf8)
        .map_err(|_| cast_error(file, name, array, "a group key castable to text"))?;
    let values = as_text.as_string::<i32>();
    out.extend(
        (0..values.len()).map(|i| (!values.is_null(i)).then(|| values.value(i).to_string())),
    );
    Ok(())
}

/// The decoded columns of one row group.
#[derive(Default)]
struct Part {
    labels: Vec<f64>,
    features: Vec<Vec<f64>>,
    group_keys: Vec<Option<String>>,
}

/// Reads a Parquet file: label column (default `label`), optional group
/// column, every other column a feature (numeric or boolean, else an error).
///
/// The file is decoded by aml-core's Parquet reader ([`aml_core::read::ParquetFile`]): a panic of the
/// parquet crate on a corrupt file is an error naming the file and column, never the end of the process.
pub(crate) fn read(path: &Path, options: &ReadOptions) -> Result<SplitTable, DataFileError> {
    let reader_error = |error: BatchError| match error {
        BatchError::Io { path, source } => io_error(&path, source),
        BatchError::MissingFile { .. } => io_error(path, std::io::ErrorKind::NotFound.into()),
        other => invalid(path, format!("parquet: {other}")),
    };
    let file = aml_core::read::ParquetFile::open(path).map_err(reader_error)?;
    let schema = file.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let position = |name: &str| names.iter().position(|n| n == name);
    let label_name = options.label.as_deref().unwrap_or(DEFAULT_LABEL_COLUMN);
    let label_index = match position(label_name) {
        Some(i) => Some(i),
        None if options.require_label || options.label.is_some() => {
            return Err(invalid(
                path,
                format!("label column {label_name:?} not found (columns: {names:?})"),
            ));
        }
        None => None,
    };
    let group_index = match &options.group {
        Some(name) => Some(position(name).ok_or_else(|| {
            invalid(
                path,
                format!("group column {name:?} not found (columns: {names:?})"),
            )
        })?),
        None => None,
    };
    if group_index.is_some() && group_index == label_index {
        return Err(invalid(
            path,
            "the label and group columns are the same column".into(),
        ));
    }
    let feature_indices: Vec<usize> = (0..names.len())
        .filter(|&i| Some(i) != label_index && Some(i) != group_index)
        .collect();
    for &i in label_index.iter().chain(&feature_indices) {
        let data_type = schema.field(i).data_type();
        if !can_be_feature(data_type) {
            return Err(invalid(
                path,
                format!(
                    "column {:?} has type {data_type}; expected numbers or booleans",
                    names[i]
                ),
            ));
        }
    }
    let every: Vec<usize> = (0..names.len()).collect();
    let parts = file
        .read(
            &every,
            || Part {
                features: vec![Vec::new(); feature_indices.len()],
                ..Part::default()
            },
            |part: &mut Part, batch, _| {
                if let Some(i) = label_index {
                    push_f64(file.name(), &names[i], batch.column(i), &mut part.labels)?;
                } else {
                    part.labels
                        .extend(std::iter::repeat_n(0.0, batch.num_rows()));
                }
                for (column, &i) in part.features.iter_mut().zip(&feature_indices) {
                    push_f64(file.name(), &names[i], batch.column(i), column)?;
                }
                if let Some(g) = group_index {
                    push_keys(
                        file.name(),
                        &names[g],
                        batch.column(g),
                        &mut part.group_keys,
                    )?;
                }
                Ok(())
            },
        )
        .map_err(reader_error)?;
    let mut labels = Vec::new();
    let mut feature_columns: Vec<Vec<f64>> = vec![Vec::new(); feature_indices.len()];
    let mut group_keys = Vec::new();
    for mut part in parts {
        labels.append(&mut part.labels);
        for (whole, column) in feature_columns.iter_mut().zip(&mut part.features) {
            whole.append(column);
        }
        group_keys.append(&mut part.group_keys);
    }
    if let Some(row) = labels.iter().position(|l| !l.is_finite()) {
        return Err(invalid(
            path,
            format!(
                "row {}: label {} is not a finite number",
                row + 1,
                labels[row]
            ),
        ));
    }
    let groups = match group_index {
        Some(g) => Some(
            group_sizes_by(group_keys.len(), |row| group_keys[row].as_deref()).map_err(|row| {
                invalid(
                    path,
                    format!("row {}: group column {:?} is null", row + 1, names[g]),
                )
            })?,
        ),
        None => None,
    };
    let features = Array2::from_shape_fn((labels.len(), feature_indices.len()), |(row, f)| {
        feature_columns[f][row]
    });
    let feature_names = feature_indices.iter().map(|&i| names[i].clone()).collect();
    Ok(SplitTable {
        features,
        labels,
        groups,
        feature_names,
    })
}
