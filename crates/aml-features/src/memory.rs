//! Label memory: what the labelled history says about an address.
//!
//! A [`LabelMemory`] folds the `address_labels` tables of some labelled days into one entry per
//! address: on how many days it was labelled, on how many days at each risk level, its risk
//! level on the latest of those days, the highest one, the latest day itself and whether a
//! `verified` source ever called it low risk. The optional feature group `label_memory`
//! (see [`crate::FeatureGroups`]) turns the entry of each alert's address into `mem_*` columns.
//!
//! An address's risk level on a day is the highest known risk level of its rows that day (the
//! contract's rule for duplicate labels, [`AddressLabels::relevance_of`]); rows with an unknown
//! risk level are ignored. Every fold is a count, a maximum or an "any", so the memory does not
//! depend on the row order of a table or the order the days are added in; entries are kept in
//! address order (a `BTreeMap`), so everything derived from them is deterministic.
//!
//! Out of time: a memory used to featurise day `d` must hold only days before `d` (training
//! builds one per day, see `aml_train::pipeline`); the memory a model bundle stores holds all of
//! its training days and is used for days after them.
//!
//! Bounds: addresses are data, never paths; an address longer than [`MAX_ADDRESS_BYTES`] is
//! skipped when labels are folded in and refused in a stored memory, and a stored memory with
//! more than [`MAX_MEMORY_ROWS`] rows is refused before it is decoded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use aml_core::date::Date;
use aml_core::schema::{ColumnMut, ColumnRef, ColumnSpec, Kind, SotType, Table, TableSchema};
use aml_core::tables::AddressLabels;
pub use aml_core::tables::{risk_ordinal, RISK_LEVELS};
use aml_core::BatchError;

use crate::columns::ColumnSink;
use crate::prepared::PreparedBatch;

/// Longest address a memory holds, in bytes (real chain addresses are well below 100).
pub const MAX_ADDRESS_BYTES: usize = 256;

/// Most rows a stored memory may have (checked before decoding).
pub const MAX_MEMORY_ROWS: usize = 50_000_000;

/// What the labelled days say about one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEntry {
    /// Days on which the address had a label with a known risk level.
    pub days_labelled: u32,
    /// Of those, the days at each risk level (low, medium, high, critical).
    pub days_by_risk: [u32; 4],
    /// Risk level ordinal (0 low .. 3 critical) on the latest labelled day.
    pub latest_risk: u8,
    /// Highest risk level ordinal over all labelled days.
    pub max_risk: u8,
    /// The latest labelled day.
    pub latest_day: Date,
    /// A label row with trust level `verified` and risk level `low` was seen (even on a day
    /// another row of the address had a higher level).
    pub verified_clean: bool,
}

impl MemoryEntry {
    fn first(date: Date, risk: u8, verified_clean: bool) -> MemoryEntry {
        let mut days_by_risk = [0; 4];
        days_by_risk[usize::from(risk)] = 1;
        MemoryEntry {
            days_labelled: 1,
            days_by_risk,
            latest_risk: risk,
            max_risk: risk,
            latest_day: date,
            verified_clean,
        }
    }

    fn add(&mut self, date: Date, risk: u8, verified_clean: bool) {
        self.days_labelled += 1;
        self.days_by_risk[usize::from(risk)] += 1;
        self.max_risk = self.max_risk.max(risk);
        if date > self.latest_day {
            self.latest_day = date;
            self.latest_risk = risk;
        }
        self.verified_clean |= verified_clean;
    }

    /// Why the entry cannot have come from [`LabelMemory::add_day`], if it cannot.
    fn inconsistency(&self, days: &BTreeSet<Date>) -> Option<String> {
        // Summed in u64: a stored row's counts are data, and a u32 sum could overflow (a panic,
        // or a wrapped sum that matches `days_labelled`).
        let counted: u64 = self.days_by_risk.iter().map(|&n| u64::from(n)).sum();
        let highest = self.days_by_risk.iter().rposition(|&n| n > 0);
        if self.days_labelled == 0 || counted != u64::from(self.days_labelled) {
            Some(format!(
                "days_labelled {} is not the sum {counted} of the per-risk day counts (and must be at least 1)",
                self.days_labelled
            ))
        } else if self.days_labelled as usize > days.len() {
            Some(format!(
                "days_labelled {} exceeds the memory's {} days",
                self.days_labelled,
                days.len()
            ))
        } else if highest != Some(usize::from(self.max_risk)) {
            Some(format!(
                "max_risk {} is not the highest risk level with a day",
                self.max_risk
            ))
        } else if self.days_by_risk[usize::from(self.latest_risk)] == 0 {
            Some(format!("latest_risk {} has no day", self.latest_risk))
        } else if !days.contains(&self.latest_day) {
            Some(format!(
                "latest_day {} is not one of the memory's days",
                self.latest_day
            ))
        } else {
            None
        }
    }
}

