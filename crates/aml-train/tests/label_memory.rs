//! The label memory in training: out of time (a day never sees its own or later labels, the lag
//! is honoured), stored in the bundle (round trip, refusals) and switchable in the config.

mod common;

use aml_core::batch::Batch;
use aml_features::FeatureMatrix;
use aml_models::{Bundle, BundleError};
use aml_train::pipeline::training::{
    bundle_memory, day_memories, prepare_days_with_memory, train_bundle, LabelMemoryConfig,
};
use aml_train::pipeline::{load_history, PipelineError};

/// Three labelled small days, 2025-10-01 .. 10-03.
fn history(root: &std::path::Path) -> Vec<Batch> {
    let world = common::labelled_world(300, 2_000, 6_000);
    load_history(&common::write_days(root, &world, 3)).unwrap()
}

/// An address alerted on every one of `batches`.
fn alerted_every_day(batches: &[Batch]) -> String {
    let alerted = |b: &Batch, a: &str| b.alerts.address.iter().any(|x| x == a);
    batches[0]
        .alerts
        .address
        .iter()
        .find(|a| batches.iter().all(|b| alerted(b, a)))
        .expect("an address alerted on all days")
        .clone()
}

/// `mem_*` column `name` on the first alert row of `address`.
fn mem(m: &FeatureMatrix, batch: &Batch, address: &str, name: &str) -> f32 {
    let alerts = &batch.alerts;
    let r = (0..alerts.len())
        .find(|&r| alerts.address[r] == address)
        .unwrap();
    let row = m
        .row_ids
        .iter()
        .position(|id| *id == alerts.alert_id[r])
        .unwrap();
    m.values[[row, m.column_index(name).unwrap()]]
}

#[test]
fn a_day_never_sees_its_own_or_later_labels() {
    let root = tempfile::tempdir().unwrap();
    let mut batches = history(root.path());
    let target = alerted_every_day(&batches);
    // Only day 1 labels `target` (critical); days 0 and 2 do not label it at all.
    for (d, batch) in batches.iter_mut().enumerate() {
        let labels = batch.labels.as_mut().unwrap();
        let keep: Vec<usize> = (0..labels.len())
            .filter(|&r| labels.address[r] != target)
            .collect();
        let mut kept = aml_core::tables::AddressLabels::default();
        // Rows stay sorted by address, as loaded batches keep them.
        let at = keep.partition_point(|&r| labels.address[r] < target);
        append_rows(&mut kept, labels, &keep[..at]);
        if d == 1 {
            append_rows(&mut kept, &one_label(&target, "critical"), &[0]);
        }
        append_rows(&mut kept, labels, &keep[at..]);
        *labels = kept;
    }
    let memories = day_memories(
        &batches.iter().collect::<Vec<_>>(),
        &LabelMemoryConfig::default(),
    )
    .unwrap();
    assert!(memories[0].is_empty(), "the first day has no earlier day");
    assert!(
        memories[1].get(&target).is_none(),
        "day 1 must not see its own label"
    );
    assert_eq!(memories[2].get(&target).unwrap().max_risk, 3);
    for (d, m) in memories.iter().enumerate() {
        assert!(m.days().iter().all(|&day| day < memories_day(&batches[d])));
    }

    let (spec, days, _) =
        prepare_days_with_memory(batches.clone(), 1, &[], &LabelMemoryConfig::default()).unwrap();
    assert!(spec.groups.label_memory);
    let get = |d: usize, name: &str| mem(&days[d].matrix, &days[d].batch, &target, name);
    assert_eq!(get(1, "mem_days_labelled"), 0.0);
    assert!(get(1, "mem_max_risk").is_nan());
    assert_eq!(get(2, "mem_days_labelled"), 1.0);
    assert_eq!(get(2, "mem_days_critical"), 1.0);
    assert_eq!(get(2, "mem_latest_risk"), 3.0);
    assert_eq!(get(2, "mem_days_since_latest"), 1.0);

    // Labels two days late: day 2 may not see day 1 either.
    let late = LabelMemoryConfig {
        lag_days: 2,
        ..LabelMemoryConfig::default()
    };
    let (_, days, _) = prepare_days_with_memory(batches.clone(), 1, &[], &late).unwrap();
    assert_eq!(get_of(&days[2], &target, "mem_days_labelled"), 0.0);

    // Switched off: no mem_* columns at all.
    let off = LabelMemoryConfig {
        enabled: false,
        ..LabelMemoryConfig::default()
    };
    let (spec, _, _) = prepare_days_with_memory(batches, 1, &[], &off).unwrap();
    assert!(!spec.groups.label_memory);
    assert!(spec.feature_names().iter().all(|n| !n.starts_with("mem_")));
}

