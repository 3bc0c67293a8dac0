//! The schema declarations drive the writer and the reader: every declared column of every table is
//! in the written file (name, order, nullability) and comes back through the reader.

mod common;

use aml_core::batch::files;
use aml_core::schema::{
    self, Kind, SotType, SubmissionRow, Table, TableSchema, BATCH_TABLES, SUBMISSION_TABLES,
};
use aml_core::submission::{self, ClusterScoreRow, RankingRow, ScoreRow};
use aml_core::tables::{CONTRACT_FEATURE_COLUMNS, FEATURE_IDENTIFIER_COLUMNS};
use arrow::datatypes::DataType;
use common::*;

/// (name, nullable) of every field of a written Parquet file, in file order.
fn written_fields(path: &std::path::Path) -> Vec<(String, bool)> {
    let file = aml_core::read::ParquetFile::open(path).unwrap();
    file.schema()
        .fields()
        .iter()
        .map(|field| (field.name().clone(), field.is_nullable()))
        .collect()
}

fn declared_fields(table: &TableSchema) -> Vec<(String, bool)> {
    table
        .names()
        .map(|name| (name.to_string(), table.nullable))
        .collect()
}

#[test]
fn every_sot_table_is_written_and_read_by_its_declaration() {
    let dir = tempfile::tempdir().unwrap();
    let batch = write_tiny_batch(dir.path());
    let labels = batch.labels.clone().expect("the tiny batch has labels");
    for table in BATCH_TABLES {
        let written = written_fields(&dir.path().join(table.file));
        if table.file == files::FEATURES {
            // The fixed columns come first (in the writer's order), then the numeric ones: every
            // column the file has is declared or an extra numeric column of the tiny batch.
            let names: Vec<&str> = written.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names[..7].len(), FEATURE_IDENTIFIER_COLUMNS.len());
            for name in &names[..7] {
                assert!(FEATURE_IDENTIFIER_COLUMNS.contains(name), "{name}");
            }
            for name in &names[7..] {
                assert!(
                    CONTRACT_FEATURE_COLUMNS.contains(name) || name.starts_with("extra_"),
                    "{name}"
                );
            }
        } else {
            assert_eq!(written, declared_fields(table), "{}", table.file);
        }
    }
    // Each generated table comes back through the one generic reader.
    let path = |file: &str| dir.path().join(file);
    let alerts: schema::Alerts = aml_core::read::read_table(&path(files::ALERTS)).unwrap();
    let clusters: schema::Clusters = aml_core::read::read_table(&path(files::CLUSTERS)).unwrap();
    let read_labels: schema::AddressLabels =
        aml_core::read::read_table(&path(files::ADDRESS_LABELS)).unwrap();
    assert_eq!(alerts, batch.alerts);
    assert_eq!(clusters, batch.clusters);
    assert_eq!(read_labels, labels);
}

/// A table whose columns() and SCHEMA disagree in number or kind would mis-assign columns.
fn check_accessors<T: Table>() {
    let mut table = T::default();
    let kinds: Vec<Kind> = table
        .columns_mut()
        .into_iter()
        .map(|column| match column {
            schema::ColumnMut::Texts(_) => Kind::Text,
            schema::ColumnMut::Dates(_) => Kind::Date,
            schema::ColumnMut::Numbers(_) => Kind::Number,
            schema::ColumnMut::Integers(_) => Kind::Integer,
            schema::ColumnMut::Windows(_) => Kind::Window,
            schema::ColumnMut::TextLists(_) => Kind::TextList,
            schema::ColumnMut::IntLists(_) => Kind::IntList,
            schema::ColumnMut::Flags(_) => Kind::Flag,
        })
        .collect();
    let declared: Vec<Kind> = T::SCHEMA.columns.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, declared, "{}", T::SCHEMA.file);
    assert_eq!(table.columns().len(), declared.len());
}

#[test]
fn generated_tables_hand_out_their_declared_columns() {
    check_accessors::<schema::Alerts>();
    check_accessors::<schema::Clusters>();
    check_accessors::<schema::AddressLabels>();
}

#[test]
fn feature_column_lists_follow_the_declaration() {
    let numeric: Vec<&str> = schema::FEATURES
        .columns
        .iter()
        .filter(|c| c.kind == Kind::Number)
        .map(|c| c.name)
        .collect();
    assert_eq!(CONTRACT_FEATURE_COLUMNS, numeric.as_slice());
    assert_eq!(CONTRACT_FEATURE_COLUMNS.len(), 75);
    assert_eq!(CONTRACT_FEATURE_COLUMNS[0], "degree_in");
    assert_eq!(CONTRACT_FEATURE_COLUMNS[74], "quality_score");
    let mut other = FEATURE_IDENTIFIER_COLUMNS.to_vec();
    other.sort_unstable();
    assert_eq!(
        other,
        [
            "address",
            "daily_activity",
            "dominant_asset_in",
            "dominant_asset_out",
            "hourly_activity",
            "processing_date",
            "window_days"
        ]
    );
}

/// A dropped declared column fails: the file no longer has it and the reader says which.
#[test]
fn a_declared_column_missing_from_a_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_batch(dir.path());
    let path = dir.path().join(files::CLUSTERS);
    let mut columns = read_columns(&path);
    columns.retain(|(name, _)| name != "severity_max");
    write_columns(&path, columns);
    let error = aml_core::read::read_clusters(&path)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("clusters.parquet") && error.contains("severity_max"),
        "{error}"
    );
}

fn submission_round_trip<R: SubmissionRow + PartialEq + std::fmt::Debug>(rows: Vec<R>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(R::SCHEMA.file);
    std::fs::write(&path, submission::encode_rows(&rows).unwrap()).unwrap();
    assert_eq!(written_fields(&path), declared_fields(R::SCHEMA));
    let file = aml_core::read::ParquetFile::open(&path).unwrap();
    let types: Vec<DataType> = file
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let declared: Vec<DataType> = R::SCHEMA
        .columns
        .iter()
        .map(|c| match c.sot {
            SotType::String => DataType::Utf8,
            SotType::Int32 => DataType::Int32,
            _ => DataType::Float64,
        })
        .collect();
    assert_eq!(types, declared);
    assert_eq!(submission::read_rows::<R>(&path).unwrap(), rows);
}

#[test]
fn every_submission_table_is_written_and_read_by_its_declaration() {
    assert_eq!(
        SUBMISSION_TABLES.map(|t| t.file),
        [
            "scores.parquet",
            "rankings.parquet",
            "cluster_scores.parquet"
        ]
    );
    submission_round_trip(vec![
        ScoreRow {
            alert_id: "a1".into(),
            score: 0.25,
            model_version: "m".into(),
            latency_ms: 1.5,
            explain_json: "{}".into(),
        },
        ScoreRow {
            alert_id: "a2".into(),
            score: 0.75,
            model_version: "m".into(),
            latency_ms: 0.5,
            explain_json: "{\"score\": 0.75}".into(),
        },
    ]);
    submission_round_trip(vec![RankingRow {
        alert_id: "a1".into(),
        ranking_score: 2.0,
        rank: 1,
    }]);
    submission_round_trip(vec![ClusterScoreRow {
        cluster_id: "c1".into(),
        score: 0.5,
        model_version: "m".into(),
    }]);
}

#[test]
fn a_submission_file_without_a_declared_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(files::ALERTS);
    // An alerts file is no scores file: the first missing declared column is named.
    write_tiny_batch(dir.path());
    let error = submission::read_scores(&path).unwrap_err().to_string();
    assert!(error.contains("score"), "{error}");
}
