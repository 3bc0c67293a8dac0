//! `META.json`: batch identity, row counts, file hashes and pattern traps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::date::Date;
use crate::error::BatchError;

/// A planted alert group whose expected placement the validator checks at T+0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PatternTrap {
    /// Trap identifier.
    pub trap_id: String,
    /// Alerts that belong to the trap.
    pub alert_ids: Vec<String>,
    /// 1: the alerts should land in the top 10% of scores; 0: in the bottom half.
    pub expected_result: u8,
}

/// Parsed `META.json`. Unknown keys are ignored so the SOT can add fields without breaking miners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Meta {
    /// Batch identifier, e.g. `torus-2025-10-30`.
    pub batch_id: String,
    /// Network name.
    pub network: String,
    /// The batch date, `YYYY-MM-DD` (checked by [`Meta::date`] whenever a batch is read or built).
    pub processing_date: String,
    /// Look-back window in days.
    pub window_days: u32,
    /// Schema version of the export.
    pub schema_version: String,
    /// Rows in `alerts.parquet`.
    pub n_alerts: u64,
    /// Rows in `features.parquet`.
    pub n_addresses: u64,
    /// Rows in `clusters.parquet`.
    pub n_clusters: u64,
    /// Rows in `money_flows.parquet`.
    pub n_money_flows: u64,
    /// Lower-case hex sha256 of every file of the batch, keyed by file name. A BTreeMap so serialisation
    /// and iteration order are deterministic.
    pub sha256: BTreeMap<String, String>,
    /// Planted traps (absent means none).
    #[serde(default)]
    pub pattern_traps: Vec<PatternTrap>,
}

impl Meta {
    /// Parses META.json bytes.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Meta, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// `processing_date` parsed by [`Date::parse`], the one date parser; anything else (`""`,
    /// `../victim`, a time stamp) is a [`BatchError::BadMeta`] naming the key. Every [`crate::Batch`]
    /// has passed this, so a path built from its date stays where it belongs.
    pub fn date(&self) -> Result<Date, BatchError> {
        Date::parse(&self.processing_date).map_err(|e| BatchError::BadMeta {
            reason: format!("key `processing_date`: {e}"),
        })
    }

    /// Pretty JSON with a trailing newline (the form batch writers use).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("Meta always serialises");
        bytes.push(b'\n');
        bytes
    }
}
