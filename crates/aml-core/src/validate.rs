//! Value rules shared by [`crate::batch::Batch::load`] and [`crate::batch::Batch::from_tables`].
//!
//! Checks run on tables in file (caller) order, so the row in an error is the row the producer wrote.

use crate::batch::files;
use crate::error::BatchError;
use crate::meta::Meta;
use crate::schema::{ColumnRef, Table};
use crate::tables::{
    AddressFeatures, AddressLabels, Alerts, Clusters, MoneyFlows, NumericColumn,
    CONTRACT_FEATURE_COLUMNS, SCORING_FLOW_COLUMNS,
};

/// Feature columns that are counts or gross volumes: a negative value means a broken exporter.
/// `NaN` (null) is allowed in features, since the features table is nullable by design.
const NON_NEGATIVE_FEATURES: &[&str] = &[
    "degree_in",
    "degree_out",
    "degree_total",
    "unique_counterparties",
    "total_in_usd",
    "total_out_usd",
    "total_volume_usd",
    "tx_in_count",
    "tx_out_count",
    "tx_total_count",
];

fn check_len(file: &str, column: &str, expected: usize, found: usize) -> Result<(), BatchError> {
    if expected == found {
        Ok(())
    } else {
        Err(BatchError::LengthMismatch {
            file: file.to_string(),
            column: column.to_string(),
            expected,
            found,
        })
    }
}

fn invalid(file: &str, column: &str, row: usize, value: String, reason: &str) -> BatchError {
    BatchError::InvalidValue(crate::error::InvalidValue {
        file: file.to_string(),
        column: column.to_string(),
        row,
        value,
        reason: reason.to_string(),
    })
}

/// Required identifiers must not be empty (an empty alert_id cannot be scored or joined).
fn non_empty(file: &str, column: &str, values: &[String]) -> Result<(), BatchError> {
    match values.iter().position(|value| value.is_empty()) {
        Some(row) => Err(invalid(
            file,
            column,
            row,
            "\"\"".into(),
            "empty identifier",
        )),
        None => Ok(()),
    }
}

/// Values must be finite and `>= 0`.
fn non_negative(file: &str, column: &str, values: &[f64]) -> Result<(), BatchError> {
    match values
        .iter()
        .position(|value| !(value.is_finite() && *value >= 0.0))
    {
        Some(row) => Err(invalid(
            file,
            column,
            row,
            values[row].to_string(),
            "must be finite and >= 0",
        )),
        None => Ok(()),
    }
}

/// Values must lie in `[0, 1]` (NaN fails).
fn probability(file: &str, column: &str, values: &[f64]) -> Result<(), BatchError> {
    match values.iter().position(|value| !(0.0..=1.0).contains(value)) {
        Some(row) => Err(invalid(
            file,
            column,
            row,
            values[row].to_string(),
            "must be in [0, 1]",
        )),
        None => Ok(()),
    }
}

/// Every column of `columns` has the length of the first, else the error names the first that differs.
fn aligned<'a>(
    file: &str,
    columns: impl IntoIterator<Item = (&'a str, usize)>,
) -> Result<(), BatchError> {
    let mut columns = columns.into_iter();
    let Some((_, expected)) = columns.next() else {
        return Ok(());
    };
    columns.try_for_each(|(column, found)| check_len(file, column, expected, found))
}

