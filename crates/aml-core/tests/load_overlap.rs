//! Issue 16 (load + verify): the faster load paths against simple references.
//!
//! - Interning reuses the previous row's id for a repeated address: the dictionary and ids must be
//!   those of a naive sorted dictionary, and an empty address is still reported at its own row.
//! - A file with fewer row groups than threads decodes its columns in parallel sets: the tables
//!   must equal a one-thread decode, whatever the thread count.
//! - Hashing overlaps decoding: a hash error still wins over any decode error, in META order.

mod common;

use std::path::Path;
use std::sync::Arc;

use aml_core::batch::files;
use aml_core::{Batch, BatchError};
use arrow::array::{ArrayRef, StringArray, UInt32Array};
use common::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The tiny batch's money flows grown to `from.len()` rows (every value column repeats row 0)
/// with the given addresses, written in row groups of `group_rows`.
fn write_flows(path: &Path, source: &Path, from: &[String], to: &[String], group_rows: usize) {
    let mut columns = read_columns(source);
    let zeros = UInt32Array::from(vec![0u32; from.len()]);
    for (_, array) in columns.iter_mut() {
        *array = arrow::compute::take(array.as_ref(), &zeros, None).unwrap();
    }
    let text = |values: &[String]| -> ArrayRef {
        Arc::new(StringArray::from_iter(values.iter().map(|v| {
            if v == "<null>" {
                None
            } else {
                Some(v.as_str())
            }
        })))
    };
    replace(&mut columns, "from_address", text(from));
    replace(&mut columns, "to_address", text(to));
    write_columns_grouped(path, columns, Some(group_rows));
}

/// Addresses in runs of random length (senders are grouped, as exporters write them).
fn runs(rng: &mut ChaCha8Rng, rows: usize, distinct: usize, longest_run: usize) -> Vec<String> {
    let mut values = Vec::with_capacity(rows);
    while values.len() < rows {
        let address = format!("addr-{:04}", rng.random_range(0..distinct));
        let run = rng.random_range(1..=longest_run).min(rows - values.len());
        values.extend(std::iter::repeat_n(address, run));
    }
    values
}

#[test]
fn repeated_addresses_intern_like_a_naive_sorted_dictionary() {
    let tiny = tempfile::tempdir().unwrap();
    write_tiny_batch(tiny.path());
    let source = tiny.path().join(files::MONEY_FLOWS);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(files::MONEY_FLOWS);
    for seed in 0..12u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let rows = rng.random_range(1..3_000);
        let distinct = rng.random_range(1..400);
        let from = runs(&mut rng, rows, distinct, 40);
        // Receivers: mostly distinct rows, some runs, one address shared with the senders.
        let to = runs(&mut rng, rows, distinct * 3, 3);
        let group_rows = rng.random_range(1..1_500);
        write_flows(&path, &source, &from, &to, group_rows);
        let flows = aml_core::read::read_money_flows(&path).unwrap();
        let mut dictionary: Vec<String> = from.iter().chain(&to).cloned().collect();
        dictionary.sort();
        dictionary.dedup();
        let id = |address: &String| dictionary.binary_search(address).unwrap() as u32;
        assert_eq!(flows.addresses, dictionary, "seed {seed}");
        assert_eq!(
            flows.from,
            from.iter().map(id).collect::<Vec<_>>(),
            "seed {seed}"
        );
        assert_eq!(
            flows.to,
            to.iter().map(id).collect::<Vec<_>>(),
            "seed {seed}"
        );
    }
}

#[test]
fn an_empty_or_null_address_inside_a_run_is_reported_at_its_row() {
    let tiny = tempfile::tempdir().unwrap();
    write_tiny_batch(tiny.path());
    let source = tiny.path().join(files::MONEY_FLOWS);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(files::MONEY_FLOWS);
    for bad in ["", "<null>"] {
        for row in [0usize, 1, 5, 9] {
            let mut from = vec!["a".to_string(); 10];
            from[row] = bad.to_string();
            let to = vec!["b".to_string(); 10];
            write_flows(&path, &source, &from, &to, 4);
            match aml_core::read::read_money_flows(&path).unwrap_err() {
                BatchError::InvalidValue(invalid) => {
                    assert_eq!(
                        (invalid.column.as_str(), invalid.row),
                        ("from_address", row),
                        "{bad:?}"
                    );
                }
                other => panic!("{bad:?} at row {row}: unexpected {other}"),
            }
        }
    }
}

