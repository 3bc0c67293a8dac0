//! Reading a batch directory: META.json, sha256 verification and the five Parquet tables.
//!
//! Each file is read in parallel per row group (rayon), with only the needed columns projected, and each
//! record batch is converted and dropped before the next, so peak memory is the final columns plus a few
//! record batches. The readers here return tables in FILE order without value checks; [`crate::Batch::load`]
//! adds validation and the canonical sort.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, RecordBatch};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;

use crate::batch::files;
use crate::columns::{
    push_dates, push_flags, push_integers, push_numbers, push_text_lists, push_texts,
    push_u16_lists, push_u32, Kind, Origin, TextView,
};
use crate::error::{BatchError, BatchWarning};
use crate::meta::Meta;
use crate::tables::{
    AddressFeatures, AddressLabels, Alerts, Clusters, MoneyFlows, NumericColumn,
    CONTRACT_FEATURE_COLUMNS, FEATURE_IDENTIFIER_COLUMNS,
};

/// Rows per decoded record batch: large enough to amortise per-batch overhead, small enough to bound memory.
const BATCH_ROWS: usize = 65_536;

fn io_error(path: &Path, source: std::io::Error) -> BatchError {
    if source.kind() == std::io::ErrorKind::NotFound {
        BatchError::MissingFile {
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    } else {
        BatchError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Runs one step of a third-party decoder (Parquet footer, pages, Arrow conversion) and turns a
/// panic into `Err(message)`.
///
/// The parquet crate can panic on a corrupt file (a page whose lengths disagree with its data), and a
/// corrupt file with an updated hash reaches it. No input file may end the process, so every Parquet
/// decode in the workspace runs inside this boundary; callers turn the message into their own named
/// error. Whatever `decode` built before the panic is dropped, never used.
pub fn catch_decode_panic<T>(decode: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic without a message".to_string())
    })
}

/// `dir/name` after checking, without opening it, that it is a regular file inside the batch:
/// not a FIFO, device, socket or directory (opening a FIFO blocks, reading a device never ends),
/// and not a symbolic link that resolves outside `dir` (`canonical_dir`, already canonical).
fn batch_file(dir: &Path, canonical_dir: &Path, name: &str) -> Result<PathBuf, BatchError> {
    let path = dir.join(name);
    let refuse = |reason: String| BatchError::UnsafeFile {
        file: name.to_string(),
        reason,
    };
    let mut metadata = std::fs::symlink_metadata(&path).map_err(|e| io_error(&path, e))?;
    if metadata.file_type().is_symlink() {
        let target = path.canonicalize().map_err(|e| io_error(&path, e))?;
        if !target.starts_with(canonical_dir) {
            return Err(refuse(format!(
                "symbolic link to {}, outside the batch directory",
                target.display()
            )));
        }
        metadata = std::fs::metadata(&target).map_err(|e| io_error(&path, e))?;
    }
    if !metadata.is_file() {
        return Err(refuse(format!(
            "{}, not a regular file",
            crate::io::describe(&metadata.file_type())
        )));
    }
    Ok(path)
}

fn canonical(dir: &Path) -> Result<PathBuf, BatchError> {
    dir.canonicalize().map_err(|source| BatchError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// Reads and checks `dir/META.json`: it must be a regular file of the batch, parse, hold a
/// `processing_date` that is a `YYYY-MM-DD` date ([`Meta::date`]), every hash must be 64 hex
/// digits keyed by a plain file name, and the four required tables must be listed.
pub fn read_meta(dir: &Path) -> Result<Meta, BatchError> {
    let path = batch_file(dir, &canonical(dir)?, files::META)?;
    let bytes = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
    let meta = Meta::from_json_bytes(&bytes).map_err(|e| BatchError::BadMeta {
        reason: e.to_string(),
    })?;
    meta.date()?;
    for (name, hash) in &meta.sha256 {
        let plain_name =
            !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..";
        if !plain_name {
            return Err(BatchError::BadMeta {
                reason: format!("sha256 key `{name}` is not a plain file name"),
            });
        }
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BatchError::BadMeta {
                reason: format!("sha256 of `{name}` is not 64 hex digits: `{hash}`"),
            });
        }
    }
    Ok(meta)
}

/// Checks that the required files exist and every file listed in META.json is a regular file of
/// the batch (checked before it is opened, see [`BatchError::UnsafeFile`]) with the listed
/// sha256. Only listed files count: any other entry of `dir` is returned as a
/// [`BatchWarning::UnlistedFile`] (sorted by name) and is never read.
pub fn verify_hashes(dir: &Path, meta: &Meta) -> Result<Vec<BatchWarning>, BatchError> {
    let canonical_dir = canonical(dir)?;
    for file in files::REQUIRED {
        batch_file(dir, &canonical_dir, file)?;
        if !meta.sha256.contains_key(file) {
            return Err(BatchError::BadMeta {
                reason: format!("no sha256 for `{file}`"),
            });
        }
    }
    let has_labels = meta.sha256.contains_key(files::ADDRESS_LABELS);
    if !has_labels && std::fs::symlink_metadata(dir.join(files::ADDRESS_LABELS)).is_ok() {
        return Err(BatchError::BadMeta {
            reason: format!("`{}` is present but has no sha256", files::ADDRESS_LABELS),
        });
    }
    let listed: Vec<(PathBuf, &String, &String)> = meta
        .sha256
        .iter()
        .map(|(name, expected)| Ok((batch_file(dir, &canonical_dir, name)?, name, expected)))
        .collect::<Result<_, BatchError>>()?;
    let results: Vec<Result<(), BatchError>> = listed
        .par_iter()
        .map(|(path, name, expected)| {
            let actual = crate::io::sha256_file(path).map_err(|e| io_error(path, e))?;
            if actual.eq_ignore_ascii_case(expected) {
                Ok(())
            } else {
                Err(BatchError::HashMismatch {
                    file: name.to_string(),
                    expected: expected.to_string(),
                    actual,
                })
            }
        })
        .collect();
    results.into_iter().collect::<Result<(), _>>()?;
    let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
    let mut unlisted: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != files::META && !meta.sha256.contains_key(name))
        .collect();
    unlisted.sort();
    Ok(unlisted
        .into_iter()
        .map(|file| BatchWarning::UnlistedFile { file })
        .collect())
}

