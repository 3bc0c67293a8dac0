//! The JSON body of the scoring routes: `{alerts, features, clusters, money_flows[, meta]}`, each a list of
//! records whose keys are the contract's column names (see `SOT_SCHEMA.md`). Records become aml-core tables
//! and then a [`Batch`] through [`Batch::from_tables`], so the HTTP path validates and orders data exactly
//! like `score_batch` does for a batch directory. The body is read one record at a time, never held
//! whole as a JSON tree.
//!
//! Parsing never panics; every problem is a [`SchemaError`] naming the field, e.g.
//! `alerts[3].volume_usd: expected a number`.
//!
//! Extra keys inside a record are normal in JSON and are ignored. In `features` records only the
//! identifier columns, the contract's numeric columns ([`CONTRACT_FEATURE_COLUMNS`]) and the extra
//! columns the caller names (the bundle's `FeatureSpec::address_columns`) become columns, so the parsed
//! tables hold at most `rows x (contract + extra)` numbers whatever keys a body invents.

use std::collections::{BTreeMap, BTreeSet};

use aml_core::meta::Meta;
use aml_core::tables::{
    AddressFeatures, Alerts, Clusters, MoneyFlows, NumericColumn, CONTRACT_FEATURE_COLUMNS,
    FEATURE_IDENTIFIER_COLUMNS,
};
use aml_core::Batch;
use serde_json::{Map, Value};

/// A body that is valid JSON but does not follow the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct SchemaError {
    /// Path of the offending field, e.g. `alerts[3].alert_id`.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

fn schema_error(field: impl Into<String>, reason: impl Into<String>) -> SchemaError {
    SchemaError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// One record being read, with its path for error messages.
struct Record<'a> {
    path: String,
    fields: &'a Map<String, Value>,
}

impl Record<'_> {
    fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn text(&self, key: &str, default: &str, required: bool) -> Result<String, SchemaError> {
        match self.fields.get(key) {
            Some(Value::String(text)) => Ok(text.clone()),
            None | Some(Value::Null) if !required => Ok(default.to_string()),
            None | Some(Value::Null) => Err(schema_error(self.field(key), "required")),
            Some(Value::Number(n)) if !required => Ok(n.to_string()),
            Some(_) => Err(schema_error(self.field(key), "expected a string")),
        }
    }

    fn number(&self, key: &str) -> Result<f64, SchemaError> {
        number_value(self.fields.get(key)).map_err(|reason| schema_error(self.field(key), reason))
    }

    fn unsigned(&self, key: &str) -> Result<u64, SchemaError> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(0),
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| schema_error(self.field(key), "expected a non-negative integer")),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map_err(|_| schema_error(self.field(key), "expected a non-negative integer")),
            Some(_) => Err(schema_error(
                self.field(key),
                "expected a non-negative integer",
            )),
        }
    }

    fn u32(&self, key: &str) -> Result<u32, SchemaError> {
        u32::try_from(self.unsigned(key)?)
            .map_err(|_| schema_error(self.field(key), "out of range for UInt32"))
    }

    fn texts(&self, key: &str) -> Result<Vec<String>, SchemaError> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(schema_error(
                        format!("{}[{i}]", self.field(key)),
                        "expected a string",
                    )),
                })
                .collect(),
            Some(_) => Err(schema_error(self.field(key), "expected a list of strings")),
        }
    }

    fn u16s(&self, key: &str) -> Result<Vec<u16>, SchemaError> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.as_u64()
                        .and_then(|v| u16::try_from(v).ok())
                        .ok_or_else(|| {
                            schema_error(format!("{}[{i}]", self.field(key)), "expected a UInt16")
                        })
                })
                .collect(),
            Some(_) => Err(schema_error(self.field(key), "expected a list of integers")),
        }
    }

    fn flag(&self, key: &str) -> Result<bool, SchemaError> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Number(n)) if n.as_f64() == Some(0.0) || n.as_f64() == Some(1.0) => {
                Ok(n.as_f64() == Some(1.0))
            }
            Some(_) => Err(schema_error(self.field(key), "expected a boolean")),
        }
    }
}

