//! Times batch prediction of a model file on a raw little-endian `f32` (or `f64`) matrix.
//!
//! Used by `benches/peers/predict_vs_lightgbm.py`, which writes the matrix with numpy
//! (`x.astype('<f4').tofile(...)`, or `'<f8'` with `--dtype f64`) and compares rows/s with
//! LightGBM on the same file.
//!
//! ```text
//! cargo run --release -p aml-models --example predict_file -- \
//!     --model model.txt --data x.f32 --cols 100 [--dtype f64] [--threads 2] [--repeat 3] [--out raw.f64]
//! ```
//! Prints `rows=N seconds=S rows_per_sec=R` for the best of `--repeat` runs; `--out`
//! writes the raw scores (row-major, one per class) as little-endian `f64` for an exactness check.

use std::time::Instant;

use aml_models::{FeatureValue, GbdtModel, Model as _};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut model = None;
    let mut data = None;
    let mut cols = None;
    let mut threads = 0usize;
    let mut repeat = 3usize;
    let mut out = None;
    let mut f64_input = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--model" => model = Some(value()?),
            "--data" => data = Some(value()?),
            "--cols" => cols = Some(value()?.parse::<usize>()?),
            "--threads" => threads = value()?.parse()?,
            "--repeat" => repeat = value()?.parse::<usize>()?.max(1),
            "--out" => out = Some(value()?),
            "--dtype" => f64_input = value()? == "f64",
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let model = GbdtModel::load(model.ok_or("--model is required")?.as_ref())?;
    let bytes = std::fs::read(data.ok_or("--data is required")?)?;
    let cols = cols.ok_or("--cols is required")?;
    let width = if f64_input { 8 } else { 4 };
    if cols == 0 || bytes.len() % (width * cols) != 0 {
        return Err(format!(
            "{} bytes is not a whole number of {cols}-column {}-byte rows",
            bytes.len(),
            width
        )
        .into());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let (rows, best, raw) = if f64_input {
        let values: Vec<f64> = bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        time(&model, &pool, &values, cols, repeat)?
    } else {
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        time(&model, &pool, &values, cols, repeat)?
    };
    if let Some(path) = out {
        let bytes: Vec<u8> = raw.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(path, bytes)?;
    }
    println!(
        "rows={rows} seconds={best:.6} rows_per_sec={:.1}",
        rows as f64 / best
    );
    Ok(())
}

/// Rows, best seconds of `repeat` runs and the raw class scores of predicting `values`.
fn time<T: FeatureValue>(
    model: &GbdtModel,
    pool: &rayon::ThreadPool,
    values: &[T],
    cols: usize,
    repeat: usize,
) -> Result<(usize, f64, Vec<f64>), Box<dyn std::error::Error>> {
    let rows = values.len() / cols;
    let x = ndarray::ArrayView2::from_shape((rows, cols), values)?;
    let mut best = f64::INFINITY;
    let mut raw = ndarray::Array2::zeros((0, 0));
    for _ in 0..repeat {
        let start = Instant::now();
        raw = pool.install(|| model.predictor().predict_raw_classes(x))?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok((rows, best, raw.iter().copied().collect()))
}
