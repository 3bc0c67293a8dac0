//! TreeSHAP on the LightGBM model zoo (issue 12): the fixtures of `scripts/fixtures_zoo.py` in
//! `crates/aml-models/tests/fixtures` (`zoo_<case>.{model.txt,inputs.tsv,contrib.tsv,meta.tsv}`).
//!
//! For every case LightGBM explains (`contrib.tsv`: its `pred_contrib`, per class one column per
//! feature then the expected value), the fast explainer and the reference recursion both equal
//! it within 1e-9 relative to `max(1, |value|)`, and every class block sums to the class's raw
//! score. Linear trees, which LightGBM refuses to explain, are refused here too, by name.

use aml_explain::{contributions, reference_contributions, ExplainError, TreeShapExplainer};
use aml_models::{parse_model, TreeEnsemble};
use ndarray::Array2;
use std::path::PathBuf;

/// What happens to each zoo case; every `zoo_*.model.txt` on disk must be listed here.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// LightGBM's `pred_contrib` is in `<case>.contrib.tsv`; ours must equal it.
    Explained,
    /// Refused with `ExplainError::Unsupported` naming this (LightGBM refuses too: no contrib.tsv).
    Refused(&'static str),
}

const CASES: &[(&str, Expect)] = &[
    ("zoo_regression", Expect::Explained),
    ("zoo_binary_sigmoid", Expect::Explained),
    ("zoo_lambdarank", Expect::Explained),
    ("zoo_zero_as_missing", Expect::Explained),
    ("zoo_no_missing", Expect::Explained),
    ("zoo_dart", Expect::Explained),
    ("zoo_goss", Expect::Explained),
    ("zoo_early_stopped", Expect::Explained),
    ("zoo_cross_entropy", Expect::Explained),
    ("zoo_rank_xendcg", Expect::Explained),
    ("zoo_mape", Expect::Explained),
    ("zoo_quantile", Expect::Explained),
    ("zoo_fair", Expect::Explained),
    ("zoo_huber", Expect::Explained),
    ("zoo_regression_l1", Expect::Explained),
    ("zoo_poisson", Expect::Explained),
    ("zoo_gamma", Expect::Explained),
    ("zoo_tweedie", Expect::Explained),
    ("zoo_cross_entropy_lambda", Expect::Explained),
    ("zoo_multiclass", Expect::Explained),
    ("zoo_multiclassova", Expect::Explained),
    ("zoo_categorical", Expect::Explained),
    ("zoo_rf", Expect::Explained),
    ("zoo_regression_sqrt", Expect::Explained),
    ("zoo_custom_objective", Expect::Explained),
    ("zoo_linear_tree", Expect::Refused("linear trees")),
];

const TOLERANCE: f64 = 1e-9;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../aml-models/tests/fixtures")
}

fn read(name: &str) -> String {
    let path = fixtures().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Tab-separated numbers ("nan" for missing), one row per line, after `skip` header lines.
fn read_numbers(name: &str, skip: usize) -> Vec<Vec<f64>> {
    read(name)
        .lines()
        .enumerate()
        .skip(skip)
        .map(|(i, line)| {
            line.split('\t')
                .map(|v| {
                    v.parse::<f64>()
                        .unwrap_or_else(|e| panic!("{name} line {}: {v:?}: {e}", i + 1))
                })
                .collect()
        })
        .collect()
}

/// A `<case>.meta.tsv` value.
fn meta(case: &str, key: &str) -> usize {
    let name = format!("{case}.meta.tsv");
    read(&name)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}\t")))
        .unwrap_or_else(|| panic!("{name}: no `{key}`"))
        .parse()
        .unwrap_or_else(|e| panic!("{name}: `{key}`: {e}"))
}

/// The ensemble LightGBM explained: the first `best_iteration` iterations of an early-stopped
/// model, the whole model otherwise.
fn ensemble(case: &str) -> TreeEnsemble {
    let file =
        parse_model(&read(&format!("{case}.model.txt"))).unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(file.ensemble.num_class(), meta(case, "num_class"), "{case}");
    match meta(case, "best_iteration") {
        0 => file.ensemble,
        best => file.ensemble.select_iterations(0, Some(best)),
    }
}

fn inputs(case: &str, e: &TreeEnsemble) -> Array2<f64> {
    let name = format!("{case}.inputs.tsv");
    let header = read(&name).lines().next().unwrap_or_default().to_string();
    let names: Vec<&str> = header.split('\t').collect();
    assert_eq!(names, e.feature_names, "{name}: header");
    let rows = read_numbers(&name, 1);
    Array2::from_shape_vec((rows.len(), names.len()), rows.concat()).expect("rectangular")
}

fn close(ours: f64, want: f64) -> bool {
    (ours - want).abs() <= TOLERANCE * want.abs().max(1.0)
}

