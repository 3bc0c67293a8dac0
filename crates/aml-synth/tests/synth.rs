//! Synthetic batch generator: determinism, contract schema, META integrity, realism checks.

use aml_synth::{write_batch, write_days, SynthConfig};
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Field};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

mod common;
use common::{batches, strings};

const FILES: [&str; 5] = [
    "alerts.parquet",
    "features.parquet",
    "clusters.parquet",
    "money_flows.parquet",
    "address_labels.parquet",
];

fn labelled() -> SynthConfig {
    SynthConfig {
        with_labels: true,
        ..SynthConfig::small()
    }
}

fn read_all(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.insert(
            path.file_name().unwrap().to_string_lossy().into_owned(),
            std::fs::read(&path).unwrap(),
        );
    }
    out
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

fn schema_of(path: &Path) -> Vec<(String, DataType)> {
    let file = std::fs::File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    builder
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}

#[test]
fn same_seed_gives_identical_bytes_with_one_or_two_threads() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    in_pool(1, || write_batch(a.path(), &labelled(), 0)).unwrap();
    in_pool(2, || write_batch(b.path(), &labelled(), 0)).unwrap();
    let (fa, fb) = (read_all(a.path()), read_all(b.path()));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    assert_eq!(
        fa.len(),
        6,
        "five tables + META.json, no temp files left: {:?}",
        fa.keys()
    );
    for (name, bytes) in &fa {
        assert!(bytes == &fb[name], "{name} differs between runs");
    }
}

#[test]
fn different_seed_gives_different_batch() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    write_batch(a.path(), &SynthConfig::small(), 0).unwrap();
    write_batch(
        b.path(),
        &SynthConfig {
            seed: 7,
            ..SynthConfig::small()
        },
        0,
    )
    .unwrap();
    let (fa, fb) = (read_all(a.path()), read_all(b.path()));
    for name in ["alerts.parquet", "features.parquet", "money_flows.parquet"] {
        assert_ne!(fa[name], fb[name], "{name}");
    }
    let addr_a: BTreeSet<String> = strings(&a.path().join("features.parquet"), "address")
        .into_iter()
        .collect();
    let addr_b: BTreeSet<String> = strings(&b.path().join("features.parquet"), "address")
        .into_iter()
        .collect();
    assert_eq!(addr_a.intersection(&addr_b).count(), 0);
}

fn list_of(item: DataType) -> DataType {
    DataType::List(std::sync::Arc::new(Field::new("item", item, true)))
}

fn expected(spec: &[(&str, &str)]) -> Vec<(String, DataType)> {
    spec.iter()
        .map(|(name, ty)| {
            let dt = match *ty {
                "u8" => DataType::UInt8,
                "u16" => DataType::UInt16,
                "u32" => DataType::UInt32,
                "u64" => DataType::UInt64,
                "f32" => DataType::Float32,
                "f64" => DataType::Float64,
                "dec" => DataType::Decimal128(38, 18),
                "bool" => DataType::Boolean,
                "str" => DataType::Utf8,
                "date" => DataType::Date32,
                "list_str" => list_of(DataType::Utf8),
                "list_u16" => list_of(DataType::UInt16),
                other => panic!("unknown type {other}"),
            };
            (name.to_string(), dt)
        })
        .collect()
}

