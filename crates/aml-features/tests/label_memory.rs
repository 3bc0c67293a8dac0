//! The label memory and its `mem_*` feature group: folds of hand-built label tables, row-order,
//! day-order and thread invariance, the Parquet round trip and its refusals, and old specs
//! building their old columns.

use aml_core::batch::Batch;
use aml_core::date::Date;
use aml_core::tables::AddressLabels;
use aml_features::memory::MemoryError;
use aml_features::{FeatureBuilder, FeatureMatrix, FeatureSpec, FeatureWarning, LabelMemory};
use proptest::prelude::*;

/// Label rows: (address, risk level, trust level).
fn labels(rows: &[(&str, &str, &str)]) -> AddressLabels {
    let mut t = AddressLabels::default();
    for &(address, risk, trust) in rows {
        t.network.push("torus".into());
        t.address.push(address.into());
        t.label.push("x".into());
        t.address_type.push("wallet".into());
        t.address_subtype.push(String::new());
        t.trust_level.push(trust.into());
        t.source.push("test".into());
        t.risk_level.push(risk.into());
        t.confidence_score.push(0.9);
        t.created_timestamp.push(0);
        t.updated_timestamp.push(0);
    }
    t
}

fn date(text: &str) -> Date {
    Date::parse(text).unwrap()
}

/// A small synthetic day dated 2025-10-05, loaded.
fn batch() -> (tempfile::TempDir, Batch) {
    let dir = tempfile::tempdir().unwrap();
    let config = aml_synth::SynthConfig {
        n_alerts: 40,
        n_addresses: 200,
        n_flows: 500,
        date: "2025-10-05".into(),
        ..aml_synth::SynthConfig::small()
    };
    let path = aml_synth::write_batch(&dir.path().join("b"), &config, 0).unwrap();
    let (batch, _) = Batch::load(&path).unwrap();
    (dir, batch)
}

fn spec_with_memory(batch: &Batch) -> FeatureSpec {
    let mut builder = FeatureBuilder::new();
    builder.groups.label_memory = true;
    builder.fit(&[batch]).unwrap()
}

/// The `mem_*` values of the first alert row on `address`.
fn mem_row(m: &FeatureMatrix, batch: &Batch, address: &str) -> Vec<(String, f32)> {
    let alerts = &batch.alerts;
    let id = (0..alerts.len())
        .find(|&r| alerts.address[r] == address)
        .map(|r| alerts.alert_id[r].clone())
        .unwrap();
    let row = m.row_ids.iter().position(|r| *r == id).unwrap();
    m.feature_names
        .iter()
        .enumerate()
        .filter(|(_, n)| n.starts_with("mem_"))
        .map(|(j, n)| (n.clone(), m.values[[row, j]]))
        .collect()
}

fn value(row: &[(String, f32)], name: &str) -> f32 {
    row.iter().find(|(n, _)| n == name).unwrap().1
}