/// The five tables of a batch, in file order.
pub(crate) type Tables = (
    Alerts,
    AddressFeatures,
    Clusters,
    MoneyFlows,
    Option<AddressLabels>,
);

/// Reads every table of `dir` in parallel; errors are reported in a fixed file order.
pub(crate) fn read_tables(
    dir: &Path,
    has_labels: bool,
    flow_columns: FlowColumns,
) -> Result<Tables, BatchError> {
    let (alerts, (features, (clusters, (flows, labels)))) = rayon::join(
        || read_alerts(&dir.join(files::ALERTS)),
        || {
            rayon::join(
                || read_features(&dir.join(files::FEATURES)),
                || {
                    rayon::join(
                        || read_clusters(&dir.join(files::CLUSTERS)),
                        || {
                            rayon::join(
                                || {
                                    read_money_flows_with(
                                        &dir.join(files::MONEY_FLOWS),
                                        flow_columns,
                                    )
                                },
                                || {
                                    has_labels
                                        .then(|| read_labels(&dir.join(files::ADDRESS_LABELS)))
                                        .transpose()
                                },
                            )
                        },
                    )
                },
            )
        },
    );
    Ok((alerts?, features?, clusters?, flows?, labels?))
}

/// An opened Parquet file with its parsed footer.
struct ParquetFile {
    name: String,
    path: PathBuf,
    metadata: ArrowReaderMetadata,
}