/// A JSON value as a contract number: numbers, booleans (0/1), digit strings (Decimal exports); null or
/// absent is NaN.
fn number_value(value: Option<&Value>) -> Result<f64, &'static str> {
    match value {
        None | Some(Value::Null) => Ok(f64::NAN),
        Some(Value::Number(n)) => n.as_f64().ok_or("expected a number"),
        Some(Value::Bool(b)) => Ok(f64::from(u8::from(*b))),
        Some(Value::String(s)) => s.trim().parse::<f64>().map_err(|_| "expected a number"),
        Some(_) => Err("expected a number"),
    }
}

/// Appends one `alerts` record.
fn push_alert(t: &mut Alerts, r: &Record<'_>) -> Result<(), SchemaError> {
    t.window_days.push(r.u32("window_days")?);
    t.processing_date
        .push(r.text("processing_date", "", false)?);
    t.alert_id.push(r.text("alert_id", "", true)?);
    t.address.push(r.text("address", "", true)?);
    t.typology_type.push(r.text("typology_type", "", false)?);
    t.pattern_id.push(r.text("pattern_id", "", false)?);
    t.pattern_type.push(r.text("pattern_type", "", false)?);
    t.severity.push(r.text("severity", "medium", false)?);
    t.suspected_address_type
        .push(r.text("suspected_address_type", "unknown", false)?);
    t.suspected_address_subtype
        .push(r.text("suspected_address_subtype", "", false)?);
    t.alert_confidence_score
        .push(r.number("alert_confidence_score")?);
    t.description.push(r.text("description", "", false)?);
    t.volume_usd.push(r.number("volume_usd")?);
    t.evidence_json.push(r.text("evidence_json", "", false)?);
    t.risk_indicators.push(r.texts("risk_indicators")?);
    Ok(())
}

/// `features` records being read. Numeric columns: the wanted keys (the contract's and the caller's
/// extra columns) that some record carries, with numbers, booleans, digit strings or null as values; a
/// column first seen at row `n` gets NaN for rows before it. Any other key is ignored, so a body cannot
/// make the server build a column per invented key. `Batch::from_tables` puts the columns in aml-core's
/// documented order.
struct FeatureRows<'c> {
    table: AddressFeatures,
    wanted: BTreeSet<&'c str>,
    columns: BTreeMap<&'c str, Vec<f64>>,
}