/// Every zoo case on disk is listed exactly once, and a case has `contrib.tsv` (and
/// `meta.tsv` says `contrib 1`) exactly when it is expected to be explained.
#[test]
fn every_zoo_case_is_known() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures directory")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let case = name.strip_suffix(".model.txt")?;
            case.starts_with("zoo_").then(|| case.to_string())
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|(c, _)| c.to_string()).collect();
    listed.sort();
    assert_eq!(listed, on_disk, "add new zoo cases to CASES");
    for &(case, expect) in CASES {
        let explained = expect == Expect::Explained;
        assert_eq!(
            fixtures().join(format!("{case}.contrib.tsv")).exists(),
            explained,
            "{case}: contrib.tsv"
        );
        assert_eq!(
            meta(case, "contrib") == 1,
            explained,
            "{case}: meta contrib"
        );
    }
}

/// Fast explainer, one-call form and reference recursion equal LightGBM's `pred_contrib`
/// (every class block, expected value included) for every explained case.
#[test]
fn fast_and_reference_equal_lightgbm_pred_contrib() {
    let mut failures = Vec::new();
    let mut checked = 0usize;
    for &(case, _) in CASES.iter().filter(|(_, e)| *e == Expect::Explained) {
        let model = ensemble(case);
        let x = inputs(case, &model);
        let want = read_numbers(&format!("{case}.contrib.tsv"), 0);
        let (k, nf) = (model.num_class(), model.num_features());
        assert_eq!(want.len(), x.nrows(), "{case}: contrib rows");
        let explainer = TreeShapExplainer::new(&model).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(explainer.output_len(), k * (nf + 1), "{case}");
        let fast = explainer.contributions(x.view()).unwrap();
        assert_eq!(fast.dim(), (x.nrows(), k * (nf + 1)), "{case}");
        assert_eq!(contributions(&model, x.view()).unwrap(), fast, "{case}");
        for (r, want_row) in want.iter().enumerate() {
            assert_eq!(
                want_row.len(),
                k * (nf + 1),
                "{case} row {r}: contrib width"
            );
            let row = x.row(r).to_vec();
            let reference = reference_contributions(&model, &row).unwrap();
            let raw = model.predict_raw_reference_classes(&row);
            for (method, ours) in [("fast", fast.row(r).to_vec()), ("reference", reference)] {
                for (col, (&o, &w)) in ours.iter().zip(want_row).enumerate() {
                    checked += 1;
                    if !close(o, w) {
                        let (class, feature) = (col / (nf + 1), col % (nf + 1));
                        failures.push(format!(
                            "{case} row {r} class {class} column {feature}: {method} {o} vs LightGBM {w}"
                        ));
                    }
                }
                for (class, block) in ours.chunks(nf + 1).enumerate() {
                    let total: f64 = block.iter().sum();
                    if !close(total, raw[class]) {
                        failures.push(format!(
                            "{case} row {r} class {class}: {method} sums to {total}, raw score {}",
                            raw[class]
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} values differ:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
}

/// Cases LightGBM cannot explain are refused by every entry point, by name, saying LightGBM
/// refuses too.
#[test]
fn linear_trees_are_refused_like_lightgbm() {
    for &(case, expect) in CASES {
        let Expect::Refused(what) = expect else {
            continue;
        };
        let model = ensemble(case);
        let x = inputs(case, &model);
        let errors = [
            TreeShapExplainer::new(&model).unwrap_err(),
            contributions(&model, x.view()).unwrap_err(),
            reference_contributions(&model, &x.row(0).to_vec()).unwrap_err(),
        ];
        for err in errors {
            assert!(
                matches!(err, ExplainError::Unsupported(_)),
                "{case}: {err:?}"
            );
            let message = err.to_string();
            assert!(message.contains(what), "{case}: {message}");
            assert!(message.contains("LightGBM refuses"), "{case}: {message}");
        }
    }
}

/// LightGBM writes `inf` thresholds in real models (a split above every seen value): the fast
/// explainer equals the reference on such trees, and every row's contributions still sum to
/// its raw score.
#[test]
fn infinite_thresholds_explain_like_the_reference() {
    let mut e = ensemble("zoo_regression");
    e.trees[0].threshold[0] = f64::INFINITY;
    let last = e.trees.len() - 1;
    let n = e.trees[last].threshold.len();
    e.trees[last].threshold[n - 1] = f64::NEG_INFINITY;
    let x = inputs("zoo_regression", &e);
    let explainer = TreeShapExplainer::new(&e).unwrap();
    let fast = explainer.contributions(x.view()).unwrap();
    for (i, row) in x.rows().into_iter().enumerate() {
        let row: Vec<f64> = row.to_vec();
        let reference = reference_contributions(&e, &row).unwrap();
        for (j, (&a, &b)) in fast.row(i).iter().zip(&reference).enumerate() {
            assert!(close(a, b), "row {i} column {j}: fast {a} vs reference {b}");
        }
        let sum: f64 = fast.row(i).iter().sum();
        let raw = e.predict_raw_reference(&row);
        assert!(
            close(sum, raw),
            "row {i}: contributions sum to {sum}, raw {raw}"
        );
    }
}