#[test]
fn memory_folds_hand_built_label_tables() {
    let (_dir, batch) = batch();
    let a = batch.alerts.address[0].clone();
    let b = (0..batch.alerts.len())
        .map(|r| batch.alerts.address[r].clone())
        .find(|x| *x != a)
        .unwrap();
    let days = [
        // a: high, with a duplicate low row the same day (the day's level is the highest).
        (
            date("2025-10-01"),
            labels(&[
                (&a, "high", "medium"),
                (&a, "low", "verified"),
                (&b, "low", "verified"),
            ]),
        ),
        // a: medium; b: an unknown risk level is no label at all.
        (
            date("2025-10-02"),
            labels(&[(&a, " Medium ", "high"), (&b, "unknown", "verified")]),
        ),
        // b: low again but not verified; an address the batch does not alert.
        (
            date("2025-10-03"),
            labels(&[(&b, "LOW", "high"), ("nobody", "critical", "high")]),
        ),
    ];
    let memory = LabelMemory::from_days(days.iter().map(|(d, l)| (*d, l))).unwrap();
    assert_eq!(memory.len(), 3);
    // The entry as (days labelled, days per risk level, latest, max, latest day, verified).
    let entry = |address: &str| {
        let e = memory.get(address).unwrap();
        let day = e.latest_day.to_string();
        (
            e.days_labelled,
            e.days_by_risk,
            e.latest_risk,
            e.max_risk,
            day,
            e.verified_clean,
        )
    };
    // `a`'s verified row was low, but its day's level was high: still a verified-clean label.
    let a_day = "2025-10-02".to_string();
    assert_eq!(entry(&a), (2, [0, 1, 1, 0], 1, 2, a_day, true));
    let b_day = "2025-10-03".to_string();
    assert_eq!(entry(&b), (2, [2, 0, 0, 0], 0, 0, b_day, true));
    assert_eq!(
        memory.days(),
        vec![date("2025-10-01"), date("2025-10-02"), date("2025-10-03")]
    );

    let spec = spec_with_memory(&batch);
    let m = spec.transform_with_memory(&batch, Some(&memory)).unwrap();
    let row = mem_row(&m, &batch, &a);
    assert_eq!(value(&row, "mem_days_labelled"), 2.0);
    // Labelled on 2 of the memory's 3 days.
    assert_eq!(value(&row, "mem_labelled_share"), (2.0f64 / 3.0) as f32);
    assert_eq!(value(&row, "mem_days_high"), 1.0);
    assert_eq!(value(&row, "mem_days_medium"), 1.0);
    assert_eq!(value(&row, "mem_latest_risk"), 1.0);
    assert_eq!(value(&row, "mem_max_risk"), 2.0);
    // 2025-10-05 (the batch's processing_date) minus 2025-10-02.
    assert_eq!(value(&row, "mem_days_since_latest"), 3.0);
    assert_eq!(value(&row, "mem_verified_clean"), 1.0);
    let row = mem_row(&m, &batch, &b);
    assert_eq!(value(&row, "mem_days_low"), 2.0);
    assert_eq!(value(&row, "mem_days_since_latest"), 2.0);

    // An alert on an address the memory does not know: counts 0, levels and time NaN.
    let unknown = (0..batch.alerts.len())
        .map(|r| batch.alerts.address[r].clone())
        .find(|x| *x != a && *x != b)
        .unwrap();
    let row = mem_row(&m, &batch, &unknown);
    assert_eq!(value(&row, "mem_days_labelled"), 0.0);
    assert_eq!(value(&row, "mem_labelled_share"), 0.0);
    assert_eq!(value(&row, "mem_verified_clean"), 0.0);
    assert!(value(&row, "mem_latest_risk").is_nan());
    assert!(value(&row, "mem_max_risk").is_nan());
    assert!(value(&row, "mem_days_since_latest").is_nan());

    // Without a memory every alert is unknown, exactly like an empty memory.
    let none = spec.transform_with_memory(&batch, None).unwrap();
    let empty = spec
        .transform_with_memory(&batch, Some(&LabelMemory::new()))
        .unwrap();
    let bits = |m: &FeatureMatrix| m.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&none), bits(&empty));
    assert_eq!(bits(&none), bits(&spec.transform(&batch).unwrap()));
    let row = mem_row(&none, &batch, &a);
    assert_eq!(value(&row, "mem_days_labelled"), 0.0);
    assert!(value(&row, "mem_days_since_latest").is_nan());
}

