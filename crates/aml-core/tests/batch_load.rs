//! Loading batches: round trips, order independence, type coercion and warnings.

mod common;

use std::sync::Arc;

use aml_core::batch::files;
use aml_core::tables::Severity;
use aml_core::{Batch, BatchWarning};
use arrow::array::{
    ArrayRef, Date64Array, Decimal128Array, DictionaryArray, Float32Array, Int64Array,
    LargeListBuilder, LargeStringArray, LargeStringBuilder, StringArray, StringViewArray,
    UInt8Array,
};
use arrow::datatypes::Int32Type;
use common::*;

#[test]
fn write_then_load_gives_the_same_batch() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_tiny_batch(dir.path());
    let (loaded, report) = Batch::load(dir.path()).unwrap();
    assert_eq!(loaded, written);
    assert_eq!(report.warnings, vec![]);
    assert_eq!(
        loaded.features.column("extra_score"),
        Some(&[-1.0, 2.5, 3.5, 4.5][..])
    );
    let names: Vec<&str> = loaded
        .features
        .numeric
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "degree_in",
            "total_in_usd",
            "pagerank",
            "is_new_address",
            "extra_score"
        ]
    );
}

#[test]
fn every_table_round_trips_through_its_reader() {
    let dir = tempfile::tempdir().unwrap();
    let batch = write_tiny_batch(dir.path());
    let d = dir.path();
    assert_eq!(
        aml_core::read::read_alerts(&d.join(files::ALERTS)).unwrap(),
        batch.alerts
    );
    assert_eq!(
        aml_core::read::read_features(&d.join(files::FEATURES)).unwrap(),
        batch.features
    );
    assert_eq!(
        aml_core::read::read_clusters(&d.join(files::CLUSTERS)).unwrap(),
        batch.clusters
    );
    assert_eq!(
        aml_core::read::read_money_flows(&d.join(files::MONEY_FLOWS)).unwrap(),
        batch.money_flows
    );
    assert_eq!(
        aml_core::read::read_labels(&d.join(files::ADDRESS_LABELS)).unwrap(),
        batch.labels.unwrap()
    );
}

/// Reverses the rows of every column of a table file.
fn reverse_rows(dir: &std::path::Path, file: &str) {
    rewrite_table(dir, file, |columns| {
        for (_, array) in columns.iter_mut() {
            let indices: arrow::array::UInt32Array = (0..array.len() as u32).rev().collect();
            *array = arrow::compute::take(array.as_ref(), &indices, None).unwrap();
        }
    });
}

#[test]
fn shuffled_row_order_loads_the_identical_batch() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_batch(dir.path());
    let (expected, _) = Batch::load(dir.path()).unwrap();
    for file in [
        files::ALERTS,
        files::FEATURES,
        files::CLUSTERS,
        files::MONEY_FLOWS,
        files::ADDRESS_LABELS,
    ] {
        reverse_rows(dir.path(), file);
    }
    let (shuffled, _) = Batch::load(dir.path()).unwrap();
    assert_eq!(shuffled.alerts, expected.alerts);
    assert_eq!(shuffled.features, expected.features);
    assert_eq!(shuffled.clusters, expected.clusters);
    assert_eq!(shuffled.money_flows, expected.money_flows);
    assert_eq!(shuffled.labels, expected.labels);
}

#[test]
fn from_tables_sorts_and_reinterns() {
    let (meta, mut alerts, features, clusters, mut flows, labels) = tiny_tables();
    alerts.alert_id.swap(0, 3);
    // Dictionary out of order with an unused entry: ids must be re-interned to the sorted used addresses.
    flows.addresses = vec![
        "addr_x".into(),
        "unused".into(),
        "addr_c".into(),
        "addr_b".into(),
        "addr_a".into(),
    ];
    flows.from = vec![4, 4, 3, 2, 0];
    flows.to = vec![3, 2, 4, 0, 4];
    let (batch, _) = Batch::from_tables(meta, alerts, features, clusters, flows, labels).unwrap();
    assert_eq!(batch.alerts.alert_id, ["a1", "a2", "a3", "a4"]);
    assert_eq!(
        batch.alerts.address,
        ["addr_a", "addr_b", "addr_c", "addr_a"]
    );
    assert_eq!(batch.alerts.typology_type[0], "peel_chain");
    assert_eq!(batch.money_flows, common::tiny_batch().money_flows);
    assert_eq!(batch.money_flows.address_id("addr_c"), Some(2));
    assert_eq!(batch.money_flows.address_id("unused"), None);
}