/// Why a label memory could not be built, read or written.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The same processing date was folded in twice.
    #[error("label memory: day {date} was added twice")]
    DuplicateDay {
        /// The repeated day.
        date: Date,
    },
    /// A stored memory could not be read (the error names the file, column and row).
    #[error("label memory: {0}")]
    Read(BatchError),
    /// The memory could not be encoded as Parquet.
    #[error("label memory: {0}")]
    Encode(BatchError),
    /// A stored memory has more rows than [`MAX_MEMORY_ROWS`].
    #[error("{path}: label memory has {rows} rows, more than the limit of {max}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its row count.
        rows: usize,
        /// The limit.
        max: usize,
    },
    /// A row of a stored memory is impossible.
    #[error("{path}: row {row} (address {address:?}): {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 0-based row.
        row: usize,
        /// The row's address (cut to [`MAX_ADDRESS_BYTES`]).
        address: String,
        /// What is wrong.
        reason: String,
    },
}

/// Per-address label history, folded over some labelled days (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelMemory {
    entries: BTreeMap<String, MemoryEntry>,
    days: BTreeSet<Date>,
}

/// One address's risk level and verified-clean flag on one day, from all of its rows.
fn day_risks(labels: &AddressLabels) -> BTreeMap<&str, (u8, bool)> {
    let mut by_address: BTreeMap<&str, (u8, bool)> = BTreeMap::new();
    for row in 0..labels.len() {
        let address = labels.address[row].as_str();
        let Some(risk) = risk_ordinal(&labels.risk_level[row]) else {
            continue;
        };
        if address.is_empty() || address.len() > MAX_ADDRESS_BYTES {
            continue;
        }
        let verified = risk == 0
            && labels.trust_level[row]
                .trim()
                .eq_ignore_ascii_case("verified");
        let slot = by_address.entry(address).or_insert((risk, verified));
        slot.0 = slot.0.max(risk);
        slot.1 |= verified;
    }
    by_address
}

impl LabelMemory {
    /// An empty memory: every address unknown.
    pub fn new() -> LabelMemory {
        LabelMemory::default()
    }

    /// The memory of `days` (date, that day's labels), in any order.
    pub fn from_days<'a>(
        days: impl IntoIterator<Item = (Date, &'a AddressLabels)>,
    ) -> Result<LabelMemory, MemoryError> {
        let mut memory = LabelMemory::new();
        for (date, labels) in days {
            memory.add_day(date, labels)?;
        }
        Ok(memory)
    }

    /// Folds in the labels of day `date`. A day may be added once; days may come in any order.
    pub fn add_day(&mut self, date: Date, labels: &AddressLabels) -> Result<(), MemoryError> {
        if !self.days.insert(date) {
            return Err(MemoryError::DuplicateDay { date });
        }
        let skipped = labels
            .address
            .iter()
            .filter(|a| a.len() > MAX_ADDRESS_BYTES)
            .count();
        if skipped > 0 {
            tracing::warn!(
                "labels of {date}: {skipped} row(s) with an address longer than {MAX_ADDRESS_BYTES} bytes left out of the label memory"
            );
        }
        for (address, (risk, verified)) in day_risks(labels) {
            match self.entries.get_mut(address) {
                Some(entry) => entry.add(date, risk, verified),
                None => {
                    self.entries.insert(
                        address.to_string(),
                        MemoryEntry::first(date, risk, verified),
                    );
                }
            }
        }
        Ok(())
    }

