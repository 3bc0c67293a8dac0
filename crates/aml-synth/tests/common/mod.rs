//! Readers shared by the generator's integration tests.
// Each test binary uses a part of these helpers.
#![allow(dead_code)]

use arrow::array::AsArray;
use arrow::datatypes::ArrowPrimitiveType;
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

/// A primitive column of a Parquet file (no nulls), e.g. `primitives::<Float32Type>`.
pub fn primitives<T: ArrowPrimitiveType>(path: &Path, column: &str) -> Vec<T::Native> {
    batches(path)
        .iter()
        .flat_map(|b| {
            let col = b.column_by_name(column).unwrap().as_primitive::<T>();
            col.values().to_vec()
        })
        .collect()
}

/// The pattern traps of a batch's META.json: (alert ids, expected result).
pub fn traps(dir: &Path) -> Vec<(Vec<String>, u8)> {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("META.json")).unwrap()).unwrap();
    meta["pattern_traps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let ids = t["alert_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|id| id.as_str().unwrap().to_string())
                .collect();
            (ids, t["expected_result"].as_u64().unwrap() as u8)
        })
        .collect()
}