#[test]
fn labels_and_severity_follow_the_contract() {
    let batch = tiny_batch();
    let labels = batch.labels.as_ref().unwrap();
    assert_eq!(labels.label_of("addr_a"), Some(1));
    assert_eq!(labels.label_of("addr_b"), Some(0));
    assert_eq!(labels.relevance_of("addr_c"), Some(3));
    assert_eq!(labels.label_of("addr_d"), None);
    assert_eq!(Severity::parse("LOW"), Severity::Low);
    assert_eq!(Severity::parse(""), Severity::Medium);
    assert!(Severity::Critical > Severity::High);
    assert_eq!(Severity::High.ordinal(), 2);
    assert_eq!(batch.features.row_of("addr_c"), Some(2));
}

#[test]
fn exporter_type_variants_are_coerced() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_batch(dir.path());
    // alerts: Decimal128(38,18) volume, Float32 confidence, dictionary severity, Utf8View ids, LargeList of
    // LargeUtf8 indicators, Date64 date, Int64 window.
    rewrite_table(dir.path(), files::ALERTS, |columns| {
        let volume = Decimal128Array::from(vec![
            1_000_500_000_000_000_000_000i128,
            0,
            123_450_000_000_000_000_000,
            7_000_000_000_000_000_000,
        ])
        .with_precision_and_scale(38, 18)
        .unwrap();
        replace(columns, "volume_usd", Arc::new(volume));
        replace(
            columns,
            "alert_confidence_score",
            Arc::new(Float32Array::from(vec![0.9f32, 0.25, 0.5, 1.0])),
        );
        let severity: DictionaryArray<Int32Type> =
            vec!["high", "LOW", "critical", ""].into_iter().collect();
        replace(columns, "severity", Arc::new(severity));
        replace(
            columns,
            "alert_id",
            Arc::new(StringViewArray::from(vec!["a1", "a2", "a3", "a4"])),
        );
        replace(
            columns,
            "description",
            Arc::new(LargeStringArray::from(vec!["d1", "d2 \u{e9}", "d3", ""])),
        );
        let mut indicators = LargeListBuilder::new(LargeStringBuilder::new());
        for list in [vec!["r1", "r2"], vec![], vec!["r3"], vec![""]] {
            for item in list {
                indicators.values().append_value(item);
            }
            indicators.append(true);
        }
        replace(columns, "risk_indicators", Arc::new(indicators.finish()));
        replace(
            columns,
            "processing_date",
            Arc::new(Date64Array::from(vec![1_761_782_400_000i64; 4])),
        );
        replace(
            columns,
            "window_days",
            Arc::new(Int64Array::from(vec![7i64; 4])),
        );
    });
    // features: digit strings (with decimals) for a contract column, UInt8 flag, Int64 extra column,
    // string dates, a Utf8 extra column that must be ignored.
    rewrite_table(dir.path(), files::FEATURES, |columns| {
        replace(
            columns,
            "total_in_usd",
            Arc::new(StringArray::from(vec!["10.5", "0.25", "3", "1000000000"])),
        );
        replace(
            columns,
            "is_new_address",
            Arc::new(UInt8Array::from(vec![1u8, 0, 0, 1])),
        );
        replace(
            columns,
            "processing_date",
            Arc::new(StringArray::from(vec!["2025-10-30"; 4])),
        );
        replace(
            columns,
            "extra_score",
            Arc::new(Float32Array::from(vec![-1.0f32, 2.5, 3.5, 4.5])),
        );
        columns.push((
            "zz_count".into(),
            Arc::new(Int64Array::from(vec![1i64, 2, 3, 4])) as ArrayRef,
        ));
        columns.push((
            "notes".into(),
            Arc::new(StringArray::from(vec!["x"; 4])) as ArrayRef,
        ));
    });
    let (loaded, _) = Batch::load(dir.path()).unwrap();
    let expected = tiny_batch();
    // Float32 widens exactly to f64 (0.9f32 reads as 0.8999999761581421, as numpy's astype does); every
    // other alert column must come back identical.
    let mut expected_alerts = expected.alerts.clone();
    for value in &mut expected_alerts.alert_confidence_score {
        *value = f64::from(*value as f32);
    }
    assert_eq!(loaded.alerts, expected_alerts);
    assert_eq!(
        loaded.features.column("total_in_usd"),
        expected.features.column("total_in_usd")
    );
    assert_eq!(
        loaded.features.column("is_new_address"),
        Some(&[1.0, 0.0, 0.0, 1.0][..])
    );
    assert_eq!(
        loaded.features.column("zz_count"),
        Some(&[1.0, 2.0, 3.0, 4.0][..])
    );
    assert_eq!(loaded.features.column("notes"), None);
    assert_eq!(loaded.features.numeric.last().unwrap().name, "zz_count");
    assert_eq!(
        loaded.features.processing_date,
        expected.features.processing_date
    );
}

