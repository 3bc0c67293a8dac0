//! End-to-end scoring of a small synthetic day with the shipped `trained_models/` bundle:
//! featurise + score + TreeSHAP top-5 + rank + cluster-score (in memory), and the full
//! `score_batch` from a directory (load + verify + ... + atomic signed write).
//!
//! The full-size figure (50,000 alerts, 500,000 addresses, 5,000,000 flows) is measured with
//! the `score_batch` example under `/usr/bin/time -v` (see README "Running the miner").

use std::path::Path;

use aml_core::batch::Batch;
use aml_miner::pipeline::{self, BatchInput, KeySource, ScoreOptions};
use aml_models::Bundle;
use aml_synth::{write_batch, SynthConfig};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let bundle = Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("trained_models"))
        .expect("shipped bundle");
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = SynthConfig {
        date: "2025-10-01".into(),
        ..SynthConfig::small()
    };
    let dir = write_batch(&tmp.path().join("day"), &config, 8).expect("synthetic day");
    let (batch, _) = Batch::load(&dir).expect("batch");
    let mut group = c.benchmark_group("end_to_end_small_day");
    group.sample_size(10);
    group.bench_function("score_rows (in memory)", |b| {
        b.iter(|| {
            pipeline::score_rows(&batch, &bundle, &ScoreOptions::default(), &mut |_| {})
                .expect("scored")
        })
    });
    let key = pipeline::development_key();
    let out = tmp.path().join("out");
    group.bench_function("score_batch (dir -> signed submission)", |b| {
        b.iter(|| {
            pipeline::score_batch(
                BatchInput::Dir(&dir),
                &bundle,
                &out,
                &key,
                KeySource::Development,
                &ScoreOptions::default(),
                &mut |_| {},
            )
            .expect("submission")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