impl ParquetFile {
    fn open(path: &Path) -> Result<ParquetFile, BatchError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = File::open(path).map_err(|e| io_error(path, e))?;
        let metadata =
            catch_decode_panic(|| ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()))
                .map_err(|message| BatchError::DecodePanic {
                    file: name.clone(),
                    column: None,
                    message,
                })?
                .map_err(|e| BatchError::CorruptParquet {
                    file: name.clone(),
                    reason: e.to_string(),
                })?;
        Ok(ParquetFile {
            name,
            path: path.to_path_buf(),
            metadata,
        })
    }

    fn origin<'a>(&'a self, column: &'a str, first_row: usize) -> Origin<'a> {
        Origin {
            file: &self.name,
            column,
            first_row,
        }
    }

    /// Index of `column` in the file schema after checking its type; `None` when absent and optional.
    fn find(&self, column: &str, kind: Kind, required: bool) -> Result<Option<usize>, BatchError> {
        let schema = self.metadata.schema();
        let Ok(index) = schema.index_of(column) else {
            return if required {
                Err(BatchError::MissingColumn {
                    file: self.name.clone(),
                    column: column.to_string(),
                })
            } else {
                Ok(None)
            };
        };
        let data_type = schema.field(index).data_type();
        if !kind.accepts(data_type) {
            return Err(BatchError::WrongType {
                file: self.name.clone(),
                column: column.to_string(),
                found: data_type.to_string(),
                expected: kind.expected().to_string(),
            });
        }
        Ok(Some(index))
    }

    /// Indices of required columns, checking presence and type of each in the given order.
    fn require(&self, columns: &[(&str, Kind)]) -> Result<Vec<usize>, BatchError> {
        columns
            .iter()
            .map(|(column, kind)| {
                Ok(self
                    .find(column, *kind, true)?
                    .expect("required column found"))
            })
            .collect()
    }

    /// Decodes the projected `columns` row group by row group in parallel. `consume` receives each record
    /// batch with the file row of its first row; the parts come back in row-group order.
    fn read<A, Init, Consume>(
        &self,
        columns: &[usize],
        init: Init,
        consume: Consume,
    ) -> Result<Vec<A>, BatchError>
    where
        A: Send,
        Init: Fn() -> A + Sync,
        Consume: Fn(&mut A, &RecordBatch, usize) -> Result<(), BatchError> + Sync,
    {
        let corrupt = |e: &dyn std::fmt::Display| BatchError::CorruptParquet {
            file: self.name.clone(),
            reason: e.to_string(),
        };
        let row_groups = self.metadata.metadata().row_groups();
        let mut starts = Vec::with_capacity(row_groups.len());
        let mut total = 0usize;
        for group in row_groups {
            starts.push(total);
            total += usize::try_from(group.num_rows()).map_err(|e| corrupt(&e))?;
        }
        let parts: Vec<Result<A, BatchError>> = (0..row_groups.len())
            .into_par_iter()
            .map(|group| {
                let decode = || {
                    let mut part = init();
                    let mut first_row = starts[group];
                    for batch in self.group_reader(group, columns)? {
                        let batch = batch.map_err(|e| corrupt(&e))?;
                        consume(&mut part, &batch, first_row)?;
                        first_row += batch.num_rows();
                    }
                    Ok(part)
                };
                catch_decode_panic(decode)
                    .unwrap_or_else(|message| Err(self.decode_panic(group, columns, message)))
            })
            .collect();
        if parts.is_empty() {
            return Ok(vec![init()]);
        }
        parts.into_iter().collect()
    }
}

impl ParquetFile {
    /// A reader of the projected `columns` of one row group.
    fn group_reader(
        &self,
        group: usize,
        columns: &[usize],
    ) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, BatchError> {
        let file = File::open(&self.path).map_err(|e| io_error(&self.path, e))?;
        let mask = ProjectionMask::roots(self.metadata.parquet_schema(), columns.iter().copied());
        ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone())
            .with_row_groups(vec![group])
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| BatchError::CorruptParquet {
                file: self.name.clone(),
                reason: e.to_string(),
            })
    }

    /// The error for a decoder panic in row group `group`: the group's columns are decoded again one at
    /// a time (error path only) to name the first one whose decoding panics on its own.
    fn decode_panic(&self, group: usize, columns: &[usize], message: String) -> BatchError {
        let panics_alone = |index: usize| {
            catch_decode_panic(|| {
                if let Ok(reader) = self.group_reader(group, &[index]) {
                    // A reader can keep yielding the same error: stop at the first one.
                    reader.take_while(Result::is_ok).for_each(drop);
                }
            })
            .is_err()
        };
        let column = columns
            .iter()
            .copied()
            .find(|&index| panics_alone(index))
            .map(|index| self.metadata.schema().field(index).name().clone());
        BatchError::DecodePanic {
            file: self.name.clone(),
            column,
            message,
        }
    }
}

/// The column `name` of a projected record batch.
fn column<'a>(
    file: &ParquetFile,
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a ArrayRef, BatchError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| BatchError::MissingColumn {
            file: file.name.clone(),
            column: name.to_string(),
        })
}

/// Kind used for the schema check of each reader token.
macro_rules! kind_of {
    (number) => {
        Kind::Number
    };
    (integer) => {
        Kind::Integer
    };
    (window) => {
        Kind::Integer
    };
    (date) => {
        Kind::Date
    };
    (text) => {
        Kind::Text
    };
    (text_list) => {
        Kind::TextList
    };
    (u16_list) => {
        Kind::IntList
    };
    (flag) => {
        Kind::Flag
    };
}

