//! The `Model` seam: a miner's own feature block and own (non-GBDT) alert scorer, scored through
//! the same `pipeline::score_batch` as `aml-miner score`.
//!
//! ```text
//! cargo run --example custom_model -- [--out DIR] [--data DIR]
//! ```
//! 1. Writes three labelled synthetic history days and one day to score (aml-synth) into
//!    `--data` (default: a temporary directory).
//! 2. Adds one feature block of its own ([`AlertBlock`]) to the standard features and trains
//!    the standard bundle on the history with it (`train_bundle`: GBDT ranker and cluster scorer).
//! 3. Fits a linfa-trees decision tree on the same labelled rows, wraps it as a [`Model`] and
//!    makes it the bundle's alert scorer ([`AlertScorer::with_model`]); its scores are explained
//!    by TreeSHAP through the tree's exact conversion (`aml_explain::adapters::linfa`).
//! 4. Scores the day into a submission in `--out` (default: a temporary directory), signed with
//!    `AML_MINER_KEY` (else the public development key), and prints the sha256 of the tree's
//!    own predictions, which are the scores written.

use std::path::{Path, PathBuf};

use aml_explain::adapters::linfa::decision_tree_to_ensemble;
use aml_features::{AlertBlock, ColumnSink, PreparedBatch};
use aml_miner::pipeline::{self, BatchInput, ScoreOptions};
use aml_models::{
    model_version, write_atomic, AlertScorer, Bundle, Model, ModelError, TreeEnsemble,
};
use aml_train::pipeline::training::{labelled, prepare_days_with, train_bundle, TrainConfig};
use linfa::prelude::*;
use linfa_trees::DecisionTree;
use ndarray::{Array1, Array2, ArrayView2};

/// The custom block: the analyzer's confidence weighted by the alert's severity.
fn weighted_confidence(sink: &mut ColumnSink<'_, PreparedBatch<'_>>) {
    sink.group("custom");
    sink.add(
        "custom_confidence_x_severity",
        "alert_confidence_score times (1 + severity ordinal)",
        |p| {
            let a = &p.batch.alerts;
            let rows = p.alert_rows.iter().zip(&p.severity);
            rows.map(|(&r, &s)| a.alert_confidence_score[r] * (1.0 + f64::from(s)))
                .collect()
        },
    );
}

const BLOCK: AlertBlock = AlertBlock {
    name: "weighted_confidence",
    build: weighted_confidence,
};

/// linfa rejects NaN: missing values become a very small number, which its splits send left.
fn dense(x: ArrayView2<'_, f32>) -> Array2<f64> {
    x.mapv(|v| if v.is_nan() { -1e30 } else { f64::from(v) })
}

/// A decision tree as a `Model`: predictions are linfa's own (the class, 0 or 1); `ensemble` is
/// the same tree in LightGBM's layout, for TreeSHAP and as the model text that `version` hashes.
struct TreeScorer {
    tree: DecisionTree<f64, usize>,
    ensemble: TreeEnsemble,
    text: String,
}

impl TreeScorer {
    fn fit(
        x: ArrayView2<'_, f32>,
        labels: &[f64],
        names: &[String],
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let (x, y) = (
            dense(x),
            labels.iter().map(|&l| l as usize).collect::<Array1<_>>(),
        );
        let tree = DecisionTree::params()
            .max_depth(Some(6))
            .min_weight_leaf(10.0)
            .fit(&linfa::Dataset::new(x.clone(), y))?;
        let mut ensemble = decision_tree_to_ensemble(&tree, x.view(), |&c| c as f64, Some(names))?;
        for t in &mut ensemble.trees {
            t.default_left.fill(true); // NaN goes where -1e30 goes in `dense`
        }
        let text = ensemble.to_model_string()?;
        Ok(TreeScorer {
            tree,
            ensemble,
            text,
        })
    }
}

