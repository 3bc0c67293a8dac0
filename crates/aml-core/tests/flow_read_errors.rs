//! The money flows decode each row group's `from_address` (with the value columns) and
//! `to_address` in separate parallel tasks; a bad file still gives the error of the file-order
//! reader: the first failing record batch in file order, and in it `from_address` before
//! `to_address`, whichever task failed first or at a lower row.

mod common;

use aml_core::error::BatchError;
use aml_core::read::{read_money_flows_with, FlowColumns};

/// Rows per row group: two record batches each (the reader decodes 65,536 rows at a time).
const GROUP_ROWS: usize = 70_000;

/// A file of two row groups whose names are all valid but for the empty `from_address` rows
/// `empty_from` and `to_address` rows `empty_to`; the error it reads with 1 and 2 threads.
fn read_error(empty_from: &[usize], empty_to: &[usize]) -> Vec<(String, usize)> {
    let rows = 2 * GROUP_ROWS;
    let mut addresses: Vec<String> = (0..500).map(|i| format!("0x{i:040}")).collect();
    addresses.insert(0, String::new());
    // Id 0 is the empty name; senders come in runs of 7 rows, as exporters group them.
    let ids = |empty: &[usize], id_of: fn(usize) -> usize| -> Vec<u32> {
        (0..rows)
            .map(|row| if empty.contains(&row) { 0 } else { 1 + id_of(row) % 500 } as u32)
            .collect()
    };
    let from = ids(empty_from, |row| row / 7);
    let to = ids(empty_to, |row| row * 13);
    let flows = common::numbered_flows(addresses, from, to);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("money_flows.parquet");
    std::fs::write(&path, aml_core::write::encode_money_flows(&flows).unwrap()).unwrap();
    common::write_columns_grouped(&path, common::read_columns(&path), Some(GROUP_ROWS));
    [1, 2]
        .into_iter()
        .map(|threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            match pool.install(|| read_money_flows_with(&path, FlowColumns::Scoring)) {
                Err(BatchError::InvalidValue(invalid)) => {
                    assert_eq!(invalid.file, "money_flows.parquet");
                    assert_eq!(invalid.reason, "empty or null address");
                    (invalid.column, invalid.row)
                }
                other => panic!("expected an empty address error, got {other:?}"),
            }
        })
        .collect()
}

fn twice(column: &str, row: usize) -> Vec<(String, usize)> {
    vec![(column.to_string(), row); 2]
}

#[test]
fn an_earlier_record_batch_wins_over_a_lower_column() {
    // Last row group: `to_address` fails in its first record batch, `from_address` in its second.
    let errors = read_error(&[GROUP_ROWS + 66_000], &[GROUP_ROWS + 100]);
    assert_eq!(errors, twice("to_address", GROUP_ROWS + 100));
}

#[test]
fn in_one_record_batch_from_address_comes_first() {
    let errors = read_error(&[GROUP_ROWS + 500], &[GROUP_ROWS + 100]);
    assert_eq!(errors, twice("from_address", GROUP_ROWS + 500));
}

#[test]
fn an_earlier_row_group_wins() {
    let errors = read_error(&[66_000], &[GROUP_ROWS + 1]);
    assert_eq!(errors, twice("from_address", 66_000));
}
