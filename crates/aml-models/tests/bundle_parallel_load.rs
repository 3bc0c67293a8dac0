//! `Bundle::load` parses its three models and the label memory in parallel: the loaded bundle is
//! the same on one or two threads, and a bundle with several faults reports the first of them in
//! the fixed order (alert scorer, ranker, cluster scorer, then the memory), every time.
#![cfg(feature = "miner")]

use std::path::{Path, PathBuf};

use aml_models::bundle::files;
use aml_models::{Bundle, BundleError};

fn shipped_bundle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../trained_models")
}

/// A copy of the shipped bundle.
fn copy_bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(shipped_bundle()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

fn load_on(threads: usize, dir: &Path) -> Result<Bundle, BundleError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| Bundle::load(dir))
}

#[test]
fn the_same_bundle_loads_on_one_or_two_threads() {
    let one = load_on(1, &shipped_bundle()).unwrap();
    let two = load_on(2, &shipped_bundle()).unwrap();
    assert_eq!(one.version(), two.version());
    assert_eq!(one.metadata(), two.metadata());
    assert_eq!(one.label_memory(), two.label_memory());
    assert!(one.label_memory().is_some_and(|m| !m.is_empty()));
    for (name, file) in files::MODELS {
        let text = std::fs::read_to_string(shipped_bundle().join(file)).unwrap();
        let of = |b: &Bundle| match name {
            "alert_scorer" => b.scorer().model().model_text().to_string(),
            "alert_ranker" => b.ranker().model().model_text().to_string(),
            _ => b.cluster_scorer().model().model_text().to_string(),
        };
        assert_eq!(of(&one), text, "{name}");
        assert_eq!(of(&two), text, "{name}");
    }
}

/// The error of loading `dir`, the same on every one of several loads on one and two threads.
fn the_error(dir: &Path) -> String {
    let first = load_on(1, dir).unwrap_err().to_string();
    for _ in 0..8 {
        for threads in [1, 2] {
            assert_eq!(load_on(threads, dir).unwrap_err().to_string(), first);
        }
    }
    first
}

#[test]
fn several_faults_report_the_first_in_the_fixed_order() {
    let dir = copy_bundle();
    let path = |file: &str| dir.path().join(file);
    // Faults everywhere: the scorer's text is garbage, the ranker's file is edited (its version
    // no longer matches), the cluster scorer is missing, the memory is truncated.
    std::fs::write(path(files::ALERT_SCORER), "not a model\n").unwrap();
    let ranker = std::fs::read_to_string(path(files::ALERT_RANKER)).unwrap();
    std::fs::write(path(files::ALERT_RANKER), format!("{ranker}\n")).unwrap();
    std::fs::remove_file(path(files::CLUSTER_SCORER)).unwrap();
    let memory = std::fs::read(path(files::LABEL_MEMORY)).unwrap();
    std::fs::write(path(files::LABEL_MEMORY), &memory[..memory.len() / 2]).unwrap();

    let err = the_error(dir.path());
    assert!(err.contains("alert_scorer"), "{err}");

    std::fs::copy(
        shipped_bundle().join(files::ALERT_SCORER),
        path(files::ALERT_SCORER),
    )
    .unwrap();
    let err = the_error(dir.path());
    assert!(err.contains("alert_ranker"), "{err}");

    std::fs::write(path(files::ALERT_RANKER), ranker).unwrap();
    let err = the_error(dir.path());
    assert!(err.contains(files::CLUSTER_SCORER), "{err}");

    std::fs::copy(
        shipped_bundle().join(files::CLUSTER_SCORER),
        path(files::CLUSTER_SCORER),
    )
    .unwrap();
    let err = the_error(dir.path());
    assert!(err.contains("label_memory"), "{err}");

    std::fs::write(path(files::LABEL_MEMORY), memory).unwrap();
    assert_eq!(
        load_on(2, dir.path()).unwrap().version(),
        load_on(1, &shipped_bundle()).unwrap().version()
    );
}
