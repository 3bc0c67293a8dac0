//! Explains a CSV of rows with our TreeSHAP on a LightGBM model file, as one whole process; used
//! by `benches/peers/shap_vs_lightgbm.py`, which times this process from start to exit against
//! LightGBM `pred_contrib` and shap.
//!
//! Usage: `explain_bench MODEL.txt ROWS.csv OUT_CONTRIB.bin [REPEATS]`
//! ROWS.csv: header line, then comma-separated numbers ("NaN" for missing).
//! Writes the contributions as little-endian f64, row-major, `n_features + 1` per row, and prints
//! one JSON line with the seconds of every phase (model parse, reading the rows, preparing the
//! explainer, SHAP, writing) and `total_s` from the start of `main` to the file written.
//! `REPEATS` (default 1) > 1 repeats the SHAP phase and reports its best time as `seconds`;
//! `total_s` counts every repeat. Threads: set `RAYON_NUM_THREADS`.

use aml_explain::TreeShapExplainer;
use aml_models::TreeEnsemble;
use ndarray::Array2;
use rayon::prelude::*;
use std::io::Write;
use std::time::Instant;

/// Parses the CSV rows (header skipped) in parallel over chunks of lines; the values are joined
/// in file order, so the result does not depend on the thread count.
fn read_rows(path: &str) -> Result<Array2<f64>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let lines: Vec<&str> = text.lines().skip(1).filter(|l| !l.is_empty()).collect();
    let width = lines.first().map_or(0, |l| l.split(',').count());
    let parsed: Vec<Vec<f64>> = lines
        .par_chunks(256)
        .enumerate()
        .map(|(chunk, block)| {
            let mut values = Vec::with_capacity(block.len() * width);
            for (i, line) in block.iter().enumerate() {
                let before = values.len();
                for v in line.split(',') {
                    values.push(v.parse::<f64>().map_err(|e| {
                        // header is line 1
                        format!("{path} line {}: {v:?}: {e}", chunk * 256 + i + 2)
                    })?);
                }
                if values.len() - before != width {
                    return Err(format!(
                        "{path} line {}: {} values, expected {width}",
                        chunk * 256 + i + 2,
                        values.len() - before
                    ));
                }
            }
            Ok(values)
        })
        .collect::<Result<_, String>>()?;
    let values: Vec<f64> = parsed.concat();
    Ok(Array2::from_shape_vec((lines.len(), width), values)?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: explain_bench MODEL.txt ROWS.csv OUT_CONTRIB.bin [REPEATS]".into());
    }
    let repeats: usize = args.get(4).map_or(Ok(1), |s| s.parse())?;
    let (model, x) = rayon::join(
        || -> Result<(TreeEnsemble, f64), String> {
            let t = Instant::now();
            let text =
                std::fs::read_to_string(&args[1]).map_err(|e| format!("{}: {e}", args[1]))?;
            let model = TreeEnsemble::from_model_str(&text).map_err(|e| e.to_string())?;
            Ok((model, t.elapsed().as_secs_f64()))
        },
        || -> Result<(Array2<f64>, f64), String> {
            let t = Instant::now();
            let x = read_rows(&args[2]).map_err(|e| e.to_string())?;
            Ok((x, t.elapsed().as_secs_f64()))
        },
    );
    let ((model, parse_s), (x, read_s)) = (model?, x?);
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
    let t = Instant::now();
    let mut bytes = Vec::with_capacity(contrib.len() * 8);
    for v in &contrib {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::File::create(&args[3])?.write_all(&bytes)?;
    let write_s = t.elapsed().as_secs_f64();
    let n = x.nrows();
    println!(
        "{{\"rows\": {n}, \"seconds\": {best}, \"rows_per_s\": {}, \"parse_model_s\": {parse_s}, \"read_rows_s\": {read_s}, \"prepare_s\": {prepare_s}, \"write_s\": {write_s}, \"total_s\": {}, \"table_mb\": {}, \"threads\": {}}}",
        n as f64 / best,
        start.elapsed().as_secs_f64(),
        explainer.table_bytes() as f64 / 1e6,
        rayon::current_num_threads()
    );
    Ok(())
}
