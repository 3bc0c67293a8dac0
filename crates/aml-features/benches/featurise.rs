//! Featurisation speed on a mid-size in-memory batch (5,000 alerts, 20,000 addresses,
//! 200,000 flow rows). The full-size figure (50k / 500k / 5M) comes from
//! `examples/build_features.rs` on a synthetic day; see the crate README.
//! `cargo bench -p aml-features --bench featurise` (10 samples a stage).
use aml_features::prepared::sorted_join;
use aml_features::{FeatureBuilder, FeatureGroups, FlowGraph, PreparedBatch};
use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../tests/common/mod.rs"]
mod common;

fn bench(c: &mut Criterion) {
    let batch = common::batch(common::tables(42, 5_000, 20_000, 200_000, 500));
    let spec = match FeatureBuilder::new().fit(&[&batch]) {
        Ok(spec) => spec,
        Err(e) => panic!("fit failed: {e}"),
    };
    let mut group = c.benchmark_group("featurise");
    group.sample_size(10);
    group.bench_function("graph_build_200k", |b| {
        b.iter(|| FlowGraph::build(&batch.money_flows))
    });
    // The same rows in reverse order: not sorted by (from, to), so the counting-sort path.
    let mut reversed = batch.money_flows.clone();
    reversed.from.reverse();
    reversed.to.reverse();
    reversed.amount_usd_sum.reverse();
    reversed.tx_count.reverse();
    group.bench_function("graph_build_unsorted_200k", |b| {
        b.iter(|| FlowGraph::build(&reversed))
    });
    let graph = FlowGraph::build(&batch.money_flows);
    group.bench_function("pagerank_200k", |b| {
        b.iter(|| graph.pagerank(&spec.pagerank))
    });
    group.bench_function("communities_200k", |b| {
        b.iter(|| graph.communities(&spec.communities))
    });
    group.bench_function("prepare_5k", |b| {
        b.iter(|| PreparedBatch::new(&batch).n_alerts())
    });
    group.bench_function("alert_matrix_5k", |b| {
        b.iter(|| spec.transform(&batch).map(|m| m.n_features()))
    });
    // The graph block alone (PageRank, local stats and the capped 2-hop reach of every
    // alerted node): the optional groups off, so Louvain does not run.
    let mut graph_only = spec.clone();
    graph_only.groups = FeatureGroups::default();
    let prepared = PreparedBatch::new(&batch);
    group.bench_function("alert_matrix_no_louvain_5k", |b| {
        b.iter(|| {
            graph_only
                .transform_prepared(&prepared)
                .map(|m| m.0.n_features())
        })
    });
    // 20,000 sorted queries joined against 200,000 sorted addresses (the address joins of
    // `PreparedBatch::new`, a tenth of the full day).
    let table: Vec<String> = (0..200_000u32)
        .map(|i| format!("addr_{:08}", i * 3))
        .collect();
    let keys: Vec<String> = (0..20_000u32)
        .map(|i| format!("addr_{:08}", i * 29))
        .collect();
    let queries: Vec<&str> = keys.iter().map(String::as_str).collect();
    group.bench_function("sorted_join_20k_of_200k", |b| {
        b.iter(|| sorted_join(&table, &queries).len())
    });
    group.bench_function("cluster_matrix_500", |b| {
        b.iter(|| {
            spec.build_cluster_matrix_prepared(&prepared, None)
                .map(|m| m.0.n_rows())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