    /// Keeps at most `max_rows` entries: those labelled most recently (latest day, newest
    /// first; ties by address). Returns how many were dropped.
    pub fn keep_recent(&mut self, max_rows: usize) -> usize {
        if self.entries.len() <= max_rows {
            return 0;
        }
        let mut order: Vec<(Date, &String)> = self
            .entries
            .iter()
            .map(|(address, e)| (e.latest_day, address))
            .collect();
        order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let dropped: Vec<String> = order[max_rows..]
            .iter()
            .map(|(_, a)| (*a).clone())
            .collect();
        for address in &dropped {
            self.entries.remove(address);
        }
        dropped.len()
    }

    /// The entry of `address`, if the memory knows it.
    pub fn get(&self, address: &str) -> Option<&MemoryEntry> {
        self.entries.get(address)
    }

    /// Entries in address order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = (&str, &MemoryEntry)> {
        self.entries.iter().map(|(a, e)| (a.as_str(), e))
    }

    /// Number of addresses known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no address is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The labelled days folded in, ascending.
    pub fn days(&self) -> Vec<Date> {
        self.days.iter().copied().collect()
    }

    /// The last labelled day folded in.
    pub fn last_day(&self) -> Option<Date> {
        self.days.last().copied()
    }

    /// The Parquet bytes of the memory (one row per address, address order), written by
    /// aml-core's table writer: the same memory always gives the same bytes.
    pub fn to_parquet(&self) -> Result<Vec<u8>, MemoryError> {
        aml_core::write::encode_table(&MemoryTable::from(self)).map_err(MemoryError::Encode)
    }

    /// Reads a memory written by [`LabelMemory::to_parquet`] whose days are `days` (recorded
    /// beside it, e.g. in a bundle's metadata), refusing oversized files, repeated or unsorted
    /// addresses and impossible rows, each error naming the file and row.
    pub fn read_parquet(path: &Path, days: &[Date]) -> Result<LabelMemory, MemoryError> {
        let rows = aml_core::read::ParquetFile::open(path)
            .map_err(MemoryError::Read)?
            .num_rows();
        if rows > MAX_MEMORY_ROWS {
            return Err(MemoryError::TooLarge {
                path: path.to_path_buf(),
                rows,
                max: MAX_MEMORY_ROWS,
            });
        }
        let table: MemoryTable = aml_core::read::read_table(path).map_err(MemoryError::Read)?;
        let days: BTreeSet<Date> = days.iter().copied().collect();
        let mut entries = BTreeMap::new();
        let mut previous: Option<&str> = None;
        for row in 0..table.address.len() {
            let address = table.address[row].as_str();
            let invalid = |reason: String| MemoryError::Invalid {
                path: path.to_path_buf(),
                row,
                address: address.chars().take(MAX_ADDRESS_BYTES).collect(),
                reason,
            };
            if address.is_empty() || address.len() > MAX_ADDRESS_BYTES {
                return Err(invalid(format!(
                    "address must have 1 to {MAX_ADDRESS_BYTES} bytes, has {}",
                    address.len()
                )));
            }
            if previous.is_some_and(|p| p >= address) {
                return Err(invalid(
                    "addresses must be unique and in ascending order".into(),
                ));
            }
            previous = Some(address);
            let entry = table.entry(row).map_err(invalid)?;
            if let Some(reason) = entry.inconsistency(&days) {
                return Err(invalid(reason));
            }
            entries.insert(address.to_string(), entry);
        }
        Ok(LabelMemory { entries, days })
    }

    /// The alert feature columns of the `label_memory` group for `prepared` (see
    /// [`memory_block`]); `None` = no memory, every alert unknown.
    fn columns(memory: Option<&LabelMemory>, prepared: &PreparedBatch<'_>) -> Vec<Vec<f64>> {
        let n = prepared.n_alerts();
        let mut cols = vec![vec![0.0; n]; MEMORY_COLUMNS.len()];
        for col in &mut cols[LEVEL_COLUMNS] {
            col.fill(f64::NAN);
        }
        let Some(memory) = memory else { return cols };
        let today = Date::parse(&prepared.batch.meta.processing_date).ok();
        let n_days = memory.days.len().max(1) as f64;
        let alerts = &prepared.batch.alerts;
        for (i, &row) in prepared.alert_rows.iter().enumerate() {
            let Some(e) = memory.get(&alerts.address[row]) else {
                continue;
            };
            let values = [
                f64::from(e.days_labelled),
                f64::from(e.days_labelled) / n_days,
                f64::from(e.days_by_risk[0]),
                f64::from(e.days_by_risk[1]),
                f64::from(e.days_by_risk[2]),
                f64::from(e.days_by_risk[3]),
                f64::from(e.latest_risk),
                f64::from(e.max_risk),
                today.map_or(f64::NAN, |t| f64::from(t - e.latest_day)),
                f64::from(u8::from(e.verified_clean)),
            ];
            for (col, v) in cols.iter_mut().zip(values) {
                col[i] = v;
            }
        }
        cols
    }
}

