//! End-to-end tests of the miner on small synthetic batches: determinism (repeat runs, 1 vs 2
//! threads, shuffled input rows), refusal of tampered batches with nothing written, bundle
//! consistency errors, reproducible training and the shipped bundle.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use aml_miner::pipeline::{self, BatchInput, KeySource, MinerError, ScoreOptions};
use aml_models::{Bundle, BundleError};
use aml_synth::write_batch;
use aml_train::pipeline::{load_history, train_bundle};
use arrow::array::{RecordBatch, UInt32Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

const OUTPUTS: [&str; 3] = [
    "scores.parquet",
    "rankings.parquet",
    "cluster_scores.parquet",
];

struct Fixture {
    _root: tempfile::TempDir,
    history: Vec<PathBuf>,
    day: PathBuf,
    bundle: Bundle,
}

fn train_on(history: &[PathBuf]) -> Bundle {
    let batches = load_history(history).unwrap();
    train_bundle(batches, &common::small_config(7, 20, 30), &mut |_| {})
        .unwrap()
        .bundle
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        let history: Vec<PathBuf> = (0..3)
            .map(|d| {
                write_batch(&root.path().join(format!("h{d}")), &common::world(true), d).unwrap()
            })
            .collect();
        let day = write_batch(&root.path().join("day"), &common::world(false), 3).unwrap();
        let bundle = train_on(&history);
        Fixture {
            _root: root,
            history,
            day,
            bundle,
        }
    })
}

fn score(batch: &Path, out: &Path) -> Result<pipeline::Summary, MinerError> {
    let f = fixture();
    let options = ScoreOptions {
        timestamp: Some("2025-10-05T00:00:00Z".into()),
        ..ScoreOptions::default()
    };
    pipeline::score_batch(
        BatchInput::Dir(batch),
        &f.bundle,
        out,
        &pipeline::development_key(),
        KeySource::Development,
        &options,
        &mut |_| {},
    )
}

fn outputs(dir: &Path) -> Vec<Vec<u8>> {
    OUTPUTS
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect()
}

#[test]
fn repeated_runs_and_thread_counts_give_identical_bytes() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, threads: usize| {
        let out = tmp.path().join(name);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| score(&f.day, &out)).unwrap();
        outputs(&out)
    };
    let a = run("a", 2);
    assert_eq!(a, run("b", 2), "two runs differ");
    assert_eq!(a, run("c", 1), "1 vs 2 threads differ");
    let (sub, receipt) = aml_core::submission::read_submission(&tmp.path().join("a")).unwrap();
    assert_eq!(sub.scores.len(), 400);
    assert!(sub.scores.iter().all(|s| (0.0..=1.0).contains(&s.score)));
    assert!(sub.rankings.iter().any(|r| r.rank == 1));
    assert_eq!(receipt.model_version, f.bundle.version());
    let explain: serde_json::Value = serde_json::from_str(&sub.scores[0].explain_json).unwrap();
    assert!(explain["top_features"].as_array().unwrap().len() <= 5);
}

/// Rewrites `file` of `dir` with its rows in a seeded shuffled order.
fn shuffle_parquet(dir: &Path, file: &str, seed: u32) {
    let path = dir.join(file);
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
    let n = all.num_rows() as u32;
    let mut order: Vec<u32> = (0..n).collect();
    order.sort_by_key(|&i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed)) % 1_000_003);
    let idx = UInt32Array::from(order);
    let columns = all
        .columns()
        .iter()
        .map(|c| arrow::compute::take(c, &idx, None).unwrap())
        .collect();
    let shuffled = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
    writer.write(&shuffled).unwrap();
    writer.close().unwrap();
}