/// Column names and types exactly as /work/shared/SOT_SCHEMA.md lists them.
#[test]
fn schemas_match_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    write_batch(dir.path(), &labelled(), 0).unwrap();
    let alerts = expected(&[
        ("window_days", "u16"),
        ("processing_date", "date"),
        ("alert_id", "str"),
        ("address", "str"),
        ("typology_type", "str"),
        ("pattern_id", "str"),
        ("pattern_type", "str"),
        ("severity", "str"),
        ("suspected_address_type", "str"),
        ("suspected_address_subtype", "str"),
        ("alert_confidence_score", "f32"),
        ("description", "str"),
        ("volume_usd", "dec"),
        ("evidence_json", "str"),
        ("risk_indicators", "list_str"),
    ]);
    let f32s = |names: &[&'static str]| names.iter().map(|n| (*n, "f32")).collect::<Vec<_>>();
    let mut features: Vec<(&str, &str)> = vec![
        ("window_days", "u16"),
        ("processing_date", "date"),
        ("address", "str"),
    ];
    features.extend(
        [
            "degree_in",
            "degree_out",
            "degree_total",
            "unique_counterparties",
        ]
        .map(|n| (n, "u32")),
    );
    features.extend(
        [
            "total_in_usd",
            "total_out_usd",
            "net_flow_usd",
            "total_volume_usd",
            "avg_tx_in_usd",
            "avg_tx_out_usd",
            "median_tx_in_usd",
            "median_tx_out_usd",
            "max_tx_usd",
            "min_tx_usd",
        ]
        .map(|n| (n, "dec")),
    );
    features.extend(
        [
            "amount_variance",
            "amount_skewness",
            "amount_kurtosis",
            "volume_std",
            "volume_cv",
            "flow_concentration",
        ]
        .map(|n| (n, "f64")),
    );
    features.extend(["tx_in_count", "tx_out_count", "tx_total_count"].map(|n| (n, "u64")));
    features.extend([
        ("activity_days", "u32"),
        ("activity_span_days", "u32"),
        ("avg_daily_volume_usd", "dec"),
        ("peak_hour", "u8"),
        ("peak_day", "u8"),
        ("regularity_score", "f32"),
        ("burst_factor", "f32"),
    ]);
    features.extend(f32s(&[
        "reciprocity_ratio",
        "flow_diversity",
        "counterparty_concentration",
        "concentration_ratio",
        "velocity_score",
        "structuring_score",
    ]));
    features.extend([
        ("unique_assets_in", "u32"),
        ("unique_assets_out", "u32"),
        ("dominant_asset_in", "str"),
        ("dominant_asset_out", "str"),
        ("asset_diversity_score", "f32"),
        ("hourly_activity", "list_u16"),
        ("daily_activity", "list_u16"),
        ("peak_activity_hour", "u8"),
        ("peak_activity_day", "u8"),
    ]);
    features.extend(f32s(&[
        "hourly_entropy",
        "daily_entropy",
        "weekend_transaction_ratio",
        "night_transaction_ratio",
        "small_transaction_ratio",
        "consistency_score",
        "pagerank",
        "betweenness",
        "closeness",
        "clustering_coefficient",
    ]));
    features.extend([
        ("kcore", "u32"),
        ("community_id", "u32"),
        ("centrality_score", "f32"),
    ]);
    features.extend(["khop1_count", "khop2_count", "khop3_count"].map(|n| (n, "u32")));
    features
        .extend(["khop1_volume_usd", "khop2_volume_usd", "khop3_volume_usd"].map(|n| (n, "dec")));
    features.extend(f32s(&[
        "flow_reciprocity_entropy",
        "counterparty_stability",
        "flow_burstiness",
        "transaction_regularity",
        "amount_predictability",
    ]));
    features.extend([
        ("is_new_address", "bool"),
        ("is_dormant_reactivated", "bool"),
        ("unique_recipients_count", "u32"),
        ("unique_senders_count", "u32"),
        ("first_activity_timestamp", "u64"),
        ("last_activity_timestamp", "u64"),
    ]);
    features.extend(f32s(&[
        "behavioral_anomaly_score",
        "graph_anomaly_score",
        "global_anomaly_score",
        "quality_score",
    ]));
    let clusters = expected(&[
        ("window_days", "u16"),
        ("processing_date", "date"),
        ("cluster_id", "str"),
        ("cluster_type", "str"),
        ("primary_address", "str"),
        ("pattern_id", "str"),
        ("primary_alert_id", "str"),
        ("related_alert_ids", "list_str"),
        ("addresses_involved", "list_str"),
        ("total_alerts", "u32"),
        ("total_volume_usd", "dec"),
        ("severity_max", "str"),
        ("confidence_avg", "f32"),
        ("earliest_alert_timestamp", "u64"),
        ("latest_alert_timestamp", "u64"),
    ]);
    let flows = expected(&[
        ("from_address", "str"),
        ("to_address", "str"),
        ("tx_count", "u64"),
        ("amount_sum", "dec"),
        ("amount_usd_sum", "dec"),
        ("first_seen_timestamp", "u64"),
        ("last_seen_timestamp", "u64"),
        ("active_days", "u32"),
        ("avg_tx_size_usd", "dec"),
        ("unique_assets", "u32"),
        ("dominant_asset", "str"),
        ("hourly_pattern", "list_u16"),
        ("weekly_pattern", "list_u16"),
        ("reciprocity_ratio", "f32"),
        ("is_bidirectional", "bool"),
    ]);
    let labels = expected(&[
        ("network", "str"),
        ("address", "str"),
        ("label", "str"),
        ("address_type", "str"),
        ("address_subtype", "str"),
        ("trust_level", "str"),
        ("source", "str"),
        ("risk_level", "str"),
        ("confidence_score", "f32"),
        ("created_timestamp", "u64"),
        ("updated_timestamp", "u64"),
    ]);
    for (file, want) in [
        ("alerts.parquet", alerts),
        ("features.parquet", expected(&features)),
        ("clusters.parquet", clusters),
        ("money_flows.parquet", flows),
        ("address_labels.parquet", labels),
    ] {
        assert_eq!(schema_of(&dir.path().join(file)), want, "{file}");
    }
    // Activity arrays have the contract's fixed lengths.
    for b in batches(&dir.path().join("features.parquet")) {
        let hourly = b
            .column_by_name("hourly_activity")
            .unwrap()
            .as_list::<i32>();
        let daily = b.column_by_name("daily_activity").unwrap().as_list::<i32>();
        assert!((0..b.num_rows()).all(|i| hourly.value(i).len() == 24 && daily.value(i).len() == 7));
    }
}

