//! End-to-end scoring of a small synthetic day with the shipped `trained_models/` bundle:
//! featurise + score + TreeSHAP top-5 + rank + cluster-score (in memory), and the full
//! `score_batch` from a directory (load + verify + ... + atomic signed write), and the two
//! whole-process overheads outside the stages: `Bundle::load` of `trained_models/` and the
//! "write + sign" step (`write_submission`: encode the five files, sign, write atomically).
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
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("trained_models");
    group.bench_function("Bundle::load (trained_models)", |b| {
        b.iter(|| Bundle::load(&models).expect("shipped bundle"))
    });
    let scored = pipeline::score_rows(&batch, &bundle, &ScoreOptions::default(), &mut |_| {})
        .expect("scored");
    let submission = aml_core::submission::Submission {
        scores: scored.scores,
        rankings: scored.rankings,
        cluster_scores: scored.cluster_scores,
        model_version: bundle.version().to_string(),
        image_digest: format!("sha256:{}", "0".repeat(64)),
        ..Default::default()
    };
    let written = tmp.path().join("written");
    group.bench_function("write_submission (encode, sign, atomic write)", |b| {
        b.iter(|| {
            aml_core::submission::write_submission(
                &written,
                &[],
                &submission,
                &key,
                "0",
                "2025-10-08T00:00:00Z",
            )
            .expect("written")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
