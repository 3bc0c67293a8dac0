//! TreeSHAP throughput on the reference shape: 500 trees x 31 leaves over 100 features.
//! Compares the quadrature explainer with the reference recursion (single row) and measures the
//! parallel batch path, with the run-time-selected SIMD kernels and with the portable ones. Run: `cargo bench -p aml-explain --bench treeshap`.

use aml_explain::synthetic::{random_ensemble, random_rows, EnsembleShape};
use aml_explain::{reference_contributions, TreeShapExplainer};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let shape = EnsembleShape {
        trees: 500,
        leaves: 31,
        features: 100,
        used_features: 100,
        root_count: 100_000,
    };
    let model = random_ensemble(7, shape);
    let explainer = TreeShapExplainer::new(&model).expect("valid model");
    let rows = random_rows(8, 1024, shape.features, 0.05);
    let mut group = c.benchmark_group("treeshap_500x31x100");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows.nrows() as u64));
    group.bench_function("fast_batch_1024_rows", |b| {
        b.iter(|| black_box(explainer.contributions(rows.view()).expect("shape")))
    });
    let portable = explainer.clone().with_portable_kernels();
    group.bench_function("fast_batch_1024_rows_portable", |b| {
        b.iter(|| black_box(portable.contributions(rows.view()).expect("shape")))
    });
    group.throughput(Throughput::Elements(1));
    let row = rows.row(0).to_vec();
    let mut scratch = explainer.new_scratch();
    let mut out = vec![0.0; shape.features + 1];
    group.bench_function("fast_single_row", |b| {
        b.iter(|| {
            explainer.contributions_into(black_box(&row), &mut out, &mut scratch);
            black_box(out[0])
        })
    });
    group.bench_function("reference_single_row", |b| {
        b.iter(|| black_box(reference_contributions(&model, black_box(&row)).expect("plain trees")))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
