//! Hostile model files: a bundle whose trees hold NaN or infinite numbers is refused at load with
//! the file, tree and line; seeded random mutations of model text parse to `Ok` or `Err`, never a
//! panic.
//!
//! `AML_FUZZ_ITERATIONS` raises the mutation count for a longer local run.

mod common;

use std::path::Path;

#[cfg(feature = "miner")]
use aml_models::bundle::files;
#[cfg(feature = "miner")]
use aml_models::{model_version, Bundle, BundleError, ModelError, ModelFileError};
use aml_models::{GbdtModel, Model};
use common::{random_ensemble, Rng};

#[cfg(feature = "miner")]
fn shipped_bundle() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../trained_models")
}

#[cfg(feature = "miner")]
/// A copy of the shipped bundle whose `file` has line `line` (1-based) replaced by `edit(line)`,
/// with the model's version in metadata.json updated so only the edit can make the load fail.
fn edited_bundle(file: &str, edit: impl Fn(&str) -> Option<String>) -> (tempfile::TempDir, usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut edited_line = 0;
    for entry in std::fs::read_dir(shipped_bundle()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let old_version = model_version(&text);
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for (i, line) in lines.iter_mut().enumerate() {
        if let Some(new) = edit(line) {
            *line = new;
            edited_line = i + 1;
            break;
        }
    }
    assert!(edited_line > 0, "no line of {file} was edited");
    let mut new_text = lines.join("\n");
    new_text.push('\n');
    std::fs::write(&path, &new_text).unwrap();
    let meta_path = dir.path().join(files::METADATA);
    let meta = std::fs::read_to_string(&meta_path).unwrap();
    assert!(
        meta.contains(&old_version),
        "metadata.json records {old_version}"
    );
    std::fs::write(
        &meta_path,
        meta.replace(&old_version, &model_version(&new_text)),
    )
    .unwrap();
    (dir, edited_line)
}

#[cfg(feature = "miner")]
/// Replaces entry `index` of the `key=` line inside block `Tree=tree` by `value`.
fn set_entry(tree: usize, key: &str, index: usize, value: &str) -> impl Fn(&str) -> Option<String> {
    let in_tree = std::cell::Cell::new(false);
    let header = format!("Tree={tree}");
    let prefix = format!("{key}=");
    let value = value.to_string();
    move |line: &str| {
        if line.starts_with("Tree=") {
            in_tree.set(line == header);
        }
        let rest = line
            .strip_prefix(prefix.as_str())
            .filter(|_| in_tree.get())?;
        let mut values: Vec<&str> = rest.split(' ').collect();
        values[index] = &value;
        Some(format!("{prefix}{}", values.join(" ")))
    }
}

#[cfg(feature = "miner")]
#[test]
fn shipped_bundle_loads() {
    Bundle::load(&shipped_bundle()).expect("trained_models/ loads");
}

#[cfg(feature = "miner")]
#[test]
fn non_finite_tree_numbers_are_refused_at_load() {
    let cases = [
        (files::ALERT_SCORER, 3, "leaf_value", 2, "nan"),
        (files::ALERT_SCORER, 0, "leaf_value", 0, "inf"),
        (files::ALERT_RANKER, 1, "leaf_value", 1, "-inf"),
        (files::CLUSTER_SCORER, 1, "internal_value", 0, "NaN"),
        (files::ALERT_RANKER, 0, "threshold", 3, "nan"),
    ];
    for (file, tree, field, index, value) in cases {
        let (dir, line) = edited_bundle(file, set_entry(tree, field, index, value));
        let err = Bundle::load(dir.path()).expect_err("non-finite model number must be refused");
        let text = err.to_string();
        match &err {
            BundleError::Model {
                source:
                    ModelError::Parse {
                        path,
                        source:
                            ModelFileError::NonFinite {
                                line: l,
                                tree: t,
                                field: f,
                                index: i,
                                value: v,
                            },
                    },
                ..
            } => {
                assert_eq!(path, &dir.path().join(file), "{text}");
                assert_eq!(
                    (*l, *t, f.as_str(), *i),
                    (line, tree, field, index),
                    "{text}"
                );
                assert!(!v.is_finite(), "{text}");
            }
            other => panic!("{file} Tree={tree} {field}={value}: unexpected error {other}"),
        }
        for part in [
            file,
            &format!("Tree={tree}"),
            &format!("line {line}"),
            field,
        ] {
            assert!(text.contains(part), "`{text}` does not name {part}");
        }
    }
}

/// Token-level and byte-level edits of a model text.
fn mutate(text: &str, rng: &mut Rng) -> String {
    const TOKENS: [&str; 16] = [
        "nan",
        "inf",
        "-inf",
        "0",
        "-1",
        "1",
        "-2147483648",
        "2147483647",
        "4294967295",
        "1000000000000",
        "18446744073709551615",
        "99999999999999999999999",
        "1e308",
        "",
        "Tree=0",
        "end of trees",
    ];
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for _ in 0..1 + rng.below(3) {
        if lines.is_empty() {
            break;
        }
        let at = rng.below(lines.len());
        match rng.below(8) {
            // Replace one value of a `key=v v v` line.
            0..=2 => {
                let line = &lines[at];
                let (key, rest) = line.split_once('=').unwrap_or(("", line));
                let mut values: Vec<String> = rest.split(' ').map(String::from).collect();
                let i = rng.below(values.len());
                values[i] = TOKENS[rng.below(TOKENS.len())].to_string();
                lines[at] = if line.contains('=') {
                    format!("{key}={}", values.join(" "))
                } else {
                    values.join(" ")
                };
            }
            // Drop one value (array lengths disagree).
            3 => {
                let mut values: Vec<&str> = lines[at].split(' ').collect();
                if values.len() > 1 {
                    values.remove(rng.below(values.len()));
                }
                lines[at] = values.join(" ");
            }
            4 => {
                lines.remove(at);
            }
            5 => {
                let copy = lines[rng.below(lines.len())].clone();
                lines.insert(at, copy);
            }
            // Raw byte edits (may break UTF-8: read lossily like a file would be refused or fixed).
            _ => {
                let mut bytes = lines[at].clone().into_bytes();
                if !bytes.is_empty() {
                    let i = rng.below(bytes.len());
                    bytes[i] = rng.next_u64() as u8;
                }
                lines[at] = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn iterations() -> usize {
    std::env::var("AML_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

#[test]
fn mutated_model_text_never_panics() {
    let mut seeds: Vec<String> = (1..5)
        .map(|seed| random_ensemble(seed, false).to_model_string().unwrap())
        .collect();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for name in ["binary_nan", "binary_single_leaf", "lambdarank"] {
        seeds.push(std::fs::read_to_string(fixtures.join(format!("{name}.model.txt"))).unwrap());
    }
    let mut outcomes = [0usize; 2];
    for iteration in 0..iterations() {
        let mut rng = Rng(iteration as u64);
        let seed = &seeds[rng.below(seeds.len())];
        let text = mutate(seed, &mut rng);
        let result = std::panic::catch_unwind(|| {
            let model = GbdtModel::from_model_str(&text)?;
            let n = model.feature_names().len();
            let x = ndarray::Array2::<f32>::from_elem((2, n), 0.5);
            model.predict(x.view())
        });
        match result {
            Ok(Ok(_)) => outcomes[0] += 1,
            Ok(Err(_)) => outcomes[1] += 1,
            Err(_) => panic!("iteration {iteration}: parsing a mutated model panicked:\n{text}"),
        }
    }
    eprintln!("{} parsed, {} refused", outcomes[0], outcomes[1]);
}
