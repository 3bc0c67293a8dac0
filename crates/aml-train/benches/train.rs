//! Criterion benches of the training engine's hot paths: binning, histogram
//! building and subtraction, split finding, one full boosting round and 20 rounds
//! with and without GOSS (50,000 x 50 synthetic binary data).
//!
//! `cargo bench -p aml-train --bench train` (about a minute; small sample sizes).

use aml_train::binning::BinnedData;
use aml_train::histogram::{self, HistogramLayout, LeafRows};
use aml_train::params::DataSampleStrategy;
use aml_train::split::{best_split_for_feature, LeafSums, SplitConstraints};
use aml_train::{train, Dataset, GbdtParams};
use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

const ROWS: usize = 50_000;
const FEATURES: usize = 50;

fn data() -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = Array2::from_shape_fn((ROWS, FEATURES), |_| rng.random::<f32>() * 2.0 - 1.0);
    let y = (0..ROWS)
        .map(|r| f64::from(x[[r, 0]] + x[[r, 1]] * x[[r, 2]] + rng.random::<f32>() - 0.5 > 0.0))
        .collect();
    Dataset::new(x, y, Vec::new()).unwrap()
}

fn benches(c: &mut Criterion) {
    let d = data();
    c.bench_function("binning 50k x 50", |b| {
        b.iter(|| BinnedData::from_features(black_box(d.features.view()), 255, 200_000, 0))
    });
    let binned = BinnedData::from_features(d.features.view(), 255, 200_000, 0);
    let layout = HistogramLayout::new(&binned);
    let gh: Vec<[f32; 2]> = (0..ROWS).map(|r| [r as f32 * 1e-5 - 0.2, 0.25]).collect();
    let used = vec![true; FEATURES];
    let mut buf = layout.new_buffer();
    c.bench_function("histogram all rows 50k x 50", |b| {
        b.iter(|| {
            histogram::build(
                &layout,
                &binned,
                &used,
                LeafRows::All { gh: black_box(&gh) },
                &mut buf,
            )
        })
    });
    let rows: Vec<u32> = (0..ROWS as u32).filter(|r| r % 3 != 0).collect();
    let gathered: Vec<[f32; 2]> = rows.iter().map(|&r| gh[r as usize]).collect();
    c.bench_function("histogram 2/3 subset 50k x 50", |b| {
        b.iter(|| {
            histogram::build(
                &layout,
                &binned,
                &used,
                LeafRows::Subset {
                    rows: &rows,
                    gh: &gathered,
                },
                &mut buf,
            )
        })
    });
    let mut parent = layout.new_buffer();
    histogram::build(
        &layout,
        &binned,
        &used,
        LeafRows::All { gh: &gh },
        &mut parent,
    );
    c.bench_function("histogram subtract 50 features", |b| {
        b.iter(|| {
            let mut p = parent.clone();
            histogram::subtract(&layout, &used, &mut p, black_box(&buf));
            p
        })
    });
    let constraints = SplitConstraints::from(&GbdtParams::default());
    let sums = gh.iter().fold(LeafSums::default(), |s, g| LeafSums {
        grad: s.grad + f64::from(g[0]),
        hess: s.hess + f64::from(g[1]),
        count: s.count + 1,
    });
    c.bench_function("best split 50 features, all rows", |b| {
        b.iter(|| {
            (0..FEATURES)
                .filter_map(|f| {
                    best_split_for_feature(
                        f,
                        layout.feature(black_box(&parent), f),
                        &binned.mappers[f],
                        sums,
                        &constraints,
                    )
                })
                .count()
        })
    });
    let one_round = GbdtParams {
        num_iterations: 1,
        ..GbdtParams::default()
    };
    let mut group = c.benchmark_group("boosting");
    group.sample_size(10);
    group.bench_function("one round incl. binning 50k x 50, 31 leaves", |b| {
        b.iter(|| train(&one_round, black_box(&d), None, None).unwrap())
    });
    // Learning rate 0.1: GOSS uses every row for 10 rounds, then samples 30% of them.
    let rounds = GbdtParams {
        num_iterations: 20,
        ..GbdtParams::default()
    };
    let goss = GbdtParams {
        data_sample_strategy: DataSampleStrategy::Goss,
        ..rounds.clone()
    };
    group.bench_function("20 rounds 50k x 50, 31 leaves", |b| {
        b.iter(|| train(&rounds, black_box(&d), None, None).unwrap())
    });
    group.bench_function("20 rounds 50k x 50, 31 leaves, GOSS", |b| {
        b.iter(|| train(&goss, black_box(&d), None, None).unwrap())
    });
    group.finish();
}

criterion_group!(train_benches, benches);
criterion_main!(train_benches);
