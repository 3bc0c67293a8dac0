//! Featurising a batch written by the synthetic generator (`aml_synth`): the realistic
//! end of the pipeline (Parquet on disk -> `Batch::load` -> matrix), plus shuffled-row
//! invariance on that batch. Kept small so it stays fast in debug builds.

mod common;

use aml_core::batch::Batch;
use aml_features::{FeatureBuilder, FeatureMatrix};
use aml_synth::{write_batch, SynthConfig};
use common::{batch, shuffled, Tables};

fn bits(m: &FeatureMatrix) -> Vec<u32> {
    m.values.iter().map(|v| v.to_bits()).collect()
}

fn small_synth_batch() -> Batch {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = SynthConfig {
        n_alerts: 300,
        n_addresses: 3_000,
        n_flows: 12_000,
        ..SynthConfig::small()
    };
    let day = write_batch(dir.path(), &config, 0).expect("synthetic batch");
    let (batch, _report) = Batch::load(&day).expect("load synthetic batch");
    batch
}

#[test]
fn synthetic_batch_featurises_and_is_row_order_invariant() {
    let b = small_synth_batch();
    let spec = FeatureBuilder::new().fit(&[&b]).unwrap();
    let m = spec.transform(&b).unwrap();
    assert_eq!(m.n_rows(), b.alerts.len());
    assert!(m.n_features() > 50, "{} features", m.n_features());
    assert!(m.values.iter().all(|v| !v.is_infinite()));
    // The generator's flows touch alerted addresses, so graph features are not all missing.
    let degree = m.column_index("flow_out_degree").expect("flow_out_degree");
    assert!(m.values.column(degree).iter().any(|v| *v > 0.0));

    let tables = Tables {
        alerts: b.alerts.clone(),
        features: b.features.clone(),
        clusters: b.clusters.clone(),
        flows: b.money_flows.clone(),
    };
    for seed in [1, 2] {
        let b2 = batch(shuffled(&tables, seed));
        let m2 = spec.transform(&b2).unwrap();
        assert_eq!(m2.row_ids, m.row_ids);
        assert_eq!(bits(&m2), bits(&m), "shuffle seed {seed}");
        // Refitting on the shuffled batch gives the same spec.
        assert_eq!(FeatureBuilder::new().fit(&[&b2]).unwrap(), spec);
    }
}
