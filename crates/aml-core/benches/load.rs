//! Load + verify speed on a moderate synthetic batch (aml-synth: 5,000 alerts, 50,000 addresses,
//! 500,000 flow rows, about 70 MB of Parquet): `Batch::load_with` as scoring calls it, then its
//! parts (hashes, the money flows and features decodes, `Batch::from_tables`: validation and the
//! canonical sort, on tables read in file order). The full-size figure
//! comes from `examples/verify_batch` or `score_batch`'s manifest; see the crate README.
//!
//! `cargo bench -p aml-core --bench load`
use aml_core::batch::files;
use aml_core::read::{self, FlowColumns};
use aml_core::Batch;
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = aml_synth::SynthConfig {
        n_alerts: 5_000,
        n_addresses: 50_000,
        n_flows: 500_000,
        ..aml_synth::SynthConfig::full_day()
    };
    if let Err(e) = aml_synth::write_batch(dir.path(), &config, 7) {
        panic!("synthetic batch: {e}");
    }
    let d = dir.path();
    let meta = match read::read_meta(d) {
        Ok(meta) => meta,
        Err(e) => panic!("META.json: {e}"),
    };
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("load_with_scoring", |b| {
        b.iter(|| Batch::load_with(d, FlowColumns::Scoring).map(|(batch, _)| batch.alerts.len()))
    });
    group.bench_function("verify_hashes", |b| {
        b.iter(|| read::verify_hashes(d, &meta).map(|warnings| warnings.len()))
    });
    group.bench_function("read_money_flows_scoring", |b| {
        b.iter(|| {
            read::read_money_flows_with(&d.join(files::MONEY_FLOWS), FlowColumns::Scoring)
                .map(|flows| flows.len())
        })
    });
    group.bench_function("read_features", |b| {
        b.iter(|| read::read_features(&d.join(files::FEATURES)).map(|features| features.len()))
    });
    let tables = (
        read::read_alerts(&d.join(files::ALERTS)),
        read::read_features(&d.join(files::FEATURES)),
        read::read_clusters(&d.join(files::CLUSTERS)),
        read::read_money_flows_with(&d.join(files::MONEY_FLOWS), FlowColumns::Scoring),
    );
    let (Ok(alerts), Ok(features), Ok(clusters), Ok(flows)) = tables else {
        panic!("synthetic batch does not read back");
    };
    group.bench_function("from_tables_scoring", |b| {
        b.iter_batched(
            || {
                (
                    meta.clone(),
                    alerts.clone(),
                    features.clone(),
                    clusters.clone(),
                    flows.clone(),
                )
            },
            |(meta, alerts, features, clusters, flows)| {
                Batch::from_tables(meta, alerts, features, clusters, flows, None)
                    .map(|(batch, _)| batch.money_flows.len())
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
