//! The feature matrix and its Parquet form.

use crate::error::FeatureError;
use arrow::array::{ArrayRef, Float32Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use ndarray::{Array2, ArrayView1, Axis};
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// Rows of entities (alerts or clusters) by named feature columns; NaN = missing.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    /// `row_ids.len()` x `feature_names.len()` values, row-major.
    pub values: Array2<f32>,
    /// Column names.
    pub feature_names: Vec<String>,
    /// Row identifiers (alert_id or cluster_id), sorted.
    pub row_ids: Vec<String>,
}

impl FeatureMatrix {
    /// Assembles a row-major matrix from column vectors (all of length `row_ids.len()`).
    pub fn from_columns(
        columns: &[Vec<f32>],
        feature_names: Vec<String>,
        row_ids: Vec<String>,
    ) -> Result<FeatureMatrix, FeatureError> {
        let (n_rows, n_cols) = (row_ids.len(), feature_names.len());
        if columns.len() != n_cols || columns.iter().any(|c| c.len() != n_rows) {
            return Err(FeatureError::BlockShape {
                block: "matrix",
                declared: n_cols,
                produced: columns.len(),
            });
        }
        let mut values = Array2::<f32>::zeros((n_rows, n_cols));
        values
            .axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each(|(i, mut row)| {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = columns[j][i];
                }
            });
        Ok(FeatureMatrix {
            values,
            feature_names,
            row_ids,
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.values.nrows()
    }

    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.values.ncols()
    }

    /// Position of feature `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.feature_names.iter().position(|n| n == name)
    }

    /// The values of feature `name`.
    pub fn column(&self, name: &str) -> Option<ArrayView1<'_, f32>> {
        self.column_index(name).map(|j| self.values.column(j))
    }

    /// Row of `id` (binary search: row ids are sorted).
    pub fn row_of(&self, id: &str) -> Option<usize> {
        self.row_ids.binary_search_by(|r| r.as_str().cmp(id)).ok()
    }

    /// A matrix with only the given columns, in the given order.
    pub fn select_columns(&self, columns: &[usize]) -> Result<FeatureMatrix, FeatureError> {
        if let Some(&index) = columns.iter().find(|&&j| j >= self.n_features()) {
            return Err(FeatureError::ColumnOutOfRange {
                index,
                n_features: self.n_features(),
            });
        }
        Ok(FeatureMatrix {
            values: self.values.select(Axis(1), columns),
            feature_names: columns
                .iter()
                .map(|&j| self.feature_names[j].clone())
                .collect(),
            row_ids: self.row_ids.clone(),
        })
    }

    /// The matrix as an Arrow record batch: `id_column` (Utf8) then one Float32 column per feature.
    pub fn to_record_batch(
        &self,
        id_column: &str,
    ) -> Result<RecordBatch, arrow::error::ArrowError> {
        let mut fields = vec![Field::new(id_column, DataType::Utf8, false)];
        let mut arrays: Vec<ArrayRef> =
            vec![Arc::new(StringArray::from_iter_values(&self.row_ids))];
        for (j, name) in self.feature_names.iter().enumerate() {
            fields.push(Field::new(name, DataType::Float32, true));
            arrays.push(Arc::new(Float32Array::from_iter_values(
                self.values.column(j).iter().copied(),
            )));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
    }

    /// Writes the matrix as Parquet (`id_column` + Float32 features, snappy), atomically
    /// ([`aml_core::io::atomic_write`]).
    pub fn write_parquet(&self, path: &Path, id_column: &str) -> Result<(), FeatureError> {
        let fail = |message: String| FeatureError::Write {
            path: path.to_path_buf(),
            message,
        };
        let batch = self
            .to_record_batch(id_column)
            .map_err(|e| fail(e.to_string()))?;
        // Row groups of 1,048,576 rows, as `ArrowWriter`'s default.
        let buffer =
            aml_core::io::encode_parquet(&batch, 1 << 20).map_err(|e| fail(e.to_string()))?;
        aml_core::io::atomic_write(path, &buffer).map_err(|e| fail(e.to_string()))
    }
}
