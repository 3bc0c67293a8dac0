//! Saving a model is atomic and safe under concurrency: many threads saving to the same path
//! (the same or different models) all succeed, and what is left is exactly one whole model file
//! with no temporary siblings. A save that fails leaves nothing behind either.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use aml_models::{GbdtModel, Model};

const THREADS: usize = 16;
const SAVES: usize = 20;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The names in `dir` (a temporary sibling left behind would show up here).
fn names(dir: &Path) -> Vec<String> {
    let names: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.into_iter().collect()
}

#[test]
fn concurrent_saves_of_one_path_never_collide() {
    let models = [
        GbdtModel::load(&fixture("binary_nan.model.txt")).unwrap(),
        GbdtModel::load(&fixture("binary_no_missing.model.txt")).unwrap(),
    ];
    let texts = models.each_ref().map(|m| m.model_text().to_string());
    assert_ne!(texts[0], texts[1]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.txt");
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (model, path, texts) = (&models[t % 2], &path, &texts);
            scope.spawn(move || {
                for _ in 0..SAVES {
                    model.save(path).unwrap();
                    // Whatever is there at any moment is one whole model.
                    let now = std::fs::read_to_string(path).unwrap();
                    assert!(now == texts[0] || now == texts[1], "torn model file");
                }
            });
        }
    });
    assert_eq!(names(dir.path()), ["model.txt"]);
    let saved = GbdtModel::load(&path).unwrap();
    assert!(models.iter().any(|m| m.version() == saved.version()));
}

#[test]
fn a_failed_save_leaves_no_temporary_file() {
    let model = GbdtModel::load(&fixture("binary_nan.model.txt")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The target is a directory: the rename fails after the bytes were written.
    let target = dir.path().join("model.txt");
    std::fs::create_dir(&target).unwrap();
    let err = model.save(&target).unwrap_err();
    assert!(err.to_string().contains("model.txt"), "{err}");
    assert_eq!(names(dir.path()), ["model.txt"]);
    assert!(names(&target).is_empty());
    // The directory does not exist: nothing is created.
    assert!(model.save(&dir.path().join("absent/model.txt")).is_err());
    assert_eq!(names(dir.path()), ["model.txt"]);
}
