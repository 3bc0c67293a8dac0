//! Readers shared by the generator's integration tests.

use arrow::array::AsArray;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;

/// Every record batch of a Parquet file.
pub fn batches(path: &Path) -> Vec<arrow::record_batch::RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// A string column of a Parquet file (no nulls).
pub fn strings(path: &Path, column: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches(path) {
        let col = b.column_by_name(column).unwrap().as_string::<i32>();
        out.extend(col.iter().map(|s| s.unwrap().to_string()));
    }
    out
}