/// `read` run in a pool of `threads` threads.
fn with_threads<T: Send>(threads: usize, read: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(read)
}

#[test]
fn single_row_group_files_decode_the_same_on_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    aml_synth::write_batch(dir.path(), &aml_synth::SynthConfig::small(), 3).unwrap();
    let d = dir.path();
    let read_all = || {
        (
            aml_core::read::read_features(&d.join(files::FEATURES)).unwrap(),
            aml_core::read::read_alerts(&d.join(files::ALERTS)).unwrap(),
            aml_core::read::read_clusters(&d.join(files::CLUSTERS)).unwrap(),
            aml_core::read::read_money_flows(&d.join(files::MONEY_FLOWS)).unwrap(),
        )
    };
    let one = with_threads(1, read_all);
    assert!(!one.0.numeric.is_empty() && !one.0.is_empty());
    for threads in [2, 3, 8] {
        assert!(with_threads(threads, read_all) == one, "{threads} threads");
    }
    let (batch, _) = with_threads(1, || Batch::load(d).unwrap());
    for threads in [2, 5] {
        let (other, _) = with_threads(threads, || Batch::load(d).unwrap());
        assert!(other == batch, "{threads} threads");
    }
}

#[test]
fn a_column_that_does_not_decode_gives_the_same_error_on_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_batch(dir.path());
    // A features column of the wrong type, in a one-row-group file.
    rewrite_table(dir.path(), files::FEATURES, |columns| {
        let rows = columns[0].1.len();
        let words: ArrayRef = Arc::new(StringArray::from(vec!["many"; rows]));
        replace(columns, "degree_in", words);
    });
    let path = dir.path().join(files::FEATURES);
    let one = with_threads(1, || aml_core::read::read_features(&path).unwrap_err());
    assert!(matches!(one, BatchError::InvalidValue(_)), "{one}");
    for threads in [2, 4] {
        let other = with_threads(threads, || {
            aml_core::read::read_features(&path).unwrap_err()
        });
        assert_eq!(other.to_string(), one.to_string(), "{threads} threads");
    }
}

/// Appends a byte to `file` without updating META.json.
fn tamper(dir: &Path, file: &str) {
    let path = dir.join(file);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.push(0);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn hash_errors_win_over_decode_errors_in_meta_order() {
    let mismatch = |dir: &Path| match Batch::load(dir).unwrap_err() {
        BatchError::HashMismatch { file, .. } => file,
        other => panic!("expected a hash mismatch, got {other}"),
    };
    // The flows are tampered with while the (verified) alerts do not decode.
    let dir = tempfile::tempdir().unwrap();
    write_tiny_batch(dir.path());
    rewrite_table(dir.path(), files::ALERTS, |columns| {
        let rows = columns[0].1.len();
        let words: ArrayRef = Arc::new(StringArray::from(vec!["high"; rows]));
        replace(columns, "volume_usd", words);
    });
    assert!(matches!(
        Batch::load(dir.path()).unwrap_err(),
        BatchError::InvalidValue(_)
    ));
    tamper(dir.path(), files::MONEY_FLOWS);
    assert_eq!(mismatch(dir.path()), files::MONEY_FLOWS);
    // A tampered smaller file while the flows do not decode.
    let dir = tempfile::tempdir().unwrap();
    write_tiny_batch(dir.path());
    rewrite_table(dir.path(), files::MONEY_FLOWS, |columns| {
        let rows = columns[0].1.len();
        let words: ArrayRef = Arc::new(StringArray::from(vec!["lots"; rows]));
        replace(columns, "tx_count", words);
    });
    tamper(dir.path(), files::CLUSTERS);
    assert_eq!(mismatch(dir.path()), files::CLUSTERS);
    // Several tampered files: the first in META order, on any thread count.
    tamper(dir.path(), files::MONEY_FLOWS);
    tamper(dir.path(), files::FEATURES);
    for threads in [1, 2, 4] {
        let file = with_threads(threads, || mismatch(dir.path()));
        assert_eq!(file, files::CLUSTERS, "{threads} threads");
    }
}
