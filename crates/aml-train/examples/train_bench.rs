//! Training benchmark driver used by `benches/peers/gbdt_vs_lightgbm.py`.
//!
//! Reads raw little-endian `f32` matrices written by numpy's `tofile`
//! (row-major features, one label per row), trains a binary GBDT, times
//! training and batch prediction, writes the test predictions as raw `f64`
//! and prints one JSON line of timings.
//!
//! ```text
//! cargo run --release -p aml-train --example train_bench -- \
//!   X_train.f32 y_train.f32 X_test.f32 n_features preds_out.f64 \
//!   [num_iterations num_leaves learning_rate threads]
//! cargo run --release -p aml-train --example train_bench -- \
//!   --parquet train.parquet X_test.f32 n_features preds_out.f64 \
//!   [num_iterations num_leaves learning_rate threads]
//! ```
//!
//! With `--parquet` the training set is one Parquet file (feature columns and a `label`
//! column) read with [`aml_train::data_file::read_data_file`], the reader of
//! `aml-miner gbdt train`; `load_seconds` times that read (file to `Dataset`), `train_seconds`
//! binning and boosting. Without it, `load_seconds` times reading the raw `f32` files.
//! A last argument `goss` trains with `data_sample_strategy = goss` (LightGBM's rates).

use std::path::Path;
use std::time::Instant;

use aml_train::data_file::{read_data_file, ReadOptions};
use aml_train::params::DataSampleStrategy;
use aml_train::predict::predict_raw;
use aml_train::{train, Dataset, GbdtParams};
use ndarray::Array2;

fn read_f32(path: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let parquet = args.first().is_some_and(|a| a == "--parquet");
    if parquet {
        // `--parquet FILE` takes the place of `X_train y_train`.
        args[0] = args.remove(1);
        args.insert(1, String::new());
    }
    if args.len() < 5 {
        eprintln!("usage: train_bench X_train y_train X_test n_features preds_out [iters leaves lr threads]");
        eprintln!("       train_bench --parquet train.parquet X_test n_features preds_out [iters leaves lr threads]");
        std::process::exit(2);
    }
    let n_features: usize = args[3].parse().expect("n_features");
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let params = GbdtParams {
        num_iterations: arg(5, "500").parse().expect("num_iterations"),
        num_leaves: arg(6, "31").parse().expect("num_leaves"),
        learning_rate: arg(7, "0.05").parse().expect("learning_rate"),
        num_threads: arg(8, "2").parse().expect("threads"),
        data_sample_strategy: if arg(9, "") == "goss" {
            DataSampleStrategy::Goss
        } else {
            DataSampleStrategy::Bagging
        },
        ..GbdtParams::default()
    };
    let started = Instant::now();
    let data = if parquet {
        read_data_file(Path::new(&args[0]), &ReadOptions::default())
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", args[0]))
    } else {
        let x = read_f32(&args[0]);
        let y: Vec<f64> = read_f32(&args[1]).into_iter().map(f64::from).collect();
        let n = y.len();
        let x = Array2::from_shape_vec((n, n_features), x).expect("X_train shape");
        Dataset::new(x, y, Vec::new()).expect("dataset")
    };
    assert_eq!(
        data.n_features(),
        n_features,
        "feature count of the training file"
    );
    let load_seconds = started.elapsed().as_secs_f64();
    let xt = read_f32(&args[2]);
    let xt = Array2::from_shape_vec((xt.len() / n_features, n_features), xt).expect("X_test shape");

    let started = Instant::now();
    let out = train(&params, &data, None, None).expect("training");
    let train_seconds = started.elapsed().as_secs_f64();

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(params.num_threads.max(1))
        .build()
        .expect("pool");
    let started = Instant::now();
    let raw = pool
        .install(|| predict_raw(&out.ensemble, xt.view()))
        .expect("prediction");
    let predict_seconds = started.elapsed().as_secs_f64();
    let bytes: Vec<u8> = raw
        .iter()
        .flat_map(|r| out.ensemble.transform(*r).to_le_bytes())
        .collect();
    std::fs::write(&args[4], bytes).expect("write predictions");
    println!(
        "{{\"load_seconds\": {load_seconds:.4}, \"train_seconds\": {train_seconds:.4}, \"predict_seconds\": {predict_seconds:.4}, \"trees\": {}, \"rows\": {}}}",
        out.ensemble.trees.len(),
        xt.nrows()
    );
}
