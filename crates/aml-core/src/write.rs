//! Writing SOT tables and whole batch directories (tests, fixtures, synthetic batches).
//!
//! The writers use lossless contract-compatible types: text as Utf8, `f64` columns as Float64 (NaN written
//! as null, which the readers turn back into NaN), timestamps as UInt64, `window_days` as UInt16 when it fits,
//! `processing_date` as Date32 when every value is a `YYYY-MM-DD` date (Utf8 otherwise), string arrays as
//! `List<Utf8>` and activity arrays as `List<UInt16>`. Bytes are deterministic for the same rows.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder, UInt16Array, UInt16Builder, UInt32Array, UInt64Array,
};
use arrow::datatypes::{Field, Schema};

use crate::batch::{files, Batch};
use crate::error::BatchError;
use crate::meta::Meta;
use crate::tables::{AddressFeatures, AddressLabels, Alerts, Clusters, MoneyFlows};

/// Rows per row group of written tables: several row groups per big file let readers decode in parallel.
const ROW_GROUP_ROWS: usize = 1 << 20;

fn texts(values: &[String]) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn floats(values: &[f64]) -> ArrayRef {
    Arc::new(
        values
            .iter()
            .map(|v| (!v.is_nan()).then_some(*v))
            .collect::<Float64Array>(),
    )
}

fn timestamps(values: &[u64]) -> ArrayRef {
    Arc::new(UInt64Array::from(values.to_vec()))
}

fn windows(values: &[u32]) -> ArrayRef {
    if values.iter().all(|&v| v <= u32::from(u16::MAX)) {
        Arc::new(values.iter().map(|&v| v as u16).collect::<UInt16Array>())
    } else {
        Arc::new(UInt32Array::from(values.to_vec()))
    }
}

/// Days since the Unix epoch of a `YYYY-MM-DD` date, if it is one.
fn epoch_days(text: &str) -> Option<i32> {
    crate::date::Date::parse(text)
        .ok()
        .map(crate::date::Date::days_since_epoch)
}

fn dates(values: &[String]) -> ArrayRef {
    match values
        .iter()
        .map(|v| epoch_days(v))
        .collect::<Option<Vec<i32>>>()
    {
        Some(days) => Arc::new(Date32Array::from(days)),
        None => texts(values),
    }
}

fn text_lists(values: &[Vec<String>]) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for list in values {
        for item in list {
            builder.values().append_value(item);
        }
        builder.append(true);
    }
    Arc::new(builder.finish())
}

fn count_lists(values: &[Vec<u16>]) -> ArrayRef {
    let mut builder = ListBuilder::new(UInt16Builder::new());
    for list in values {
        builder.values().append_slice(list);
        builder.append(true);
    }
    Arc::new(builder.finish())
}

fn encode(file: &str, columns: Vec<(&str, ArrayRef)>) -> Result<Vec<u8>, BatchError> {
    let encode_error = |reason: String| BatchError::Encode {
        file: file.to_string(),
        reason,
    };
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, array)| array).collect(),
    )
    .map_err(|e| encode_error(e.to_string()))?;
    crate::io::encode_parquet(schema, &[batch], ROW_GROUP_ROWS)
        .map_err(|e| encode_error(e.to_string()))
}

/// `alerts.parquet` bytes.
pub fn encode_alerts(alerts: &Alerts) -> Result<Vec<u8>, BatchError> {
    let a = alerts;
    encode(
        files::ALERTS,
        vec![
            ("window_days", windows(&a.window_days)),
            ("processing_date", dates(&a.processing_date)),
            ("alert_id", texts(&a.alert_id)),
            ("address", texts(&a.address)),
            ("typology_type", texts(&a.typology_type)),
            ("pattern_id", texts(&a.pattern_id)),
            ("pattern_type", texts(&a.pattern_type)),
            ("severity", texts(&a.severity)),
            ("suspected_address_type", texts(&a.suspected_address_type)),
            (
                "suspected_address_subtype",
                texts(&a.suspected_address_subtype),
            ),
            ("alert_confidence_score", floats(&a.alert_confidence_score)),
            ("description", texts(&a.description)),
            ("volume_usd", floats(&a.volume_usd)),
            ("evidence_json", texts(&a.evidence_json)),
            ("risk_indicators", text_lists(&a.risk_indicators)),
        ],
    )
}

/// `features.parquet` bytes: identifiers, activity arrays, dominant assets, then every numeric column.
pub fn encode_features(features: &AddressFeatures) -> Result<Vec<u8>, BatchError> {
    let f = features;
    let mut columns = vec![
        ("window_days", windows(&f.window_days)),
        ("processing_date", dates(&f.processing_date)),
        ("address", texts(&f.address)),
        ("hourly_activity", count_lists(&f.hourly_activity)),
        ("daily_activity", count_lists(&f.daily_activity)),
        ("dominant_asset_in", texts(&f.dominant_asset_in)),
        ("dominant_asset_out", texts(&f.dominant_asset_out)),
    ];
    columns.extend(
        f.numeric
            .iter()
            .map(|column| (column.name.as_str(), floats(&column.values))),
    );
    encode(files::FEATURES, columns)
}

