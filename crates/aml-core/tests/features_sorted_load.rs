//! `Batch::load` reads a one-row-group `features.parquet` straight into address order (the
//! addresses decoded first, every other value placed at its sorted row). Checked here against
//! the file-order reader plus `Batch::from_tables` (the other path, kept as the oracle): the
//! same table for shuffled and already sorted files, several record batches, absent optional
//! columns, 1 and 2 threads; the same errors, naming the same file rows; and columns allocated
//! once at their final length.

mod common;

use std::path::Path;

use aml_core::batch::files;
use aml_core::error::BatchError;
use aml_core::read;
use aml_core::tables::{AddressFeatures, NumericColumn};
use aml_core::Batch;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` features in the row order `order` (a permutation of `0..n`): distinct addresses that
/// share long prefixes (and some non-ASCII), NaN and zero values, empty activity lists.
fn features(n: usize, order: &[usize], rng: &mut ChaCha8Rng) -> AddressFeatures {
    let mut values = |scale: f64| -> Vec<f64> {
        (0..n)
            .map(|_| match rng.random_range(0..5) {
                0 => f64::NAN,
                1 => 0.0,
                _ => rng.random_range(0.0..scale),
            })
            .collect()
    };
    let numeric = vec![
        NumericColumn {
            name: "degree_in".into(),
            values: values(50.0),
        },
        NumericColumn {
            name: "extra_a".into(),
            values: values(1.0),
        },
    ];
    let numeric = numeric
        .into_iter()
        .map(|column| NumericColumn {
            name: column.name,
            values: order.iter().map(|&row| column.values[row]).collect(),
        })
        .collect();
    AddressFeatures {
        window_days: order.iter().map(|&row| row as u32 % 9).collect(),
        processing_date: vec!["2025-10-30".to_string(); n],
        address: order.iter().map(|&row| address(row)).collect(),
        numeric,
        hourly_activity: order
            .iter()
            .map(|&row| vec![row as u16 % 7; 24 * (row % 2)])
            .collect(),
        daily_activity: order.iter().map(|&row| vec![row as u16 % 5; 7]).collect(),
        dominant_asset_in: order.iter().map(|&row| format!("in{row}")).collect(),
        dominant_asset_out: order
            .iter()
            .map(|&row| {
                if row % 4 == 0 {
                    String::new()
                } else {
                    format!("out{row}")
                }
            })
            .collect(),
    }
}

/// The address of row `row` of [`features`]: long shared prefixes, non-ASCII, short digits.
fn address(row: usize) -> String {
    match row % 3 {
        0 => format!("addr_0000_{row:07}"),
        1 => format!("\u{e9}t\u{e9}{row}"),
        _ => format!("{row}"),
    }
}

/// A row order for [`features`]: by address (a sorted file) or shuffled.
fn row_order(n: usize, sorted: bool, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if sorted {
        order.sort_by_key(|&row| address(row));
    } else {
        for last in (1..n).rev() {
            order.swap(last, rng.random_range(0..=last));
        }
    }
    order
}

/// The tiny batch in `dir` with `features.parquet` replaced by `bytes` (`rows` rows), META
/// updated to match.
fn batch_with_features(dir: &Path, bytes: &[u8], rows: usize) {
    common::write_tiny_batch(dir);
    std::fs::write(dir.join(files::FEATURES), bytes).unwrap();
    let mut meta = read::read_meta(dir).unwrap();
    meta.n_addresses = rows as u64;
    std::fs::write(dir.join(files::META), meta.to_json_bytes()).unwrap();
    common::refresh_hashes(dir);
}

/// The oracle: the file read in file order, then validated and sorted by `Batch::from_tables`.
fn oracle(dir: &Path) -> Result<AddressFeatures, BatchError> {
    let meta = read::read_meta(dir)?;
    let alerts = read::read_alerts(&dir.join(files::ALERTS))?;
    let features = read::read_features(&dir.join(files::FEATURES))?;
    let clusters = read::read_clusters(&dir.join(files::CLUSTERS))?;
    let flows = read::read_money_flows(&dir.join(files::MONEY_FLOWS))?;
    let labels = read::read_labels(&dir.join(files::ADDRESS_LABELS))?;
    Batch::from_tables(meta, alerts, features, clusters, flows, Some(labels))
        .map(|(batch, _)| batch.features)
}

/// `Batch::load`'s features with 1 and 2 threads; both must agree.
fn loaded(dir: &Path) -> Result<AddressFeatures, BatchError> {
    let mut runs = [1, 2].map(|threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| Batch::load(dir).map(|(batch, _)| batch.features))
    });
    assert_eq!(
        format!("{:?}", runs[0]),
        format!("{:?}", runs[1]),
        "1 vs 2 threads"
    );
    std::mem::replace(&mut runs[1], Ok(AddressFeatures::default()))
}

/// The Debug text shows every value exactly (NaN included).
fn assert_same(dir: &Path) -> AddressFeatures {
    let expected = oracle(dir).expect("oracle loads");
    let got = loaded(dir).expect("batch loads");
    assert_eq!(format!("{got:?}"), format!("{expected:?}"));
    got
}

#[test]
fn shuffled_and_sorted_files_load_like_the_file_order_reader() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for n in [1, 2, 17, 500] {
        for sorted in [false, true] {
            let order = row_order(n, sorted, &mut rng);
            let table = features(n, &order, &mut rng);
            let dir = tempfile::tempdir().unwrap();
            let bytes = aml_core::write::encode_features(&table).unwrap();
            batch_with_features(dir.path(), &bytes, n);
            assert_same(dir.path());
        }
    }
}

#[test]
fn several_record_batches_are_placed_and_columns_allocated_once() {
    // More rows than one decoded record batch (65,536), one row group; written sorted, then
    // shuffled: both the in-place and the placed paths.
    let n = 70_000;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for sorted in [true, false] {
        let order = row_order(n, sorted, &mut rng);
        let mut table = features(n, &order, &mut rng);
        table.hourly_activity.clear();
        table.daily_activity.clear();
        let columns = vec![
            ("window_days".to_string(), arrow_u32(&table.window_days)),
            (
                "processing_date".to_string(),
                arrow_text(&table.processing_date),
            ),
            ("address".to_string(), arrow_text(&table.address)),
            ("degree_in".to_string(), arrow_f64(&table.numeric[0].values)),
            ("extra_a".to_string(), arrow_f64(&table.numeric[1].values)),
        ];
        let dir = tempfile::tempdir().unwrap();
        common::write_tiny_batch(dir.path());
        let path = dir.path().join(files::FEATURES);
        common::write_columns(&path, columns);
        batch_with_features(dir.path(), &std::fs::read(&path).unwrap(), n);
        let got = assert_same(dir.path());
        for column in &got.numeric {
            assert_eq!(
                column.values.capacity(),
                n,
                "{} (sorted: {sorted})",
                column.name
            );
        }
    }
}

fn arrow_u32(values: &[u32]) -> arrow::array::ArrayRef {
    std::sync::Arc::new(arrow::array::UInt32Array::from(values.to_vec()))
}

fn arrow_f64(values: &[f64]) -> arrow::array::ArrayRef {
    std::sync::Arc::new(arrow::array::Float64Array::from(values.to_vec()))
}

fn arrow_text(values: &[String]) -> arrow::array::ArrayRef {
    std::sync::Arc::new(arrow::array::StringArray::from(values.to_vec()))
}

/// The column and row of the error `Batch::load` gives for the features `table` (an invalid
/// value or a repeated key), which must be the oracle's error.
fn load_error(table: &AddressFeatures) -> (&'static str, usize) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = aml_core::write::encode_features(table).unwrap();
    batch_with_features(dir.path(), &bytes, table.len());
    let expected = oracle(dir.path()).expect_err("oracle refuses");
    let got = loaded(dir.path()).expect_err("load refuses");
    assert_eq!(format!("{got:?}"), format!("{expected:?}"));
    let (column, row) = match got {
        BatchError::InvalidValue(value) => (value.column, value.row),
        BatchError::DuplicateKey { column, row, .. } => (column, row),
        other => panic!("unexpected {other:?}"),
    };
    let column = ["degree_in", "address"]
        .into_iter()
        .find(|name| *name == column)
        .unwrap_or("other");
    (column, row)
}

#[test]
fn errors_name_the_file_row_as_the_file_order_reader_does() {
    let n = 300;
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let order = row_order(n, false, &mut rng);
    let base = features(n, &order, &mut rng);
    // Two file rows in the opposite address order: the first bad file row is not the first
    // bad row in address order.
    let (first_in_file, last_in_file) = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .find(|&(i, j)| base.address[i] > base.address[j])
        .unwrap();

    let mut negative = base.clone();
    negative.numeric[0].values[first_in_file] = -1.0;
    negative.numeric[0].values[last_in_file] = -2.0;
    assert_eq!(load_error(&negative), ("degree_in", first_in_file));

    let mut empty = base.clone();
    empty.address[last_in_file] = String::new();
    assert_eq!(load_error(&empty), ("address", last_in_file));

    let mut repeated = base.clone();
    repeated.address[last_in_file] = repeated.address[first_in_file].clone();
    assert_eq!(load_error(&repeated), ("address", last_in_file));
}
