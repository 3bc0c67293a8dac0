//! Conformance against LightGBM: fixtures from `scripts/fixtures_models.py`.
//!
//! Raw scores must equal LightGBM's bit for bit (same comparisons, same summation
//! order); transformed predictions within 1e-15 relative (libm `exp` may differ by an ulp).

mod common;

use aml_models::{parse_model, write_model, GbdtModel, Model, TreeEnsemble};
use common::{fixtures, random_ensemble, random_rows, read, read_tsv, Rng};

fn close(a: f64, b: f64, rel: f64) -> bool {
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs())
}

/// Checks our predictions for `case` against LightGBM's stored ones.
fn check_case(case: &str) {
    let text = read(&format!("{case}.model.txt"));
    let model = GbdtModel::from_model_str(&text).unwrap();
    let (names, rows) = read_tsv(&format!("{case}.inputs.tsv"));
    assert_eq!(names, model.feature_names(), "{case}: feature names");
    let (_, preds) = read_tsv(&format!("{case}.preds.tsv"));
    assert_eq!(rows.len(), preds.len());
    let nf = names.len();
    let x = common::to_array(&rows, nf);
    let x32 = x.mapv(|v| v as f32);
    let p = model.predictor();
    let raw = p.predict_raw(x.view()).unwrap();
    let pred = p.predict(x.view()).unwrap();
    let raw32 = model.predict_raw(x32.view()).unwrap();
    for (i, want) in preds.iter().enumerate() {
        assert_eq!(
            raw[i].to_bits(),
            want[0].to_bits(),
            "{case} row {i}: raw f64 {} vs {}",
            raw[i],
            want[0]
        );
        assert!(
            close(pred[i], want[1], 1e-15),
            "{case} row {i}: pred {} vs {}",
            pred[i],
            want[1]
        );
        assert_eq!(
            raw32[i].to_bits(),
            want[2].to_bits(),
            "{case} row {i}: raw f32 {} vs {}",
            raw32[i],
            want[2]
        );
        assert_eq!(
            raw[i],
            model.ensemble().predict_raw_reference(&rows[i]),
            "{case} row {i}: reference"
        );
    }
    // Our writer keeps everything: re-saved text parses to the same ensemble.
    let file = parse_model(&text).unwrap();
    let ours = write_model(&file.ensemble, &file.parameters).unwrap();
    let back = parse_model(&ours).unwrap();
    assert_eq!(
        back.ensemble, file.ensemble,
        "{case}: re-saved ensemble differs"
    );
    assert_eq!(back.parameters, file.parameters);
}

#[test]
fn lightgbm_binary_nan_missing() {
    check_case("binary_nan");
}

#[test]
fn lightgbm_binary_zero_as_missing() {
    check_case("binary_zero_as_missing");
}

#[test]
fn lightgbm_binary_no_missing_sigmoid() {
    check_case("binary_no_missing");
}

#[test]
fn lightgbm_binary_single_leaf() {
    check_case("binary_single_leaf");
}

#[test]
fn lightgbm_regression() {
    check_case("regression");
}

#[test]
fn lightgbm_lambdarank() {
    check_case("lambdarank");
}

/// `max_bin` 15 on float64 data: thresholds float32 cannot represent, probed at
/// `nextafter(t, -inf)`, `t`, `nextafter(t, +inf)` and t's float32 neighbours.
#[test]
fn lightgbm_f64_thresholds_binary_max_bin15() {
    check_case("f64_binary_max_bin15");
}

#[test]
fn lightgbm_f64_thresholds_regression_l2_max_bin15() {
    check_case("f64_regression_l2_max_bin15");
}

