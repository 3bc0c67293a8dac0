//! Shared fixture of the service and validation tests: a tiny synthetic world, a bundle trained on two
//! labelled days, a scored day written as a signed submission into a store.
#![allow(dead_code)]

pub mod client;
pub mod load;
pub mod server;
pub mod upload;

use std::path::PathBuf;
use std::sync::OnceLock;

use aml_core::Batch;
use aml_miner::pipeline::{self, BatchInput, KeySource, ScoreOptions};
use aml_models::Bundle;
use aml_synth::{write_batch, SynthConfig};
use aml_train::pipeline::{load_history, train_bundle, TrainConfig};

pub struct Fixture {
    pub root: tempfile::TempDir,
    /// The scored day (with labels, for tier 3).
    pub day: PathBuf,
    pub batch: Batch,
    pub bundle: Bundle,
    /// Store root holding the day's submission under its processing date.
    pub store: PathBuf,
    pub date: String,
}

impl Fixture {
    /// The stored submission directory of the day.
    pub fn submission(&self) -> PathBuf {
        self.store.join(&self.date)
    }
}

fn world() -> SynthConfig {
    SynthConfig {
        n_alerts: 200,
        n_addresses: 2_000,
        n_flows: 6_000,
        date: "2025-10-01".into(),
        with_labels: true,
        ..SynthConfig::small()
    }
}

pub const TIMESTAMP: &str = "2025-10-04T00:00:00Z";

/// `score_batch` of the batch directory `day` into `out`, signed with the development key.
pub fn score_day(
    day: &std::path::Path,
    bundle: &Bundle,
    out: &std::path::Path,
    options: &ScoreOptions,
) {
    pipeline::score_batch(
        BatchInput::Dir(day),
        bundle,
        out,
        &pipeline::development_key(),
        KeySource::Development,
        options,
        &mut |_| {},
    )
    .unwrap();
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        let history: Vec<PathBuf> = (0..2)
            .map(|d| write_batch(&root.path().join(format!("h{d}")), &world(), d).unwrap())
            .collect();
        let mut config = TrainConfig::new(7);
        for p in config.model_params_mut() {
            p.num_iterations = 10;
            p.min_data_in_leaf = 10;
        }
        config.baselines = false;
        // Rank with the ranker whatever the held-out comparison says: the validation tests need
        // distinct ranks at the top, which this tiny scorer's tied scores would not give.
        config.ranker_always_ships = true;
        let bundle = train_bundle(load_history(&history).unwrap(), &config, &mut |_| {})
            .unwrap()
            .bundle;
        let day = write_batch(&root.path().join("day"), &world(), 2).unwrap();
        let (batch, _) = Batch::load(&day).unwrap();
        let date = batch.meta.processing_date.clone();
        let store = root.path().join("store");
        let options = ScoreOptions {
            timestamp: Some(TIMESTAMP.into()),
            ..ScoreOptions::default()
        };
        score_day(&day, &bundle, &store.join(&date), &options);
        Fixture {
            root,
            day,
            batch,
            bundle,
            store,
            date,
        }
    })
}