#[derive(serde::Deserialize)]
struct Meta {
    processing_date: String,
    n_alerts: usize,
    n_addresses: usize,
    n_money_flows: usize,
    n_clusters: usize,
    sha256: BTreeMap<String, String>,
    pattern_traps: Vec<Trap>,
}

#[derive(serde::Deserialize)]
struct Trap {
    alert_ids: Vec<String>,
    expected_result: u8,
}

fn meta(dir: &Path) -> Meta {
    serde_json::from_slice(&std::fs::read(dir.join("META.json")).unwrap()).unwrap()
}

#[test]
fn meta_hashes_counts_and_traps_are_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let config = labelled();
    write_batch(dir.path(), &config, 0).unwrap();
    let m = meta(dir.path());
    assert_eq!(m.processing_date, "2025-10-30");
    assert_eq!(
        m.sha256.keys().cloned().collect::<BTreeSet<_>>(),
        FILES.iter().map(|f| f.to_string()).collect()
    );
    for (file, hash) in &m.sha256 {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        assert_eq!(&hex::encode(Sha256::digest(&bytes)), hash, "{file}");
    }
    let count = |f: &str| {
        batches(&dir.path().join(f))
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>()
    };
    assert_eq!(m.n_alerts, config.n_alerts);
    assert_eq!(count("alerts.parquet"), m.n_alerts);
    assert_eq!(count("features.parquet"), config.n_addresses);
    assert_eq!(count("features.parquet"), m.n_addresses);
    assert_eq!(count("clusters.parquet"), m.n_clusters);
    assert_eq!(count("money_flows.parquet"), m.n_money_flows);
    assert!(
        m.n_money_flows as f64 > 0.9 * config.n_flows as f64
            && m.n_money_flows <= config.n_flows + 1000
    );
    assert!(m.n_clusters > 5);

    let alert_ids: Vec<String> = strings(&dir.path().join("alerts.parquet"), "alert_id");
    let id_set: BTreeSet<&String> = alert_ids.iter().collect();
    assert_eq!(id_set.len(), alert_ids.len(), "alert ids unique");
    assert!(m.pattern_traps.iter().any(|t| t.expected_result == 1));
    assert!(m.pattern_traps.iter().any(|t| t.expected_result == 0));
    for t in &m.pattern_traps {
        assert!(!t.alert_ids.is_empty() && t.alert_ids.iter().all(|id| id_set.contains(id)));
    }

    // Without labels no labels file is written or listed.
    write_batch(dir.path(), &SynthConfig::small(), 0).unwrap();
    assert!(!dir.path().join("address_labels.parquet").exists());
    assert!(!meta(dir.path())
        .sha256
        .contains_key("address_labels.parquet"));
}

