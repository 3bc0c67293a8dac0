//! The LightGBM model zoo (issue 12): fixtures from `scripts/fixtures_zoo.py`.
//!
//! Every `zoo_*` case is in [`SUPPORTED`]: it parses, the reference walk
//! (`TreeEnsemble::predict_raw_reference_classes`) and the compiled predictor (batch parallel,
//! batch sequential and single row, on the f64 inputs and on the inputs cast to f32) give
//! LightGBM's raw score of every class bit for bit, and the predictions (averaged for random
//! forests, then the output transform) equal LightGBM's within 1e-12.

mod common;

use aml_models::{
    parse_model, write_model, GbdtModel, Model, ModelError, PredictError, TreeEnsemble,
};
use common::{fixtures, read, read_tsv};
use ndarray::Array2;

/// Every case: loads and predicts exactly, on the f64 inputs and on the inputs cast to f32.
const SUPPORTED: &[&str] = &[
    "zoo_regression",
    "zoo_binary_sigmoid",
    "zoo_lambdarank",
    "zoo_zero_as_missing",
    "zoo_no_missing",
    "zoo_dart",
    "zoo_goss",
    "zoo_early_stopped",
    "zoo_cross_entropy",
    "zoo_rank_xendcg",
    "zoo_mape",
    "zoo_quantile",
    "zoo_fair",
    "zoo_huber",
    "zoo_regression_l1",
    "zoo_poisson",
    "zoo_gamma",
    "zoo_tweedie",
    "zoo_cross_entropy_lambda",
    "zoo_regression_sqrt",
    "zoo_custom_objective",
    "zoo_multiclass",
    "zoo_multiclassova",
    "zoo_categorical",
    "zoo_rf",
    "zoo_linear_tree",
];

/// Every zoo case.
fn all_cases() -> Vec<&'static str> {
    SUPPORTED.to_vec()
}

/// A `<case>.meta.tsv` value.
fn meta(case: &str, key: &str) -> usize {
    let text = read(&format!("{case}.meta.tsv"));
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}\t")))
        .unwrap_or_else(|| panic!("{case}: no `{key}` in meta"));
    line.parse().unwrap()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    a == b || (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

/// Every `zoo_*.model.txt` fixture is listed, and every listed case exists.
#[test]
fn every_zoo_case_is_listed_exactly_once() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let case = name.strip_suffix(".model.txt")?;
            case.starts_with("zoo_").then(|| case.to_string())
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = SUPPORTED.iter().map(|c| c.to_string()).collect();
    listed.sort();
    assert_eq!(listed, on_disk);
}

/// The ensemble LightGBM predicts with for `case`: the first `best_iteration` iterations
/// of an early-stopped model, all of them otherwise.
fn ensemble_for(case: &str, e: &TreeEnsemble) -> TreeEnsemble {
    let best = meta(case, "best_iteration");
    if best == 0 {
        return e.select_iterations(0, None);
    }
    let k = e.num_class();
    assert!(best < e.num_iterations(), "{case}: best_iteration {best}");
    let selected = e.select_iterations(0, Some(best));
    assert_eq!(selected.trees[..], e.trees[..best * k], "{case}");
    selected
}