#[test]
fn a_day_added_twice_is_refused_and_a_memory_of_the_batch_day_is_reported() {
    let day = labels(&[("x", "high", "high")]);
    let mut memory = LabelMemory::new();
    memory.add_day(date("2025-10-05"), &day).unwrap();
    let err = memory.add_day(date("2025-10-05"), &day).unwrap_err();
    assert!(matches!(err, MemoryError::DuplicateDay { .. }), "{err}");
    assert!(err.to_string().contains("2025-10-05"));

    // A memory holding the batch's own day leaks its labels: the featuriser says so.
    let (_dir, batch) = batch();
    let spec = spec_with_memory(&batch);
    let prepared = aml_features::PreparedBatch::new(&batch);
    let (_, warnings) = spec
        .transform_prepared_with_memory(&prepared, Some(&memory))
        .unwrap();
    assert!(warnings.contains(&FeatureWarning::LabelMemoryNotBefore {
        last_day: "2025-10-05".into(),
        processing_date: "2025-10-05".into(),
    }));
    let mut earlier = LabelMemory::new();
    earlier.add_day(date("2025-10-04"), &day).unwrap();
    let (_, warnings) = spec
        .transform_prepared_with_memory(&prepared, Some(&earlier))
        .unwrap();
    assert!(!warnings
        .iter()
        .any(|w| matches!(w, FeatureWarning::LabelMemoryNotBefore { .. })));
}

#[test]
fn old_specs_build_their_old_columns_and_the_group_adds_mem_columns_last() {
    let (_dir, batch) = batch();
    let spec = spec_with_memory(&batch);
    // A spec written before the switch existed has no `label_memory` key: the group is off.
    let mut json: serde_json::Value = serde_json::from_str(&spec.to_json()).unwrap();
    json["groups"]
        .as_object_mut()
        .unwrap()
        .remove("label_memory")
        .unwrap();
    let old = FeatureSpec::from_json(&json.to_string()).unwrap();
    assert!(!old.groups.label_memory);
    let names = spec.feature_names();
    let old_names = old.feature_names();
    assert!(old_names.iter().all(|n| !n.starts_with("mem_")));
    assert_eq!(names[..old_names.len()], old_names[..]);
    assert_eq!(names.len(), old_names.len() + 10);
    assert!(names[old_names.len()..]
        .iter()
        .all(|n| n.starts_with("mem_")));
    // The memory is ignored when the group is off: old matrices stay bit for bit.
    let memory = LabelMemory::from_days([(
        date("2025-10-01"),
        &labels(&[(&batch.alerts.address[0], "high", "high")]),
    )])
    .unwrap();
    let plain = old.transform(&batch).unwrap();
    let with = old.transform_with_memory(&batch, Some(&memory)).unwrap();
    assert_eq!(plain.feature_names, with.feature_names);
    assert_eq!(
        plain.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        with.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn parquet_round_trip_and_refusals() {
    let memory = LabelMemory::from_days([
        (
            date("2025-10-01"),
            &labels(&[("a", "high", "high"), ("b", "low", "verified")]),
        ),
        (date("2025-10-02"), &labels(&[("a", "critical", "high")])),
    ])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("label_memory.parquet");
    let bytes = memory.to_parquet().unwrap();
    assert_eq!(bytes, memory.clone().to_parquet().unwrap(), "deterministic");
    std::fs::write(&path, &bytes).unwrap();
    let back = LabelMemory::read_parquet(&path, &memory.days()).unwrap();
    assert_eq!(back, memory);

    // Days that do not match the rows: the row is named.
    let err = LabelMemory::read_parquet(&path, &[date("2025-10-01")]).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, MemoryError::Invalid { row: 0, .. }), "{text}");
    assert!(
        text.contains("label_memory.parquet") && text.contains("\"a\""),
        "{text}"
    );

    // Not a memory at all (a label table): the missing column is named.
    let other = dir.path().join("other.parquet");
    std::fs::write(
        &other,
        aml_core::write::encode_labels(&labels(&[("a", "high", "high")])).unwrap(),
    )
    .unwrap();
    let err = LabelMemory::read_parquet(&other, &memory.days()).unwrap_err();
    assert!(err.to_string().contains("days_labelled"), "{err}");
}

