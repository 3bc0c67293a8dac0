//! The data owner's registry of verified-clean entities: the same rows in every day's labels, and
//! the source of the benign pattern traps.

use aml_synth::{write_days, SynthConfig};
use arrow::datatypes::{Float32Type, UInt64Type};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod common;
use common::{primitives, strings, traps};

/// Every column of a label row, in contract order (confidence as its bits).
type LabelRow = Vec<String>;

/// A day's label rows, in file order.
fn label_rows(day: &Path) -> Vec<LabelRow> {
    let path = day.join("address_labels.parquet");
    let text = [
        "network",
        "address",
        "label",
        "address_type",
        "address_subtype",
        "trust_level",
        "source",
        "risk_level",
    ]
    .map(|c| strings(&path, c));
    let confidence = primitives::<Float32Type>(&path, "confidence_score");
    let created = primitives::<UInt64Type>(&path, "created_timestamp");
    let updated = primitives::<UInt64Type>(&path, "updated_timestamp");
    (0..confidence.len())
        .map(|i| {
            let mut row: Vec<String> = text.iter().map(|c| c[i].clone()).collect();
            row.push(confidence[i].to_bits().to_string());
            row.push(created[i].to_string());
            row.push(updated[i].to_string());
            row
        })
        .collect()
}

const ADDRESS: usize = 1;
const SOURCE: usize = 6;
const CREATED: usize = 9;

/// Alert id -> address of a day.
fn alert_addresses(day: &Path) -> BTreeMap<String, String> {
    let path = day.join("alerts.parquet");
    strings(&path, "alert_id")
        .into_iter()
        .zip(strings(&path, "address"))
        .collect()
}

/// Four labelled small days of one world.
fn four_days() -> (tempfile::TempDir, Vec<PathBuf>) {
    let out = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        days: 4,
        with_labels: true,
        ..SynthConfig::small()
    };
    let days = write_days(out.path(), &config).unwrap();
    (out, days)
}

#[test]
fn every_day_lists_the_same_registry_rows_once_at_low_risk() {
    let (_out, days) = four_days();
    let mut registries: Vec<Vec<LabelRow>> = Vec::new();
    for day in &days {
        let rows = label_rows(day);
        let addresses: BTreeSet<&str> = rows.iter().map(|r| r[ADDRESS].as_str()).collect();
        assert_eq!(
            addresses.len(),
            rows.len(),
            "duplicate address rows in {day:?}"
        );
        let mut registry: Vec<LabelRow> = rows
            .into_iter()
            .filter(|r| r[SOURCE] == "sot_registry")
            .collect();
        registry.sort();
        for row in &registry {
            assert_eq!(
                (row[2].as_str(), row[5].as_str(), row[7].as_str()),
                ("verified_entity", "verified", "low"),
                "registry row {row:?}"
            );
        }
        registries.push(registry);
    }
    // About 3% of the 5,000 addresses of a small day.
    let n = registries[0].len();
    assert!((100..=250).contains(&n), "{n} registry members");
    for (day, registry) in days.iter().zip(&registries).skip(1) {
        assert!(
            registry == &registries[0],
            "the registry rows of {day:?} differ from the first day's"
        );
    }
    // Created before the window of the first day (2025-10-24 for 2025-10-30).
    let first_window_ms = 20_385u64 * 86_400_000;
    assert!(registries[0]
        .iter()
        .all(|r| r[CREATED].parse::<u64>().unwrap() < first_window_ms));
}

#[test]
fn benign_traps_are_registry_members_and_members_are_also_alerted_otherwise() {
    let (_out, days) = four_days();
    let mut ordinary_registry_alerts = 0;
    for day in &days {
        let registry: BTreeSet<String> = label_rows(day)
            .into_iter()
            .filter(|r| r[SOURCE] == "sot_registry")
            .map(|r| r[ADDRESS].clone())
            .collect();
        let addresses = alert_addresses(day);
        let traps = traps(day);
        assert_eq!(traps.len(), 6, "traps of {day:?}");
        let mut trap_ids: BTreeSet<&str> = BTreeSet::new();
        for (ids, expected) in &traps {
            assert_eq!(ids.len(), 5);
            for id in ids {
                trap_ids.insert(id);
                let in_registry = registry.contains(&addresses[id]);
                assert_eq!(
                    in_registry,
                    *expected == 0,
                    "trap alert {id} (expected {expected}) registry membership"
                );
            }
        }
        ordinary_registry_alerts += addresses
            .iter()
            .filter(|(id, address)| !trap_ids.contains(id.as_str()) && registry.contains(*address))
            .count();
    }
    assert!(
        ordinary_registry_alerts > 0,
        "registry addresses should also be raised as ordinary false positives"
    );
}