/// Conversion function of each reader token.
macro_rules! push_of {
    (number) => {
        push_numbers
    };
    (integer) => {
        push_integers
    };
    (window) => {
        push_u32
    };
    (date) => {
        push_dates
    };
    (text) => {
        push_texts
    };
    (text_list) => {
        push_text_lists
    };
    (u16_list) => {
        push_u16_lists
    };
    (flag) => {
        push_flags
    };
}

/// A reader for a table whose struct fields are named exactly like its (all required) columns.
macro_rules! table_reader {
    ($(#[$doc:meta])* $name:ident, $table:ty; $($token:ident $field:ident),+ $(,)?) => {
        $(#[$doc])*
        pub fn $name(path: &Path) -> Result<$table, BatchError> {
            let file = ParquetFile::open(path)?;
            let projection = file.require(&[$((stringify!($field), kind_of!($token))),+])?;
            let parts = file.read(&projection, <$table>::default, |table: &mut $table, batch, first_row| {
                $({
                    let push = push_of!($token);
                    push(
                        column(&file, batch, stringify!($field))?.as_ref(),
                        file.origin(stringify!($field), first_row),
                        &mut table.$field,
                    )?;
                })+
                Ok(())
            })?;
            let mut whole = <$table>::default();
            for mut part in parts {
                $( whole.$field.append(&mut part.$field); )+
            }
            Ok(whole)
        }
    };
}

table_reader!(
    /// Reads `alerts.parquet` (every contract column required), in file order.
    read_alerts, Alerts;
    window window_days, date processing_date, text alert_id, text address, text typology_type,
    text pattern_id, text pattern_type, text severity, text suspected_address_type,
    text suspected_address_subtype, number alert_confidence_score, text description, number volume_usd,
    text evidence_json, text_list risk_indicators,
);

table_reader!(
    /// Reads `clusters.parquet` (every contract column required), in file order.
    read_clusters, Clusters;
    window window_days, date processing_date, text cluster_id, text cluster_type, text primary_address,
    text pattern_id, text primary_alert_id, text_list related_alert_ids, text_list addresses_involved,
    number total_alerts, number total_volume_usd, text severity_max, number confidence_avg,
    integer earliest_alert_timestamp, integer latest_alert_timestamp,
);

table_reader!(
    /// Reads `address_labels.parquet` (every contract column required), in file order.
    read_labels, AddressLabels;
    text network, text address, text label, text address_type, text address_subtype, text trust_level,
    text source, text risk_level, number confidence_score, integer created_timestamp, integer updated_timestamp,
);

/// Reads `features.parquet`, in file order. `window_days`, `processing_date` and `address` are required;
/// the activity arrays and dominant assets are optional (empty when absent). Every contract numeric column
/// present is read (digit strings included), plus every extra column of a numeric or boolean type; extra
/// text or nested columns are ignored. Numeric columns are in contract order, then extras by name.
pub fn read_features(path: &Path) -> Result<AddressFeatures, BatchError> {
    let file = ParquetFile::open(path)?;
    let mut projection = file.require(&[
        ("window_days", Kind::Integer),
        ("processing_date", Kind::Date),
        ("address", Kind::Text),
    ])?;
    let optional = [
        ("hourly_activity", Kind::IntList),
        ("daily_activity", Kind::IntList),
        ("dominant_asset_in", Kind::Text),
        ("dominant_asset_out", Kind::Text),
    ];
    let mut present = [false; 4];
    for (slot, (column, kind)) in optional.iter().enumerate() {
        if let Some(index) = file.find(column, *kind, false)? {
            projection.push(index);
            present[slot] = true;
        }
    }
    let schema = file.metadata.schema().clone();
    let mut numeric_names: Vec<String> = Vec::new();
    for (index, field) in schema.fields().iter().enumerate() {
        let name = field.name().as_str();
        if FEATURE_IDENTIFIER_COLUMNS.contains(&name) {
            continue;
        }
        let is_contract = CONTRACT_FEATURE_COLUMNS.contains(&name);
        let data_type = field.data_type();
        let numeric_type =
            data_type.is_numeric() || matches!(data_type, arrow::datatypes::DataType::Boolean);
        if is_contract {
            file.find(name, Kind::Number, true)?;
        } else if !numeric_type {
            continue;
        }
        projection.push(index);
        numeric_names.push(name.to_string());
    }
    let mut ordered: Vec<NumericColumn> = numeric_names
        .iter()
        .map(|name| NumericColumn {
            name: name.clone(),
            values: Vec::new(),
        })
        .collect();
    crate::validate::order_numeric_columns(&mut ordered);
    let names: Vec<String> = ordered.into_iter().map(|column| column.name).collect();
    let init = || AddressFeatures {
        numeric: names
            .iter()
            .map(|name| NumericColumn {
                name: name.clone(),
                values: Vec::new(),
            })
            .collect(),
        ..AddressFeatures::default()
    };
    let parts = file.read(
        &projection,
        init,
        |part: &mut AddressFeatures, batch, first_row| {
            let rows = batch.num_rows();
            let origin = |name| file.origin(name, first_row);
            push_u32(
                column(&file, batch, "window_days")?.as_ref(),
                origin("window_days"),
                &mut part.window_days,
            )?;
            push_dates(
                column(&file, batch, "processing_date")?.as_ref(),
                origin("processing_date"),
                &mut part.processing_date,
            )?;
            push_texts(
                column(&file, batch, "address")?.as_ref(),
                origin("address"),
                &mut part.address,
            )?;
            for (present, (name, list)) in present[..2].iter().zip([
                ("hourly_activity", &mut part.hourly_activity),
                ("daily_activity", &mut part.daily_activity),
            ]) {
                if *present {
                    push_u16_lists(column(&file, batch, name)?.as_ref(), origin(name), list)?;
                } else {
                    list.resize(list.len() + rows, Vec::new());
                }
            }
            for (present, (name, texts)) in present[2..].iter().zip([
                ("dominant_asset_in", &mut part.dominant_asset_in),
                ("dominant_asset_out", &mut part.dominant_asset_out),
            ]) {
                if *present {
                    push_texts(column(&file, batch, name)?.as_ref(), origin(name), texts)?;
                } else {
                    texts.resize(texts.len() + rows, String::new());
                }
            }
            for numeric in &mut part.numeric {
                let array = column(&file, batch, &numeric.name)?;
                push_numbers(
                    array.as_ref(),
                    file.origin(&numeric.name, first_row),
                    &mut numeric.values,
                )?;
            }
            Ok(())
        },
    )?;
    // One row group (the common case): the part is the table, no copy.
    if parts.len() == 1 {
        return Ok(parts.into_iter().next().unwrap_or_else(&init));
    }
    let mut whole = init();
    for mut part in parts {
        whole.window_days.append(&mut part.window_days);
        whole.processing_date.append(&mut part.processing_date);
        whole.address.append(&mut part.address);
        whole.hourly_activity.append(&mut part.hourly_activity);
        whole.daily_activity.append(&mut part.daily_activity);
        whole.dominant_asset_in.append(&mut part.dominant_asset_in);
        whole
            .dominant_asset_out
            .append(&mut part.dominant_asset_out);
        for (target, source) in whole.numeric.iter_mut().zip(&mut part.numeric) {
            target.values.append(&mut source.values);
        }
    }
    Ok(whole)
}

/// Hash state for address interning: aHash (fast on short strings, AES-accelerated) with fixed
/// seeds. Output never depends on it (ids are renumbered by sorted name), only speed: the
/// standard SipHash costs several times more per lookup on 10 million flow endpoints.
fn address_hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    )
}

