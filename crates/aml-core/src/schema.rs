//! The data contract in code: one declaration per table.
//!
//! Every table a miner reads (the five SOT tables of a batch) or writes (the three Parquet files of a
//! submission) is declared here once, as a [`TableSchema`]: its file name, the source table it comes from
//! and its columns in file order, each a [`ColumnSpec`] with the contract's type ([`SotType`]), the way
//! aml-miner holds and reads it ([`Kind`]), whether it is an identifier or optional, the default of a
//! missing JSON value and its meaning. The columnar table structs of [`crate::tables`] are generated from
//! the same declarations (a field per column, named like it, in the same order), and the [`Table`] trait
//! hands their columns out in schema order, so the Parquet reader ([`crate::read`]), the writer
//! ([`crate::write`]), the shape validation, the JSON request mapping of the service and the column lists of
//! the synthetic generator all follow from here instead of repeating the column names.
//!
//! `features.parquet` has an open set of numeric columns (held as [`crate::tables::NumericColumn`]s) and
//! `money_flows.parquet` interns its addresses, so their structs are written by hand; they still take
//! their fixed columns from [`FEATURES`] and [`MONEY_FLOWS`].
//!
//! ```
//! use aml_core::schema::{Kind, ALERTS};
//! let ids: Vec<&str> = ALERTS.columns.iter().filter(|c| c.identifier).map(|c| c.name).collect();
//! assert_eq!(ids, ["alert_id", "address"]);
//! assert_eq!(ALERTS.column("volume_usd").map(|c| c.kind), Some(Kind::Number));
//! ```

/// The type a column has in the contract (the ClickHouse type of the SOT table, or the submission type).
///
/// Readers accept every physical encoding the contract allows for it (see [`Kind`]); the synthetic
/// generator writes exactly this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SotType {
    /// `UInt8`.
    UInt8,
    /// `UInt16`.
    UInt16,
    /// `UInt32`.
    UInt32,
    /// `UInt64` (timestamps are milliseconds since the Unix epoch).
    UInt64,
    /// `Int32`.
    Int32,
    /// `Float32`.
    Float32,
    /// `Float64`.
    Float64,
    /// `Decimal128(18)`: decimal(38,18), Float64 or a digit string depending on the exporter.
    Decimal,
    /// `Boolean`.
    Boolean,
    /// `String`.
    String,
    /// `Date` (`YYYY-MM-DD`).
    Date,
    /// `Array(String)`.
    StringArray,
    /// `Array(UInt16)`.
    UInt16Array,
}

/// How aml-miner holds a column in memory; decides which Arrow types the reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `f64`, NaN for null: ints, floats, decimals, booleans, digit strings.
    Number,
    /// Non-negative integer (counts, ms timestamps): ints, integral floats/decimals/strings, timestamps.
    Integer,
    /// A look-back window in days (`u32`), read like [`Kind::Integer`].
    Window,
    /// `YYYY-MM-DD`: Date32, Date64, timestamps, date strings.
    Date,
    /// UTF-8 text: Utf8, LargeUtf8, Utf8View, dictionaries of those; null is `""`.
    Text,
    /// List of text.
    TextList,
    /// List of small non-negative integers (hourly/daily activity).
    IntList,
    /// Boolean (or 0/1 integers).
    Flag,
}

/// One column of a [`TableSchema`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColumnSpec {
    /// Column name, exactly as in the file and in JSON records.
    pub name: &'static str,
    /// The contract's type.
    pub sot: SotType,
    /// How it is held and read.
    pub kind: Kind,
    /// An identifier: never empty (an empty `alert_id` cannot be scored or joined), required in JSON records.
    pub identifier: bool,
    /// A file may omit it (the reader fills [`ColumnSpec::default`] or empty values); all other columns
    /// must be present with an accepted type.
    pub optional: bool,
    /// Value of a text column missing from a JSON record (e.g. `severity` is `medium`).
    pub default: &'static str,
    /// What the column means.
    pub doc: &'static str,
}

impl ColumnSpec {
    /// A required, non-identifier column with an empty default.
    pub const fn new(name: &'static str, sot: SotType, kind: Kind, doc: &'static str) -> Self {
        ColumnSpec {
            name,
            sot,
            kind,
            identifier: false,
            optional: false,
            default: "",
            doc,
        }
    }