/// The `mem_*` columns: name and meaning, in column order.
const MEMORY_COLUMNS: [(&str, &str); 10] = [
    (
        "mem_days_labelled",
        "history days on which the address had a label (0 when the memory does not know it)",
    ),
    (
        "mem_labelled_share",
        "mem_days_labelled / the memory's days: 1 for an address labelled on every day, as a \
         registry of known entities is (0 when unknown)",
    ),
    ("mem_days_low", "of those, days labelled risk low"),
    ("mem_days_medium", "of those, days labelled risk medium"),
    ("mem_days_high", "of those, days labelled risk high"),
    ("mem_days_critical", "of those, days labelled risk critical"),
    (
        "mem_latest_risk",
        "risk level (0 low .. 3 critical) on the latest labelled day (NaN when unknown)",
    ),
    (
        "mem_max_risk",
        "highest risk level over the labelled days (NaN when unknown)",
    ),
    (
        "mem_days_since_latest",
        "days from the latest labelled day to the batch's processing_date (NaN when unknown)",
    ),
    (
        "mem_verified_clean",
        "1 if a label with trust level `verified` called the address low risk, else 0",
    ),
];

/// The columns that are NaN (not 0) for an address the memory does not know: levels and times
/// have no value, while counts and flags are truly 0.
const LEVEL_COLUMNS: std::ops::Range<usize> = 6..9;

/// Declares (and computes) the label-memory block. With no memory every alert is unknown:
/// counts and the flag 0, levels and days-since NaN.
pub(crate) fn memory_block(memory: Option<&LabelMemory>, sink: &mut ColumnSink<PreparedBatch<'_>>) {
    sink.group("label memory");
    sink.add_group("label memory", MEMORY_COLUMNS, |p| {
        LabelMemory::columns(memory, p)
    });
}

/// The stored form of a [`LabelMemory`]: `label_memory.parquet`, one row per address.
#[derive(Debug, Default)]
struct MemoryTable {
    address: Vec<String>,
    days_labelled: Vec<u64>,
    days_low: Vec<u64>,
    days_medium: Vec<u64>,
    days_high: Vec<u64>,
    days_critical: Vec<u64>,
    latest_risk: Vec<u64>,
    max_risk: Vec<u64>,
    latest_day: Vec<String>,
    verified_clean: Vec<bool>,
}

/// File name of a stored label memory (in a model bundle).
pub const MEMORY_FILE: &str = "label_memory.parquet";

const fn column(name: &'static str, sot: SotType, kind: Kind, doc: &'static str) -> ColumnSpec {
    ColumnSpec::new(name, sot, kind, doc)
}

/// Columns of `label_memory.parquet`.
pub const MEMORY_SCHEMA: TableSchema = TableSchema {
    file: MEMORY_FILE,
    source: "aml-miner label memory",
    nullable: false,
    columns: &[
        column("address", SotType::String, Kind::Text, "the address").id(),
        column(
            "days_labelled",
            SotType::UInt32,
            Kind::Integer,
            "days with a label",
        ),
        column(
            "days_low",
            SotType::UInt32,
            Kind::Integer,
            "days labelled low",
        ),
        column(
            "days_medium",
            SotType::UInt32,
            Kind::Integer,
            "days labelled medium",
        ),
        column(
            "days_high",
            SotType::UInt32,
            Kind::Integer,
            "days labelled high",
        ),
        column(
            "days_critical",
            SotType::UInt32,
            Kind::Integer,
            "days labelled critical",
        ),
        column(
            "latest_risk",
            SotType::UInt8,
            Kind::Integer,
            "risk ordinal on the latest day",
        ),
        column(
            "max_risk",
            SotType::UInt8,
            Kind::Integer,
            "highest risk ordinal",
        ),
        column(
            "latest_day",
            SotType::Date,
            Kind::Date,
            "the latest labelled day",
        ),
        column(
            "verified_clean",
            SotType::Boolean,
            Kind::Flag,
            "a verified low-risk label was seen",
        ),
    ],
};