type AddressIndex = HashMap<String, u32, ahash::RandomState>;

/// One row group of money flows with its own address dictionary (ids in first-seen order).
struct FlowPart {
    index: AddressIndex,
    flows: MoneyFlows,
}

impl FlowPart {
    fn new() -> FlowPart {
        FlowPart {
            index: HashMap::with_hasher(address_hasher()),
            flows: MoneyFlows::default(),
        }
    }
}

/// Interns every address of a text column, allocating only for addresses not seen before in this part.
fn intern(
    index: &mut AddressIndex,
    view: &TextView,
    origin: Origin,
    ids: &mut Vec<u32>,
) -> Result<(), BatchError> {
    ids.reserve(view.len());
    for row in 0..view.len() {
        let address = view
            .get(row)
            .filter(|text| !text.is_empty())
            .ok_or_else(|| {
                BatchError::InvalidValue(crate::error::InvalidValue {
                    file: origin.file.to_string(),
                    column: origin.column.to_string(),
                    row: origin.first_row + row,
                    value: "\"\"".to_string(),
                    reason: "empty or null address".to_string(),
                })
            })?;
        let id = match index.get(address) {
            Some(&id) => id,
            None => {
                let id = index.len() as u32;
                index.insert(address.to_string(), id);
                id
            }
        };
        ids.push(id);
    }
    Ok(())
}