fn rehash_meta(dir: &Path) {
    let meta_path = dir.join("META.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    let names: Vec<String> = meta["sha256"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for name in names {
        meta["sha256"][&name] = aml_core::io::sha256_file(&dir.join(&name)).unwrap().into();
    }
    std::fs::write(&meta_path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn shuffled_input_rows_give_identical_bytes() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let shuffled = tmp.path().join("shuffled");
    copy_dir(&f.day, &shuffled);
    for (i, file) in [
        "alerts.parquet",
        "features.parquet",
        "clusters.parquet",
        "money_flows.parquet",
    ]
    .iter()
    .enumerate()
    {
        shuffle_parquet(&shuffled, file, i as u32 + 1);
    }
    rehash_meta(&shuffled);
    score(&f.day, &tmp.path().join("a")).unwrap();
    score(&shuffled, &tmp.path().join("b")).unwrap();
    assert_eq!(
        outputs(&tmp.path().join("a")),
        outputs(&tmp.path().join("b"))
    );
}

/// No hidden (temporary) entry is left in `dir`.
fn assert_no_temporaries(dir: &Path) {
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn tampered_batch_is_refused_and_nothing_is_written() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad");
    copy_dir(&f.day, &bad);
    shuffle_parquet(&bad, "alerts.parquet", 9); // content changes, META hash does not
    let fresh = tmp.path().join("fresh");
    let err = score(&bad, &fresh).unwrap_err();
    assert!(matches!(err, MinerError::Batch(_)), "{err}");
    assert!(!fresh.exists(), "output written for a refused batch");
    // A previous complete submission survives a failed run untouched.
    let previous = tmp.path().join("previous");
    score(&f.day, &previous).unwrap();
    let before = outputs(&previous);
    assert!(score(&bad, &previous).is_err());
    assert_eq!(outputs(&previous), before);
    assert_no_temporaries(tmp.path());
}

/// The five files of a submission directory.
fn submission_files(dir: &Path) -> Vec<Vec<u8>> {
    OUTPUTS
        .iter()
        .chain(&["manifest.json", "receipt.json"])
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect()
}

/// Every file of a flat directory with its bytes.
fn dir_bytes(dir: &Path) -> Vec<(std::ffi::OsString, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Asserts that `write` refuses every one of `outs` as being (or containing) its input.
fn assert_refused_as_input<T, E: std::fmt::Display>(
    outs: &[PathBuf],
    write: impl Fn(&Path) -> Result<T, E>,
) {
    for out in outs {
        match write(out) {
            Ok(_) => panic!("{}: written over the input", out.display()),
            Err(e) => assert!(
                e.to_string().contains("is or contains the input"),
                "{}: {e}",
                out.display()
            ),
        }
    }
}

#[test]
fn refused_batch_never_replaces_a_good_submission() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    score(&f.day, &out).unwrap();
    let good = submission_files(&out);
    let meta_path = |dir: &Path| dir.join("META.json");
    let edit_meta = |name: &str, key: &str, value: serde_json::Value| {
        let bad = tmp.path().join(name);
        copy_dir(&f.day, &bad);
        let mut meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(meta_path(&bad)).unwrap()).unwrap();
        meta[key] = value;
        std::fs::write(meta_path(&bad), serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
        bad
    };
    let n_alerts = 400;
    for (bad, expected) in [
        (
            edit_meta("count", "n_alerts", (n_alerts + 1).into()),
            "n_alerts",
        ),
        (
            edit_meta("flows", "n_money_flows", 7.into()),
            "n_money_flows",
        ),
        (
            edit_meta("date", "processing_date", "2025-10-09".into()),
            "processing_date",
        ),
        (
            edit_meta("victim", "processing_date", "../victim".into()),
            "processing_date",
        ),
    ] {
        let err = score(&bad, &out).unwrap_err();
        assert!(matches!(err, MinerError::Batch(_)), "{err}");
        assert!(err.to_string().contains(expected), "{err}");
        assert_eq!(
            submission_files(&out),
            good,
            "{err}: the good submission changed"
        );
    }
    // An in-memory batch without alerts is not scored either.
    let (mut empty, _) = aml_core::Batch::load(&f.day).unwrap();
    empty.alerts = Default::default();
    empty.meta.n_alerts = 0;
    let err = pipeline::score_batch(
        BatchInput::Memory(&empty),
        &f.bundle,
        &out,
        &pipeline::development_key(),
        KeySource::Development,
        &ScoreOptions::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            MinerError::Batch(aml_core::BatchError::NoAlerts { .. })
        ),
        "{err}"
    );
    assert_eq!(submission_files(&out), good);
    assert_no_temporaries(tmp.path());
}

