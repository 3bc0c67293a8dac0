//! Float64 inputs next to thresholds float32 cannot represent (LightGBM models trained with
//! `max_bin` 15 on float64 data, fixtures of `scripts/fixtures_models.py` in aml-models): the
//! batch predictor, the single-row path and TreeSHAP must all take LightGBM's `f64` decisions.

use std::path::{Path, PathBuf};

use aml_explain::TreeShapExplainer;
use aml_models::GbdtModel;
use ndarray::Array2;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../aml-models/tests/fixtures")
}

/// Data rows of a fixture TSV (header skipped), `nan` cells as NaN.
fn read_rows(name: &str) -> Vec<Vec<f64>> {
    let p = fixtures().join(name);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .skip(1)
        .map(|l| l.split('\t').map(|v| v.parse().unwrap()).collect())
        .collect()
}

fn check(case: &str) {
    let text = std::fs::read_to_string(fixtures().join(format!("{case}.model.txt"))).unwrap();
    let model = GbdtModel::from_model_str(&text).unwrap();
    let rows = read_rows(&format!("{case}.inputs.tsv"));
    let preds = read_rows(&format!("{case}.preds.tsv"));
    let nf = rows[0].len();
    let x = Array2::from_shape_fn((rows.len(), nf), |(i, j)| rows[i][j]);
    let predictor = model.predictor();
    let batch = predictor.predict_raw(x.view()).unwrap();
    let explainer = TreeShapExplainer::new(model.ensemble()).unwrap();
    let contrib = explainer.contributions(x.view()).unwrap();
    let mut f32_differs = 0;
    for (i, (row, want)) in rows.iter().zip(&preds).enumerate() {
        let lgb = want[0];
        assert_eq!(
            batch[i].to_bits(),
            lgb.to_bits(),
            "{case} row {i}: batch {} vs LightGBM {lgb}",
            batch[i]
        );
        let single = predictor.predict_raw_row(row).unwrap();
        assert_eq!(
            single.to_bits(),
            lgb.to_bits(),
            "{case} row {i}: single row {single}"
        );
        let sum: f64 = contrib.row(i).iter().sum();
        assert!(
            (sum - lgb).abs() <= 1e-9,
            "{case} row {i}: TreeSHAP sum {sum} vs {lgb}"
        );
        if want[2] != lgb {
            f32_differs += 1;
        }
    }
    // The case is only worth something if narrowing to f32 changes some decisions.
    assert!(
        f32_differs > 0,
        "{case}: no row where f32 input decides differently"
    );
}

#[test]
fn binary_max_bin15_f64_batch_single_row_and_treeshap_agree_with_lightgbm() {
    check("f64_binary_max_bin15");
}

#[test]
fn regression_l2_max_bin15_f64_batch_single_row_and_treeshap_agree_with_lightgbm() {
    check("f64_regression_l2_max_bin15");
}
