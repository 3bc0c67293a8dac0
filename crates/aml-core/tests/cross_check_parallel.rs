//! The dangling-reference warnings of a batch are found in parallel: they must come in row
//! order (alerts by alert_id, then clusters by cluster_id, then traps), the same on 1 and 2
//! threads, and be exactly the rows a plain scan finds.

use std::collections::BTreeSet;

use aml_core::{Batch, BatchWarning};

#[test]
fn dangling_references_come_in_row_order_on_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    aml_synth::write_batch(dir.path(), &aml_synth::SynthConfig::small(), 0).unwrap();
    let (batch, report) = Batch::load(dir.path()).unwrap();
    assert!(report.warnings.is_empty());
    let Batch {
        mut meta,
        alerts,
        mut features,
        mut clusters,
        money_flows,
        labels,
    } = batch;
    // Every third address of the features table disappears (renamed to names no alert uses),
    // so many alerts spread over the whole table lose their features.
    for (row, address) in features.address.iter_mut().enumerate() {
        if row % 3 == 1 {
            *address = format!("zz_gone_{row:06}");
        }
    }
    // Every fourth cluster names two alerts that do not exist (one twice), in reverse order.
    for (row, related) in clusters.related_alert_ids.iter_mut().enumerate() {
        if row % 4 == 0 {
            related.push(format!("ghost_{row:04}_b"));
            related.push(format!("ghost_{row:04}_a"));
            related.push(format!("ghost_{row:04}_b"));
        }
    }
    meta.pattern_traps.clear();
    let present: BTreeSet<&str> = features.address.iter().map(String::as_str).collect();
    let mut expected: Vec<BatchWarning> = alerts
        .alert_id
        .iter()
        .zip(&alerts.address)
        .filter(|(_, address)| !present.contains(address.as_str()))
        .map(|(alert_id, address)| BatchWarning::AlertWithoutFeatures {
            alert_id: alert_id.clone(),
            address: address.clone(),
        })
        .collect();
    let without_features = expected.len();
    for (row, cluster_id) in clusters.cluster_id.iter().enumerate() {
        if row % 4 == 0 {
            for suffix in ["a", "b"] {
                expected.push(BatchWarning::UnknownClusterAlert {
                    cluster_id: cluster_id.clone(),
                    alert_id: format!("ghost_{row:04}_{suffix}"),
                });
            }
        }
    }
    assert!(
        without_features > 100,
        "{without_features} alerts without features"
    );
    assert!(clusters.len() > 40, "{} clusters", clusters.len());
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let (_, report) = pool
            .install(|| {
                Batch::from_tables(
                    meta.clone(),
                    alerts.clone(),
                    features.clone(),
                    clusters.clone(),
                    money_flows.clone(),
                    labels.clone(),
                )
            })
            .unwrap();
        assert_eq!(report.warnings, expected, "{threads} threads");
    }
}