    /// Marks the column as an identifier.
    pub const fn id(mut self) -> Self {
        self.identifier = true;
        self
    }

    /// Marks the column as optional in files.
    pub const fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Sets the JSON default of a text column.
    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = value;
        self
    }
}

/// One table of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableSchema {
    /// File name in a batch or submission directory.
    pub file: &'static str,
    /// Source table (the SOT's ClickHouse table, or `submission`).
    pub source: &'static str,
    /// Whether written Parquet fields are nullable (the SOT writer keeps NaN as null; submission columns
    /// never hold nulls).
    pub nullable: bool,
    /// The columns, in file order.
    pub columns: &'static [ColumnSpec],
}

impl TableSchema {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&'static ColumnSpec> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// The column names, in file order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        self.columns.iter().map(|column| column.name)
    }
}

/// Mutable access to one column of a table, in the type it is held in.
#[derive(Debug)]
pub enum ColumnMut<'a> {
    /// [`Kind::Text`].
    Texts(&'a mut Vec<String>),
    /// [`Kind::Date`].
    Dates(&'a mut Vec<String>),
    /// [`Kind::Number`].
    Numbers(&'a mut Vec<f64>),
    /// [`Kind::Integer`].
    Integers(&'a mut Vec<u64>),
    /// [`Kind::Window`].
    Windows(&'a mut Vec<u32>),
    /// [`Kind::TextList`].
    TextLists(&'a mut Vec<Vec<String>>),
    /// [`Kind::IntList`].
    IntLists(&'a mut Vec<Vec<u16>>),
    /// [`Kind::Flag`].
    Flags(&'a mut Vec<bool>),
}

/// Shared access to one column of a table, in the type it is held in.
#[derive(Debug, Clone, Copy)]
pub enum ColumnRef<'a> {
    /// [`Kind::Text`].
    Texts(&'a [String]),
    /// [`Kind::Date`].
    Dates(&'a [String]),
    /// [`Kind::Number`].
    Numbers(&'a [f64]),
    /// [`Kind::Integer`].
    Integers(&'a [u64]),
    /// [`Kind::Window`].
    Windows(&'a [u32]),
    /// [`Kind::TextList`].
    TextLists(&'a [Vec<String>]),
    /// [`Kind::IntList`].
    IntLists(&'a [Vec<u16>]),
    /// [`Kind::Flag`].
    Flags(&'a [bool]),
}

impl ColumnRef<'_> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnRef::Texts(v) | ColumnRef::Dates(v) => v.len(),
            ColumnRef::Numbers(v) => v.len(),
            ColumnRef::Integers(v) => v.len(),
            ColumnRef::Windows(v) => v.len(),
            ColumnRef::TextLists(v) => v.len(),
            ColumnRef::IntLists(v) => v.len(),
            ColumnRef::Flags(v) => v.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ColumnMut<'_> {
    /// Moves every value of `other` (a column of the same kind) to the end of this one.
    pub(crate) fn append(self, other: ColumnMut<'_>) {
        match (self, other) {
            (ColumnMut::Texts(a), ColumnMut::Texts(b))
            | (ColumnMut::Dates(a), ColumnMut::Dates(b)) => a.append(b),
            (ColumnMut::Numbers(a), ColumnMut::Numbers(b)) => a.append(b),
            (ColumnMut::Integers(a), ColumnMut::Integers(b)) => a.append(b),
            (ColumnMut::Windows(a), ColumnMut::Windows(b)) => a.append(b),
            (ColumnMut::TextLists(a), ColumnMut::TextLists(b)) => a.append(b),
            (ColumnMut::IntLists(a), ColumnMut::IntLists(b)) => a.append(b),
            (ColumnMut::Flags(a), ColumnMut::Flags(b)) => a.append(b),
            (a, b) => unreachable!("append of columns of different kinds: {a:?} and {b:?}"),
        }
    }

    /// Extends the column with `rows` empty values (`""`, NaN, 0, empty list, false).
    pub(crate) fn fill_empty(self, rows: usize) {
        match self {
            ColumnMut::Texts(v) | ColumnMut::Dates(v) => v.resize(v.len() + rows, String::new()),
            ColumnMut::Numbers(v) => v.resize(v.len() + rows, f64::NAN),
            ColumnMut::Integers(v) => v.resize(v.len() + rows, 0),
            ColumnMut::Windows(v) => v.resize(v.len() + rows, 0),
            ColumnMut::TextLists(v) => v.resize(v.len() + rows, Vec::new()),
            ColumnMut::IntLists(v) => v.resize(v.len() + rows, Vec::new()),
            ColumnMut::Flags(v) => v.resize(v.len() + rows, false),
        }
    }
}

/// A columnar table generated from its declaration: one field per column of [`Table::SCHEMA`].
pub trait Table: Default + Send {
    /// The declaration.
    const SCHEMA: &'static TableSchema;
    /// Every column, in schema order.
    fn columns(&self) -> Vec<ColumnRef<'_>>;
    /// Every column, mutably, in schema order.
    fn columns_mut(&mut self) -> Vec<ColumnMut<'_>>;
}

/// [`Kind`] of a column token of [`sot_table!`].
macro_rules! kind_of {
    (text) => {
        Kind::Text
    };
    (date) => {
        Kind::Date
    };
    (number) => {
        Kind::Number
    };
    (integer) => {
        Kind::Integer
    };
    (window) => {
        Kind::Window
    };
    (text_list) => {
        Kind::TextList
    };
    (int_list) => {
        Kind::IntList
    };
    (flag) => {
        Kind::Flag
    };
}

/// Field type of a column token of [`sot_table!`].
macro_rules! field_of {
    (text) => { Vec<String> };
    (date) => { Vec<String> };
    (number) => { Vec<f64> };
    (integer) => { Vec<u64> };
    (window) => { Vec<u32> };
    (text_list) => { Vec<Vec<String>> };
    (int_list) => { Vec<Vec<u16>> };
    (flag) => { Vec<bool> };
}

/// [`ColumnRef`]/[`ColumnMut`] variant of a column token of [`sot_table!`].
macro_rules! access_of {
    ($access:ident, text, $e:expr) => {
        $access::Texts($e)
    };
    ($access:ident, date, $e:expr) => {
        $access::Dates($e)
    };
    ($access:ident, number, $e:expr) => {
        $access::Numbers($e)
    };
    ($access:ident, integer, $e:expr) => {
        $access::Integers($e)
    };
    ($access:ident, window, $e:expr) => {
        $access::Windows($e)
    };
    ($access:ident, text_list, $e:expr) => {
        $access::TextLists($e)
    };
    ($access:ident, int_list, $e:expr) => {
        $access::IntLists($e)
    };
    ($access:ident, flag, $e:expr) => {
        $access::Flags($e)
    };
}

/// The [`ColumnSpec`] list of a table: `/// doc` then `name: kind SotType [modifiers]` per column, where the
/// modifiers are `.id()`, `.optional()` and `.default("text")`.
macro_rules! columns {
    ($( $(#[doc = $doc:literal])+ $name:ident : $kind:ident $sot:ident $(. $modifier:ident ( $($arg:literal)? ))* ),+ $(,)?) => {
        &[$(
            ColumnSpec::new(stringify!($name), SotType::$sot, kind_of!($kind), concat!($($doc),+).trim_ascii())
                $(. $modifier($($arg)?))*
        ),+]
    };
}

/// Declares a table: its [`TableSchema`] constant and a columnar struct (a `Vec` per column, named and
/// documented like the column) implementing [`Table`].
macro_rules! sot_table {
    (
        $(#[$table_doc:meta])*
        $schema:ident = $file:expr, $source:literal;
        pub struct $table:ident {
            $( $(#[doc = $doc:literal])+ $name:ident : $kind:ident $sot:ident $(. $modifier:ident ( $($arg:literal)? ))* ),+ $(,)?
        }
    ) => {
        $(#[$table_doc])*
        pub const $schema: TableSchema = TableSchema {
            file: $file,
            source: $source,
            nullable: true,
            columns: columns!($( $(#[doc = $doc])+ $name: $kind $sot $(. $modifier($($arg)?))* ),+),
        };

        $(#[$table_doc])*
        ///
        #[doc = concat!("Generated from [`", stringify!($schema), "`]: one field per column, in file order.")]
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $table {
            $( $(#[doc = $doc])+ pub $name: field_of!($kind), )+
        }

        impl Table for $table {
            const SCHEMA: &'static TableSchema = &$schema;

            fn columns(&self) -> Vec<ColumnRef<'_>> {
                vec![$( access_of!(ColumnRef, $kind, &self.$name) ),+]
            }

            fn columns_mut(&mut self) -> Vec<ColumnMut<'_>> {
                vec![$( access_of!(ColumnMut, $kind, &mut self.$name) ),+]
            }
        }
    };
}

sot_table! {
    /// `alerts.parquet` (`analyzers_alerts`): one row per alert; canonical order is by `alert_id`.
    ALERTS = crate::batch::files::ALERTS, "analyzers_alerts";
    pub struct Alerts {
        /// Look-back window of the analyzer, in days.
        window_days: window UInt16,
        /// The batch date, `YYYY-MM-DD`.
        processing_date: date Date,
        /// Unique alert identifier.
        alert_id: text String.id(),
        /// The alerted address; joins [`AddressFeatures::address`](crate::tables::AddressFeatures::address).
        address: text String.id(),
        /// Open vocabulary typology (layering, structuring, peel_chain, fan_in, ...).
        typology_type: text String,
        /// Pattern identifier, `""` when not pattern based.
        pattern_id: text String,
        /// Pattern family (cycle, layering, network, ...) or `""`.
        pattern_type: text String,
        /// Severity text as published: low, medium, high, critical (parse with
        /// [`Severity::parse`](crate::tables::Severity::parse); unknown is medium).
        severity: text String.default("medium"),
        /// Suspected address type (exchange, mixer, defi, ...; default `unknown`).
        suspected_address_type: text String.default("unknown"),
        /// Suspected address subtype (default `""`).
        suspected_address_subtype: text String,
        /// The analyzer's own confidence in `[0, 1]`.
        alert_confidence_score: number Float32,
        /// Free text.
        description: text String,
        /// USD volume behind the alert (non-negative).
        volume_usd: number Decimal,
        /// JSON text whose structure varies by typology.
        evidence_json: text String,
        /// Names of the triggered risk indicators.
        risk_indicators: text_list StringArray,
    }
}

sot_table! {
    /// `clusters.parquet` (`analyzers_alert_clusters`): groups of related alerts; canonical order is by
    /// `cluster_id`. An alert may belong to zero, one or several clusters.
    CLUSTERS = crate::batch::files::CLUSTERS, "analyzers_alert_clusters";
    pub struct Clusters {
        /// Look-back window, in days.
        window_days: window UInt16,
        /// The batch date, `YYYY-MM-DD`.
        processing_date: date Date,
        /// Unique cluster identifier.
        cluster_id: text String.id(),
        /// same_entity, pattern, network, proximity (open vocabulary).
        cluster_type: text String,
        /// Primary address for same_entity clusters, else `""`.
        primary_address: text String,
        /// Pattern identifier for pattern clusters, else `""`.
        pattern_id: text String,
        /// Representative alert.
        primary_alert_id: text String,
        /// Every alert in the cluster (may name unknown alerts: reported as warnings).
        related_alert_ids: text_list StringArray,
        /// Every address in the cluster.
        addresses_involved: text_list StringArray,
        /// Number of alerts in the cluster.
        total_alerts: number UInt32,
        /// USD volume of the cluster.
        total_volume_usd: number Decimal,
        /// Highest severity text (low..critical).
        severity_max: text String.default("medium"),
        /// Mean alert confidence.
        confidence_avg: number Float32,
        /// Earliest alert time, ms since the Unix epoch.
        earliest_alert_timestamp: integer UInt64,
        /// Latest alert time, ms since the Unix epoch.
        latest_alert_timestamp: integer UInt64,
    }
}

sot_table! {
    /// `address_labels.parquet` (`core_address_labels`): ground truth, only in training/history batches.
    /// Risk level high or critical means illicit, low or medium not illicit; an address without a label is
    /// unlabelled (left out of training, never counted as 0).
    ADDRESS_LABELS = crate::batch::files::ADDRESS_LABELS, "core_address_labels";
    pub struct AddressLabels {
        /// Network name.
        network: text String,
        /// Labelled address; canonical order is by address.
        address: text String.id(),
        /// Free label text.
        label: text String,
        /// Address type.
        address_type: text String,
        /// Address subtype.
        address_subtype: text String,
        /// Trust level of the label.
        trust_level: text String,
        /// Label source.
        source: text String,
        /// low, medium, high or critical: drives the training label and ranking relevance.
        risk_level: text String,
        /// Confidence of the label in `[0, 1]`.
        confidence_score: number Float32,
        /// Creation time, ms since the Unix epoch.
        created_timestamp: integer UInt64,
        /// Update time, ms since the Unix epoch.
        updated_timestamp: integer UInt64,
    }
}

/// `money_flows.parquet` (`core_money_flows_view`): one row per directed address pair. Held as
/// [`MoneyFlows`](crate::tables::MoneyFlows), which interns the two addresses and does not keep
/// `dominant_asset`, `hourly_pattern` and `weekly_pattern` (checked, never decoded).
pub const MONEY_FLOWS: TableSchema = TableSchema {
    file: crate::batch::files::MONEY_FLOWS,
    source: "core_money_flows_view",
    nullable: true,
    columns: columns!(
        /// Sending address.
        from_address: text String.id(),
        /// Receiving address.
        to_address: text String.id(),
        /// Number of transactions on the edge.
        tx_count: number UInt64,
        /// Native amount sum.
        amount_sum: number Decimal,
        /// USD amount sum.
        amount_usd_sum: number Decimal,
        /// First transaction, ms since the Unix epoch.
        first_seen_timestamp: integer UInt64,
        /// Last transaction, ms since the Unix epoch.
        last_seen_timestamp: integer UInt64,
        /// Days with activity on the edge.
        active_days: number UInt32,
        /// Average transaction size in USD.
        avg_tx_size_usd: number Decimal,
        /// Distinct assets moved on the edge.
        unique_assets: number UInt32,
        /// Most moved asset.
        dominant_asset: text String,
        /// 24 hourly transaction counts.
        hourly_pattern: int_list UInt16Array,
        /// 7 weekday transaction counts.
        weekly_pattern: int_list UInt16Array,
        /// Reciprocity of the pair.
        reciprocity_ratio: number Float32,
        /// True when flows exist in both directions.
        is_bidirectional: flag Boolean,
    ),
};

/// `features.parquet` (`analyzers_features`, wide): one row per address. Held as
/// [`AddressFeatures`](crate::tables::AddressFeatures): the identifier, text and array columns are fields,
/// every numeric or boolean column (these, then any extra numeric column of the file) a
/// [`NumericColumn`](crate::tables::NumericColumn). Only `window_days`, `processing_date` and `address`
/// are required in a file.
pub const FEATURES: TableSchema = TableSchema {
    file: crate::batch::files::FEATURES,
    source: "analyzers_features",
    nullable: true,
    columns: columns!(
        /// Look-back window, in days.
        window_days: window UInt16,
        /// The batch date, `YYYY-MM-DD`.
        processing_date: date Date,
        /// Unique address.
        address: text String.id(),
        /// Incoming edges (topology).
        degree_in: number UInt32.optional(),
        /// Outgoing edges.
        degree_out: number UInt32.optional(),
        /// All edges.
        degree_total: number UInt32.optional(),
        /// Distinct counterparties.
        unique_counterparties: number UInt32.optional(),
        /// Incoming USD volume.
        total_in_usd: number Decimal.optional(),
        /// Outgoing USD volume.
        total_out_usd: number Decimal.optional(),
        /// Incoming minus outgoing USD volume.
        net_flow_usd: number Decimal.optional(),
        /// Total USD volume.
        total_volume_usd: number Decimal.optional(),
        /// Mean incoming transaction in USD.
        avg_tx_in_usd: number Decimal.optional(),
        /// Mean outgoing transaction in USD.
        avg_tx_out_usd: number Decimal.optional(),
        /// Median incoming transaction in USD.
        median_tx_in_usd: number Decimal.optional(),
        /// Median outgoing transaction in USD.
        median_tx_out_usd: number Decimal.optional(),
        /// Largest transaction in USD.
        max_tx_usd: number Decimal.optional(),
        /// Smallest transaction in USD.
        min_tx_usd: number Decimal.optional(),
        /// Variance of amounts (distribution).
        amount_variance: number Float64.optional(),
        /// Skewness of amounts.
        amount_skewness: number Float64.optional(),
        /// Kurtosis of amounts.
        amount_kurtosis: number Float64.optional(),
        /// Standard deviation of volume.
        volume_std: number Float64.optional(),
        /// Coefficient of variation of volume.
        volume_cv: number Float64.optional(),
        /// Concentration of flows.
        flow_concentration: number Float64.optional(),
        /// Incoming transactions (counts).
        tx_in_count: number UInt64.optional(),
        /// Outgoing transactions.
        tx_out_count: number UInt64.optional(),
        /// All transactions.
        tx_total_count: number UInt64.optional(),
        /// Days with activity (temporal).
        activity_days: number UInt32.optional(),
        /// Days between first and last activity.
        activity_span_days: number UInt32.optional(),
        /// Mean USD volume per active day.
        avg_daily_volume_usd: number Decimal.optional(),
        /// Busiest hour of the day.
        peak_hour: number UInt8.optional(),
        /// Busiest day of the week.
        peak_day: number UInt8.optional(),
        /// Regularity of activity.
        regularity_score: number Float32.optional(),
        /// Burstiness of activity.
        burst_factor: number Float32.optional(),
        /// Reciprocity of flows (flow).
        reciprocity_ratio: number Float32.optional(),
        /// Diversity of flows.
        flow_diversity: number Float32.optional(),
        /// Concentration on few counterparties.
        counterparty_concentration: number Float32.optional(),
        /// Concentration ratio.
        concentration_ratio: number Float32.optional(),
        /// Velocity of funds.
        velocity_score: number Float32.optional(),
        /// Structuring likelihood.
        structuring_score: number Float32.optional(),
        /// Distinct incoming assets (assets).
        unique_assets_in: number UInt32.optional(),
        /// Distinct outgoing assets.
        unique_assets_out: number UInt32.optional(),
        /// Dominant incoming asset (categorical), `""` when null or absent.
        dominant_asset_in: text String.optional(),
        /// Dominant outgoing asset (categorical), `""` when null or absent.
        dominant_asset_out: text String.optional(),
        /// Diversity of assets.
        asset_diversity_score: number Float32.optional(),
        /// 24 hourly counts (behaviour); empty when null or absent.
        hourly_activity: int_list UInt16Array.optional(),
        /// 7 daily counts; empty when null or absent.
        daily_activity: int_list UInt16Array.optional(),
        /// Busiest hour of activity.
        peak_activity_hour: number UInt8.optional(),
        /// Busiest day of activity.
        peak_activity_day: number UInt8.optional(),
        /// Entropy of the hourly activity.
        hourly_entropy: number Float32.optional(),
        /// Entropy of the daily activity.
        daily_entropy: number Float32.optional(),
        /// Share of weekend transactions.
        weekend_transaction_ratio: number Float32.optional(),
        /// Share of night transactions.
        night_transaction_ratio: number Float32.optional(),
        /// Share of small transactions.
        small_transaction_ratio: number Float32.optional(),
        /// Consistency of behaviour.
        consistency_score: number Float32.optional(),
        /// PageRank (graph).
        pagerank: number Float32.optional(),
        /// Betweenness centrality.
        betweenness: number Float32.optional(),
        /// Closeness centrality.
        closeness: number Float32.optional(),
        /// Clustering coefficient.
        clustering_coefficient: number Float32.optional(),
        /// k-core number.
        kcore: number UInt32.optional(),
        /// Community identifier (an identifier, not a magnitude).
        community_id: number UInt32.optional(),
        /// Combined centrality.
        centrality_score: number Float32.optional(),
        /// Addresses within one hop (neighbourhood).
        khop1_count: number UInt32.optional(),
        /// Addresses within two hops.
        khop2_count: number UInt32.optional(),
        /// Addresses within three hops.
        khop3_count: number UInt32.optional(),
        /// USD volume within one hop.
        khop1_volume_usd: number Decimal.optional(),
        /// USD volume within two hops.
        khop2_volume_usd: number Decimal.optional(),
        /// USD volume within three hops.
        khop3_volume_usd: number Decimal.optional(),
        /// Entropy of flow reciprocity (advanced flow).
        flow_reciprocity_entropy: number Float32.optional(),
        /// Stability of counterparties.
        counterparty_stability: number Float32.optional(),
        /// Burstiness of flows.
        flow_burstiness: number Float32.optional(),
        /// Regularity of transactions.
        transaction_regularity: number Float32.optional(),
        /// Predictability of amounts.
        amount_predictability: number Float32.optional(),
        /// New address (flag).
        is_new_address: number Boolean.optional(),
        /// Dormant address that became active again.
        is_dormant_reactivated: number Boolean.optional(),
        /// Distinct recipients (support).
        unique_recipients_count: number UInt32.optional(),
        /// Distinct senders.
        unique_senders_count: number UInt32.optional(),
        /// First activity, ms since the Unix epoch (time).
        first_activity_timestamp: number UInt64.optional(),
        /// Last activity, ms since the Unix epoch.
        last_activity_timestamp: number UInt64.optional(),
        /// Behavioural anomaly score (some SOT versions).
        behavioral_anomaly_score: number Float32.optional(),
        /// Graph anomaly score (some SOT versions).
        graph_anomaly_score: number Float32.optional(),
        /// Global anomaly score (some SOT versions).
        global_anomaly_score: number Float32.optional(),
        /// Data quality score (some SOT versions).
        quality_score: number Float32.optional(),
    ),
};

/// Number of columns of `columns` whose kind is (`numeric`) or is not (`!numeric`) [`Kind::Number`].
const fn count_numeric(columns: &[ColumnSpec], numeric: bool) -> usize {
    let mut count = 0;
    let mut at = 0;
    while at < columns.len() {
        if matches!(columns[at].kind, Kind::Number) == numeric {
            count += 1;
        }
        at += 1;
    }
    count
}

/// Names of the columns of `columns` whose kind is (`numeric`) or is not [`Kind::Number`], in order.
const fn names_numeric<const N: usize>(columns: &[ColumnSpec], numeric: bool) -> [&'static str; N] {
    let mut names = [""; N];
    let (mut at, mut next) = (0, 0);
    while at < columns.len() {
        if matches!(columns[at].kind, Kind::Number) == numeric {
            names[next] = columns[at].name;
            next += 1;
        }
        at += 1;
    }
    names
}

/// The numeric and boolean columns of [`FEATURES`], in contract order.
pub(crate) const FEATURE_NUMERIC_NAMES: [&str; count_numeric(FEATURES.columns, true)] =
    names_numeric(FEATURES.columns, true);

/// The other columns of [`FEATURES`] (identifiers, text and arrays), in contract order.
pub(crate) const FEATURE_OTHER_NAMES: [&str; count_numeric(FEATURES.columns, false)] =
    names_numeric(FEATURES.columns, false);

/// One value of a submission row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A [`SotType::String`] value.
    Text(String),
    /// A [`SotType::Float64`] value.
    Float(f64),
    /// A [`SotType::Int32`] value.
    Int(i32),
}

/// A Rust type a submission column is held in.
pub trait CellValue: Sized {
    /// The value as a [`Cell`].
    fn to_cell(&self) -> Cell;
    /// The value of `cell`, `None` when it holds another type.
    fn from_cell(cell: Cell) -> Option<Self>;
}

impl CellValue for String {
    fn to_cell(&self) -> Cell {
        Cell::Text(self.clone())
    }
    fn from_cell(cell: Cell) -> Option<Self> {
        match cell {
            Cell::Text(text) => Some(text),
            _ => None,
        }
    }
}

impl CellValue for f64 {
    fn to_cell(&self) -> Cell {
        Cell::Float(*self)
    }
    fn from_cell(cell: Cell) -> Option<Self> {
        match cell {
            Cell::Float(value) => Some(value),
            _ => None,
        }
    }
}

impl CellValue for i32 {
    fn to_cell(&self) -> Cell {
        Cell::Int(*self)
    }
    fn from_cell(cell: Cell) -> Option<Self> {
        match cell {
            Cell::Int(value) => Some(value),
            _ => None,
        }
    }
}

/// A submission table: each row a struct generated with its declaration.
pub trait SubmissionRow: Sized {
    /// The declaration.
    const SCHEMA: &'static TableSchema;
    /// The row's values, in schema order.
    fn cells(&self) -> Vec<Cell>;
    /// Rows from columns of values in schema order; `None` when a column is missing, shorter than the
    /// first or holds a value of another type.
    fn from_columns(columns: Vec<Vec<Cell>>) -> Option<Vec<Self>>;
}

/// Declares a submission table: its [`TableSchema`] constant (non-nullable columns) and its row struct.
macro_rules! submission_table {
    (
        $(#[$table_doc:meta])*
        $schema:ident = $file:expr;
        pub struct $row:ident {
            $( $(#[doc = $doc:literal])+ $name:ident : $ty:ty = $sot:ident $(. $modifier:ident ( $($arg:literal)? ))* ),+ $(,)?
        }
    ) => {
        $(#[$table_doc])*
        pub const $schema: TableSchema = TableSchema {
            file: $file,
            source: "submission",
            nullable: false,
            columns: &[$(
                ColumnSpec::new(stringify!($name), SotType::$sot, submission_kind(SotType::$sot), concat!($($doc),+).trim_ascii())
                    $(. $modifier($($arg)?))*
            ),+],
        };

        #[doc = concat!("One row of [`", stringify!($schema), "`].")]
        #[derive(Debug, Clone, PartialEq)]
        pub struct $row {
            $( $(#[doc = $doc])+ pub $name: $ty, )+
        }

        impl SubmissionRow for $row {
            const SCHEMA: &'static TableSchema = &$schema;

            fn cells(&self) -> Vec<Cell> {
                vec![$( CellValue::to_cell(&self.$name) ),+]
            }

            fn from_columns(columns: Vec<Vec<Cell>>) -> Option<Vec<Self>> {
                let rows = columns.first().map_or(0, Vec::len);
                let mut columns: Vec<_> = columns.into_iter().map(Vec::into_iter).collect();
                (0..rows)
                    .map(|_| {
                        let mut next = columns.iter_mut();
                        Some($row {
                            $( $name: <$ty as CellValue>::from_cell(next.next()?.next()?)?, )+
                        })
                    })
                    .collect()
            }
        }
    };
}

/// How a submission column is held: text, or a number (`rank` is an `i32` of its own).
const fn submission_kind(sot: SotType) -> Kind {
    match sot {
        SotType::String => Kind::Text,
        SotType::Int32 => Kind::Integer,
        _ => Kind::Number,
    }
}

submission_table! {
    /// `scores.parquet`: one row per alert, the file the validator's reward reads.
    SCORES = crate::submission::files::SCORES;
    pub struct ScoreRow {
        /// The scored alert.
        alert_id: String = String.id(),
        /// Probability of illicit activity in `[0, 1]`.
        score: f64 = Float64,
        /// Model that produced the score.
        model_version: String = String,
        /// Scoring latency attributed to this alert, in milliseconds.
        latency_ms: f64 = Float64,
        /// `{"score": .., "top_features": [..]}` explanation: the five largest |SHAP| contributions, in log-odds.
        explain_json: String = String,
    }
}

submission_table! {
    /// `rankings.parquet`: one row per alert, ordered by urgency.
    RANKINGS = crate::submission::files::RANKINGS;
    pub struct RankingRow {
        /// The ranked alert.
        alert_id: String = String.id(),
        /// Ranking model output (higher is more urgent).
        ranking_score: f64 = Float64,
        /// 1 = most urgent; ties share the lowest rank.
        rank: i32 = Int32,
    }
}

submission_table! {
    /// `cluster_scores.parquet`: one row per cluster.
    CLUSTER_SCORES = crate::submission::files::CLUSTER_SCORES;
    pub struct ClusterScoreRow {
        /// The scored cluster.
        cluster_id: String = String.id(),
        /// Cluster score in `[0, 1]`.
        score: f64 = Float64,
        /// Model that produced the score.
        model_version: String = String,
    }
}

/// The five SOT tables of a batch, in batch file order.
pub const BATCH_TABLES: [&TableSchema; 5] =
    [&ALERTS, &FEATURES, &CLUSTERS, &MONEY_FLOWS, &ADDRESS_LABELS];

/// The three Parquet tables of a submission.
pub const SUBMISSION_TABLES: [&TableSchema; 3] = [&SCORES, &RANKINGS, &CLUSTER_SCORES];
