//! Whole-process overheads of a scoring run: `score_batch_keeping` hands the loaded batch back
//! (the CLI frees it on a thread nobody waits for) and writes exactly what `score_batch` writes;
//! the receipt's `input_hash` comes from META's verified hash without reading alerts.parquet a
//! second time, and is still the sha256 of the file's bytes.

// Only the synthetic world of the shared helpers is used here.
#[allow(dead_code)]
mod common;

use std::path::{Path, PathBuf};

use aml_core::batch::Batch;
use aml_miner::cli::score;
use aml_miner::pipeline::{self, BatchInput, KeySource, ScoreOptions};
use aml_models::Bundle;
use aml_synth::write_batch;

const OUTPUTS: [&str; 3] = [
    "scores.parquet",
    "rankings.parquet",
    "cluster_scores.parquet",
];

fn shipped_bundle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("trained_models")
}

fn options() -> ScoreOptions {
    ScoreOptions {
        timestamp: Some("2025-10-05T00:00:00Z".into()),
        ..ScoreOptions::default()
    }
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

#[test]
fn keeping_the_batch_writes_what_score_batch_writes() {
    let root = tempfile::tempdir().unwrap();
    let day = write_batch(&root.path().join("day"), &common::world(false), 3).unwrap();
    let bundle = Bundle::load(&shipped_bundle()).unwrap();
    let key = pipeline::development_key();
    let run = |out: &Path, keep: bool| {
        let (input, source) = (BatchInput::Dir(&day), KeySource::Development);
        if keep {
            pipeline::score_batch_keeping(
                input,
                &bundle,
                out,
                &key,
                source,
                &options(),
                &mut |_| {},
            )
        } else {
            pipeline::score_batch(input, &bundle, out, &key, source, &options(), &mut |_| {})
                .map(|summary| (summary, None))
        }
        .unwrap()
    };
    let (plain, none) = run(&root.path().join("plain"), false);
    assert!(none.is_none());
    let (kept, batch) = run(&root.path().join("kept"), true);
    assert_eq!(kept.receipt, plain.receipt);
    for name in OUTPUTS.iter().chain(&["receipt.json"]) {
        assert!(
            read(&root.path().join("kept"), name) == read(&root.path().join("plain"), name),
            "{name} differs"
        );
    }
    // The batch handed back is the batch that was scored.
    let (loaded, _) = Batch::load_with(&day, aml_core::FlowColumns::Scoring).unwrap();
    assert!(batch.expect("a directory's batch comes back") == loaded);

    // An in-memory batch stays the caller's: nothing comes back.
    let (memory, back) = pipeline::score_batch_keeping(
        BatchInput::Memory(&loaded),
        &bundle,
        &root.path().join("memory"),
        &key,
        KeySource::Development,
        &options(),
        &mut |_| {},
    )
    .unwrap();
    assert!(back.is_none());
    assert_eq!(memory.receipt.input_hash, plain.receipt.input_hash);
}

#[test]
fn input_hash_is_the_alerts_files_sha256_read_once() {
    let root = tempfile::tempdir().unwrap();
    let day = write_batch(&root.path().join("day"), &common::world(false), 4).unwrap();
    let alerts_sha = aml_core::io::sha256_file(&day.join("alerts.parquet")).unwrap();
    // META lists the hash in upper case (the loader compares case-insensitively): the receipt
    // still carries the lower-case hex digest of the file's bytes.
    let meta_path = day.join("META.json");
    let meta = std::fs::read_to_string(&meta_path).unwrap();
    assert!(meta.contains(&alerts_sha));
    std::fs::write(
        &meta_path,
        meta.replace(&alerts_sha, &alerts_sha.to_ascii_uppercase()),
    )
    .unwrap();
    let bundle = Bundle::load(&shipped_bundle()).unwrap();
    let summary = pipeline::score_batch(
        BatchInput::Dir(&day),
        &bundle,
        &root.path().join("out"),
        &pipeline::development_key(),
        KeySource::Development,
        &options(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(summary.receipt.input_hash, alerts_sha);
    assert_eq!(
        summary.receipt.batch_hash(),
        Some(aml_core::io::sha256_file(&meta_path).unwrap().as_str())
    );
}

#[test]
fn the_cli_run_writes_the_same_scores() {
    let root = tempfile::tempdir().unwrap();
    let day = write_batch(&root.path().join("day"), &common::world(false), 3).unwrap();
    let cli_out = root.path().join("cli");
    let args = score::Args {
        batch: Some(day.clone()),
        models: Some(shipped_bundle()),
        out: Some(cli_out.clone()),
        store: None,
        key: None,
    };
    let summary = score::run(&args).unwrap();
    let bundle = Bundle::load(&shipped_bundle()).unwrap();
    let lib_out = root.path().join("lib");
    let expected = pipeline::score_batch(
        BatchInput::Dir(&day),
        &bundle,
        &lib_out,
        &pipeline::development_key(),
        KeySource::Development,
        &options(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(summary.receipt.scores_hash, expected.receipt.scores_hash);
    assert_eq!(summary.top_alerts, expected.top_alerts);
    for name in OUTPUTS {
        assert!(
            read(&cli_out, name) == read(&lib_out, name),
            "{name} differs"
        );
    }
}