/// Truth per alert from the labels file (None when unlabelled), plus severity.
fn labelled_alerts(dir: &Path) -> Vec<(String, Option<bool>, String)> {
    let labels_addr = strings(&dir.join("address_labels.parquet"), "address");
    let labels_risk = strings(&dir.join("address_labels.parquet"), "risk_level");
    let truth: BTreeMap<String, bool> = labels_addr
        .into_iter()
        .zip(labels_risk)
        .map(|(a, r)| (a, r == "high" || r == "critical"))
        .collect();
    let addr = strings(&dir.join("alerts.parquet"), "address");
    let sev = strings(&dir.join("alerts.parquet"), "severity");
    addr.into_iter()
        .zip(sev)
        .map(|(a, s)| (a.clone(), truth.get(&a).copied(), s))
        .collect()
}

fn auc(scored: &[(f64, bool)]) -> f64 {
    let pos = scored.iter().filter(|s| s.1).count() as f64;
    let neg = scored.len() as f64 - pos;
    let mut wins = 0.0;
    for a in scored.iter().filter(|s| s.1) {
        for b in scored.iter().filter(|s| !s.1) {
            wins += if a.0 > b.0 {
                1.0
            } else if a.0 == b.0 {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos * neg)
}

#[test]
fn illicit_rate_coverage_and_partial_severity_signal() {
    let dir = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        n_alerts: 1500,
        n_addresses: 15_000,
        n_flows: 60_000,
        ..labelled()
    };
    write_batch(dir.path(), &config, 0).unwrap();
    let alerts = labelled_alerts(dir.path());
    let labelled: Vec<&(String, Option<bool>, String)> =
        alerts.iter().filter(|a| a.1.is_some()).collect();
    let coverage = labelled.len() as f64 / alerts.len() as f64;
    assert!(
        coverage > 0.75 && coverage < 0.97,
        "label coverage {coverage}"
    );
    let rate = labelled.iter().filter(|a| a.1 == Some(true)).count() as f64 / labelled.len() as f64;
    assert!(
        (0.05..=0.15).contains(&rate),
        "illicit rate among labelled alerts {rate}"
    );
    let rank = |s: &str| {
        ["low", "medium", "high", "critical"]
            .iter()
            .position(|x| *x == s)
            .unwrap() as f64
    };
    let scored: Vec<(f64, bool)> = labelled
        .iter()
        .map(|a| (rank(&a.2), a.1 == Some(true)))
        .collect();
    let severity_auc = auc(&scored);
    assert!(
        severity_auc > 0.55 && severity_auc < 0.8,
        "severity alone should be a weak signal: {severity_auc}"
    );
}

#[test]
fn consecutive_days_share_a_slowly_drifting_world() {
    let dir = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        days: 2,
        ..SynthConfig::small()
    };
    let dirs = write_days(dir.path(), &config).unwrap();
    assert_eq!(
        dirs,
        vec![dir.path().join("2025-10-30"), dir.path().join("2025-10-31")]
    );
    let a: BTreeSet<String> = strings(&dirs[0].join("features.parquet"), "address")
        .into_iter()
        .collect();
    let b: BTreeSet<String> = strings(&dirs[1].join("features.parquet"), "address")
        .into_iter()
        .collect();
    let shared = a.intersection(&b).count() as f64 / a.len() as f64;
    assert!(
        shared > 0.95 && shared < 1.0,
        "shared address share {shared}"
    );
    assert_eq!(meta(&dirs[1]).processing_date, "2025-10-31");
    // Day 1 written alone equals day 1 written as part of the sequence.
    let alone = tempfile::tempdir().unwrap();
    write_batch(alone.path(), &config, 1).unwrap();
    assert_eq!(read_all(alone.path()), read_all(&dirs[1]));
}

#[test]
fn generated_batch_loads_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_batch(dir.path(), &labelled(), 0).unwrap();
    let (batch, report) = aml_core::Batch::load(dir.path()).expect("synthetic batch must load");
    assert_eq!(batch.alerts.len(), 500);
    assert_eq!(batch.features.len(), 5_000);
    assert!(batch.labels.is_some());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}
