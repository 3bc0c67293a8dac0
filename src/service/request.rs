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
use aml_core::schema::{ColumnMut, ColumnRef, ColumnSpec, Table, FEATURES, MONEY_FLOWS};
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

impl Record<'_> {
    /// Appends the value of the column `spec` to `column`, read by the column's kind: identifiers are
    /// required, a missing text takes the declared default, a missing number is NaN (0 for integers).
    fn push(&self, spec: &ColumnSpec, column: ColumnMut<'_>) -> Result<(), SchemaError> {
        let key = spec.name;
        match column {
            ColumnMut::Texts(values) | ColumnMut::Dates(values) => {
                values.push(self.text(key, spec.default, spec.identifier)?)
            }
            ColumnMut::Numbers(values) => values.push(self.number(key)?),
            ColumnMut::Integers(values) => values.push(self.unsigned(key)?),
            ColumnMut::Windows(values) => values.push(self.u32(key)?),
            ColumnMut::TextLists(values) => values.push(self.texts(key)?),
            ColumnMut::IntLists(values) => values.push(self.u16s(key)?),
            ColumnMut::Flags(values) => values.push(self.flag(key)?),
        }
        Ok(())
    }
}

/// The declaration of the column `name` of `table` (every name passed here is declared).
fn spec(
    table: &aml_core::schema::TableSchema,
    name: &str,
) -> Result<&'static ColumnSpec, SchemaError> {
    table
        .column(name)
        .ok_or_else(|| schema_error(name, format!("not a column of {}", table.file)))
}

/// Appends one record of a declared table, column by column in schema order.
fn push_record<T: Table>(t: &mut T, r: &Record<'_>) -> Result<(), SchemaError> {
    for (spec, column) in T::SCHEMA.columns.iter().zip(t.columns_mut()) {
        r.push(spec, column)?;
    }
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
        for (name, column) in t.fixed_columns_mut() {
            r.push(spec(&FEATURES, name)?, column)?;
        }
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

/// `money_flows` records being read: the columns, and each row's two addresses until the address
/// dictionary is built at the end.
#[derive(Default)]
struct FlowRows {
    table: MoneyFlows,
    ends: Vec<(String, String)>,
}

impl FlowRows {
    fn push(&mut self, r: &Record<'_>) -> Result<(), SchemaError> {
        let (from, to) = (
            spec(&MONEY_FLOWS, "from_address")?,
            spec(&MONEY_FLOWS, "to_address")?,
        );
        self.ends.push((
            r.text(from.name, from.default, from.identifier)?,
            r.text(to.name, to.default, to.identifier)?,
        ));
        for (name, column) in self.table.value_columns_mut() {
            r.push(spec(&MONEY_FLOWS, name)?, column)?;
        }
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
            "alerts" => push_record(&mut self.alerts, r),
            "features" => self.features.push(r),
            "clusters" => push_record(&mut self.clusters, r),
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

/// Row `i` of `column` as a JSON value (NaN becomes `null`).
fn cell_json(column: &ColumnRef<'_>, i: usize) -> Value {
    match column {
        ColumnRef::Texts(values) | ColumnRef::Dates(values) => Value::from(values[i].as_str()),
        ColumnRef::Numbers(values) => finite_or_null(values[i]),
        ColumnRef::Integers(values) => Value::from(values[i]),
        ColumnRef::Windows(values) => Value::from(values[i]),
        ColumnRef::TextLists(values) => Value::from(values[i].clone()),
        ColumnRef::IntLists(values) => Value::from(values[i].clone()),
        ColumnRef::Flags(values) => Value::from(values[i]),
    }
}

/// The records of `rows` rows of named columns, keys in column order.
fn records<'a>(rows: usize, columns: &[(&'a str, ColumnRef<'a>)]) -> Vec<Map<String, Value>> {
    (0..rows)
        .map(|i| {
            columns
                .iter()
                .map(|(name, column)| (name.to_string(), cell_json(column, i)))
                .collect()
        })
        .collect()
}

/// The records of a declared table.
fn table_records<T: Table>(table: &T, rows: usize) -> Vec<Value> {
    let columns: Vec<(&str, ColumnRef<'_>)> = T::SCHEMA.names().zip(table.columns()).collect();
    records(rows, &columns)
        .into_iter()
        .map(Value::Object)
        .collect()
}

/// The request body for `batch` (the inverse of [`batch_from_json`]; NaN becomes `null`). Used by tests,
/// the load generator and clients that hold a batch in memory.
pub fn batch_to_json(batch: &Batch) -> Value {
    let alerts = table_records(&batch.alerts, batch.alerts.len());
    let f = &batch.features;
    let features: Vec<Value> = records(f.len(), &f.fixed_columns())
        .into_iter()
        .enumerate()
        .map(|(i, mut record)| {
            for column in &f.numeric {
                record.insert(column.name.clone(), finite_or_null(column.values[i]));
            }
            Value::Object(record)
        })
        .collect();
    let clusters = table_records(&batch.clusters, batch.clusters.len());
    let m = &batch.money_flows;
    let names = |ids: &[u32]| -> Vec<String> {
        ids.iter()
            .map(|&id| m.addresses[id as usize].clone())
            .collect()
    };
    let (from, to) = (names(&m.from), names(&m.to));
    let mut flow_columns = vec![
        ("from_address", ColumnRef::Texts(&from)),
        ("to_address", ColumnRef::Texts(&to)),
    ];
    flow_columns.extend(m.value_columns());
    let money_flows: Vec<Value> = records(m.len(), &flow_columns)
        .into_iter()
        .map(Value::Object)
        .collect();
    serde_json::json!({
        "meta": batch.meta, "alerts": alerts, "features": features, "clusters": clusters,
        "money_flows": money_flows,
    })
}
