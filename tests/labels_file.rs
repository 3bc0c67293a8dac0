//! The validator's `--labels FILE` goes through aml-core's labels reader: only `address` and
//! `risk_level` are needed, any string encoding is accepted, and a bad row is named.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

fn write_labels(path: &std::path::Path, addresses: &[&str], risks: &[&str]) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("address", DataType::Utf8, false),
        Field::new("risk_level", DataType::Utf8, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(addresses.to_vec())),
        Arc::new(StringArray::from(risks.to_vec())),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn a_labels_file_needs_only_address_and_risk_level() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.parquet");
    write_labels(&path, &["b", "a", "c"], &["low", "critical", "high"]);
    let labels = aml_miner::validation::labels::read_labels_file(&path).unwrap();
    assert_eq!(labels.address, ["a", "b", "c"]);
    assert_eq!(labels.relevance_of("a"), Some(3));
    assert_eq!(labels.label_of("b"), Some(0));
    assert_eq!(labels.label_of("c"), Some(1));
}

#[test]
fn an_empty_address_in_a_labels_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.parquet");
    write_labels(&path, &["a", ""], &["high", "low"]);
    let error = aml_miner::validation::labels::read_labels_file(&path)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("labels.parquet") && error.contains("`address` row 1"),
        "{error}"
    );
}

#[test]
fn a_labels_file_without_risk_level_names_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.parquet");
    write_labels(&path, &["a"], &["high"]);
    let mut columns = Vec::new();
    let file = std::fs::File::open(&path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    for batch in reader {
        columns.push(batch.unwrap().project(&[0]).unwrap());
    }
    let mut writer = ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        columns[0].schema(),
        None,
    )
    .unwrap();
    writer.write(&columns[0]).unwrap();
    writer.close().unwrap();
    let error = aml_miner::validation::labels::read_labels_file(&path)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("labels.parquet") && error.contains("risk_level"),
        "{error}"
    );
}