impl Table for MemoryTable {
    const SCHEMA: &'static TableSchema = &MEMORY_SCHEMA;

    fn columns(&self) -> Vec<ColumnRef<'_>> {
        vec![
            ColumnRef::Texts(&self.address),
            ColumnRef::Integers(&self.days_labelled),
            ColumnRef::Integers(&self.days_low),
            ColumnRef::Integers(&self.days_medium),
            ColumnRef::Integers(&self.days_high),
            ColumnRef::Integers(&self.days_critical),
            ColumnRef::Integers(&self.latest_risk),
            ColumnRef::Integers(&self.max_risk),
            ColumnRef::Dates(&self.latest_day),
            ColumnRef::Flags(&self.verified_clean),
        ]
    }

    fn columns_mut(&mut self) -> Vec<ColumnMut<'_>> {
        vec![
            ColumnMut::Texts(&mut self.address),
            ColumnMut::Integers(&mut self.days_labelled),
            ColumnMut::Integers(&mut self.days_low),
            ColumnMut::Integers(&mut self.days_medium),
            ColumnMut::Integers(&mut self.days_high),
            ColumnMut::Integers(&mut self.days_critical),
            ColumnMut::Integers(&mut self.latest_risk),
            ColumnMut::Integers(&mut self.max_risk),
            ColumnMut::Dates(&mut self.latest_day),
            ColumnMut::Flags(&mut self.verified_clean),
        ]
    }
}

impl From<&LabelMemory> for MemoryTable {
    fn from(memory: &LabelMemory) -> MemoryTable {
        let mut t = MemoryTable::default();
        for (address, e) in &memory.entries {
            t.address.push(address.clone());
            t.days_labelled.push(u64::from(e.days_labelled));
            t.days_low.push(u64::from(e.days_by_risk[0]));
            t.days_medium.push(u64::from(e.days_by_risk[1]));
            t.days_high.push(u64::from(e.days_by_risk[2]));
            t.days_critical.push(u64::from(e.days_by_risk[3]));
            t.latest_risk.push(u64::from(e.latest_risk));
            t.max_risk.push(u64::from(e.max_risk));
            t.latest_day.push(e.latest_day.to_string());
            t.verified_clean.push(e.verified_clean);
        }
        t
    }
}

impl MemoryTable {
    /// Row `row` as an entry, or why its values are out of range.
    fn entry(&self, row: usize) -> Result<MemoryEntry, String> {
        let count = |name: &str, v: u64| {
            u32::try_from(v).map_err(|_| format!("{name} {v} is out of range"))
        };
        let level = |name: &str, v: u64| match u8::try_from(v) {
            Ok(l) if l <= 3 => Ok(l),
            _ => Err(format!("{name} {v} is not a risk level 0..=3")),
        };
        let latest_day =
            Date::parse(&self.latest_day[row]).map_err(|e| format!("latest_day: {e}"))?;
        Ok(MemoryEntry {
            days_labelled: count("days_labelled", self.days_labelled[row])?,
            days_by_risk: [
                count("days_low", self.days_low[row])?,
                count("days_medium", self.days_medium[row])?,
                count("days_high", self.days_high[row])?,
                count("days_critical", self.days_critical[row])?,
            ],
            latest_risk: level("latest_risk", self.latest_risk[row])?,
            max_risk: level("max_risk", self.max_risk[row])?,
            latest_day,
            verified_clean: self.verified_clean[row],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_whose_u32_sum_overflows_are_refused() {
        let day = Date::parse("2025-10-01").unwrap();
        // u32::MAX + 2 wraps to 1 = days_labelled in u32 arithmetic.
        let entry = MemoryEntry {
            days_labelled: 1,
            days_by_risk: [u32::MAX, 2, 0, 0],
            latest_risk: 1,
            max_risk: 1,
            latest_day: day,
            verified_clean: false,
        };
        let reason = entry.inconsistency(&BTreeSet::from([day])).unwrap();
        assert!(reason.contains("days_labelled 1"), "{reason}");
    }
}