impl<'c> FeatureRows<'c> {
    fn new(extra_columns: &'c [String]) -> FeatureRows<'c> {
        let wanted = CONTRACT_FEATURE_COLUMNS
            .iter()
            .copied()
            .chain(extra_columns.iter().map(String::as_str))
            .filter(|k| !FEATURE_IDENTIFIER_COLUMNS.contains(k))
            .collect();
        FeatureRows {
            table: AddressFeatures::default(),
            wanted,
            columns: BTreeMap::new(),
        }
    }

    fn push(&mut self, r: &Record<'_>) -> Result<(), SchemaError> {
        let t = &mut self.table;
        let rows_before = t.address.len();
        t.window_days.push(r.u32("window_days")?);
        t.processing_date
            .push(r.text("processing_date", "", false)?);
        t.address.push(r.text("address", "", true)?);
        t.hourly_activity.push(r.u16s("hourly_activity")?);
        t.daily_activity.push(r.u16s("daily_activity")?);
        t.dominant_asset_in
            .push(r.text("dominant_asset_in", "", false)?);
        t.dominant_asset_out
            .push(r.text("dominant_asset_out", "", false)?);
        for key in r.fields.keys() {
            if let Some(&name) = self.wanted.get(key.as_str()) {
                self.columns
                    .entry(name)
                    .or_insert_with(|| vec![f64::NAN; rows_before]);
            }
        }
        for (name, values) in &mut self.columns {
            values.push(r.number(name)?);
        }
        Ok(())
    }

    fn finish(self) -> AddressFeatures {
        let mut t = self.table;
        t.numeric = self
            .columns
            .into_iter()
            .map(|(name, values)| NumericColumn {
                name: name.to_string(),
                values,
            })
            .collect();
        t
    }
}

/// Appends one `clusters` record.
fn push_cluster(t: &mut Clusters, r: &Record<'_>) -> Result<(), SchemaError> {
    t.window_days.push(r.u32("window_days")?);
    t.processing_date
        .push(r.text("processing_date", "", false)?);
    t.cluster_id.push(r.text("cluster_id", "", true)?);
    t.cluster_type.push(r.text("cluster_type", "", false)?);
    t.primary_address
        .push(r.text("primary_address", "", false)?);
    t.pattern_id.push(r.text("pattern_id", "", false)?);
    t.primary_alert_id
        .push(r.text("primary_alert_id", "", false)?);
    t.related_alert_ids.push(r.texts("related_alert_ids")?);
    t.addresses_involved.push(r.texts("addresses_involved")?);
    t.total_alerts.push(r.number("total_alerts")?);
    t.total_volume_usd.push(r.number("total_volume_usd")?);
    t.severity_max
        .push(r.text("severity_max", "medium", false)?);
    t.confidence_avg.push(r.number("confidence_avg")?);
    t.earliest_alert_timestamp
        .push(r.unsigned("earliest_alert_timestamp")?);
    t.latest_alert_timestamp
        .push(r.unsigned("latest_alert_timestamp")?);
    Ok(())
}

/// `money_flows` records being read: the columns, and each row's two addresses until the address
/// dictionary is built at the end.
#[derive(Default)]
struct FlowRows {
    table: MoneyFlows,
    ends: Vec<(String, String)>,
}

impl FlowRows {
    fn push(&mut self, r: &Record<'_>) -> Result<(), SchemaError> {
        self.ends.push((
            r.text("from_address", "", true)?,
            r.text("to_address", "", true)?,
        ));
        let t = &mut self.table;
        t.tx_count.push(r.number("tx_count")?);
        t.amount_sum.push(r.number("amount_sum")?);
        t.amount_usd_sum.push(r.number("amount_usd_sum")?);
        t.first_seen_timestamp
            .push(r.unsigned("first_seen_timestamp")?);
        t.last_seen_timestamp
            .push(r.unsigned("last_seen_timestamp")?);
        t.active_days.push(r.number("active_days")?);
        t.avg_tx_size_usd.push(r.number("avg_tx_size_usd")?);
        t.unique_assets.push(r.number("unique_assets")?);
        t.reciprocity_ratio.push(r.number("reciprocity_ratio")?);
        t.is_bidirectional.push(r.flag("is_bidirectional")?);
        Ok(())
    }

    fn finish(self) -> MoneyFlows {
        let dictionary: BTreeSet<&str> = self
            .ends
            .iter()
            .flat_map(|(f, t)| [f.as_str(), t.as_str()])
            .collect();
        let addresses: Vec<String> = dictionary.iter().map(|s| s.to_string()).collect();
        let id = |a: &str| addresses.partition_point(|p| p.as_str() < a) as u32;
        let mut t = self.table;
        for (from, to) in &self.ends {
            t.from.push(id(from));
            t.to.push(id(to));
        }
        t.addresses = addresses;
        t
    }
}

/// The batch META for a request: the body's `meta` object when given, else one derived from the records
/// (date and window of the first alert, table sizes, no traps).
fn meta(meta: Option<Value>, alerts: &Alerts, counts: [usize; 4]) -> Result<Meta, SchemaError> {
    if let Some(value) = meta.filter(|v| !v.is_null()) {
        return serde_json::from_value(value).map_err(|e| schema_error("meta", e.to_string()));
    }
    let date = alerts.processing_date.first().cloned().unwrap_or_default();
    Ok(Meta {
        batch_id: format!("api-{date}"),
        network: String::new(),
        processing_date: date,
        window_days: alerts.window_days.first().copied().unwrap_or(0),
        schema_version: "1".to_string(),
        n_alerts: counts[0] as u64,
        n_addresses: counts[1] as u64,
        n_clusters: counts[2] as u64,
        n_money_flows: counts[3] as u64,
        sha256: BTreeMap::new(),
        pattern_traps: Vec::new(),
    })
}

/// Why a scoring body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Not JSON (HTTP 400).
    #[error("{0}")]
    Malformed(serde_json::Error),
    /// JSON that does not follow the contract (HTTP 422).
    #[error(transparent)]
    Schema(#[from] SchemaError),
}

/// The tables of a body being read record by record.
struct Tables<'c> {
    alerts: Alerts,
    features: FeatureRows<'c>,
    clusters: Clusters,
    money_flows: FlowRows,
    meta: Option<Value>,
    seen: Vec<String>,
    /// The top-level key being read, for type errors of serde.
    context: &'static str,
    /// The contract error that stopped reading.
    error: Option<SchemaError>,
}