#[test]
fn many_row_groups_read_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_batch(dir.path());
    let path = dir.path().join(files::MONEY_FLOWS);
    let columns = read_columns(&path);
    write_columns_grouped(&path, columns, Some(2));
    refresh_hashes(dir.path());
    let (loaded, _) = Batch::load(dir.path()).unwrap();
    assert_eq!(loaded.money_flows, tiny_batch().money_flows);
}

#[test]
fn dangling_references_are_warnings() {
    let (mut meta, alerts, mut features, mut clusters, flows, labels) = tiny_tables();
    clusters.related_alert_ids[1].push("ghost".into());
    meta.pattern_traps[0].alert_ids.push("trap_ghost".into());
    features.address[2] = "addr_z".into();
    let (_, report) = Batch::from_tables(meta, alerts, features, clusters, flows, labels).unwrap();
    assert_eq!(
        report.warnings,
        vec![
            BatchWarning::AlertWithoutFeatures {
                alert_id: "a3".into(),
                address: "addr_c".into()
            },
            BatchWarning::UnknownClusterAlert {
                cluster_id: "c2".into(),
                alert_id: "ghost".into()
            },
            BatchWarning::UnknownTrapAlert {
                trap_id: "t1".into(),
                alert_id: "trap_ghost".into()
            },
        ]
    );
}

#[test]
fn synthetic_batch_loads_and_round_trips_through_the_writer() {
    let generated = tempfile::tempdir().unwrap();
    aml_synth::write_batch(generated.path(), &aml_synth::SynthConfig::small(), 0).unwrap();
    let (batch, report) = Batch::load(generated.path()).expect("synthetic batch must load");
    assert_eq!(report.warnings, vec![]);
    assert_eq!(batch.alerts.len(), 500);
    assert_eq!(batch.features.len(), 5_000);
    assert!(batch.labels.is_none());
    assert!(!batch.money_flows.is_empty() && !batch.clusters.is_empty());
    // Rewriting with aml-core's own writer and loading again must give the same tables. Compared through
    // the deterministic encoders because nullable features hold NaN, which `==` never matches.
    let rewritten = tempfile::tempdir().unwrap();
    aml_core::write::write_batch(rewritten.path(), &batch).unwrap();
    let (reloaded, report) = Batch::load(rewritten.path()).unwrap();
    assert_eq!(report.warnings, vec![]);
    use aml_core::write::{encode_alerts, encode_clusters, encode_features, encode_money_flows};
    assert_eq!(
        encode_alerts(&reloaded.alerts).unwrap(),
        encode_alerts(&batch.alerts).unwrap()
    );
    assert_eq!(
        encode_features(&reloaded.features).unwrap(),
        encode_features(&batch.features).unwrap()
    );
    assert_eq!(
        encode_clusters(&reloaded.clusters).unwrap(),
        encode_clusters(&batch.clusters).unwrap()
    );
    assert_eq!(
        encode_money_flows(&reloaded.money_flows).unwrap(),
        encode_money_flows(&batch.money_flows).unwrap()
    );
}

#[test]
fn scoring_load_decodes_only_the_flow_columns_features_use() {
    let dir = tempfile::tempdir().unwrap();
    aml_synth::write_batch(dir.path(), &aml_synth::SynthConfig::small(), 0).unwrap();
    let (full, _) = Batch::load(dir.path()).unwrap();
    // Reverse the flow rows too: the canonical order must not need the skipped columns.
    reverse_rows(dir.path(), files::MONEY_FLOWS);
    let (scoring, _) = Batch::load_with(dir.path(), aml_core::FlowColumns::Scoring).unwrap();
    assert_eq!(scoring.alerts, full.alerts);
    assert_eq!(scoring.clusters, full.clusters);
    let (f, s) = (&full.money_flows, &scoring.money_flows);
    assert!(!f.is_empty());
    assert_eq!(s.addresses, f.addresses);
    assert_eq!(s.from, f.from);
    assert_eq!(s.to, f.to);
    assert_eq!(s.tx_count, f.tx_count);
    assert_eq!(s.amount_usd_sum, f.amount_usd_sum);
    for (column, len) in s.optional_column_lengths() {
        assert_eq!(len, 0, "{column} should not be decoded");
    }
    for (column, len) in f.optional_column_lengths() {
        assert_eq!(len, f.len(), "{column} should be decoded");
    }
}
