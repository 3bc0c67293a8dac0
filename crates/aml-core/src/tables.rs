//! Columnar, in-memory forms of the five SOT tables.
//!
//! Every table is a struct of parallel `Vec`s: row `i` of every field is one record. Columnar storage keeps a
//! 5,000,000-row money-flow table compact (no per-row allocation besides strings) and lets feature code scan a
//! single column without touching the others. After [`crate::batch::Batch::load`] every table is in canonical
//! order (see [`crate::batch`]), so consumers never depend on the row order of the Parquet files.

use std::cmp::Ordering;

pub use crate::schema::{AddressLabels, Alerts, Clusters};
use crate::schema::{ColumnMut, ColumnRef};

/// Alert severity as published by the analyzers. Ordered `Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Severity {
    /// `low`
    Low,
    /// `medium`; also the value of an empty or unknown severity, as the contract says.
    #[default]
    Medium,
    /// `high`
    High,
    /// `critical`
    Critical,
}

impl Severity {
    /// Parses a severity case-insensitively after trimming; anything unknown (or empty) is `Medium`
    /// because the contract defines that fallback instead of an error.
    ///
    /// ```
    /// use aml_core::tables::Severity;
    /// assert_eq!(Severity::parse(" HIGH "), Severity::High);
    /// assert_eq!(Severity::parse("bogus"), Severity::Medium);
    /// ```
    pub fn parse(text: &str) -> Severity {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("low") {
            Severity::Low
        } else if trimmed.eq_ignore_ascii_case("high") {
            Severity::High
        } else if trimmed.eq_ignore_ascii_case("critical") {
            Severity::Critical
        } else {
            Severity::Medium
        }
    }

    /// 0 for `Low` up to 3 for `Critical`: a compact numeric feature.
    pub fn ordinal(self) -> u8 {
        match self {
            Severity::Low => 0,
            Severity::Medium => 1,
            Severity::High => 2,
            Severity::Critical => 3,
        }
    }

    /// The canonical lower-case spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl Alerts {
    /// Number of alerts.
    pub fn len(&self) -> usize {
        self.alert_id.len()
    }

    /// True when there are no alerts.
    pub fn is_empty(&self) -> bool {
        self.alert_id.is_empty()
    }

    /// Row of `alert_id` (binary search; valid on a canonically sorted table).
    pub fn row_of(&self, alert_id: &str) -> Option<usize> {
        self.alert_id
            .binary_search_by(|probe| probe.as_str().cmp(alert_id))
            .ok()
    }
}

/// One numeric feature column of [`AddressFeatures`]; `NaN` marks a null.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NumericColumn {
    /// Column name exactly as in the Parquet file.
    pub name: String,
    /// One value per address row.
    pub values: Vec<f64>,
}

/// Columns of `features.parquet` that identify the row or hold arrays and text: everything else
/// numeric or boolean is a numeric feature column. Derived from [`crate::schema::FEATURES`].
pub const FEATURE_IDENTIFIER_COLUMNS: [&str; 7] = crate::schema::FEATURE_OTHER_NAMES;

/// The numeric and boolean feature columns the contract names, in contract order (the numeric columns of
/// [`crate::schema::FEATURES`]). Columns present in a file appear in [`AddressFeatures::numeric`] in this
/// order, followed by any extra numeric columns sorted by name.
pub const CONTRACT_FEATURE_COLUMNS: &[&str] = &crate::schema::FEATURE_NUMERIC_NAMES;

/// `features.parquet` (`analyzers_features`, wide): one row per address; canonical order is by `address`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AddressFeatures {
    /// Look-back window, in days.
    pub window_days: Vec<u32>,
    /// The batch date, `YYYY-MM-DD`.
    pub processing_date: Vec<String>,
    /// Unique address.
    pub address: Vec<String>,
    /// Every numeric (int/float/decimal/digit-string) and boolean (0/1) column: the contract's columns first,
    /// in contract order (only those present in the file), then any extra numeric columns sorted by name.
    pub numeric: Vec<NumericColumn>,
    /// 24 hourly counts; empty when null or absent.
    pub hourly_activity: Vec<Vec<u16>>,
    /// 7 daily counts; empty when null or absent.
    pub daily_activity: Vec<Vec<u16>>,
    /// Dominant incoming asset (categorical), `""` when null or absent.
    pub dominant_asset_in: Vec<String>,
    /// Dominant outgoing asset (categorical), `""` when null or absent.
    pub dominant_asset_out: Vec<String>,
}

