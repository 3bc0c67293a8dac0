//! Generator throughput on a small day (the full-size figure is measured with the
//! `generate_batch` example under `/usr/bin/time -v`; see the crate docs).

use aml_synth::{write_batch, SynthConfig};
use criterion::{criterion_group, criterion_main, Criterion};

fn small_day(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = SynthConfig {
        with_labels: true,
        ..SynthConfig::small()
    };
    let mut group = c.benchmark_group("synth");
    group.sample_size(10);
    group.bench_function("write_batch_small", |b| {
        b.iter(|| write_batch(dir.path(), &config, 0).expect("batch"));
    });
    let medium = SynthConfig {
        n_alerts: 5_000,
        n_addresses: 50_000,
        n_flows: 500_000,
        ..SynthConfig::small()
    };
    group.bench_function("write_batch_tenth_scale", |b| {
        b.iter(|| write_batch(dir.path(), &medium, 0).expect("batch"));
    });
    group.finish();
}

criterion_group!(benches, small_day);
criterion_main!(benches);
