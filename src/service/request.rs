//! The JSON body of the scoring routes: `{alerts, features, clusters, money_flows[, meta]}`, each a list of
//! records whose keys are the contract's column names (see `SOT_SCHEMA.md`). Records become aml-core tables
//! and then a [`Batch`] through [`Batch::from_tables`], so the HTTP path validates and orders data exactly
//! like `score_batch` does for a batch directory.
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

fn records<'a>(body: &'a Map<String, Value>, table: &str) -> Result<Vec<Record<'a>>, SchemaError> {
    match body.get(table) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(fields) => Ok(Record {
                    path: format!("{table}[{i}]"),
                    fields,
                }),
                _ => Err(schema_error(format!("{table}[{i}]"), "expected an object")),
            })
            .collect(),
        Some(_) => Err(schema_error(table, "expected a list of records")),
    }
}

fn alerts(rows: &[Record<'_>]) -> Result<Alerts, SchemaError> {
    let mut t = Alerts::default();
    for r in rows {
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
    }
    Ok(t)
}

fn features(rows: &[Record<'_>], extra_columns: &[String]) -> Result<AddressFeatures, SchemaError> {
    let mut t = AddressFeatures::default();
    // Numeric columns: the wanted keys that some record carries, with numbers, booleans, digit strings
    // or null as values; `Batch::from_tables` puts them in aml-core's documented column order. Any other
    // key is ignored, so a body cannot make the server build a column per invented key.
    let names: BTreeSet<&str> = CONTRACT_FEATURE_COLUMNS
        .iter()
        .copied()
        .chain(extra_columns.iter().map(String::as_str))
        .filter(|k| !FEATURE_IDENTIFIER_COLUMNS.contains(k))
        .filter(|k| rows.iter().any(|r| r.fields.contains_key(*k)))
        .collect();
    let mut columns: Vec<NumericColumn> = names
        .iter()
        .map(|name| NumericColumn {
            name: name.to_string(),
            values: Vec::with_capacity(rows.len()),
        })
        .collect();
    for r in rows {
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
        for column in &mut columns {
            column.values.push(r.number(&column.name)?);
        }
    }
    t.numeric = columns;
    Ok(t)
}

fn clusters(rows: &[Record<'_>]) -> Result<Clusters, SchemaError> {
    let mut t = Clusters::default();
    for r in rows {
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
    }
    Ok(t)
}

fn money_flows(rows: &[Record<'_>]) -> Result<MoneyFlows, SchemaError> {
    let mut ends = Vec::with_capacity(rows.len());
    for r in rows {
        ends.push((
            r.text("from_address", "", true)?,
            r.text("to_address", "", true)?,
        ));
    }
    let dictionary: BTreeSet<&str> = ends
        .iter()
        .flat_map(|(f, t)| [f.as_str(), t.as_str()])
        .collect();
    let addresses: Vec<String> = dictionary.iter().map(|s| s.to_string()).collect();
    let id = |a: &str| addresses.partition_point(|p| p.as_str() < a) as u32;
    let mut t = MoneyFlows::default();
    for (r, (from, to)) in rows.iter().zip(&ends) {
        t.from.push(id(from));
        t.to.push(id(to));
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
    }
    t.addresses = addresses;
    Ok(t)
}

/// The batch META for a request: the body's `meta` object when given, else one derived from the records
/// (date and window of the first alert, table sizes, no traps).
fn meta(
    body: &Map<String, Value>,
    alerts: &Alerts,
    counts: [usize; 4],
) -> Result<Meta, SchemaError> {
    if let Some(value) = body.get("meta").filter(|v| !v.is_null()) {
        return serde_json::from_value(value.clone())
            .map_err(|e| schema_error("meta", e.to_string()));
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

/// Turns a parsed request body into a validated, canonically ordered batch. `extra_feature_columns`
/// names the non-contract numeric `features` keys to keep (the bundle's
/// `FeatureSpec::address_columns`); other unknown keys of a record are ignored.
pub fn batch_from_json(
    body: &Value,
    extra_feature_columns: &[String],
) -> Result<Batch, SchemaError> {
    let body = body.as_object().ok_or_else(|| {
        schema_error(
            "body",
            "expected an object {alerts, features, clusters, money_flows}",
        )
    })?;
    if let Some(unknown) = body
        .keys()
        .find(|k| !["alerts", "features", "clusters", "money_flows", "meta"].contains(&k.as_str()))
    {
        return Err(schema_error(unknown.as_str(), "unknown key"));
    }
    let alerts = alerts(&records(body, "alerts")?)?;
    if alerts.is_empty() {
        return Err(schema_error("alerts", "at least one alert is required"));
    }
    let features = features(&records(body, "features")?, extra_feature_columns)?;
    let clusters = clusters(&records(body, "clusters")?)?;
    let money_flows = money_flows(&records(body, "money_flows")?)?;
    let meta = meta(
        body,
        &alerts,
        [
            alerts.len(),
            features.len(),
            clusters.len(),
            money_flows.len(),
        ],
    )?;
    Batch::from_tables(meta, alerts, features, clusters, money_flows, None)
        .map(|(batch, _)| batch)
        .map_err(|e| schema_error("body", e.to_string()))
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
