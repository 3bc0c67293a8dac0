//! What the command-line tools may write and with which key they sign (issue 11, items 1, 2 and
//! 6): `train` and `score_batch` are driven in-process (their code is included) against small
//! synthetic batches. `--out` may never be the input or a parent of it, `--store` never builds a
//! path from a META date that is not a date, and a signing key is exactly one of the documented
//! forms.

use std::path::{Path, PathBuf};

use aml_miner::cli::{score as score_batch, train};
use aml_miner::pipeline::{self, KeySource};
use aml_synth::{write_batch, SynthConfig};
use clap::Parser;

fn world() -> SynthConfig {
    SynthConfig {
        n_alerts: 60,
        n_addresses: 400,
        n_flows: 1_000,
        date: "2025-10-01".into(),
        with_labels: true,
        ..SynthConfig::small()
    }
}

/// Every path below `dir` with its bytes (directories with none), sorted.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.push((path.clone(), Vec::new()));
            out.extend(snapshot(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    out
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

fn run_train(args: &[&str]) -> Result<(), String> {
    let parsed = train::Args::try_parse_from(std::iter::once("train").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    train::run(&parsed).map_err(|e| e.to_string())
}

fn run_score(args: &[&str]) -> Result<(), String> {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("trained_models");
    let parsed = score_batch::Args::try_parse_from(
        ["score_batch", "--models", s(&models)]
            .into_iter()
            .chain(args.iter().copied()),
    )
    .map_err(|e| e.to_string())?;
    score_batch::run(&parsed)
        .map(drop)
        .map_err(|e| e.to_string())
}

#[test]
fn train_never_writes_over_its_history() {
    let root = tempfile::tempdir().unwrap();
    let history = root.path().join("history");
    let days: Vec<PathBuf> = (0..2)
        .map(|d| write_batch(&history.join(format!("day{d}")), &world(), d).unwrap())
        .collect();
    let before = snapshot(root.path());
    for (inputs, out) in [
        (vec![&days[0], &days[1]], &days[0]),
        (vec![&days[0], &days[1]], &history),
        (vec![&history], &days[1]),
        (vec![&history], &history),
        (vec![&days[0]], &root.path().to_path_buf()),
    ] {
        let mut args = vec!["--history"];
        args.extend(inputs.iter().map(|p| s(p)));
        args.extend(["--out", s(out)]);
        let error = run_train(&args).expect_err("training over its history must be refused");
        assert!(
            error.contains("refusing") && error.contains("input"),
            "{args:?}: {error}"
        );
    }
    assert_eq!(snapshot(root.path()), before, "the history changed");
}

#[test]
fn score_batch_never_writes_over_its_batch() {
    let root = tempfile::tempdir().unwrap();
    let batch = write_batch(&root.path().join("batch"), &world(), 3).unwrap();
    let key = root.path().join("key.hex");
    std::fs::write(&key, "11".repeat(32)).unwrap();
    let before = snapshot(root.path());
    for out in [batch.clone(), root.path().to_path_buf()] {
        let error = run_score(&["--batch", s(&batch), "--out", s(&out), "--key", s(&key)])
            .expect_err("scoring into the batch must be refused");
        assert!(error.contains("is or contains the input"), "{error}");
    }
    assert_eq!(snapshot(root.path()), before, "the batch changed");
}

#[test]
fn store_date_from_meta_never_leaves_the_store() {
    let root = tempfile::tempdir().unwrap();
    let batch = write_batch(&root.path().join("batch"), &world(), 3).unwrap();
    let store = root.path().join("data").join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("keep.txt"), "store content").unwrap();
    let key = root.path().join("key.hex");
    std::fs::write(&key, "11".repeat(32)).unwrap();
    let meta_path = batch.join("META.json");
    let good_meta = std::fs::read_to_string(&meta_path).unwrap();
    for bad in ["../victim", "", "..", "."] {
        let mut meta: serde_json::Value = serde_json::from_str(&good_meta).unwrap();
        meta["processing_date"] = bad.into();
        std::fs::write(&meta_path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
        let before = snapshot(root.path());
        let error = run_score(&["--batch", s(&batch), "--store", s(&store), "--key", s(&key)])
            .expect_err("a META date that is not a date must be refused");
        assert!(error.contains("processing_date"), "{bad:?}: {error}");
        assert_eq!(
            snapshot(root.path()),
            before,
            "{bad:?}: something was touched"
        );
    }
}

/// One test owns `AML_MINER_KEY` in this binary (the other tests pass `--key`).
#[test]
fn signing_key_forms() {
    let hex = "ab".repeat(32);
    let (short, padded) = ("ab".repeat(31), format!("  {hex}\n"));
    let cases: [(Option<&str>, Result<KeySource, &str>); 6] = [
        (None, Ok(KeySource::Development)),
        (Some(""), Err("empty")),
        (Some("  \n\t"), Err("empty")),
        (Some("zz"), Err("64 hex digits")),
        (Some(&short), Err("64 hex digits")),
        (Some(&padded), Ok(KeySource::Env)),
    ];
    for (value, expected) in cases {
        match value {
            Some(v) => std::env::set_var(pipeline::KEY_ENV, v),
            None => std::env::remove_var(pipeline::KEY_ENV),
        }
        let loaded = pipeline::load_signing_key(None);
        match (loaded, expected) {
            (Ok((key, source)), Ok(expected)) => {
                assert_eq!(source, expected, "{value:?}");
                if source == KeySource::Env {
                    assert_eq!(key.to_bytes(), [0xab; 32]);
                }
            }
            (Err(e), Err(needle)) => {
                assert!(e.to_string().contains(needle), "{value:?}: {e}")
            }
            (loaded, expected) => panic!(
                "{value:?}: got {:?}, expected {expected:?}",
                loaded.map(|(_, s)| s)
            ),
        }
    }
    std::env::remove_var(pipeline::KEY_ENV);

    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let accepted: [(&str, Vec<u8>, [u8; 32]); 4] = [
        ("hex", format!("{hex}\n").into_bytes(), [0xab; 32]),
        (
            "hex-spaced",
            format!("\n  {hex}  \n").into_bytes(),
            [0xab; 32],
        ),
        // 32 raw bytes that happen to be text are still 32 raw bytes.
        ("raw-ascii", vec![b'a'; 32], [b'a'; 32]),
        ("raw", (0..32).map(|i| 0xe0 + (i % 16)).collect(), {
            let mut seed = [0u8; 32];
            seed.iter_mut()
                .enumerate()
                .for_each(|(i, b)| *b = 0xe0 + (i % 16) as u8);
            seed
        }),
    ];
    for (name, bytes, seed) in accepted {
        let path = file(name, &bytes);
        let (key, source) = pipeline::load_signing_key(Some(&path)).unwrap();
        assert_eq!(key.to_bytes(), seed, "{name}");
        assert_eq!(source, KeySource::File(path));
    }
    for (name, bytes) in [
        ("empty", Vec::new()),
        ("short-raw", vec![7u8; 31]),
        ("long-raw", vec![0xffu8; 33]),
        ("short-hex", "ab".repeat(31).into_bytes()),
        ("not-hex", "zz".repeat(32).into_bytes()),
        ("two-keys", format!("{hex}\n{hex}\n").into_bytes()),
    ] {
        let error = pipeline::load_signing_key(Some(&file(name, &bytes)))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("64 hex digits") && error.contains("32 raw bytes"),
            "{name}: {error}"
        );
        assert!(
            error.contains(name),
            "{name}: the error should name the file: {error}"
        );
    }
}