#[test]
fn lightgbm_file_metadata() {
    let file = parse_model(&read("binary_nan.model.txt")).unwrap();
    let e = &file.ensemble;
    assert_eq!(e.trees.len(), 30);
    assert_eq!(e.feature_names.len(), 8);
    assert!(file.parameters.iter().any(|p| p == "[num_leaves: 15]"));
    assert_eq!(file.pandas_categorical.as_deref(), Some("null"));
    // LightGBM's own split importance section must match ours.
    let text = read("binary_nan.model.txt");
    let section = text.split("feature_importances:\n").nth(1).unwrap();
    let counts = e.split_importance();
    for line in section.lines().take_while(|l| !l.is_empty()) {
        let (name, count) = line.split_once('=').unwrap();
        let f = e.feature_names.iter().position(|n| n == name).unwrap();
        assert_eq!(counts[f], count.parse::<u64>().unwrap(), "{name}");
    }
}

/// (fixture name, ensemble, parameters block, input rows)
type WrittenCase = (&'static str, TreeEnsemble, Vec<String>, Vec<Vec<f64>>);

/// Models written by us. With `UPDATE_FIXTURES=1` the files are (re)written; then
/// `python3 scripts/fixtures_models.py --rust-written` stores LightGBM's predictions
/// of them, which this test compares against ours.
#[test]
fn rust_written_models() {
    let update = std::env::var_os("UPDATE_FIXTURES").is_some();
    // A synthetic ensemble with every missing type, edge thresholds, single-leaf trees and a base score.
    let mut synthetic = random_ensemble(0, true);
    let mut seed = 1;
    while synthetic.trees.len() < 15 || synthetic.num_features() < 6 {
        synthetic = random_ensemble(seed, true);
        seed += 1;
    }
    let mut rng = Rng(99);
    let synthetic_rows = random_rows(&mut rng, &synthetic, 300);
    // A LightGBM lambdarank model re-written by our writer.
    let lgb = parse_model(&read("lambdarank.model.txt")).unwrap();
    let (_, lgb_rows) = read_tsv("lambdarank.inputs.tsv");
    let cases: [WrittenCase; 2] = [
        (
            "rust_synthetic",
            synthetic.clone(),
            aml_models::model_file::default_parameters(&synthetic),
            synthetic_rows,
        ),
        (
            "rust_resaved_lambdarank",
            lgb.ensemble.clone(),
            lgb.parameters.clone(),
            lgb_rows,
        ),
    ];
    for (name, ensemble, params, rows) in cases {
        let text = write_model(&ensemble, &params).unwrap();
        let model_path = fixtures().join(format!("{name}.model.txt"));
        if update {
            std::fs::write(&model_path, &text).unwrap();
            let mut inputs = ensemble.feature_names.join("\t");
            inputs.push('\n');
            for r in &rows {
                let cells: Vec<String> = r
                    .iter()
                    .map(|v| {
                        if v.is_nan() {
                            "nan".into()
                        } else {
                            format!("{v:?}")
                        }
                    })
                    .collect();
                inputs.push_str(&cells.join("\t"));
                inputs.push('\n');
            }
            std::fs::write(fixtures().join(format!("{name}.inputs.tsv")), inputs).unwrap();
            continue;
        }
        assert_eq!(
            text,
            read(&format!("{name}.model.txt")),
            "{name}: writer output changed"
        );
        let (_, stored_rows) = read_tsv(&format!("{name}.inputs.tsv"));
        assert_eq!(stored_rows.len(), rows.len());
        let (_, preds) = read_tsv(&format!("{name}.preds.tsv"));
        let x = common::to_array(&stored_rows, ensemble.num_features());
        let ours = ensemble.predictor().unwrap().predict_raw(x.view()).unwrap();
        let x32 = x.mapv(|v| v as f32);
        let ours32 = ensemble
            .predictor()
            .unwrap()
            .predict_raw(x32.view())
            .unwrap();
        for (i, want) in preds.iter().enumerate() {
            assert_eq!(
                ours[i].to_bits(),
                want[0].to_bits(),
                "{name} row {i}: {} vs LightGBM {}",
                ours[i],
                want[0]
            );
            assert_eq!(ours32[i].to_bits(), want[2].to_bits(), "{name} row {i} f32");
        }
    }
}