#[test]
fn keep_recent_keeps_the_most_recently_labelled_addresses() {
    let mut memory = LabelMemory::from_days([
        (
            date("2025-10-01"),
            &labels(&[
                ("old1", "high", "h"),
                ("old2", "low", "h"),
                ("both", "low", "h"),
            ]),
        ),
        (
            date("2025-10-03"),
            &labels(&[("new", "high", "h"), ("both", "high", "h")]),
        ),
    ])
    .unwrap();
    assert_eq!(memory.keep_recent(3), 1);
    let kept: Vec<&str> = memory.entries().map(|(a, _)| a).collect();
    // The two of 2025-10-03, then the first of 2025-10-01 by address.
    assert_eq!(kept, ["both", "new", "old1"]);
    assert_eq!(memory.keep_recent(10), 0);
}

#[test]
fn features_do_not_depend_on_threads() {
    let (_dir, batch) = batch();
    let spec = spec_with_memory(&batch);
    let rows: Vec<(&str, &str, &str)> = (0..batch.alerts.len())
        .step_by(3)
        .map(|r| (batch.alerts.address[r].as_str(), "high", "verified"))
        .collect();
    let memory = LabelMemory::from_days([(date("2025-10-02"), &labels(&rows))]).unwrap();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| spec.transform_with_memory(&batch, Some(&memory)).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(
        one.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        two.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

const RISKS: [&str; 6] = ["low", "medium", "high", "critical", "HIGH", "other"];
const TRUST: [&str; 3] = ["verified", "high", "Verified"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any label rows over a few days: the memory (and its bytes) does not depend on the order of
    /// the rows within a day or of the days, its rows pass the stored-memory checks, and counts
    /// add up.
    #[test]
    fn memory_is_order_invariant_and_round_trips(
        days in proptest::collection::vec(
            proptest::collection::vec((0usize..8, 0usize..6, 0usize..3), 0..20),
            1..5,
        ),
        seed in any::<u64>(),
    ) {
        let tables: Vec<(Date, AddressLabels)> = days
            .iter()
            .enumerate()
            .map(|(d, rows)| {
                let rows: Vec<(String, &str, &str)> = rows
                    .iter()
                    .map(|&(a, r, t)| (format!("addr{a}"), RISKS[r], TRUST[t]))
                    .collect();
                let refs: Vec<(&str, &str, &str)> =
                    rows.iter().map(|(a, r, t)| (a.as_str(), *r, *t)).collect();
                (date("2025-10-01") + 2 * d as i32, labels(&refs))
            })
            .collect();
        let memory = LabelMemory::from_days(tables.iter().map(|(d, l)| (*d, l))).unwrap();

        // Shuffle every day's rows (a seeded rotation and reversal) and reverse the days.
        let shuffled: Vec<(Date, AddressLabels)> = tables
            .iter()
            .rev()
            .map(|(d, l)| {
                let n = l.len();
                let mut order: Vec<usize> = (0..n).collect();
                if n > 0 {
                    order.rotate_left((seed % n as u64) as usize);
                }
                if seed % 2 == 1 {
                    order.reverse();
                }
                let rows: Vec<(&str, &str, &str)> = order
                    .iter()
                    .map(|&i| (l.address[i].as_str(), l.risk_level[i].as_str(), l.trust_level[i].as_str()))
                    .collect();
                (*d, labels(&rows))
            })
            .collect();
        let again = LabelMemory::from_days(shuffled.iter().map(|(d, l)| (*d, l))).unwrap();
        prop_assert_eq!(&again, &memory);
        prop_assert_eq!(again.to_parquet().unwrap(), memory.to_parquet().unwrap());

        for (_, e) in memory.entries() {
            prop_assert_eq!(e.days_by_risk.iter().sum::<u32>(), e.days_labelled);
            prop_assert!(e.latest_risk <= e.max_risk);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.parquet");
        std::fs::write(&path, memory.to_parquet().unwrap()).unwrap();
        prop_assert_eq!(LabelMemory::read_parquet(&path, &memory.days()).unwrap(), memory);
    }
}