/// Which value columns of `money_flows.parquet` to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlowColumns {
    /// Every contract column (verification, training, tools).
    #[default]
    All,
    /// Only what features use: `from_address`, `to_address`, `tx_count`, `amount_usd_sum`;
    /// the other value columns of [`MoneyFlows`] stay empty.
    Scoring,
}

/// Flow columns always decoded.
const FLOW_KEY_COLUMNS: [(&str, Kind); 4] = [
    ("from_address", Kind::Text),
    ("to_address", Kind::Text),
    ("tx_count", Kind::Number),
    ("amount_usd_sum", Kind::Number),
];

/// Flow columns decoded with [`FlowColumns::All`] only.
const FLOW_VALUE_COLUMNS: [(&str, Kind); 8] = [
    ("amount_sum", Kind::Number),
    ("first_seen_timestamp", Kind::Integer),
    ("last_seen_timestamp", Kind::Integer),
    ("active_days", Kind::Number),
    ("avg_tx_size_usd", Kind::Number),
    ("unique_assets", Kind::Number),
    ("reciprocity_ratio", Kind::Number),
    ("is_bidirectional", Kind::Flag),
];

/// Reads `money_flows.parquet` completely ([`FlowColumns::All`]).
pub fn read_money_flows(path: &Path) -> Result<MoneyFlows, BatchError> {
    read_money_flows_with(path, FlowColumns::All)
}

/// Reads `money_flows.parquet`, in file order, interning addresses into a sorted dictionary.
/// Every contract column must be present with its contract type; `dominant_asset`,
/// `hourly_pattern` and `weekly_pattern` are never decoded (features do not use them), and the
/// value columns only with [`FlowColumns::All`].
pub fn read_money_flows_with(path: &Path, columns: FlowColumns) -> Result<MoneyFlows, BatchError> {
    let file = ParquetFile::open(path)?;
    file.require(&[
        ("dominant_asset", Kind::Text),
        ("hourly_pattern", Kind::IntList),
        ("weekly_pattern", Kind::IntList),
    ])?;
    let values = file.require(&FLOW_VALUE_COLUMNS)?;
    let mut projection = file.require(&FLOW_KEY_COLUMNS)?;
    let all = columns == FlowColumns::All;
    if all {
        projection.extend(values);
    }
    let parts = file.read(
        &projection,
        FlowPart::new,
        |part: &mut FlowPart, batch, first_row| {
            let origin = |name| file.origin(name, first_row);
            for name in ["from_address", "to_address"] {
                let array = column(&file, batch, name)?;
                let view = TextView::new(array.as_ref()).ok_or_else(|| BatchError::WrongType {
                    file: file.name.clone(),
                    column: name.to_string(),
                    found: array.data_type().to_string(),
                    expected: Kind::Text.expected().to_string(),
                })?;
                let ids = if name == "from_address" {
                    &mut part.flows.from
                } else {
                    &mut part.flows.to
                };
                intern(&mut part.index, &view, origin(name), ids)?;
            }
            let flows = &mut part.flows;
            for (name, values) in [
                ("tx_count", &mut flows.tx_count),
                ("amount_usd_sum", &mut flows.amount_usd_sum),
            ] {
                push_numbers(column(&file, batch, name)?.as_ref(), origin(name), values)?;
            }
            if !all {
                return Ok(());
            }
            let numbers = [
                ("amount_sum", &mut flows.amount_sum),
                ("active_days", &mut flows.active_days),
                ("avg_tx_size_usd", &mut flows.avg_tx_size_usd),
                ("unique_assets", &mut flows.unique_assets),
                ("reciprocity_ratio", &mut flows.reciprocity_ratio),
            ];
            for (name, values) in numbers {
                push_numbers(column(&file, batch, name)?.as_ref(), origin(name), values)?;
            }
            for (name, values) in [
                ("first_seen_timestamp", &mut flows.first_seen_timestamp),
                ("last_seen_timestamp", &mut flows.last_seen_timestamp),
            ] {
                push_integers(column(&file, batch, name)?.as_ref(), origin(name), values)?;
            }
            push_flags(
                column(&file, batch, "is_bidirectional")?.as_ref(),
                origin("is_bidirectional"),
                &mut flows.is_bidirectional,
            )?;
            Ok(())
        },
    )?;
    Ok(merge_flow_parts(parts))
}

