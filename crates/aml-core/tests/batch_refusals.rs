//! Batches the miner must refuse before scoring (issue 11, items 1, 3 and 4): a META date that is
//! not a date, alert rows of another day, listed files that are not regular files of the batch,
//! empty alerts and row counts that differ from META.json. And the one thing it only reports: a
//! file META.json does not list.

mod common;

use std::path::Path;

use aml_core::batch::files;
use aml_core::tables::Alerts;
use aml_core::{Batch, BatchError, BatchWarning};
use common::*;

fn fresh() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_batch(dir.path());
    dir
}

/// Rewrites one META.json key (META.json is not itself hash-listed).
fn set_meta(dir: &Path, key: &str, value: serde_json::Value) {
    let path = dir.join(files::META);
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    meta[key] = value;
    std::fs::write(&path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
}

fn load_error(dir: &Path) -> BatchError {
    Batch::load(dir).expect_err("batch must be refused")
}

#[test]
fn meta_processing_date_must_be_a_date() {
    for bad in ["../victim", "", "2025-10-30/..", "2025-02-30", "/tmp"] {
        let dir = fresh();
        set_meta(dir.path(), "processing_date", bad.into());
        for error in [
            aml_core::read::read_meta(dir.path()).unwrap_err(),
            load_error(dir.path()),
        ] {
            match &error {
                BatchError::BadMeta { reason } => {
                    assert!(reason.contains("processing_date"), "{reason}")
                }
                other => panic!("{bad:?}: unexpected {other}"),
            }
            assert!(error.to_string().starts_with("META.json:"), "{error}");
        }
    }
    // The same rule for an in-memory batch (the HTTP path).
    let (mut meta, alerts, features, clusters, flows, labels) = tiny_tables();
    meta.processing_date = "../victim".into();
    assert!(matches!(
        Batch::from_tables(meta, alerts, features, clusters, flows, labels),
        Err(BatchError::BadMeta { .. })
    ));
}

#[test]
fn alert_rows_of_another_day_are_refused() {
    let (meta, mut alerts, features, clusters, flows, labels) = tiny_tables();
    alerts.processing_date[2] = "2025-10-31".into();
    match Batch::from_tables(meta, alerts, features, clusters, flows, labels).unwrap_err() {
        BatchError::InvalidValue(aml_core::InvalidValue {
            file, column, row, ..
        }) => assert_eq!(
            (file.as_str(), column.as_str(), row),
            (files::ALERTS, "processing_date", 2)
        ),
        other => panic!("unexpected {other}"),
    }
    // On disk: META says another (valid) day than the rows.
    let dir = fresh();
    set_meta(dir.path(), "processing_date", "2025-11-02".into());
    let error = load_error(dir.path());
    assert!(
        matches!(&error, BatchError::InvalidValue(aml_core::InvalidValue { file, column, row: 0, .. })
            if file == files::ALERTS && column == "processing_date"),
        "{error}"
    );
    assert!(error.to_string().contains("2025-11-02"), "{error}");
}

#[test]
fn empty_alerts_are_refused() {
    let dir = fresh();
    rewrite_table(dir.path(), files::ALERTS, |columns| {
        for (_, array) in columns.iter_mut() {
            *array = array.slice(0, 0);
        }
    });
    // With META's count still 4 the rows are missing; with 0 there is nothing to score.
    let error = load_error(dir.path());
    assert!(
        matches!(&error, BatchError::CountMismatch { file, meta: 4, actual: 0, .. } if file == files::ALERTS),
        "{error}"
    );
    set_meta(dir.path(), "n_alerts", 0.into());
    let error = load_error(dir.path());
    assert!(
        matches!(&error, BatchError::NoAlerts { file } if file == files::ALERTS),
        "{error}"
    );
    // In memory, the rows must match META's count as well.
    let (meta, _, features, clusters, flows, labels) = tiny_tables();
    let error =
        Batch::from_tables(meta, Alerts::default(), features, clusters, flows, labels).unwrap_err();
    assert!(
        matches!(&error, BatchError::CountMismatch { key, .. } if key == "n_alerts"),
        "{error}"
    );
}

#[test]
fn row_counts_must_match_meta() {
    for (key, file, actual) in [
        ("n_alerts", files::ALERTS, 4),
        ("n_addresses", files::FEATURES, 4),
        ("n_clusters", files::CLUSTERS, 2),
        ("n_money_flows", files::MONEY_FLOWS, 5),
    ] {
        let dir = fresh();
        set_meta(dir.path(), key, (actual + 1).into());
        match load_error(dir.path()) {
            BatchError::CountMismatch {
                file: f,
                key: k,
                meta,
                actual: a,
            } => assert_eq!(
                (f.as_str(), k.as_str(), meta, a),
                (file, key, actual + 1, actual)
            ),
            other => panic!("{key}: unexpected {other}"),
        }
    }
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

fn assert_unsafe(dir: &Path, name: &str, needle: &str) {
    match load_error(dir) {
        BatchError::UnsafeFile { file, reason } => {
            assert_eq!(file, name);
            assert!(reason.contains(needle), "{reason}");
        }
        other => panic!("{name}: unexpected {other}"),
    }
}

#[test]
fn listed_fifo_is_refused_by_name_before_it_is_opened() {
    // A required table and an optional listed one; opening either FIFO would block forever.
    for name in [files::ALERTS, files::ADDRESS_LABELS] {
        let dir = fresh();
        std::fs::remove_file(dir.path().join(name)).unwrap();
        mkfifo(&dir.path().join(name));
        assert_unsafe(dir.path(), name, "FIFO");
    }
    let dir = fresh();
    std::fs::remove_file(dir.path().join(files::META)).unwrap();
    mkfifo(&dir.path().join(files::META));
    assert_unsafe(dir.path(), files::META, "FIFO");
}

#[test]
fn symlink_to_a_device_or_out_of_the_batch_is_refused() {
    // /dev/zero behind a listed name: hashing it never ends.
    for name in [files::ADDRESS_LABELS, files::CLUSTERS] {
        let dir = fresh();
        std::fs::remove_file(dir.path().join(name)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join(name)).unwrap();
        assert_unsafe(dir.path(), name, "outside the batch directory");
    }
    // A link to a byte-identical copy elsewhere: the hash matches, the location does not.
    let dir = fresh();
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join(files::FEATURES);
    std::fs::rename(dir.path().join(files::FEATURES), &copy).unwrap();
    std::os::unix::fs::symlink(&copy, dir.path().join(files::FEATURES)).unwrap();
    assert_unsafe(dir.path(), files::FEATURES, "outside the batch directory");
    // A link that stays inside the batch is an ordinary file of it (its target is reported as
    // unlisted).
    std::fs::remove_file(dir.path().join(files::FEATURES)).unwrap();
    std::fs::rename(&copy, dir.path().join("features.real")).unwrap();
    std::os::unix::fs::symlink("features.real", dir.path().join(files::FEATURES)).unwrap();
    let (_, report) = Batch::load(dir.path()).unwrap();
    assert_eq!(
        report.warnings[0],
        BatchWarning::UnlistedFile {
            file: "features.real".into()
        }
    );
    // A listed directory is not a file either.
    let dir = fresh();
    std::fs::remove_file(dir.path().join(files::MONEY_FLOWS)).unwrap();
    std::fs::create_dir(dir.path().join(files::MONEY_FLOWS)).unwrap();
    assert_unsafe(dir.path(), files::MONEY_FLOWS, "directory");
}

#[test]
fn unlisted_files_are_reported_and_not_read() {
    let dir = fresh();
    let (clean, report) = Batch::load(dir.path()).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    std::fs::write(dir.path().join("notes.txt"), "not part of the batch").unwrap();
    std::fs::create_dir(dir.path().join("submission")).unwrap();
    // Not hashed, so never opened: a FIFO here does not block the load.
    mkfifo(&dir.path().join("extra.parquet"));
    let (batch, report) = Batch::load(dir.path()).unwrap();
    assert_eq!(batch, clean);
    assert_eq!(
        report.warnings,
        ["extra.parquet", "notes.txt", "submission"]
            .map(|file| BatchWarning::UnlistedFile { file: file.into() })
    );
    assert!(report.warnings[1]
        .to_string()
        .contains("not listed in META.json"));
}
