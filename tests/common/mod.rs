//! Test support shared by the root package's training tests: one small synthetic world and one
//! small, fast training configuration.

use aml_synth::SynthConfig;
use aml_train::pipeline::TrainConfig;

/// A 400-alert synthetic day (labelled when `labels`), small enough to train on in seconds.
pub fn world(labels: bool) -> SynthConfig {
    SynthConfig {
        n_alerts: 400,
        n_addresses: 4_000,
        n_flows: 12_000,
        date: "2025-10-01".into(),
        with_labels: labels,
        ..SynthConfig::small()
    }
}

/// `TrainConfig::new(seed)` with every model cut to `iterations` trees, `min_data_in_leaf` 10,
/// `early_stopping_rounds`, and no baselines.
pub fn small_config(seed: u64, iterations: usize, early_stopping_rounds: usize) -> TrainConfig {
    let mut c = TrainConfig::new(seed);
    for p in c.model_params_mut() {
        p.num_iterations = iterations;
        p.min_data_in_leaf = 10;
        p.early_stopping_rounds = Some(early_stopping_rounds);
    }
    c.baselines = false;
    c
}
