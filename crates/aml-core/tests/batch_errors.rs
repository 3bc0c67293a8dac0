//! One real malformed batch per error variant.

mod common;

use std::sync::Arc;

use aml_core::batch::files;
use aml_core::{Batch, BatchError};
use arrow::array::{ArrayRef, BinaryArray, Float64Array, StringArray};
use common::*;

fn load_error(dir: &std::path::Path) -> BatchError {
    Batch::load(dir).expect_err("batch must be rejected")
}

fn fresh() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_batch(dir.path());
    dir
}

#[test]
fn missing_file() {
    let dir = fresh();
    std::fs::remove_file(dir.path().join(files::CLUSTERS)).unwrap();
    match load_error(dir.path()) {
        BatchError::MissingFile { file } => assert_eq!(file, files::CLUSTERS),
        other => panic!("unexpected {other}"),
    }
    std::fs::remove_file(dir.path().join(files::META)).unwrap();
    assert!(
        matches!(load_error(dir.path()), BatchError::MissingFile { file } if file == files::META)
    );
}

#[test]
fn hash_mismatch_is_found_before_parsing() {
    let dir = fresh();
    let path = dir.path().join(files::ALERTS);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 0xff; // would also be corrupt parquet: the hash check must come first
    std::fs::write(&path, bytes).unwrap();
    match load_error(dir.path()) {
        BatchError::HashMismatch {
            file,
            expected,
            actual,
        } => {
            assert_eq!(file, files::ALERTS);
            assert_ne!(expected, actual);
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn bad_meta() {
    let dir = fresh();
    let meta_path = dir.path().join(files::META);
    let good = std::fs::read_to_string(&meta_path).unwrap();
    std::fs::write(&meta_path, &good[..good.len() / 2]).unwrap();
    assert!(matches!(load_error(dir.path()), BatchError::BadMeta { .. }));
    let mut meta: serde_json::Value = serde_json::from_str(&good).unwrap();
    meta["sha256"]
        .as_object_mut()
        .unwrap()
        .remove(files::FEATURES);
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    match load_error(dir.path()) {
        BatchError::BadMeta { reason } => assert!(reason.contains(files::FEATURES), "{reason}"),
        other => panic!("unexpected {other}"),
    }
    let mut meta: serde_json::Value = serde_json::from_str(&good).unwrap();
    meta["sha256"][files::ALERTS] = "not-hex".into();
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    assert!(matches!(load_error(dir.path()), BatchError::BadMeta { .. }));
}

#[test]
fn truncated_parquet_is_corrupt() {
    let dir = fresh();
    let path = dir.path().join(files::FEATURES);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
    refresh_hashes(dir.path());
    match load_error(dir.path()) {
        BatchError::CorruptParquet { file, .. } => assert_eq!(file, files::FEATURES),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn missing_required_column() {
    let dir = fresh();
    rewrite_table(dir.path(), files::ALERTS, |columns| {
        columns.retain(|(name, _)| name != "severity")
    });
    match load_error(dir.path()) {
        BatchError::MissingColumn { file, column } => {
            assert_eq!(
                (file.as_str(), column.as_str()),
                (files::ALERTS, "severity")
            );
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn wrong_type() {
    let dir = fresh();
    rewrite_table(dir.path(), files::MONEY_FLOWS, |columns| {
        let binary: ArrayRef = Arc::new(BinaryArray::from_iter_values([b"x"; 5]));
        replace(columns, "tx_count", binary);
    });
    match load_error(dir.path()) {
        BatchError::WrongType { file, column, .. } => {
            assert_eq!(
                (file.as_str(), column.as_str()),
                (files::MONEY_FLOWS, "tx_count")
            );
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn duplicate_keys() {
    for (file, column) in [
        (files::ALERTS, "alert_id"),
        (files::FEATURES, "address"),
        (files::CLUSTERS, "cluster_id"),
    ] {
        let dir = fresh();
        rewrite_table(dir.path(), file, |columns| {
            let slot = columns.iter_mut().find(|(name, _)| name == column).unwrap();
            let keys = slot.1.as_any().downcast_ref::<StringArray>().unwrap();
            let mut values: Vec<String> = keys.iter().map(|k| k.unwrap().to_string()).collect();
            values[1] = values[0].clone();
            slot.1 = Arc::new(StringArray::from(values));
        });
        match load_error(dir.path()) {
            BatchError::DuplicateKey {
                file: f,
                column: c,
                row,
                ..
            } => {
                assert_eq!((f.as_str(), c.as_str(), row), (file, column, 1));
            }
            other => panic!("unexpected {other}"),
        }
    }
}

#[test]
fn invalid_values_name_column_and_row() {
    let cases: [(&str, &str, ArrayRef, usize); 4] = [
        (
            files::ALERTS,
            "volume_usd",
            Arc::new(Float64Array::from(vec![1.0, 2.0, f64::NAN, 3.0])),
            2,
        ),
        (
            files::ALERTS,
            "alert_confidence_score",
            Arc::new(Float64Array::from(vec![0.5, 1.5, 0.1, 0.2])),
            1,
        ),
        (
            files::MONEY_FLOWS,
            "tx_count",
            Arc::new(Float64Array::from(vec![1.0, 1.0, 1.0, -3.0, 1.0])),
            3,
        ),
        (
            files::FEATURES,
            "total_in_usd",
            Arc::new(StringArray::from(vec!["1", "2", "12abc", "4"])),
            2,
        ),
    ];
    for (file, column, array, bad_row) in cases {
        let dir = fresh();
        rewrite_table(dir.path(), file, |columns| replace(columns, column, array));
        match load_error(dir.path()) {
            BatchError::InvalidValue(aml_core::InvalidValue {
                file: f,
                column: c,
                row,
                ..
            }) => {
                assert_eq!((f.as_str(), c.as_str(), row), (file, column, bad_row));
            }
            other => panic!("unexpected {other}"),
        }
    }
}

#[test]
fn errors_render_file_column_and_row() {
    let error = BatchError::InvalidValue(aml_core::InvalidValue {
        file: "alerts.parquet".into(),
        column: "volume_usd".into(),
        row: 7,
        value: "-1".into(),
        reason: "must be finite and >= 0".into(),
    });
    let text = error.to_string();
    assert!(
        text.contains("alerts.parquet") && text.contains("volume_usd") && text.contains("row 7"),
        "{text}"
    );
}