/// `clusters.parquet` bytes.
pub fn encode_clusters(clusters: &Clusters) -> Result<Vec<u8>, BatchError> {
    let c = clusters;
    encode(
        files::CLUSTERS,
        vec![
            ("window_days", windows(&c.window_days)),
            ("processing_date", dates(&c.processing_date)),
            ("cluster_id", texts(&c.cluster_id)),
            ("cluster_type", texts(&c.cluster_type)),
            ("primary_address", texts(&c.primary_address)),
            ("pattern_id", texts(&c.pattern_id)),
            ("primary_alert_id", texts(&c.primary_alert_id)),
            ("related_alert_ids", text_lists(&c.related_alert_ids)),
            ("addresses_involved", text_lists(&c.addresses_involved)),
            ("total_alerts", floats(&c.total_alerts)),
            ("total_volume_usd", floats(&c.total_volume_usd)),
            ("severity_max", texts(&c.severity_max)),
            ("confidence_avg", floats(&c.confidence_avg)),
            (
                "earliest_alert_timestamp",
                timestamps(&c.earliest_alert_timestamp),
            ),
            (
                "latest_alert_timestamp",
                timestamps(&c.latest_alert_timestamp),
            ),
        ],
    )
}

/// `money_flows.parquet` bytes. [`MoneyFlows`] does not keep `dominant_asset`, `hourly_pattern` and
/// `weekly_pattern`, so they are written empty (`""` and empty lists) to keep the file contract-complete.
pub fn encode_money_flows(flows: &MoneyFlows) -> Result<Vec<u8>, BatchError> {
    let m = flows;
    let names = |ids: &[u32]| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            ids.iter().map(|&id| m.addresses[id as usize].as_str()),
        ))
    };
    let empty_lists = count_lists(&vec![Vec::new(); m.len()]);
    encode(
        files::MONEY_FLOWS,
        vec![
            ("from_address", names(&m.from)),
            ("to_address", names(&m.to)),
            ("tx_count", floats(&m.tx_count)),
            ("amount_sum", floats(&m.amount_sum)),
            ("amount_usd_sum", floats(&m.amount_usd_sum)),
            ("first_seen_timestamp", timestamps(&m.first_seen_timestamp)),
            ("last_seen_timestamp", timestamps(&m.last_seen_timestamp)),
            ("active_days", floats(&m.active_days)),
            ("avg_tx_size_usd", floats(&m.avg_tx_size_usd)),
            ("unique_assets", floats(&m.unique_assets)),
            ("dominant_asset", texts(&vec![String::new(); m.len()])),
            ("hourly_pattern", empty_lists.clone()),
            ("weekly_pattern", empty_lists),
            ("reciprocity_ratio", floats(&m.reciprocity_ratio)),
            (
                "is_bidirectional",
                Arc::new(BooleanArray::from(m.is_bidirectional.clone())),
            ),
        ],
    )
}

/// `address_labels.parquet` bytes.
pub fn encode_labels(labels: &AddressLabels) -> Result<Vec<u8>, BatchError> {
    let l = labels;
    encode(
        files::ADDRESS_LABELS,
        vec![
            ("network", texts(&l.network)),
            ("address", texts(&l.address)),
            ("label", texts(&l.label)),
            ("address_type", texts(&l.address_type)),
            ("address_subtype", texts(&l.address_subtype)),
            ("trust_level", texts(&l.trust_level)),
            ("source", texts(&l.source)),
            ("risk_level", texts(&l.risk_level)),
            ("confidence_score", floats(&l.confidence_score)),
            ("created_timestamp", timestamps(&l.created_timestamp)),
            ("updated_timestamp", timestamps(&l.updated_timestamp)),
        ],
    )
}

/// Writes a batch directory: every table atomically, then META.json with the row counts and sha256 of the
/// files just written (the other META fields come from `batch.meta`). Returns the written META.
pub fn write_batch(dir: &Path, batch: &Batch) -> Result<Meta, BatchError> {
    std::fs::create_dir_all(dir).map_err(|source| BatchError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut encoded: Vec<(&str, Vec<u8>)> = vec![
        (files::ALERTS, encode_alerts(&batch.alerts)?),
        (files::FEATURES, encode_features(&batch.features)?),
        (files::CLUSTERS, encode_clusters(&batch.clusters)?),
        (files::MONEY_FLOWS, encode_money_flows(&batch.money_flows)?),
    ];
    if let Some(labels) = &batch.labels {
        encoded.push((files::ADDRESS_LABELS, encode_labels(labels)?));
    }
    let mut meta = batch.meta.clone();
    meta.n_alerts = batch.alerts.len() as u64;
    meta.n_addresses = batch.features.len() as u64;
    meta.n_clusters = batch.clusters.len() as u64;
    meta.n_money_flows = batch.money_flows.len() as u64;
    meta.sha256.clear();
    for (name, bytes) in &encoded {
        let path = dir.join(name);
        crate::io::atomic_write(&path, bytes).map_err(|source| BatchError::Io { path, source })?;
        meta.sha256
            .insert(name.to_string(), crate::io::sha256_hex(bytes));
    }
    let meta_path = dir.join(files::META);
    crate::io::atomic_write(&meta_path, &meta.to_json_bytes()).map_err(|source| {
        BatchError::Io {
            path: meta_path,
            source,
        }
    })?;
    Ok(meta)
}