impl AddressFeatures {
    /// Number of addresses.
    pub fn len(&self) -> usize {
        self.address.len()
    }

    /// True when there are no addresses.
    pub fn is_empty(&self) -> bool {
        self.address.is_empty()
    }

    /// The columns besides [`AddressFeatures::numeric`], named like the columns of
    /// [`crate::schema::FEATURES`], in the order the writer puts them first.
    pub fn fixed_columns(&self) -> [(&'static str, ColumnRef<'_>); 7] {
        [
            ("window_days", ColumnRef::Windows(&self.window_days)),
            ("processing_date", ColumnRef::Dates(&self.processing_date)),
            ("address", ColumnRef::Texts(&self.address)),
            (
                "hourly_activity",
                ColumnRef::IntLists(&self.hourly_activity),
            ),
            ("daily_activity", ColumnRef::IntLists(&self.daily_activity)),
            (
                "dominant_asset_in",
                ColumnRef::Texts(&self.dominant_asset_in),
            ),
            (
                "dominant_asset_out",
                ColumnRef::Texts(&self.dominant_asset_out),
            ),
        ]
    }

    /// [`AddressFeatures::fixed_columns`], mutably.
    pub fn fixed_columns_mut(&mut self) -> [(&'static str, ColumnMut<'_>); 7] {
        [
            ("window_days", ColumnMut::Windows(&mut self.window_days)),
            (
                "processing_date",
                ColumnMut::Dates(&mut self.processing_date),
            ),
            ("address", ColumnMut::Texts(&mut self.address)),
            (
                "hourly_activity",
                ColumnMut::IntLists(&mut self.hourly_activity),
            ),
            (
                "daily_activity",
                ColumnMut::IntLists(&mut self.daily_activity),
            ),
            (
                "dominant_asset_in",
                ColumnMut::Texts(&mut self.dominant_asset_in),
            ),
            (
                "dominant_asset_out",
                ColumnMut::Texts(&mut self.dominant_asset_out),
            ),
        ]
    }

    /// Values of the numeric column `name`, if present.
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.numeric
            .iter()
            .find(|column| column.name == name)
            .map(|column| column.values.as_slice())
    }

    /// Row of `address` (binary search; rows are sorted by address after loading).
    pub fn row_of(&self, address: &str) -> Option<usize> {
        self.address
            .binary_search_by(|probe| probe.as_str().cmp(address))
            .ok()
    }
}

impl Clusters {
    /// Number of clusters.
    pub fn len(&self) -> usize {
        self.cluster_id.len()
    }

    /// True when there are no clusters.
    pub fn is_empty(&self) -> bool {
        self.cluster_id.is_empty()
    }

    /// Row of `cluster_id` (binary search; valid on a canonically sorted table).
    pub fn row_of(&self, cluster_id: &str) -> Option<usize> {
        self.cluster_id
            .binary_search_by(|probe| probe.as_str().cmp(cluster_id))
            .ok()
    }
}

