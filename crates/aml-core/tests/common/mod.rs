//! Shared helpers for aml-core integration tests: a tiny hand-made batch and tools to rewrite its files.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use aml_core::batch::files;
use aml_core::tables::{
    AddressFeatures, AddressLabels, Alerts, Clusters, MoneyFlows, NumericColumn,
};
use aml_core::{Batch, Meta, PatternTrap};
use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// A small consistent batch in canonical order: 4 alerts, 4 addresses, 2 clusters, 5 flows, 3 labels.
pub fn tiny_tables() -> (
    Meta,
    Alerts,
    AddressFeatures,
    Clusters,
    MoneyFlows,
    Option<AddressLabels>,
) {
    let date = |n: usize| vec!["2025-10-30".to_string(); n];
    let alerts = Alerts {
        window_days: vec![7; 4],
        processing_date: date(4),
        alert_id: strings(&["a1", "a2", "a3", "a4"]),
        address: strings(&["addr_a", "addr_b", "addr_c", "addr_a"]),
        typology_type: strings(&["layering", "fan_in", "cycle", "peel_chain"]),
        pattern_id: strings(&["", "p1", "p1", ""]),
        pattern_type: strings(&["", "motif", "cycle", ""]),
        severity: strings(&["high", "LOW", "critical", ""]),
        suspected_address_type: strings(&["unknown", "exchange", "mixer", "unknown"]),
        suspected_address_subtype: strings(&["", "", "tornado", ""]),
        alert_confidence_score: vec![0.9, 0.25, 0.5, 1.0],
        description: strings(&["d1", "d2 \u{e9}", "d3", ""]),
        volume_usd: vec![1000.5, 0.0, 123.45, 7.0],
        evidence_json: strings(&["{}", "{\"k\": 1}", "[]", "{}"]),
        risk_indicators: vec![
            strings(&["r1", "r2"]),
            vec![],
            strings(&["r3"]),
            strings(&[""]),
        ],
    };
    let features = AddressFeatures {
        window_days: vec![7; 4],
        processing_date: date(4),
        address: strings(&["addr_a", "addr_b", "addr_c", "addr_d"]),
        numeric: vec![
            NumericColumn {
                name: "degree_in".into(),
                values: vec![1.0, 2.0, 0.0, 5.0],
            },
            NumericColumn {
                name: "total_in_usd".into(),
                values: vec![10.5, 0.25, 3.0, 1e9],
            },
            NumericColumn {
                name: "pagerank".into(),
                values: vec![0.1, 0.2, 0.3, 0.4],
            },
            NumericColumn {
                name: "is_new_address".into(),
                values: vec![1.0, 0.0, 0.0, 1.0],
            },
            NumericColumn {
                name: "extra_score".into(),
                values: vec![-1.0, 2.5, 3.5, 4.5],
            },
        ],
        hourly_activity: vec![(0..24).collect(), vec![], vec![1; 24], vec![0; 24]],
        daily_activity: vec![(0..7).collect(), vec![], vec![2; 7], vec![3; 7]],
        dominant_asset_in: strings(&["USDT", "", "ETH", "TOR"]),
        dominant_asset_out: strings(&["ETH", "", "USDT", "TOR"]),
    };
    let clusters = Clusters {
        window_days: vec![7; 2],
        processing_date: date(2),
        cluster_id: strings(&["c1", "c2"]),
        cluster_type: strings(&["same_entity", "pattern"]),
        primary_address: strings(&["addr_a", ""]),
        pattern_id: strings(&["", "p1"]),
        primary_alert_id: strings(&["a1", "a2"]),
        related_alert_ids: vec![strings(&["a1", "a4"]), strings(&["a2", "a3"])],
        addresses_involved: vec![strings(&["addr_a"]), strings(&["addr_b", "addr_c"])],
        total_alerts: vec![2.0, 2.0],
        total_volume_usd: vec![1007.5, 123.45],
        severity_max: strings(&["high", "critical"]),
        confidence_avg: vec![0.95, 0.375],
        earliest_alert_timestamp: vec![1_761_782_400_000, 1_761_782_500_000],
        latest_alert_timestamp: vec![1_761_868_799_000, 1_761_868_000_000],
    };
    let money_flows = MoneyFlows {
        addresses: strings(&["addr_a", "addr_b", "addr_c", "addr_x"]),
        from: vec![0, 0, 1, 2, 3],
        to: vec![1, 2, 0, 3, 0],
        tx_count: vec![3.0, 1.0, 2.0, 10.0, 1.0],
        amount_sum: vec![1.5, 2.0, 3.0, 4.0, 5.0],
        amount_usd_sum: vec![15.0, 20.0, 30.0, 40.0, 50.0],
        first_seen_timestamp: vec![1, 2, 3, 4, 5],
        last_seen_timestamp: vec![10, 20, 30, 40, 50],
        active_days: vec![1.0, 1.0, 2.0, 3.0, 1.0],
        avg_tx_size_usd: vec![5.0, 20.0, 15.0, 4.0, 50.0],
        unique_assets: vec![1.0, 1.0, 2.0, 1.0, 1.0],
        reciprocity_ratio: vec![0.5, 0.0, 0.5, 0.0, 0.0],
        is_bidirectional: vec![true, false, true, false, false],
    };
    let labels = AddressLabels {
        network: strings(&["torus"; 3]),
        address: strings(&["addr_a", "addr_b", "addr_c"]),
        label: strings(&["mixer user", "exchange", "scam"]),
        address_type: strings(&["wallet", "exchange", "wallet"]),
        address_subtype: strings(&["", "hot", ""]),
        trust_level: strings(&["verified", "verified", "community"]),
        source: strings(&["sot", "sot", "sot"]),
        risk_level: strings(&["high", "low", "Critical"]),
        confidence_score: vec![0.9, 1.0, 0.6],
        created_timestamp: vec![1, 2, 3],
        updated_timestamp: vec![4, 5, 6],
    };
    let meta = Meta {
        batch_id: "torus-2025-10-30".into(),
        network: "torus".into(),
        processing_date: "2025-10-30".into(),
        window_days: 7,
        schema_version: "1".into(),
        n_alerts: 4,
        n_addresses: 4,
        n_clusters: 2,
        n_money_flows: 5,
        sha256: Default::default(),
        pattern_traps: vec![PatternTrap {
            trap_id: "t1".into(),
            alert_ids: strings(&["a3"]),
            expected_result: 1,
        }],
    };
    (meta, alerts, features, clusters, money_flows, Some(labels))
}

