//! Equivalence of the money-flows address interning (per-row-group arenas with stored hashes,
//! merged by sorting hashes and then the distinct names by 8-byte prefix) against a naive
//! reference kept here as the oracle: a `BTreeSet` of the names gives the sorted dictionary and
//! every row's ids. Files are written with several row groups, small pages and a tiny dictionary
//! page limit, so column chunks fall back from dictionary to PLAIN pages mid-chunk, as pyarrow
//! writers do on real data; read with 1 and 2 threads.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use aml_core::error::BatchError;
use aml_core::read::{read_money_flows_with, FlowColumns};
use aml_core::tables::MoneyFlows;
use arrow::array::{ArrayRef, StringArray};
use parquet::basic::Encoding;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use proptest::prelude::*;

/// The oracle: flows whose dictionary is the sorted set of names and whose ids index it. Value
/// columns are derived from the row number, so a row moved or dropped is seen.
fn naive_flows(rows: &[(String, String)]) -> MoneyFlows {
    let names: BTreeSet<&str> = rows
        .iter()
        .flat_map(|(from, to)| [from.as_str(), to.as_str()])
        .collect();
    let addresses: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let id = |name: &str| {
        addresses
            .binary_search_by(|a| a.as_str().cmp(name))
            .unwrap() as u32
    };
    let from = rows.iter().map(|(from, _)| id(from)).collect();
    let to = rows.iter().map(|(_, to)| id(to)).collect();
    common::numbered_flows(addresses, from, to)
}

/// Writes `flows` as `money_flows.parquet` with `group_rows` rows per row group, pages of two
/// rows and a dictionary page limit of `dictionary_bytes`.
fn write_flows(path: &Path, flows: &MoneyFlows, group_rows: usize, dictionary_bytes: usize) {
    let bytes = aml_core::write::encode_money_flows(flows).unwrap();
    std::fs::write(path, bytes).unwrap();
    if flows.is_empty() {
        return;
    }
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .set_write_batch_size(2)
        .set_data_page_row_count_limit(2)
        .set_dictionary_page_size_limit(dictionary_bytes)
        .build();
    common::write_columns_with(path, common::read_columns(path), properties);
}

/// Reads `path` with `threads` rayon threads.
fn read(path: &Path, columns: FlowColumns, threads: usize) -> Result<MoneyFlows, BatchError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| read_money_flows_with(path, columns))
}

/// `expected` with only the scoring value columns, as `FlowColumns::Scoring` reads them.
fn scoring_only(expected: &MoneyFlows) -> MoneyFlows {
    MoneyFlows {
        addresses: expected.addresses.clone(),
        from: expected.from.clone(),
        to: expected.to.clone(),
        tx_count: expected.tx_count.clone(),
        amount_usd_sum: expected.amount_usd_sum.clone(),
        ..MoneyFlows::default()
    }
}

/// Writes `rows` with the given layout and checks every read against the oracle.
fn check(rows: &[(String, String)], group_rows: usize, dictionary_bytes: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("money_flows.parquet");
    let expected = naive_flows(rows);
    write_flows(&path, &expected, group_rows, dictionary_bytes);
    for threads in [1, 2] {
        assert_eq!(read(&path, FlowColumns::All, threads).unwrap(), expected);
        assert_eq!(
            read(&path, FlowColumns::Scoring, threads).unwrap(),
            scoring_only(&expected)
        );
    }
}

fn pairs(rows: &[(&str, &str)]) -> Vec<(String, String)> {
    rows.iter()
        .map(|(from, to)| (from.to_string(), to.to_string()))
        .collect()
}

#[test]
fn hand_built_cases_match_the_oracle() {
    let long = "x".repeat(1000);
    let long_too = format!("{long}y");
    let cases: Vec<Vec<(String, String)>> = vec![
        Vec::new(),
        pairs(&[("a", "b")]),
        pairs(&[("a", "a")]),
        // Names sharing their first 8 bytes, one a prefix of another, NUL bytes, non-ASCII.
        pairs(&[
            ("addr_0000", "addr_000"),
            ("addr_00001", "addr_0000"),
            ("addr_000\0", "addr_0000"),
            ("\u{e9}t\u{e9}_\u{2603}", "addr_000"),
            ("addr_000", "\u{e9}t\u{e9}"),
        ]),
        pairs(&[
            (&long, &long_too),
            (&long_too, "s"),
            ("s", &long),
            (&long, "s"),
        ]),
        // The same names in every row group, in different orders; senders grouped.
        pairs(&[
            ("b", "c"),
            ("b", "a"),
            ("b", "c"),
            ("a", "b"),
            ("c", "b"),
            ("c", "a"),
            ("a", "c"),
            ("a", "a"),
            ("d", "b"),
        ]),
    ];
    for rows in &cases {
        for group_rows in [1, 2, 3, 1000] {
            check(rows, group_rows, 16);
        }
    }
}