#[test]
fn score_batch_never_writes_over_its_batch() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let batch = tmp.path().join("days").join("batch");
    copy_dir(&f.day, &batch);
    let before = dir_bytes(&batch);
    let outs = [
        batch.clone(),
        batch.join("..").join("batch"),
        tmp.path().join("days"),
        tmp.path().to_path_buf(),
    ];
    assert_refused_as_input(&outs, |out| score(&batch, out));
    assert_eq!(dir_bytes(&batch), before, "the batch changed");
    // Nor over a directory that is not a submission.
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("thesis.tex"), "years of work").unwrap();
    let err = score(&batch, &foreign).unwrap_err();
    assert!(err.to_string().contains("receipt.json"), "{err}");
    assert_eq!(
        std::fs::read(foreign.join("thesis.tex")).unwrap(),
        b"years of work"
    );
}

#[test]
fn bundle_is_never_saved_over_its_history_or_a_foreign_directory() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let history: Vec<PathBuf> = f
        .history
        .iter()
        .enumerate()
        .map(|(d, h)| {
            let copy = tmp.path().join("history").join(format!("h{d}"));
            copy_dir(h, &copy);
            copy
        })
        .collect();
    let inputs: Vec<&Path> = history.iter().map(PathBuf::as_path).collect();
    let before: Vec<_> = history.iter().map(|h| dir_bytes(h)).collect();
    let outs = [
        history[1].clone(),
        tmp.path().join("history"),
        tmp.path().to_path_buf(),
    ];
    assert_refused_as_input(&outs, |out| f.bundle.save(out, &inputs));
    let after: Vec<_> = history.iter().map(|h| dir_bytes(h)).collect();
    assert_eq!(after, before, "the history changed");
    let foreign = tmp.path().join("notes");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("todo.txt"), "keep me").unwrap();
    let err = f.bundle.save(&foreign, &inputs).unwrap_err();
    assert!(err.to_string().contains("metadata.json"), "{err}");
    assert_eq!(dir_bytes(&foreign).len(), 1);
    // A bundle replaces a bundle.
    let models = tmp.path().join("models");
    f.bundle.save(&models, &inputs).unwrap();
    f.bundle.save(&models, &inputs).unwrap();
    assert_eq!(Bundle::load(&models).unwrap().version(), f.bundle.version());
}

#[test]
fn bundle_with_other_feature_spec_or_edited_model_is_rejected() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    f.bundle.save(&dir, &[]).unwrap();
    let loaded = Bundle::load(&dir).unwrap();
    assert_eq!(loaded.version(), f.bundle.version());
    // Another feature spec: one address column fewer than the models were trained on.
    let meta_path = dir.join("metadata.json");
    let original = std::fs::read_to_string(&meta_path).unwrap();
    let mut meta: serde_json::Value = serde_json::from_str(&original).unwrap();
    meta["feature_spec"]["address_columns"]
        .as_array_mut()
        .unwrap()
        .pop();
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    let err = Bundle::load(&dir).unwrap_err();
    assert!(
        matches!(err, BundleError::FeatureSpecMismatch { .. }),
        "{err}"
    );
    // An edited model file.
    std::fs::write(&meta_path, &original).unwrap();
    let model = dir.join("alert_scorer.txt");
    let text = std::fs::read_to_string(&model).unwrap();
    std::fs::write(&model, text.replacen("shrinkage=", "shrinkage=0", 1)).unwrap();
    assert!(matches!(
        Bundle::load(&dir).unwrap_err(),
        BundleError::VersionMismatch { .. } | BundleError::Model { .. }
    ));
    // A missing file.
    std::fs::remove_file(&model).unwrap();
    assert!(matches!(
        Bundle::load(&dir).unwrap_err(),
        BundleError::MissingFile { .. }
    ));
}

