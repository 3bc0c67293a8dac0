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
use crate::schema::{ColumnRef, Table, TableSchema, FEATURES, MONEY_FLOWS};
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

/// The Arrow array of one column, by the type it is held in.
fn array_of(column: ColumnRef<'_>) -> ArrayRef {
    match column {
        ColumnRef::Texts(values) => texts(values),
        ColumnRef::Dates(values) => dates(values),
        ColumnRef::Numbers(values) => floats(values),
        ColumnRef::Integers(values) => timestamps(values),
        ColumnRef::Windows(values) => windows(values),
        ColumnRef::TextLists(values) => text_lists(values),
        ColumnRef::IntLists(values) => count_lists(values),
        ColumnRef::Flags(values) => Arc::new(BooleanArray::from(values.to_vec())),
    }
}

fn encode(table: &TableSchema, columns: Vec<(&str, ArrayRef)>) -> Result<Vec<u8>, BatchError> {
    let encode_error = |reason: String| BatchError::Encode {
        file: table.file.to_string(),
        reason,
    };
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), table.nullable))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, array)| array).collect(),
    )
    .map_err(|e| encode_error(e.to_string()))?;
    crate::io::encode_parquet(&batch, ROW_GROUP_ROWS).map_err(|e| encode_error(e.to_string()))
}

/// The Parquet bytes of any declared table: every column of `T::SCHEMA`, in order.
pub fn encode_table<T: Table>(table: &T) -> Result<Vec<u8>, BatchError> {
    let columns = T::SCHEMA
        .names()
        .zip(table.columns())
        .map(|(name, column)| (name, array_of(column)))
        .collect();
    encode(T::SCHEMA, columns)
}

/// `alerts.parquet` bytes.
pub fn encode_alerts(alerts: &Alerts) -> Result<Vec<u8>, BatchError> {
    encode_table(alerts)
}

/// `features.parquet` bytes: identifiers, activity arrays, dominant assets, then every numeric column.
pub fn encode_features(features: &AddressFeatures) -> Result<Vec<u8>, BatchError> {
    let mut columns: Vec<(&str, ArrayRef)> = features
        .fixed_columns()
        .into_iter()
        .map(|(name, column)| (name, array_of(column)))
        .collect();
    columns.extend(
        features
            .numeric
            .iter()
            .map(|column| (column.name.as_str(), floats(&column.values))),
    );
    encode(&FEATURES, columns)
}

/// `clusters.parquet` bytes.
pub fn encode_clusters(clusters: &Clusters) -> Result<Vec<u8>, BatchError> {
    encode_table(clusters)
}

/// `money_flows.parquet` bytes, every column of [`MONEY_FLOWS`] in order. [`MoneyFlows`] does not keep
/// `dominant_asset`, `hourly_pattern` and `weekly_pattern`, so they are written empty (`""` and empty
/// lists) to keep the file contract-complete.
pub fn encode_money_flows(flows: &MoneyFlows) -> Result<Vec<u8>, BatchError> {
    let m = flows;
    let names = |ids: &[u32]| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            ids.iter().map(|&id| m.addresses[id as usize].as_str()),
        ))
    };
    let values = m.value_columns();
    let (empty_texts, empty_lists) = (vec![String::new(); m.len()], vec![Vec::new(); m.len()]);
    let columns = MONEY_FLOWS
        .columns
        .iter()
        .map(|spec| {
            let array = match (
                spec.name,
                values.iter().find(|(name, _)| *name == spec.name),
            ) {
                ("from_address", _) => names(&m.from),
                ("to_address", _) => names(&m.to),
                (_, Some((_, column))) => array_of(*column),
                (_, None) if spec.kind == crate::schema::Kind::IntList => count_lists(&empty_lists),
                (_, None) => texts(&empty_texts),
            };
            (spec.name, array)
        })
        .collect();
    encode(&MONEY_FLOWS, columns)
}

/// `address_labels.parquet` bytes.
pub fn encode_labels(labels: &AddressLabels) -> Result<Vec<u8>, BatchError> {
    encode_table(labels)
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
