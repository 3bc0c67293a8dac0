//! Times our TreeSHAP on a LightGBM model file and a CSV of rows; used by
//! `benches/peers/shap_vs_lightgbm.py` to compare against LightGBM `pred_contrib` and shap.
//!
//! Usage: `explain_bench MODEL.txt ROWS.csv OUT_CONTRIB.bin [REPEATS]`
//! ROWS.csv: header line, then comma-separated numbers ("NaN" for missing).
//! Writes the contributions as little-endian f64, row-major, `n_features + 1` per row, and prints
//! one JSON line with the timing. Threads: set `RAYON_NUM_THREADS`.

use aml_explain::TreeShapExplainer;
use aml_models::TreeEnsemble;
use ndarray::Array2;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: explain_bench MODEL.txt ROWS.csv OUT_CONTRIB.bin [REPEATS]".into());
    }
    let repeats: usize = args.get(4).map_or(Ok(3), |s| s.parse())?;
    let model = TreeEnsemble::from_model_str(&std::fs::read_to_string(&args[1])?)?;
    let text = std::fs::read_to_string(&args[2])?;
    let mut values = Vec::new();
    let mut n = 0;
    for (i, line) in text.lines().enumerate().skip(1) {
        for v in line.split(',') {
            values.push(
                v.parse::<f64>()
                    .map_err(|e| format!("{} line {}: {v:?}: {e}", args[2], i + 1))?,
            );
        }
        n += 1;
    }
    let x = Array2::from_shape_vec((n, values.len() / n.max(1)), values)?;
    let t0 = Instant::now();
    let explainer = TreeShapExplainer::new(&model)?;
    let prepare_s = t0.elapsed().as_secs_f64();
    let mut best = f64::INFINITY;
    let mut contrib = Array2::zeros((0, 0));
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        contrib = explainer.contributions(x.view())?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    let bytes: Vec<u8> = contrib.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&args[3], bytes)?;
    println!(
        "{{\"rows\": {n}, \"seconds\": {best}, \"rows_per_s\": {}, \"prepare_s\": {prepare_s}, \"table_mb\": {}, \"threads\": {}}}",
        n as f64 / best,
        explainer.table_bytes() as f64 / 1e6,
        rayon::current_num_threads()
    );
    Ok(())
}