/// The reference walk of every case equals LightGBM's raw score of every class bit for bit
/// (f64 inputs and inputs cast to f32), and the per-class transform equals its prediction;
/// the re-saved text parses back to the same ensemble.
#[test]
fn reference_walk_matches_lightgbm_for_every_case() {
    let mut failures = Vec::new();
    for case in all_cases() {
        let text = read(&format!("{case}.model.txt"));
        let file = match parse_model(&text) {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{case}: fails to parse: {e}"));
                continue;
            }
        };
        let k = meta(case, "num_class");
        assert_eq!(file.ensemble.num_class(), k, "{case}");
        let ensemble = ensemble_for(case, &file.ensemble);
        let (names, rows) = read_tsv(&format!("{case}.inputs.tsv"));
        assert_eq!(names, ensemble.feature_names, "{case}: feature names");
        let (_, preds) = read_tsv(&format!("{case}.preds.tsv"));
        for (i, (row, want)) in rows.iter().zip(&preds).enumerate() {
            let (want_raw, want_pred, want_raw32) = (&want[..k], &want[k..2 * k], &want[2 * k..]);
            let raw = ensemble.predict_raw_reference_classes(row);
            let row32: Vec<f64> = row.iter().map(|&v| f64::from(v as f32)).collect();
            let raw32 = ensemble.predict_raw_reference_classes(&row32);
            let mut pred = want_raw.to_vec();
            ensemble.transform_classes(&mut pred);
            for c in 0..k {
                if raw[c].to_bits() != want_raw[c].to_bits() {
                    failures.push(format!(
                        "{case} row {i} class {c}: raw {} vs LightGBM {}",
                        raw[c], want_raw[c]
                    ));
                } else if raw32[c].to_bits() != want_raw32[c].to_bits() {
                    failures.push(format!(
                        "{case} row {i} class {c}: raw on f32 inputs {} vs LightGBM {}",
                        raw32[c], want_raw32[c]
                    ));
                } else if !close(pred[c], want_pred[c], 1e-12) {
                    failures.push(format!(
                        "{case} row {i} class {c}: transform {} vs LightGBM {}",
                        pred[c], want_pred[c]
                    ));
                }
            }
        }
        let ours = write_model(&file.ensemble, &file.parameters).unwrap();
        match parse_model(&ours) {
            Ok(back) if back.ensemble == file.ensemble => {}
            Ok(_) => failures.push(format!("{case}: re-saved ensemble differs")),
            Err(e) => failures.push(format!("{case}: re-saved text: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `Err` naming the first raw score of `got` (`n x k`) that differs in its bits from `want`.
fn same_bits(what: &str, got: &Array2<f64>, want: &[Vec<f64>]) -> Result<(), String> {
    for (i, w) in want.iter().enumerate() {
        for (c, w) in w.iter().enumerate() {
            if got[[i, c]].to_bits() != w.to_bits() {
                return Err(format!(
                    "{what}: row {i} class {c}: {} vs LightGBM {w}",
                    got[[i, c]]
                ));
            }
        }
    }
    Ok(())
}

/// The raw class scores of every row through each predictor path: batch parallel, batch
/// sequential and one row at a time.
fn every_path<T: aml_models::FeatureValue>(
    predictor: &aml_models::Predictor,
    x: &Array2<T>,
) -> Vec<(&'static str, Array2<f64>)> {
    let k = predictor.num_class();
    let mut single = Array2::zeros((x.nrows(), k));
    for (row, mut out) in x.rows().into_iter().zip(single.rows_mut()) {
        predictor
            .predict_raw_row_classes(row.as_slice().unwrap(), out.as_slice_mut().unwrap())
            .unwrap();
    }
    vec![
        ("parallel", predictor.predict_raw_classes(x.view()).unwrap()),
        (
            "sequential",
            predictor.predict_raw_classes_sequential(x.view()).unwrap(),
        ),
        ("single row", single),
    ]
}

/// Checks one case through the compiled predictor; `Err` describes the first difference from
/// LightGBM.
fn check_supported(case: &str) -> Result<(), String> {
    let text = read(&format!("{case}.model.txt"));
    let model = GbdtModel::from_model_str(&text).map_err(|e| format!("fails to load: {e}"))?;
    let k = meta(case, "num_class");
    assert_eq!(model.num_class(), k, "{case}");
    let ensemble = ensemble_for(case, model.ensemble());
    let predictor = ensemble.predictor().unwrap();
    assert_eq!(predictor.num_class(), k, "{case}");
    let (names, rows) = read_tsv(&format!("{case}.inputs.tsv"));
    assert_eq!(names, ensemble.feature_names, "{case}: feature names");
    let (header, preds) = read_tsv(&format!("{case}.preds.tsv"));
    assert_eq!(header.len(), 3 * k, "{case}: {header:?}");
    assert_eq!(rows.len(), preds.len(), "{case}");
    let want_raw: Vec<Vec<f64>> = preds.iter().map(|p| p[..k].to_vec()).collect();
    let want_pred: Vec<Vec<f64>> = preds.iter().map(|p| p[k..2 * k].to_vec()).collect();
    let want_raw32: Vec<Vec<f64>> = preds.iter().map(|p| p[2 * k..].to_vec()).collect();
    let x = common::to_array(&rows, names.len());
    let x32 = x.mapv(|v| v as f32);
    for (path, raw) in every_path(&predictor, &x) {
        same_bits(&format!("raw on f64 inputs ({path})"), &raw, &want_raw)?;
    }
    for (path, raw) in every_path(&predictor, &x32) {
        same_bits(&format!("raw on f32 inputs ({path})"), &raw, &want_raw32)?;
    }
    let pred = predictor.predict_classes(x.view()).unwrap();
    for (i, want) in want_pred.iter().enumerate() {
        // The output transform, applied to LightGBM's own raw scores, and to ours.
        let mut t = want_raw[i].clone();
        ensemble.transform_classes(&mut t);
        for (c, &w) in want.iter().enumerate() {
            if !close(t[c], w, 1e-12) || !close(pred[[i, c]], w, 1e-12) {
                return Err(format!(
                    "row {i} class {c}: pred {} (transform of LightGBM's raw {}) vs LightGBM {w}",
                    pred[[i, c]],
                    t[c]
                ));
            }
        }
    }
    if k == 1 {
        // The single-output paths give the same bits.
        let raw = predictor.predict_raw(x.view()).unwrap();
        let seq = predictor.predict_raw_sequential(x32.view()).unwrap();
        let p = predictor.predict(x.view()).unwrap();
        for (i, row) in rows.iter().enumerate() {
            let one = predictor.predict_raw_row(row).unwrap();
            let one_pred = predictor.predict_row(row).unwrap();
            if raw[i].to_bits() != want_raw[i][0].to_bits()
                || one.to_bits() != want_raw[i][0].to_bits()
                || seq[i].to_bits() != want_raw32[i][0].to_bits()
                || p[i].to_bits() != pred[[i, 0]].to_bits()
                || one_pred.to_bits() != pred[[i, 0]].to_bits()
            {
                return Err(format!("row {i}: a single-output path differs"));
            }
        }
    } else {
        // A multiclass model never answers through the single-score API.
        let refused = PredictError::MultipleClasses { num_class: k };
        assert_eq!(predictor.predict_raw(x.view()), Err(refused.clone()));
        assert_eq!(predictor.predict(x32.view()), Err(refused.clone()));
        assert_eq!(predictor.predict_raw_row(&rows[0]), Err(refused.clone()));
        match model.predict(x32.view()) {
            Err(ModelError::Predict(e)) if e == refused => {}
            other => panic!("{case}: Model::predict gave {other:?}"),
        }
        let message = refused.to_string();
        assert!(message.contains("classes") && message.contains("predict_classes"));
        // GbdtModel's class outputs agree with the predictor's (all iterations: no early stop).
        let full = model.predictor().predict_raw_classes(x32.view()).unwrap();
        assert_eq!(model.predict_raw_classes(x32.view()).unwrap(), full);
        let probs = model.predict_classes(x32.view()).unwrap();
        assert_eq!(
            probs,
            model.predictor().predict_classes(x32.view()).unwrap()
        );
    }
    // Our writer keeps the objective and every tree: the re-saved text parses back the same.
    let file = parse_model(&text).map_err(|e| e.to_string())?;
    let ours = write_model(&file.ensemble, &file.parameters).map_err(|e| e.to_string())?;
    let back = parse_model(&ours).map_err(|e| format!("re-saved text: {e}"))?;
    if back.ensemble != file.ensemble {
        return Err("re-saved ensemble differs".into());
    }
    Ok(())
}

#[test]
fn supported_cases_match_lightgbm() {
    let failures: Vec<String> = SUPPORTED
        .iter()
        .filter_map(|&case| check_supported(case).err().map(|e| format!("{case}: {e}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The `pred_contrib` fixtures (for TreeSHAP, issue 12) have LightGBM's layout: per class,
/// one column per feature then the expected value, summing to the raw score; only linear
/// trees, which LightGBM cannot explain, have none.
#[test]
fn contrib_fixtures_have_lightgbm_layout() {
    for case in all_cases() {
        let has = meta(case, "contrib") == 1;
        let path = fixtures().join(format!("{case}.contrib.tsv"));
        assert_eq!(path.exists(), has, "{case}");
        assert_eq!(has, case != "zoo_linear_tree", "{case}");
        if !has {
            continue;
        }
        let k = meta(case, "num_class");
        let (names, rows) = read_tsv(&format!("{case}.inputs.tsv"));
        let (_, preds) = read_tsv(&format!("{case}.preds.tsv"));
        let text = read(&format!("{case}.contrib.tsv"));
        let contrib: Vec<Vec<f64>> = text
            .lines()
            .map(|l| l.split('\t').map(common::parse_f64).collect())
            .collect();
        assert_eq!(contrib.len(), rows.len(), "{case}");
        for (i, c) in contrib.iter().enumerate() {
            assert_eq!(c.len(), (names.len() + 1) * k, "{case} row {i}");
            for (class, block) in c.chunks(names.len() + 1).enumerate() {
                let sum: f64 = block.iter().sum();
                let raw = preds[i][class];
                assert!(
                    close(sum, raw, 1e-9),
                    "{case} row {i} class {class}: contributions sum to {sum}, raw {raw}"
                );
            }
        }
    }
}