/// A declared table: every column as long as its first identifier column, and every identifier
/// column free of empty values.
fn declared_shape<T: Table>(table: &T) -> Result<(), BatchError> {
    let schema = T::SCHEMA;
    let columns: Vec<(&crate::schema::ColumnSpec, ColumnRef<'_>)> =
        schema.columns.iter().zip(table.columns()).collect();
    let key = columns
        .iter()
        .position(|(spec, _)| spec.identifier)
        .unwrap_or(0);
    let lengths = columns
        .iter()
        .map(|(spec, column)| (spec.name, column.len()));
    aligned(
        schema.file,
        lengths.clone().skip(key).take(1).chain(lengths),
    )?;
    for (spec, column) in &columns {
        if let (true, ColumnRef::Texts(values)) = (spec.identifier, column) {
            non_empty(schema.file, spec.name, values)?;
        }
    }
    Ok(())
}

/// The batch as a whole: META's `processing_date` is a date and every alert row carries it, and
/// every table has the row count META declares.
pub(crate) fn batch_shape(
    meta: &Meta,
    alerts: &Alerts,
    features: &AddressFeatures,
    clusters: &Clusters,
    flows: &MoneyFlows,
) -> Result<(), BatchError> {
    meta.date()?;
    let date = &meta.processing_date;
    if let Some(row) = alerts.processing_date.iter().position(|d| d != date) {
        return Err(invalid(
            files::ALERTS,
            "processing_date",
            row,
            format!("{:?}", alerts.processing_date[row]),
            &format!("differs from META.json processing_date {date}"),
        ));
    }
    let counts = [
        (files::ALERTS, "n_alerts", meta.n_alerts, alerts.len()),
        (
            files::FEATURES,
            "n_addresses",
            meta.n_addresses,
            features.len(),
        ),
        (
            files::CLUSTERS,
            "n_clusters",
            meta.n_clusters,
            clusters.len(),
        ),
        (
            files::MONEY_FLOWS,
            "n_money_flows",
            meta.n_money_flows,
            flows.len(),
        ),
    ];
    for (file, key, declared, actual) in counts {
        if declared != actual as u64 {
            return Err(BatchError::CountMismatch {
                file: file.to_string(),
                key: key.to_string(),
                meta: declared,
                actual: actual as u64,
            });
        }
    }
    Ok(())
}

/// Alerts: aligned columns, non-empty keys, confidence in [0,1], non-negative volume.
pub(crate) fn alerts(alerts: &Alerts) -> Result<(), BatchError> {
    let file = files::ALERTS;
    declared_shape(alerts)?;
    probability(
        file,
        "alert_confidence_score",
        &alerts.alert_confidence_score,
    )?;
    non_negative(file, "volume_usd", &alerts.volume_usd)
}

/// Features: aligned columns, non-empty addresses, unique column names, counts not negative.
pub(crate) fn features(features: &AddressFeatures) -> Result<(), BatchError> {
    let file = files::FEATURES;
    let fixed = features
        .fixed_columns()
        .map(|(name, column)| (name, column.len()));
    aligned(file, [("address", features.len())].into_iter().chain(fixed))?;
    non_empty(file, "address", &features.address)?;
    let mut names: Vec<&str> = features
        .numeric
        .iter()
        .map(|column| column.name.as_str())
        .collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(BatchError::DuplicateKey {
            file: file.to_string(),
            column: "numeric column name".to_string(),
            key: pair[0].to_string(),
            row: 0,
        });
    }
    for column in &features.numeric {
        check_len(file, &column.name, features.len(), column.values.len())?;
        if NON_NEGATIVE_FEATURES.contains(&column.name.as_str()) {
            let bad = column
                .values
                .iter()
                .position(|value| *value < 0.0 || value.is_infinite());
            if let Some(row) = bad {
                let value = column.values[row].to_string();
                return Err(invalid(
                    file,
                    &column.name,
                    row,
                    value,
                    "count/volume must be >= 0",
                ));
            }
        }
    }
    Ok(())
}

/// Clusters: aligned columns, non-empty ids, non-negative counts and volumes, confidence in [0,1].
pub(crate) fn clusters(clusters: &Clusters) -> Result<(), BatchError> {
    let file = files::CLUSTERS;
    declared_shape(clusters)?;
    non_negative(file, "total_alerts", &clusters.total_alerts)?;
    non_negative(file, "total_volume_usd", &clusters.total_volume_usd)?;
    probability(file, "confidence_avg", &clusters.confidence_avg)
}

/// Money flows: aligned columns, ids inside the dictionary, non-negative counts and volumes.
pub(crate) fn money_flows(flows: &MoneyFlows) -> Result<(), BatchError> {
    let file = files::MONEY_FLOWS;
    let scoring = flows
        .value_columns()
        .into_iter()
        .filter(|(name, _)| SCORING_FLOW_COLUMNS.contains(name))
        .map(|(name, column)| (name, column.len()));
    aligned(
        file,
        [("from", flows.from.len()), ("to", flows.to.len())]
            .into_iter()
            .chain(scoring),
    )?;
    // The other value columns are either aligned or not loaded at all (`FlowColumns::Scoring`).
    let n = flows.from.len();
    for (column, len) in flows.optional_column_lengths() {
        if len != 0 || n == 0 {
            check_len(file, column, n, len)?;
        }
    }
    for (column, ids) in [("from_address", &flows.from), ("to_address", &flows.to)] {
        if let Some(row) = ids
            .iter()
            .position(|&id| id as usize >= flows.addresses.len())
        {
            return Err(invalid(
                file,
                column,
                row,
                ids[row].to_string(),
                "address id outside the dictionary",
            ));
        }
    }
    non_empty(file, "address dictionary", &flows.addresses)?;
    non_negative(file, "tx_count", &flows.tx_count)?;
    non_negative(file, "amount_sum", &flows.amount_sum)?;
    non_negative(file, "amount_usd_sum", &flows.amount_usd_sum)?;
    non_negative(file, "active_days", &flows.active_days)?;
    non_negative(file, "avg_tx_size_usd", &flows.avg_tx_size_usd)?;
    non_negative(file, "unique_assets", &flows.unique_assets)
}

/// Labels: aligned columns, non-empty addresses, confidence in [0,1].
pub(crate) fn labels(labels: &AddressLabels) -> Result<(), BatchError> {
    let file = files::ADDRESS_LABELS;
    declared_shape(labels)?;
    probability(file, "confidence_score", &labels.confidence_score)
}

/// Puts numeric feature columns in the documented order: contract columns in contract order, then extras by name.
pub(crate) fn order_numeric_columns(columns: &mut [NumericColumn]) {
    columns.sort_by(|a, b| {
        let rank = |name: &str| {
            CONTRACT_FEATURE_COLUMNS
                .iter()
                .position(|contract| *contract == name)
                .unwrap_or(CONTRACT_FEATURE_COLUMNS.len())
        };
        rank(&a.name)
            .cmp(&rank(&b.name))
            .then_with(|| a.name.cmp(&b.name))
    });
}