const TABLES: [&str; 4] = ["alerts", "features", "clusters", "money_flows"];

impl Tables<'_> {
    /// Records `error` and returns a deserializer error that stops reading.
    fn fail<E: serde::de::Error>(&mut self, error: SchemaError) -> E {
        let message = error.to_string();
        self.error = Some(error);
        E::custom(message)
    }

    fn push(&mut self, table: &str, r: &Record<'_>) -> Result<(), SchemaError> {
        match table {
            "alerts" => push_alert(&mut self.alerts, r),
            "features" => self.features.push(r),
            "clusters" => push_cluster(&mut self.clusters, r),
            _ => self.money_flows.push(r),
        }
    }
}

/// The top-level object: each table is read one record at a time (a record is a small JSON object,
/// dropped once its values are in the columns), so the whole body is never held as a JSON tree.
struct BodyVisitor<'t, 'c>(&'t mut Tables<'c>);

impl<'de> serde::de::Visitor<'de> for BodyVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object {alerts, features, clusters, money_flows}")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if self.0.seen.contains(&key) {
                return Err(self.0.fail(schema_error(key, "duplicate key")));
            }
            if key == "meta" {
                self.0.meta = Some(map.next_value()?);
            } else if let Some(table) = TABLES.iter().find(|t| **t == key) {
                self.0.context = table;
                map.next_value_seed(TableSeed(&mut *self.0, table))?;
                self.0.context = "body";
            } else {
                return Err(self.0.fail(schema_error(key, "unknown key")));
            }
            self.0.seen.push(key);
        }
        Ok(())
    }
}

/// One table: null, or a list of records.
struct TableSeed<'t, 'c>(&'t mut Tables<'c>, &'static str);

impl<'de> serde::de::DeserializeSeed<'de> for TableSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TableSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of records")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (tables, table) = (self.0, self.1);
        let mut i = 0usize;
        while let Some(item) = seq.next_element::<Value>()? {
            let path = format!("{table}[{i}]");
            let pushed = match &item {
                Value::Object(fields) => tables.push(table, &Record { path, fields }),
                _ => Err(schema_error(path, "expected an object")),
            };
            if let Err(e) = pushed {
                return Err(tables.fail(e));
            }
            i += 1;
        }
        Ok(())
    }
}

/// Reads a scoring body into a validated, canonically ordered batch, one record at a time.
/// `extra_feature_columns` names the non-contract numeric `features` keys to keep (the bundle's
/// `FeatureSpec::address_columns`); other unknown keys of a record are ignored.
pub fn batch_from_json(bytes: &[u8], extra_feature_columns: &[String]) -> Result<Batch, BodyError> {
    let mut tables = Tables {
        alerts: Alerts::default(),
        features: FeatureRows::new(extra_feature_columns),
        clusters: Clusters::default(),
        money_flows: FlowRows::default(),
        meta: None,
        seen: Vec::new(),
        context: "body",
        error: None,
    };
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let read = serde::Deserializer::deserialize_map(&mut reader, BodyVisitor(&mut tables))
        .and_then(|()| reader.end());
    if let Err(e) = read {
        return Err(match tables.error.take() {
            Some(schema) => schema.into(),
            None if e.classify() == serde_json::error::Category::Data => {
                schema_error(tables.context, e.to_string()).into()
            }
            None => BodyError::Malformed(e),
        });
    }
    let alerts = tables.alerts;
    if alerts.is_empty() {
        return Err(schema_error("alerts", "at least one alert is required").into());
    }
    let features = tables.features.finish();
    let money_flows = tables.money_flows.finish();
    let counts = [
        alerts.len(),
        features.len(),
        tables.clusters.len(),
        money_flows.len(),
    ];
    let meta = meta(tables.meta, &alerts, counts)?;
    Batch::from_tables(meta, alerts, features, tables.clusters, money_flows, None)
        .map(|(batch, _)| batch)
        .map_err(|e| schema_error("body", e.to_string()).into())
}