/// The tiny batch, validated and canonically sorted.
pub fn tiny_batch() -> Batch {
    let (meta, alerts, features, clusters, flows, labels) = tiny_tables();
    Batch::from_tables(meta, alerts, features, clusters, flows, labels)
        .expect("tiny batch is valid")
        .0
}

/// Writes the tiny batch into `dir` with a correct META.json.
pub fn write_tiny_batch(dir: &Path) -> Batch {
    let batch = tiny_batch();
    let meta = aml_core::write::write_batch(dir, &batch).expect("write tiny batch");
    Batch { meta, ..batch }
}

/// Columns of a Parquet file as (name, array) pairs (the file must fit in one record batch).
pub fn read_columns(path: &Path) -> Vec<(String, ArrayRef)> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(batches.len(), 1, "test helper expects one record batch");
    let batch = &batches[0];
    batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, a)| (f.name().clone(), a.clone()))
        .collect()
}

/// Writes (name, array) pairs as a Parquet file (nullable fields, plain arrow-rs defaults).
pub fn write_columns(path: &Path, columns: Vec<(String, ArrayRef)>) {
    write_columns_grouped(path, columns, None);
}

/// Like [`write_columns`] with a maximum row group size (to test multi-row-group reading).
pub fn write_columns_grouped(
    path: &Path,
    columns: Vec<(String, ArrayRef)>,
    row_group_rows: Option<usize>,
) {
    let mut properties = parquet::file::properties::WriterProperties::builder();
    if let Some(rows) = row_group_rows {
        properties = properties.set_max_row_group_row_count(Some(rows));
    }
    write_columns_with(path, columns, properties.build());
}

/// Like [`write_columns`] with the given writer properties (row groups, pages, dictionary limit).
pub fn write_columns_with(
    path: &Path,
    columns: Vec<(String, ArrayRef)>,
    properties: parquet::file::properties::WriterProperties,
) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, schema, Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// Rewrites one table of a batch directory through `edit`, then refreshes META.json hashes so only the
/// edit (not a hash mismatch) can make the load fail.
pub fn rewrite_table(dir: &Path, file: &str, edit: impl FnOnce(&mut Vec<(String, ArrayRef)>)) {
    let path = dir.join(file);
    let mut columns = read_columns(&path);
    edit(&mut columns);
    write_columns(&path, columns);
    refresh_hashes(dir);
}

/// Recomputes every sha256 in META.json from the files on disk.
pub fn refresh_hashes(dir: &Path) {
    let mut meta = aml_core::read::read_meta(dir).unwrap();
    for (name, hash) in meta.sha256.iter_mut() {
        *hash = aml_core::io::sha256_file(&dir.join(name)).unwrap();
    }
    std::fs::write(dir.join(files::META), meta.to_json_bytes()).unwrap();
}

/// Replaces the array of column `name`.
pub fn replace(columns: &mut [(String, ArrayRef)], name: &str, array: ArrayRef) {
    let slot = columns
        .iter_mut()
        .find(|(n, _)| n == name)
        .expect("column exists");
    slot.1 = array;
}

/// Flows over the dictionary `addresses` with the given sender and receiver ids and value
/// columns derived from the row number, so a row moved or dropped is seen.
pub fn numbered_flows(addresses: Vec<String>, from: Vec<u32>, to: Vec<u32>) -> MoneyFlows {
    let n = from.len();
    let numbers = |scale: f64| (0..n).map(|row| row as f64 * scale).collect::<Vec<f64>>();
    MoneyFlows {
        from,
        to,
        tx_count: numbers(1.0),
        amount_sum: numbers(2.0),
        amount_usd_sum: numbers(3.0),
        first_seen_timestamp: (0..n as u64).collect(),
        last_seen_timestamp: (0..n as u64).map(|row| row + 7).collect(),
        active_days: numbers(0.5),
        avg_tx_size_usd: numbers(4.0),
        unique_assets: numbers(1.0),
        reciprocity_ratio: numbers(0.001),
        is_bidirectional: (0..n).map(|row| row % 3 == 0).collect(),
        addresses,
    }
}
