//! Data-file reading end to end: every format, sidecars, and the bad-input cases.

use std::path::{Path, PathBuf};
#[cfg(feature = "parquet")]
use std::sync::Arc;

use aml_train::data_file::{
    detect_format, read_data_file, write_predictions, DataFileError, DataFormat, ReadOptions,
};
#[cfg(feature = "parquet")]
use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, StringArray};
#[cfg(feature = "parquet")]
use arrow::record_batch::RecordBatch;
#[cfg(feature = "parquet")]
use parquet::arrow::ArrowWriter;

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn error_text(path: &Path, options: &ReadOptions) -> String {
    match read_data_file(path, options) {
        Ok(_) => panic!("{} should be rejected", path.display()),
        Err(e) => e.to_string(),
    }
}

#[cfg(feature = "parquet")]
fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    // Two row groups / batches, to exercise reading across batch boundaries.
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    let half = batch.num_rows() / 2;
    writer.write(&batch.slice(0, half)).unwrap();
    writer.flush().unwrap();
    writer
        .write(&batch.slice(half, batch.num_rows() - half))
        .unwrap();
    writer.close().unwrap();
}

#[test]
fn csv_with_header_and_missing_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "a.csv",
        "label,x1,x2\r\n1,0.5,NA\r\n0,-2,3e2\r\n\r\n1,,inf\r\n",
    );
    assert_eq!(detect_format(&path).unwrap(), DataFormat::Csv);
    let ds = read_data_file(&path, &ReadOptions::default()).unwrap();
    assert_eq!(ds.labels, [1.0, 0.0, 1.0]);
    assert_eq!(ds.feature_names, ["x1", "x2"]);
    assert_eq!(ds.features[[1, 1]], 300.0);
    assert!(ds.features[[0, 1]].is_nan() && ds.features[[2, 0]].is_nan());
    assert_eq!(ds.features[[2, 1]], f32::INFINITY);
    assert!(ds.groups.is_none() && ds.weights.is_none());
}

#[test]
fn tsv_without_header_with_query_and_weight_sidecars() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "rank.tsv",
        "2\t0.1\t5\n0\t0.2\t6\n1\t0.3\t7\n0\t0.4\t8\n",
    );
    write(dir.path(), "rank.tsv.query", "3\n1\n");
    write(dir.path(), "rank.tsv.weight", "1\n0.5\n2\n1\n");
    assert_eq!(detect_format(&path).unwrap(), DataFormat::Tsv);
    let ds = read_data_file(&path, &ReadOptions::default()).unwrap();
    assert_eq!(ds.labels, [2.0, 0.0, 1.0, 0.0]);
    assert_eq!(ds.feature_names, ["Column_0", "Column_1"]);
    assert_eq!(ds.groups, Some(vec![3, 1]));
    assert_eq!(ds.weights, Some(vec![1.0, 0.5, 2.0, 1.0]));
}

#[test]
fn csv_label_and_group_columns_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "g.csv", "f,qid,y\n1,7,0\n2,7,1\n3,9,1\n4,7,0\n");
    let options = ReadOptions {
        label: Some("y".into()),
        group: Some("qid".into()),
        ..Default::default()
    };
    let ds = read_data_file(&path, &options).unwrap();
    assert_eq!(ds.labels, [0.0, 1.0, 1.0, 0.0]);
    assert_eq!(ds.groups, Some(vec![2, 1, 1]));
    assert_eq!(ds.feature_names, ["f"]);
}

#[test]
fn libsvm_with_query_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "r.svm", "3 0:1.5 2:1\n0 1:2\n1\n");
    write(dir.path(), "r.svm.query", "2\n1\n");
    assert_eq!(detect_format(&path).unwrap(), DataFormat::LibSvm);
    let ds = read_data_file(&path, &ReadOptions::default()).unwrap();
    assert_eq!(ds.features.dim(), (3, 3));
    assert_eq!(ds.features.row(1).to_vec(), [0.0, 2.0, 0.0]);
    assert_eq!(ds.groups, Some(vec![2, 1]));
}

