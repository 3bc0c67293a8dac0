//! Criterion bench: batch prediction throughput of the compact layout.
//!
//! A synthetic 200-tree, 31-leaf ensemble on 100 features (random trees grown in the
//! LightGBM shape, all missing types), 20,000 rows as f32 and as f64 (the same values; f64 input
//! walks the `u64`-key nodes, exact for any f64), sequential and parallel.

use aml_models::{MissingType, ObjectiveKind, TreeEnsemble};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "../tests/common/mod.rs"]
mod common;

use common::{grown_tree, Rng};

fn bench_predict(c: &mut Criterion) {
    let nf = 100;
    let mut rng = Rng(7);
    let ensemble = TreeEnsemble {
        trees: (0..200).map(|_| grown_tree(&mut rng, nf, 31)).collect(),
        base_score: 0.0,
        feature_names: (0..nf).map(|i| format!("f{i}")).collect(),
        feature_infos: vec!["none".into(); nf],
        objective: ObjectiveKind::Binary { sigmoid: 1.0 },
        average_output: false,
    };
    // LightGBM's default training gives None/NaN missing types; Zero (zero_as_missing) is the slow path.
    let mut ensemble = ensemble;
    for t in &mut ensemble.trees {
        for m in &mut t.missing_type {
            if *m == MissingType::Zero {
                *m = MissingType::NaN;
            }
        }
    }
    let p = ensemble.predictor().expect("valid ensemble");
    let rows = 20_000;
    let x = ndarray::Array2::from_shape_fn((rows, nf), |_| {
        let u = rng.unit();
        if u < 0.05 {
            f32::NAN
        } else {
            (u * 4.0 - 2.0) as f32
        }
    });
    let mut g = c.benchmark_group("predict_200x31_100f");
    g.throughput(Throughput::Elements(rows as u64));
    g.sample_size(10);
    g.bench_function("sequential_f32", |b| {
        b.iter(|| p.predict_raw_sequential(x.view()).expect("shape"))
    });
    g.bench_function("parallel_f32", |b| {
        b.iter(|| p.predict_raw(x.view()).expect("shape"))
    });
    let x64 = x.mapv(f64::from);
    g.bench_function("sequential_f64", |b| {
        b.iter(|| p.predict_raw_sequential(x64.view()).expect("shape"))
    });
    g.bench_function("parallel_f64", |b| {
        b.iter(|| p.predict_raw(x64.view()).expect("shape"))
    });
    g.finish();
}

criterion_group!(benches, bench_predict);
criterion_main!(benches);