/// `money_flows.parquet` (`core_money_flows_view`): directed address-pair edges.
///
/// Address strings are interned: `addresses` is the SORTED list of distinct addresses in from/to, so ids do not
/// depend on file row order. Rows are sorted by (from, to, then remaining values) on load.
/// `dominant_asset`, `hourly_pattern` and `weekly_pattern` are validated but not kept in memory (features do not
/// need them and a 5M-row batch must fit in well under 2 GB).
#[derive(Debug, Clone, PartialEq, Default)]
///
/// `from`, `to`, `tx_count` and `amount_usd_sum` are always loaded; the other value columns are
/// empty when the batch was loaded with [`FlowColumns::Scoring`](crate::read::FlowColumns)
/// (features never use them, and decoding them is most of a full-size day's load time).
pub struct MoneyFlows {
    /// Sorted, distinct addresses; `from`/`to` index into it.
    pub addresses: Vec<String>,
    /// Sender id (index into `addresses`).
    pub from: Vec<u32>,
    /// Receiver id (index into `addresses`).
    pub to: Vec<u32>,
    /// Number of transactions on the edge.
    pub tx_count: Vec<f64>,
    /// Native amount sum.
    pub amount_sum: Vec<f64>,
    /// USD amount sum.
    pub amount_usd_sum: Vec<f64>,
    /// First transaction, ms since the Unix epoch.
    pub first_seen_timestamp: Vec<u64>,
    /// Last transaction, ms since the Unix epoch.
    pub last_seen_timestamp: Vec<u64>,
    /// Days with activity on the edge.
    pub active_days: Vec<f64>,
    /// Average transaction size in USD.
    pub avg_tx_size_usd: Vec<f64>,
    /// Distinct assets moved on the edge.
    pub unique_assets: Vec<f64>,
    /// Reciprocity of the pair.
    pub reciprocity_ratio: Vec<f64>,
    /// True when flows exist in both directions.
    pub is_bidirectional: Vec<bool>,
}

impl MoneyFlows {
    /// Number of edges.
    pub fn len(&self) -> usize {
        self.from.len()
    }

    /// True when there are no edges.
    pub fn is_empty(&self) -> bool {
        self.from.is_empty()
    }

    /// Interned id of `address` (binary search in the sorted dictionary).
    pub fn address_id(&self, address: &str) -> Option<u32> {
        self.addresses
            .binary_search_by(|probe| probe.as_str().cmp(address))
            .ok()
            .map(|index| index as u32)
    }

    /// Compares rows `a` and `b` in canonical order: (from, to, then every remaining value).
    pub(crate) fn cmp_rows(&self, a: usize, b: usize) -> Ordering {
        // Columns that were not loaded (empty) compare equal.
        let f = |col: &[f64]| {
            if col.is_empty() {
                Ordering::Equal
            } else {
                col[a].total_cmp(&col[b])
            }
        };
        let u = |col: &[u64]| col.get(a).cmp(&col.get(b));
        self.from[a]
            .cmp(&self.from[b])
            .then(self.to[a].cmp(&self.to[b]))
            .then(f(&self.tx_count))
            .then(f(&self.amount_sum))
            .then(f(&self.amount_usd_sum))
            .then(u(&self.first_seen_timestamp))
            .then(u(&self.last_seen_timestamp))
            .then(f(&self.active_days))
            .then(f(&self.avg_tx_size_usd))
            .then(f(&self.unique_assets))
            .then(f(&self.reciprocity_ratio))
            .then(
                self.is_bidirectional
                    .get(a)
                    .cmp(&self.is_bidirectional.get(b)),
            )
    }

    /// The value columns (every kept column but `from`/`to`), named like the columns of
    /// [`crate::schema::MONEY_FLOWS`], in file order.
    pub fn value_columns(&self) -> [(&'static str, ColumnRef<'_>); 10] {
        [
            ("tx_count", ColumnRef::Numbers(&self.tx_count)),
            ("amount_sum", ColumnRef::Numbers(&self.amount_sum)),
            ("amount_usd_sum", ColumnRef::Numbers(&self.amount_usd_sum)),
            (
                "first_seen_timestamp",
                ColumnRef::Integers(&self.first_seen_timestamp),
            ),
            (
                "last_seen_timestamp",
                ColumnRef::Integers(&self.last_seen_timestamp),
            ),
            ("active_days", ColumnRef::Numbers(&self.active_days)),
            ("avg_tx_size_usd", ColumnRef::Numbers(&self.avg_tx_size_usd)),
            ("unique_assets", ColumnRef::Numbers(&self.unique_assets)),
            (
                "reciprocity_ratio",
                ColumnRef::Numbers(&self.reciprocity_ratio),
            ),
            ("is_bidirectional", ColumnRef::Flags(&self.is_bidirectional)),
        ]
    }