#[cfg(feature = "parquet")]
#[test]
fn parquet_with_label_and_string_groups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.parquet");
    write_parquet(
        &path,
        vec![
            (
                "amount",
                Arc::new(Float64Array::from(vec![
                    Some(1.5),
                    None,
                    Some(3.0),
                    Some(4.0),
                ])) as ArrayRef,
            ),
            (
                "day",
                Arc::new(StringArray::from(vec!["d1", "d1", "d1", "d2"])) as ArrayRef,
            ),
            (
                "flag",
                Arc::new(BooleanArray::from(vec![true, false, true, false])) as ArrayRef,
            ),
            (
                "target",
                Arc::new(Int32Array::from(vec![1, 0, 0, 1])) as ArrayRef,
            ),
        ],
    );
    assert_eq!(detect_format(&path).unwrap(), DataFormat::Parquet);
    let options = ReadOptions {
        label: Some("target".into()),
        group: Some("day".into()),
        ..Default::default()
    };
    let ds = read_data_file(&path, &options).unwrap();
    assert_eq!(ds.labels, [1.0, 0.0, 0.0, 1.0]);
    assert_eq!(ds.groups, Some(vec![3, 1]));
    assert_eq!(ds.feature_names, ["amount", "flag"]);
    assert!(ds.features[[1, 0]].is_nan());
    assert_eq!(ds.features.column(1).to_vec(), [1.0, 0.0, 1.0, 0.0]);

    // Prediction input may lack the label column.
    let unlabeled = ReadOptions {
        require_label: false,
        group: Some("day".into()),
        ..Default::default()
    };
    let ds = read_data_file(&path, &unlabeled).unwrap();
    assert_eq!(ds.labels, [0.0; 4]);
    assert_eq!(ds.feature_names, ["amount", "flag", "target"]);
    let err = error_text(&path, &ReadOptions::default());
    assert!(err.contains("label column \"label\" not found"), "{err}");
    // A string column cannot be a feature.
    let err = error_text(
        &path,
        &ReadOptions {
            label: Some("target".into()),
            ..Default::default()
        },
    );
    assert!(err.contains("column \"day\" has type Utf8"), "{err}");
}

/// The engine build (`--no-default-features`) still recognises a Parquet file and refuses it
/// with an error that names the file and the missing feature instead of parsing it as text.
#[cfg(not(feature = "parquet"))]
#[test]
fn parquet_without_the_feature_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "d.parquet", "PAR1 not really parquet");
    assert_eq!(detect_format(&path).unwrap(), DataFormat::Parquet);
    let err = error_text(&path, &ReadOptions::default());
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    assert!(err.contains("no `parquet` feature"), "{err}");
}

#[test]
fn bad_text_input_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = ReadOptions::default();
    let cases = [
        (
            "nan_label.csv",
            "1,2\nnan,3\n",
            "line 2, column 1: label NaN is not a finite number",
        ),
        (
            "inf_label.csv",
            "1,2\ninf,3\n",
            "line 2, column 1: label inf is not a finite number",
        ),
        (
            "ragged.csv",
            "y,a\n1,2\n0\n",
            "line 3: expected 2 fields, found 1",
        ),
        (
            "text.tsv",
            "1\t2\n0\tabc\n",
            "line 2, column 2: cannot parse \"abc\" as a number",
        ),
        (
            "bad.svm",
            "1 0:1\n0 1:x\n",
            "line 2, column 2: cannot parse \"x\" as a number",
        ),
        ("empty.csv", "", "no data rows"),
        ("header_only.csv", "y,a\n", "no data rows"),
        ("label_only.csv", "1\n0\n", "no columns"),
    ];
    for (name, content, expected) in cases {
        let path = write(dir.path(), name, content);
        let err = error_text(&path, &defaults);
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(err.contains(expected), "{name}: {err}");
    }
    let missing = error_text(&dir.path().join("missing.csv"), &defaults);
    assert!(missing.contains("missing.csv"), "{missing}");
}

#[test]
fn bad_sidecars_and_group_options_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = ReadOptions::default();
    let path = write(dir.path(), "q.csv", "1,2\n0,3\n1,4\n");
    write(dir.path(), "q.csv.query", "2\n2\n");
    assert!(error_text(&path, &defaults).contains("query sizes sum to 4 but the data has 3 rows"));
    write(dir.path(), "q.csv.query", "2\nx\n");
    assert!(error_text(&path, &defaults).contains("q.csv.query: line 2, column 1"));
    std::fs::remove_file(dir.path().join("q.csv.query")).unwrap();
    write(dir.path(), "q.csv.weight", "1\n-1\n1\n");
    assert!(error_text(&path, &defaults).contains("q.csv.weight: line 2"));
    write(dir.path(), "q.csv.weight", "1\n1\n");
    assert!(error_text(&path, &defaults).contains("2 weights for 3 data rows"));
    std::fs::remove_file(dir.path().join("q.csv.weight")).unwrap();
    let err = error_text(
        &path,
        &ReadOptions {
            group: Some("nope".into()),
            ..Default::default()
        },
    );
    assert!(err.contains("group column \"nope\" not found"), "{err}");
    let err = error_text(
        &path,
        &ReadOptions {
            label: Some("0".into()),
            group: Some("0".into()),
            ..Default::default()
        },
    );
    assert!(err.contains("same column"), "{err}");
}

#[test]
fn predictions_are_written_atomically_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("preds.tsv");
    let preds = ndarray::array![[0.1 + 0.2, -1.0], [1e-300, f64::NAN]];
    write_predictions(&path, preds.view()).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed: Vec<Vec<f64>> = text
        .lines()
        .map(|l| l.split('\t').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(parsed[0], [0.1 + 0.2, -1.0]);
    assert_eq!(parsed[1][0], 1e-300);
    assert!(parsed[1][1].is_nan());
    // Only the final file remains in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let err = write_predictions(&dir.path().join("no/such/dir.tsv"), preds.view()).unwrap_err();
    assert!(matches!(err, DataFileError::Io { .. }));
}
