//! Cluster features when one cluster holds every alert of the batch (plus the usual small,
//! overlapping clusters): the alert matrix's cluster block must stay linear in
//! alerts + memberships (`alert_matrix` vs `alert_matrix_no_giant`, the same batch without the
//! giant cluster), and so must the cluster matrix.
use aml_features::{FeatureBuilder, PreparedBatch};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

#[path = "../tests/common/mod.rs"]
mod common;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("giant_cluster");
    group.sample_size(10);
    for n in [2_000usize, 20_000] {
        let tables = common::tables(7, n, n, 4 * n, n / 10);
        let every_alert = tables.alerts.alert_id.clone();
        let plain = common::batch(tables.clone());
        let batch = common::batch(common::with_cluster(tables, "giant", every_alert, 11));
        let spec = match FeatureBuilder::new().fit(&[&batch]) {
            Ok(spec) => spec,
            Err(e) => panic!("fit failed: {e}"),
        };
        // The same batch without the giant cluster: the cost the giant cluster should not add to.
        let plain = PreparedBatch::new(&plain);
        group.bench_with_input(
            BenchmarkId::new("alert_matrix_no_giant", n),
            &plain,
            |b, p| b.iter(|| spec.transform_prepared(p).map(|m| m.0.n_features())),
        );
        let prepared = PreparedBatch::new(&batch);
        group.bench_with_input(BenchmarkId::new("alert_matrix", n), &prepared, |b, p| {
            b.iter(|| spec.transform_prepared(p).map(|m| m.0.n_features()))
        });
        group.bench_with_input(BenchmarkId::new("cluster_matrix", n), &prepared, |b, p| {
            b.iter(|| {
                spec.build_cluster_matrix_prepared(p, None)
                    .map(|m| m.0.n_rows())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