#[test]
fn retraining_reproduces_the_bundle_byte_for_byte() {
    let f = fixture();
    let again = Arc::new(train_on(&f.history));
    let tmp = tempfile::tempdir().unwrap();
    f.bundle.save(&tmp.path().join("a"), &[]).unwrap();
    again.save(&tmp.path().join("b"), &[]).unwrap();
    for file in [
        "alert_scorer.txt",
        "alert_ranker.txt",
        "cluster_scorer.txt",
        "metadata.json",
    ] {
        assert_eq!(
            std::fs::read(tmp.path().join("a").join(file)).unwrap(),
            std::fs::read(tmp.path().join("b").join(file)).unwrap(),
            "{file} differs"
        );
    }
}

#[test]
fn shipped_bundle_loads_and_matches_its_metadata() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("trained_models");
    let bundle = Bundle::load(&dir).unwrap();
    for (name, file) in aml_models::bundle::files::MODELS {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert_eq!(
            aml_models::model_version(&text),
            bundle.model_versions()[name]
        );
    }
    assert!(bundle.metadata().training.train_days.len() >= 5);
}

#[test]
fn manifest_and_receipt_speak_the_templates_language() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let summary = score(&f.day, &out).unwrap();
    let receipt = &summary.receipt;
    let sha = |name: &str| aml_core::io::sha256_file(&f.day.join(name)).unwrap();
    assert_eq!(receipt.input_hash, sha("alerts.parquet"));
    assert_eq!(receipt.batch_hash(), Some(sha("META.json").as_str()));
    aml_core::submission::check_image_digest(&receipt.image_digest).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    // repo_commit was recorded when the miner was built: a commit id (or `unknown`), never run at
    // scoring time.
    let commit = pipeline::REPO_COMMIT;
    let hex_commit = commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit());
    let overridden = std::env::var_os("AML_MINER_REPO_COMMIT").is_some();
    assert!(hex_commit || commit == "unknown" || overridden, "{commit}");
    assert_eq!(manifest["repo_commit"], commit);
    assert_eq!(manifest["image_digest"], receipt.image_digest.as_str());
    assert_eq!(manifest["model_version"], f.bundle.version());
    assert_eq!(manifest["processed_at"], "2025-10-05T00:00:00Z");
    for lib in ["aml-core", "arrow", "parquet", "ed25519-dalek"] {
        assert!(
            manifest["libs"][lib].is_string(),
            "libs lacks {lib}: {manifest}"
        );
    }
    assert!(manifest["seeds"]["training"].is_u64());
    let hardware = &manifest["hardware"];
    assert!(!hardware["cpu"].as_str().unwrap().is_empty());
    assert!(hardware["ram_gb"].as_f64().unwrap() >= 0.0);
    assert!(hardware["cores"].is_string(), "our extras stay: {hardware}");
    assert!(manifest["stage_seconds"].is_array() && manifest["batch_id"].is_string());
    // An in-memory batch commits to the same alerts file: the hash its META lists.
    let (batch, _) = aml_core::Batch::load(&f.day).unwrap();
    let memory = pipeline::score_batch(
        BatchInput::Memory(&batch),
        &f.bundle,
        &tmp.path().join("memory"),
        &pipeline::development_key(),
        KeySource::Development,
        &ScoreOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(memory.receipt.input_hash, receipt.input_hash);
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

#[test]
fn no_library_code_runs_git() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = rust_files(&root.join("src"));
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        sources.extend(rust_files(&entry.unwrap().path().join("src")));
    }
    assert!(sources.len() > 20, "found {} sources", sources.len());
    for path in sources {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("Command::new(\"git\")"),
            "{} runs git: the commit is recorded at build time (build.rs)",
            path.display()
        );
    }
}