impl Model for TreeScorer {
    fn feature_names(&self) -> &[String] {
        &self.ensemble.feature_names
    }
    fn predict(&self, features: ArrayView2<'_, f32>) -> Result<Vec<f64>, ModelError> {
        Ok(self
            .tree
            .predict(&dense(features))
            .iter()
            .map(|&c| c as f64)
            .collect())
    }
    fn predict_raw(&self, features: ArrayView2<'_, f32>) -> Result<Vec<f64>, ModelError> {
        self.predict(features)
    }
    fn version(&self) -> String {
        model_version(&self.text)
    }
    fn save(&self, path: &Path) -> Result<(), ModelError> {
        let io = |source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        };
        write_atomic(path, self.text.as_bytes()).map_err(io)
    }
    fn load(path: &Path) -> Result<Self, ModelError> {
        let source = std::io::Error::other("a linfa tree is refitted, not loaded");
        Err(ModelError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
    fn tree_ensemble(&self) -> Option<&TreeEnsemble> {
        Some(&self.ensemble)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut out, mut data) = (None, None);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .map(PathBuf::from)
            .ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--out" => out = Some(value),
            "--data" => data = Some(value),
            _ => return Err(format!("unknown argument {flag}; use --out DIR, --data DIR").into()),
        }
    }
    let temp = tempfile::tempdir()?;
    let data = data.unwrap_or_else(|| temp.path().join("data"));
    let out = out.unwrap_or_else(|| temp.path().join("submission"));

    let world = |with_labels| aml_synth::SynthConfig {
        n_alerts: 300,
        n_addresses: 3_000,
        n_flows: 9_000,
        date: "2025-10-01".into(),
        with_labels,
        ..aml_synth::SynthConfig::small()
    };
    let history_dirs = (0..3)
        .map(|d| aml_synth::write_batch(&data.join(format!("history-{d}")), &world(true), d))
        .collect::<Result<Vec<_>, _>>()?;
    let day = aml_synth::write_batch(&data.join("day"), &world(false), 3)?;
    let history = aml_train::pipeline::load_history(&history_dirs)?;

    let mut config = TrainConfig::new(7);
    for p in [
        &mut config.scorer_params,
        &mut config.ranker_params,
        &mut config.cluster_params,
    ] {
        p.num_iterations = 20;
        p.min_data_in_leaf = 10;
    }
    config.baselines = false;
    config.feature_blocks = vec![BLOCK];
    let standard = train_bundle(history.clone(), &config, &mut |_| {})?.bundle;

    let (spec, days, _) = prepare_days_with(history, 1, &[BLOCK])?;
    let rows = labelled(&days, None);
    let model = TreeScorer::fit(rows.x.view(), &rows.labels, &spec.feature_names())?;
    let scorer = AlertScorer::with_model(model, None)?;
    let (ranker, clusters) = (standard.ranker().clone(), standard.cluster_scorer().clone());
    let bundle = Bundle::new(standard.metadata().clone(), scorer, ranker, clusters)?;

    let options = ScoreOptions {
        timestamp: Some("2025-10-05T00:00:00Z".into()),
        ..Default::default()
    };
    let (key, source) = pipeline::load_signing_key(None)?; // AML_MINER_KEY, else the development key
    let summary = pipeline::score_batch(
        BatchInput::Dir(&day),
        &bundle,
        &out,
        &key,
        source,
        &options,
        &mut |_| {},
    )?;

    let (batch, _) = aml_core::batch::Batch::load(&day)?;
    let matrix = bundle.feature_spec().transform(&batch)?;
    let own = bundle.scorer().model().predict(matrix.values.view())?;
    let bytes: Vec<u8> = own.iter().flat_map(|s| s.to_le_bytes()).collect();
    let last = matrix.feature_names.last().map_or("", String::as_str);
    println!("feature columns: {} (last: {last})", matrix.n_features());
    let flagged = own.iter().filter(|&&s| s == 1.0).count();
    println!(
        "alerts scored: {}, flagged by the tree: {flagged}",
        summary.n_alerts
    );
    println!(
        "custom model scores sha256: {}",
        aml_core::io::sha256_hex(&bytes)
    );
    println!("submission: {}", out.display());
    Ok(())
}