    /// [`MoneyFlows::value_columns`], mutably.
    pub fn value_columns_mut(&mut self) -> [(&'static str, ColumnMut<'_>); 10] {
        [
            ("tx_count", ColumnMut::Numbers(&mut self.tx_count)),
            ("amount_sum", ColumnMut::Numbers(&mut self.amount_sum)),
            (
                "amount_usd_sum",
                ColumnMut::Numbers(&mut self.amount_usd_sum),
            ),
            (
                "first_seen_timestamp",
                ColumnMut::Integers(&mut self.first_seen_timestamp),
            ),
            (
                "last_seen_timestamp",
                ColumnMut::Integers(&mut self.last_seen_timestamp),
            ),
            ("active_days", ColumnMut::Numbers(&mut self.active_days)),
            (
                "avg_tx_size_usd",
                ColumnMut::Numbers(&mut self.avg_tx_size_usd),
            ),
            ("unique_assets", ColumnMut::Numbers(&mut self.unique_assets)),
            (
                "reciprocity_ratio",
                ColumnMut::Numbers(&mut self.reciprocity_ratio),
            ),
            (
                "is_bidirectional",
                ColumnMut::Flags(&mut self.is_bidirectional),
            ),
        ]
    }

    /// Lengths of the value columns that [`FlowColumns::Scoring`](crate::read::FlowColumns)
    /// leaves empty (all but [`SCORING_FLOW_COLUMNS`]): `(contract column name, length)`.
    pub fn optional_column_lengths(&self) -> Vec<(&'static str, usize)> {
        self.value_columns()
            .into_iter()
            .filter(|(name, _)| !SCORING_FLOW_COLUMNS.contains(name))
            .map(|(name, column)| (name, column.len()))
            .collect()
    }
}

/// The value columns of `money_flows.parquet` that [`FlowColumns::Scoring`](crate::read::FlowColumns)
/// decodes besides the two addresses: what features use.
pub const SCORING_FLOW_COLUMNS: [&str; 2] = ["tx_count", "amount_usd_sum"];

impl AddressLabels {
    /// Number of labels.
    pub fn len(&self) -> usize {
        self.address.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.address.is_empty()
    }

    /// Row of `address` (binary search; rows are sorted by address after loading).
    pub fn row_of(&self, address: &str) -> Option<usize> {
        self.address
            .binary_search_by(|probe| probe.as_str().cmp(address))
            .ok()
    }

    /// Training label by the subnet rule: high/critical -> 1, low/medium -> 0; an unknown risk level or an
    /// unlabelled address -> `None` (left out of training, never counted as 0).
    pub fn label_of(&self, address: &str) -> Option<u8> {
        match self.relevance_of(address)? {
            0 | 1 => Some(0),
            _ => Some(1),
        }
    }

    /// Graded ranking relevance: critical 3, high 2, medium 1, low 0; unknown risk level or unlabelled -> `None`.
    /// An address labelled by several sources takes its highest known risk level, so the answer does not
    /// depend on which duplicate row comes first.
    pub fn relevance_of(&self, address: &str) -> Option<u8> {
        let start = self
            .address
            .partition_point(|probe| probe.as_str() < address);
        let end = self
            .address
            .partition_point(|probe| probe.as_str() <= address);
        self.risk_level[start..end]
            .iter()
            .filter_map(|risk| risk_ordinal(risk))
            .max()
    }
}

/// Risk level names, by ordinal (the contract's graded relevance).
pub const RISK_LEVELS: [&str; 4] = ["low", "medium", "high", "critical"];

/// Ordinal of a risk level name (low 0 .. critical 3; case and surrounding spaces ignored),
/// `None` when unknown.
pub fn risk_ordinal(text: &str) -> Option<u8> {
    let text = text.trim();
    RISK_LEVELS
        .iter()
        .position(|level| text.eq_ignore_ascii_case(level))
        .map(|position| position as u8)
}
