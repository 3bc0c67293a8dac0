//! Load + verify speed on a moderate synthetic batch (aml-synth: 5,000 alerts, 50,000 addresses,
//! 500,000 flow rows, about 70 MB of Parquet): `Batch::load_with` as scoring calls it, then its
//! parts (hashes, the money flows and features decodes, `Batch::from_tables`: validation and the
//! canonical sort, on tables read in file order), and `Batch::load_with` again with the features
//! file's rows shuffled (the features are then placed in address order while decoded; the
//! generated file is already sorted). The full-size figure
//! comes from `examples/verify_batch` or `score_batch`'s manifest; see the crate README.
//!
//! `cargo bench -p aml-core --bench load`
use aml_core::batch::files;
use aml_core::read::{self, FlowColumns};
use aml_core::Batch;
use arrow::array::{RecordBatch, UInt32Array};
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
    let shuffled = shuffled_features_copy(d);
    group.bench_function("load_with_scoring_shuffled_features", |b| {
        b.iter(|| {
            Batch::load_with(shuffled.path(), FlowColumns::Scoring)
                .map(|(batch, _)| batch.alerts.len())
        })
    });
    group.finish();
}

/// A copy of the batch in `dir` whose `features.parquet` rows are in a fixed shuffled order,
/// META.json hashes updated.
fn shuffled_features_copy(dir: &std::path::Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("temporary directory");
    let mut meta = read::read_meta(dir).expect("META.json");
    for name in meta.sha256.keys() {
        std::fs::copy(dir.join(name), copy.path().join(name)).expect("copy batch file");
    }
    let path = copy.path().join(files::FEATURES);
    let file = std::fs::File::open(dir.join(files::FEATURES)).expect("open features");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|builder| builder.with_batch_size(1 << 20).build())
        .expect("features reader");
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().expect("features decode");
    let schema = batches[0].schema();
    let all = arrow::compute::concat_batches(&schema, &batches).expect("concat");
    let n = all.num_rows() as u32;
    // A fixed permutation: row k takes old row (k * 7919) mod n (7919 is prime; n is not a
    // multiple of it).
    let order =
        UInt32Array::from_iter_values((0..n).map(|k| (u64::from(k) * 7919 % u64::from(n)) as u32));
    let columns = all
        .columns()
        .iter()
        .map(|column| arrow::compute::take(column.as_ref(), &order, None))
        .collect::<Result<Vec<_>, _>>()
        .expect("take");
    let shuffled = RecordBatch::try_new(schema.clone(), columns).expect("shuffled batch");
    let out = std::fs::File::create(&path).expect("create features");
    let mut writer = parquet::arrow::ArrowWriter::try_new(out, schema, None).expect("writer");
    writer.write(&shuffled).expect("write features");
    writer.close().expect("close features");
    let hash = aml_core::io::sha256_file(&path).expect("hash features");
    meta.sha256.insert(files::FEATURES.to_string(), hash);
    std::fs::write(copy.path().join(files::META), meta.to_json_bytes()).expect("META.json");
    copy
}

criterion_group!(benches, bench);
criterion_main!(benches);