fn get_of(day: &aml_train::pipeline::DayData, address: &str, name: &str) -> f32 {
    mem(&day.matrix, &day.batch, address, name)
}

fn memories_day(batch: &Batch) -> aml_core::date::Date {
    aml_core::date::Date::parse(&batch.meta.processing_date).unwrap()
}

/// Appends rows `rows` of `from` to `to`.
fn append_rows(
    to: &mut aml_core::tables::AddressLabels,
    from: &aml_core::tables::AddressLabels,
    rows: &[usize],
) {
    for &r in rows {
        to.network.push(from.network[r].clone());
        to.address.push(from.address[r].clone());
        to.label.push(from.label[r].clone());
        to.address_type.push(from.address_type[r].clone());
        to.address_subtype.push(from.address_subtype[r].clone());
        to.trust_level.push(from.trust_level[r].clone());
        to.source.push(from.source[r].clone());
        to.risk_level.push(from.risk_level[r].clone());
        to.confidence_score.push(from.confidence_score[r]);
        to.created_timestamp.push(from.created_timestamp[r]);
        to.updated_timestamp.push(from.updated_timestamp[r]);
    }
}

fn one_label(address: &str, risk: &str) -> aml_core::tables::AddressLabels {
    aml_core::tables::AddressLabels {
        network: vec!["torus".into()],
        address: vec![address.into()],
        label: vec!["test".into()],
        address_type: vec!["wallet".into()],
        address_subtype: vec![String::new()],
        trust_level: vec!["high".into()],
        source: vec!["test".into()],
        risk_level: vec![risk.into()],
        confidence_score: vec![1.0],
        created_timestamp: vec![0],
        updated_timestamp: vec![0],
    }
}

