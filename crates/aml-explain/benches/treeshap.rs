//! TreeSHAP throughput on the reference shape: 500 trees x 31 leaves over 100 features.
//! Compares the quadrature explainer with the reference recursion (single row) and measures the
//! parallel batch path, with the run-time-selected SIMD kernels and with the portable ones.
//! Group `explain_json_95x31x199` is the miner's score + explain stage on the shipped alert
//! scorer's shape (95 trees x 31 leaves, 199 features): `explain_json` (top-5 reasons written
//! per block of contributions) against the path it replaced (`explain`, score replaced,
//! `to_explain_json` per row). Run: `cargo bench -p aml-explain --bench treeshap`
//! (one group: append `-- explain_json`).

use aml_explain::synthetic::{random_ensemble, random_rows, EnsembleShape};
use aml_explain::{reference_contributions, TreeShapExplainer, DEFAULT_TOP_K};
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

fn bench_explain_json(c: &mut Criterion) {
    let shape = EnsembleShape {
        trees: 95,
        leaves: 31,
        features: 199,
        used_features: 150,
        root_count: 100_000,
    };
    let model = random_ensemble(17, shape);
    let explainer = TreeShapExplainer::new(&model).expect("valid model");
    let rows = random_rows(18, 2048, shape.features, 0.2).mapv(|v| v as f32);
    let scores: Vec<f64> = (0..rows.nrows()).map(|i| (i % 97) as f64 / 97.0).collect();
    let mut group = c.benchmark_group("explain_json_95x31x199");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows.nrows() as u64));
    group.bench_function("explain_json_2048_rows", |b| {
        b.iter(|| {
            black_box(
                explainer
                    .explain_json(rows.view(), &scores, DEFAULT_TOP_K)
                    .expect("single output"),
            )
        })
    });
    group.bench_function("explain_then_to_explain_json_2048_rows", |b| {
        b.iter(|| {
            let explanations = explainer
                .explain(rows.view(), DEFAULT_TOP_K)
                .expect("single output");
            let json: Vec<String> = explanations
                .into_iter()
                .zip(&scores)
                .map(|(mut e, &s)| {
                    e.score = s;
                    e.to_explain_json()
                })
                .collect();
            black_box(json)
        })
    });
    group.finish();
}

criterion_group!(benches, bench, bench_explain_json);
criterion_main!(benches);