/// Merges per-row-group parts: one sorted global dictionary, ids remapped, rows concatenated in file order.
///
/// The parts' dictionaries are merged through one hash map (one lookup per local name), and only
/// the distinct names are sorted: binary-searching every local name in the sorted union cost
/// more than the whole Parquet decode on a full-size day.
fn merge_flow_parts(mut parts: Vec<FlowPart>) -> MoneyFlows {
    let local_names: Vec<Vec<String>> = parts
        .iter_mut()
        .map(|part| {
            let mut names = vec![String::new(); part.index.len()];
            for (name, id) in std::mem::take(&mut part.index) {
                names[id as usize] = name;
            }
            names
        })
        .collect();
    // Global ids in first-seen order (part by part), then renumbered by sorted name.
    let mut global: HashMap<&str, u32, ahash::RandomState> = HashMap::with_hasher(address_hasher());
    let mut distinct: Vec<&str> = Vec::new();
    let first_seen: Vec<Vec<u32>> = local_names
        .iter()
        .map(|names| {
            names
                .iter()
                .map(|name| {
                    *global.entry(name.as_str()).or_insert_with(|| {
                        distinct.push(name.as_str());
                        (distinct.len() - 1) as u32
                    })
                })
                .collect()
        })
        .collect();
    drop(global);
    let mut by_name: Vec<u32> = (0..distinct.len() as u32).collect();
    by_name.par_sort_unstable_by(|&a, &b| distinct[a as usize].cmp(distinct[b as usize]));
    let mut sorted_id = vec![0u32; distinct.len()];
    for (rank, &id) in by_name.iter().enumerate() {
        sorted_id[id as usize] = rank as u32;
    }
    let addresses: Vec<String> = by_name
        .iter()
        .map(|&id| distinct[id as usize].to_string())
        .collect();
    let remaps: Vec<Vec<u32>> = first_seen
        .into_iter()
        .map(|ids| ids.into_iter().map(|id| sorted_id[id as usize]).collect())
        .collect();
    drop(distinct);
    drop(local_names);
    // Every column reserved once at its final length: growing by doubling while appending
    // five row groups of a full-size day costs hundreds of MB of peak memory.
    let total: usize = parts.iter().map(|part| part.flows.len()).sum();
    let mut whole = MoneyFlows {
        addresses,
        from: Vec::with_capacity(total),
        to: Vec::with_capacity(total),
        tx_count: Vec::with_capacity(total),
        amount_sum: Vec::with_capacity(total),
        amount_usd_sum: Vec::with_capacity(total),
        first_seen_timestamp: Vec::with_capacity(total),
        last_seen_timestamp: Vec::with_capacity(total),
        active_days: Vec::with_capacity(total),
        avg_tx_size_usd: Vec::with_capacity(total),
        unique_assets: Vec::with_capacity(total),
        reciprocity_ratio: Vec::with_capacity(total),
        is_bidirectional: Vec::with_capacity(total),
    };
    for (mut part, remap) in parts.into_iter().zip(remaps) {
        let flows = &mut part.flows;
        whole
            .from
            .extend(flows.from.iter().map(|&id| remap[id as usize]));
        whole
            .to
            .extend(flows.to.iter().map(|&id| remap[id as usize]));
        whole.tx_count.append(&mut flows.tx_count);
        whole.amount_sum.append(&mut flows.amount_sum);
        whole.amount_usd_sum.append(&mut flows.amount_usd_sum);
        whole
            .first_seen_timestamp
            .append(&mut flows.first_seen_timestamp);
        whole
            .last_seen_timestamp
            .append(&mut flows.last_seen_timestamp);
        whole.active_days.append(&mut flows.active_days);
        whole.avg_tx_size_usd.append(&mut flows.avg_tx_size_usd);
        whole.unique_assets.append(&mut flows.unique_assets);
        whole.reciprocity_ratio.append(&mut flows.reciprocity_ratio);
        whole.is_bidirectional.append(&mut flows.is_bidirectional);
    }
    whole
}