#[test]
fn the_bundle_stores_the_memory_of_all_its_days_and_checks_it_at_load() {
    let root = tempfile::tempdir().unwrap();
    let batches = history(root.path());
    let config = common::fast_config(3, 10, 10);
    let bundle = train_bundle(batches.clone(), &config, &mut |_| {})
        .unwrap()
        .bundle;
    let memory = bundle.label_memory().expect("a memory");
    let info = bundle.metadata().label_memory.clone().expect("recorded");
    assert_eq!(memory.days().len(), 3, "training and validation days");
    assert_eq!(info.rows, memory.len());
    assert_eq!(info.first_day.unwrap().to_string(), "2025-10-01");
    assert_eq!(info.last_day.unwrap().to_string(), "2025-10-03");
    let labelled: std::collections::BTreeSet<&str> = batches
        .iter()
        .flat_map(|b| {
            b.labels
                .as_ref()
                .unwrap()
                .address
                .iter()
                .map(String::as_str)
        })
        .collect();
    assert_eq!(memory.len(), labelled.len());

    let dir = root.path().join("bundle");
    bundle.save(&dir, &[]).unwrap();
    assert!(dir.join("label_memory.parquet").is_file());
    let loaded = Bundle::load(&dir).unwrap();
    assert_eq!(loaded.version(), bundle.version());
    assert_eq!(loaded.label_memory(), Some(memory));
    // Scoring a later day uses it: the day's alerts on labelled addresses are known.
    let m = loaded.alert_matrix(&batches[2]).unwrap();
    let col = m.column_index("mem_days_labelled").unwrap();
    assert!(m.values.column(col).iter().any(|&v| v > 0.0));

    // Retraining gives the same memory bytes.
    let again = train_bundle(batches.clone(), &config, &mut |_| {})
        .unwrap()
        .bundle;
    let dir2 = root.path().join("bundle2");
    again.save(&dir2, &[]).unwrap();
    for file in ["label_memory.parquet", "metadata.json"] {
        assert_eq!(
            std::fs::read(dir.join(file)).unwrap(),
            std::fs::read(dir2.join(file)).unwrap(),
            "{file}"
        );
    }

    // A changed memory file is refused by its hash; a missing one by name.
    let file = dir.join("label_memory.parquet");
    let good = std::fs::read(&file).unwrap();
    let mut bad = good.clone();
    let n = bad.len();
    bad[n / 2] ^= 1;
    std::fs::write(&file, &bad).unwrap();
    let err = Bundle::load(&dir).unwrap_err();
    assert!(matches!(err, BundleError::VersionMismatch { .. }), "{err}");
    std::fs::remove_file(&file).unwrap();
    let err = Bundle::load(&dir).unwrap_err();
    assert!(matches!(err, BundleError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("label_memory.parquet"), "{err}");

    // A memory file the metadata does not record is refused, not silently ignored.
    let off = {
        let mut c = config.clone();
        c.label_memory.enabled = false;
        c
    };
    let plain = train_bundle(batches, &off, &mut |_| {}).unwrap().bundle;
    assert!(plain.label_memory().is_none());
    assert!(plain.metadata().label_memory.is_none());
    let dir3 = root.path().join("plain");
    plain.save(&dir3, &[]).unwrap();
    assert!(!dir3.join("label_memory.parquet").exists());
    let text = std::fs::read_to_string(dir3.join("metadata.json")).unwrap();
    assert!(
        !text.contains("label_memory"),
        "no memory: old metadata form"
    );
    Bundle::load(&dir3).unwrap();
    std::fs::write(dir3.join("label_memory.parquet"), &good).unwrap();
    let err = Bundle::load(&dir3).unwrap_err();
    assert!(matches!(err, BundleError::Metadata { .. }), "{err}");
}

#[test]
fn a_lag_of_zero_days_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let batches = history(root.path());
    let mut config = common::fast_config(3, 5, 10);
    config.label_memory.lag_days = 0;
    let err = train_bundle(batches, &config, &mut |_| {}).unwrap_err();
    assert!(matches!(err, PipelineError::Config(_)), "{err}");
    assert!(err.to_string().contains("lag_days"), "{err}");
}

#[test]
fn max_rows_and_window_days_bound_every_memory() {
    let root = tempfile::tempdir().unwrap();
    let batches = history(root.path());
    let refs: Vec<&Batch> = batches.iter().collect();
    let bounded = LabelMemoryConfig {
        max_rows: 10,
        ..LabelMemoryConfig::default()
    };
    let memories = day_memories(&refs, &bounded).unwrap();
    assert!(memories.iter().all(|m| m.len() <= 10));
    assert_eq!(memories[2].len(), 10);
    let stored = bundle_memory(&refs, &bounded).unwrap();
    assert_eq!(stored.len(), 10);
    // The kept addresses are the most recently labelled: all of them labelled on the last day.
    let last = stored.last_day().unwrap();
    assert!(stored.entries().all(|(_, e)| e.latest_day == last));

    // A one-day window: day 2 sees day 1 only, the bundle the last day only.
    let window = LabelMemoryConfig {
        window_days: 1,
        ..LabelMemoryConfig::default()
    };
    let memories = day_memories(&refs, &window).unwrap();
    assert_eq!(memories[2].days(), vec![memories_day(&batches[1])]);
    let stored = bundle_memory(&refs, &window).unwrap();
    assert_eq!(stored.days(), vec![memories_day(&batches[2])]);
}