fn finite_or_null(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// The request body for `batch` (the inverse of [`batch_from_json`]; NaN becomes `null`). Used by tests,
/// the load generator and clients that hold a batch in memory.
pub fn batch_to_json(batch: &Batch) -> Value {
    let a = &batch.alerts;
    let alerts: Vec<Value> = (0..a.len())
        .map(|i| {
            serde_json::json!({
                "window_days": a.window_days[i], "processing_date": a.processing_date[i],
                "alert_id": a.alert_id[i], "address": a.address[i], "typology_type": a.typology_type[i],
                "pattern_id": a.pattern_id[i], "pattern_type": a.pattern_type[i], "severity": a.severity[i],
                "suspected_address_type": a.suspected_address_type[i],
                "suspected_address_subtype": a.suspected_address_subtype[i],
                "alert_confidence_score": finite_or_null(a.alert_confidence_score[i]),
                "description": a.description[i], "volume_usd": finite_or_null(a.volume_usd[i]),
                "evidence_json": a.evidence_json[i], "risk_indicators": a.risk_indicators[i],
            })
        })
        .collect();
    let f = &batch.features;
    let features: Vec<Value> = (0..f.len())
        .map(|i| {
            let mut record = serde_json::json!({
                "window_days": f.window_days[i], "processing_date": f.processing_date[i],
                "address": f.address[i], "hourly_activity": f.hourly_activity[i],
                "daily_activity": f.daily_activity[i], "dominant_asset_in": f.dominant_asset_in[i],
                "dominant_asset_out": f.dominant_asset_out[i],
            });
            if let Value::Object(map) = &mut record {
                for column in &f.numeric {
                    map.insert(column.name.clone(), finite_or_null(column.values[i]));
                }
            }
            record
        })
        .collect();
    let c = &batch.clusters;
    let clusters: Vec<Value> = (0..c.len())
        .map(|i| {
            serde_json::json!({
                "window_days": c.window_days[i], "processing_date": c.processing_date[i],
                "cluster_id": c.cluster_id[i], "cluster_type": c.cluster_type[i],
                "primary_address": c.primary_address[i], "pattern_id": c.pattern_id[i],
                "primary_alert_id": c.primary_alert_id[i], "related_alert_ids": c.related_alert_ids[i],
                "addresses_involved": c.addresses_involved[i],
                "total_alerts": finite_or_null(c.total_alerts[i]),
                "total_volume_usd": finite_or_null(c.total_volume_usd[i]),
                "severity_max": c.severity_max[i], "confidence_avg": finite_or_null(c.confidence_avg[i]),
                "earliest_alert_timestamp": c.earliest_alert_timestamp[i],
                "latest_alert_timestamp": c.latest_alert_timestamp[i],
            })
        })
        .collect();
    let m = &batch.money_flows;
    let money_flows: Vec<Value> = (0..m.len())
        .map(|i| {
            serde_json::json!({
                "from_address": m.addresses[m.from[i] as usize], "to_address": m.addresses[m.to[i] as usize],
                "tx_count": finite_or_null(m.tx_count[i]), "amount_sum": finite_or_null(m.amount_sum[i]),
                "amount_usd_sum": finite_or_null(m.amount_usd_sum[i]),
                "first_seen_timestamp": m.first_seen_timestamp[i], "last_seen_timestamp": m.last_seen_timestamp[i],
                "active_days": finite_or_null(m.active_days[i]),
                "avg_tx_size_usd": finite_or_null(m.avg_tx_size_usd[i]),
                "unique_assets": finite_or_null(m.unique_assets[i]),
                "reciprocity_ratio": finite_or_null(m.reciprocity_ratio[i]),
                "is_bidirectional": m.is_bidirectional[i],
            })
        })
        .collect();
    serde_json::json!({
        "meta": batch.meta, "alerts": alerts, "features": features, "clusters": clusters,
        "money_flows": money_flows,
    })
}
