//! Helpers shared by the pipeline tests: small labelled synthetic histories and a fast config.
// Each test file uses its own subset.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use aml_synth::{write_batch, SynthConfig};
use aml_train::pipeline::TrainConfig;

/// A small labelled synthetic world starting 2025-10-01.
pub fn labelled_world(n_alerts: usize, n_addresses: usize, n_flows: usize) -> SynthConfig {
    SynthConfig {
        n_alerts,
        n_addresses,
        n_flows,
        with_labels: true,
        date: "2025-10-01".into(),
        ..SynthConfig::small()
    }
}

/// Days `0..n_days` of `world` written under `root` (`root/d0`, `root/d1`, ...).
pub fn write_days(root: &Path, world: &SynthConfig, n_days: usize) -> Vec<PathBuf> {
    (0..n_days)
        .map(|d| write_batch(&root.join(format!("d{d}")), world, d).unwrap())
        .collect()
}

/// `TrainConfig::new(seed)` with every model at `iterations` rounds and `min_data` rows a leaf,
/// and no baselines: fast enough for tests.
pub fn fast_config(seed: u64, iterations: usize, min_data: usize) -> TrainConfig {
    let mut c = TrainConfig::new(seed);
    for p in c.model_params_mut() {
        p.num_iterations = iterations;
        p.min_data_in_leaf = min_data;
    }
    c.baselines = false;
    c
}