/// The test really writes column chunks that start with dictionary pages and fall back to
/// PLAIN pages, in several row groups.
#[test]
fn the_test_files_mix_dictionary_and_plain_pages() {
    let rows: Vec<(String, String)> = (0..200)
        .map(|row| {
            (
                format!("sender_{}", row / 10),
                format!("receiver_{}", row * 7 % 97),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("money_flows.parquet");
    let expected = naive_flows(&rows);
    write_flows(&path, &expected, 64, 64);
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let metadata = reader.metadata();
    assert!(metadata.num_row_groups() >= 3);
    let schema = metadata.file_metadata().schema_descr();
    let to = (0..schema.num_columns())
        .find(|&i| schema.column(i).name() == "to_address")
        .unwrap();
    for group in metadata.row_groups() {
        let encodings: Vec<Encoding> = group.column(to).encodings().collect();
        assert!(encodings.contains(&Encoding::PLAIN), "{encodings:?}");
        assert!(
            encodings.contains(&Encoding::RLE_DICTIONARY)
                || encodings.contains(&Encoding::PLAIN_DICTIONARY),
            "{encodings:?}"
        );
    }
    check(&rows, 64, 64);
}

#[test]
fn an_empty_address_in_a_later_row_group_names_its_file_row() {
    let mut rows = pairs(&[("a", "b"), ("b", "c"), ("c", "a"), ("a", "c"), ("b", "a")]);
    rows[3].1 = String::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("money_flows.parquet");
    let flows = naive_flows(&rows);
    write_flows(&path, &flows, 2, 16);
    for threads in [1, 2] {
        match read(&path, FlowColumns::Scoring, threads) {
            Err(BatchError::InvalidValue(invalid)) => {
                assert_eq!(invalid.file, "money_flows.parquet");
                assert_eq!(invalid.column, "to_address");
                assert_eq!(invalid.row, 3);
            }
            other => panic!("expected an invalid empty address, got {other:?}"),
        }
    }
    // A null address is refused the same way.
    let columns: Vec<(String, ArrayRef)> = common::read_columns(&path)
        .into_iter()
        .map(|(name, array)| {
            if name == "from_address" {
                let values = [Some("a"), Some("b"), None, Some("a"), Some("b")];
                (
                    name,
                    Arc::new(StringArray::from(values.to_vec())) as ArrayRef,
                )
            } else {
                (name, array)
            }
        })
        .collect();
    common::write_columns_grouped(&path, columns, Some(2));
    match read(&path, FlowColumns::Scoring, 2) {
        Err(BatchError::InvalidValue(invalid)) => {
            assert_eq!((invalid.column.as_str(), invalid.row), ("from_address", 2));
        }
        other => panic!("expected an invalid null address, got {other:?}"),
    }
}

/// Names that stress the prefix sort and the hash runs: address-like names sharing 7, 8 or 9
/// leading bytes, prefixes of each other, NUL bytes, non-ASCII, short and long.
fn name_strategy() -> impl Strategy<Value = String> {
    let stems = prop::sample::select(vec![
        "",
        "0x",
        "0x00000",
        "0x000000",
        "0x0000000",
        "bc1q\0",
        "\u{2603}",
        "\u{e9}\u{e9}\u{e9}",
    ]);
    let tails = prop::collection::vec(
        prop::sample::select(vec!['0', '1', '\0', 'z', '\u{e9}']),
        0..4,
    );
    (stems, tails, 0usize..3).prop_map(|(stem, tail, long)| {
        let mut name: String = stem.to_string();
        name.extend(tail);
        name.push_str(&"L".repeat(long * 40));
        if name.is_empty() {
            name.push('k');
        }
        name
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_flows_match_the_oracle(
        names in prop::collection::vec(name_strategy(), 1..24),
        picks in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..60),
        group_rows in 1usize..9,
        dictionary_bytes in prop::sample::select(vec![8usize, 40, 1 << 20]),
    ) {
        let rows: Vec<(String, String)> = picks
            .iter()
            .map(|(from, to)| (from.get(&names).clone(), to.get(&names).clone()))
            .collect();
        check(&rows, group_rows, dictionary_bytes);
    }
}
