//! The `Model` seam: a miner's own feature block and own (non-GBDT) alert scorer, scored through
//! the same `pipeline::score_batch` as `aml-miner score`.
//!
//! ```text
//! cargo run --example custom_model -- [--out DIR] [--data DIR]
//! ```
//! 1. Writes four synthetic days (aml-synth) into `--data`: three of labelled history, one to score.
//! 2. Adds one feature block of its own ([`AlertBlock`]) to the standard features and trains
//!    the standard bundle on the history with it (`train_bundle`: GBDT ranker and cluster scorer).
//! 3. Fits a linfa-trees decision tree on the same labelled rows, wraps it as a [`Model`] and
//!    makes it the bundle's alert scorer ([`AlertScorer::with_model`]); its scores are explained
//!    by TreeSHAP through the tree's exact conversion (`aml_explain::adapters::linfa`).
//! 4. Scores the day into a submission in `--out` (default: a temporary directory), signed with
//!    `AML_MINER_KEY` (else the public development key), and prints the sha256 of the tree's
//!    own predictions, which are the scores written.

use std::path::{Path, PathBuf};

use aml_core::{batch::Batch, io::sha256_hex};
use aml_explain::adapters::linfa::decision_tree_to_ensemble;
use aml_features::{AlertBlock, ColumnSink, PreparedBatch};
use aml_miner::pipeline::{self, BatchInput, ScoreOptions};
use aml_models::{AlertScorer, Bundle, GbdtModel, Model, ModelError, TreeEnsemble};
use aml_synth::SynthConfig;
use aml_train::pipeline::load_history;
use aml_train::pipeline::training::{labelled, prepare_days_with, train_bundle};
use aml_train::pipeline::training::{Labelled, TrainConfig};
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

/// A decision tree as a `Model`: predictions are linfa's own (the class, 0 or 1); `exact` is the
/// same tree in LightGBM's layout, which TreeSHAP explains and which `version` and `save` use.
struct TreeScorer {
    tree: DecisionTree<f64, usize>,
    exact: GbdtModel,
}

impl TreeScorer {
    fn fit(rows: &Labelled, names: &[String]) -> Result<Self, Box<dyn std::error::Error>> {
        let x = dense(rows.x.view());
        let y: Array1<usize> = rows.labels.iter().map(|&l| l as usize).collect();
        let params = DecisionTree::params()
            .max_depth(Some(6))
            .min_weight_leaf(10.0);
        let tree = params.fit(&linfa::Dataset::new(x.clone(), y))?;
        let mut ensemble = decision_tree_to_ensemble(&tree, x.view(), |&c| c as f64, Some(names))?;
        for t in &mut ensemble.trees {
            t.default_left.fill(true); // NaN goes where -1e30 goes in `dense`
        }
        let exact = GbdtModel::from_ensemble(ensemble)?;
        Ok(TreeScorer { tree, exact })
    }
}

impl Model for TreeScorer {
    fn feature_names(&self) -> &[String] {
        self.exact.feature_names()
    }
    fn predict(&self, features: ArrayView2<'_, f32>) -> Result<Vec<f64>, ModelError> {
        let classes = self.tree.predict(&dense(features));
        Ok(classes.iter().map(|&c| c as f64).collect())
    }
    fn predict_raw(&self, features: ArrayView2<'_, f32>) -> Result<Vec<f64>, ModelError> {
        self.predict(features)
    }
    fn version(&self) -> String {
        self.exact.version()
    }
    fn save(&self, path: &Path) -> Result<(), ModelError> {
        self.exact.save(path)
    }
    fn load(path: &Path) -> Result<Self, ModelError> {
        let source = std::io::Error::other("a linfa tree is refitted, not loaded");
        Err(ModelError::Io {
            path: path.into(),
            source,
        })
    }
    fn tree_ensemble(&self) -> Option<&TreeEnsemble> {
        self.exact.tree_ensemble()
    }
}

/// Where the synthetic days and the submission go (temporary directories by default).
#[derive(clap::Parser)]
struct Args {
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    data: Option<PathBuf>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = <Args as clap::Parser>::parse();
    let temp = tempfile::tempdir()?;
    let data = args.data.unwrap_or_else(|| temp.path().join("data"));
    let out = args.out.unwrap_or_else(|| temp.path().join("submission"));
    let (days, with_labels) = (4, true);
    let dirs = aml_synth::write_days(
        &data,
        &SynthConfig {
            days,
            with_labels,
            ..SynthConfig::small()
        },
    )?;
    let (history, day) = (load_history(&dirs[..3])?, &dirs[3]);

    // The standard bundle, trained with the custom block: its ranker and cluster scorer.
    let mut config = TrainConfig::new(7);
    config
        .model_params_mut()
        .into_iter()
        .for_each(|p| p.num_iterations = 20);
    (config.baselines, config.feature_blocks) = (false, vec![BLOCK]);
    let standard = train_bundle(history.clone(), &config, &mut |_| {})?.bundle;

    // The custom alert scorer, fitted on the same labelled rows and features.
    let (spec, days, _) = prepare_days_with(history, 1, &[BLOCK])?;
    let rows = labelled(&days, None);
    let model = TreeScorer::fit(&rows, &spec.feature_names())?;
    let scorer = AlertScorer::with_model(model, None)?;
    let (ranker, clusters) = (standard.ranker().clone(), standard.cluster_scorer().clone());
    let bundle = Bundle::new(standard.metadata().clone(), scorer, ranker, clusters)?
        .with_label_memory(standard.label_memory().cloned())?;

    let (key, source) = pipeline::load_signing_key(None)?; // AML_MINER_KEY, else the development key
    let options = ScoreOptions::default();
    let input = BatchInput::Dir(day);
    pipeline::score_batch(input, &bundle, &out, &key, source, &options, &mut |_| {})?;

    let matrix = bundle.alert_matrix(&Batch::load(day)?.0)?;
    let own = bundle.scorer().model().predict(matrix.values.view())?;
    let bytes: Vec<u8> = own.iter().flat_map(|s| s.to_le_bytes()).collect();
    let last = matrix.feature_names.last().map_or("", String::as_str);
    println!("feature columns: {} (last: {last})", matrix.n_features());
    let flagged = own.iter().filter(|&&s| s == 1.0).count();
    println!(
        "flagged by the tree: {flagged}\ncustom model scores sha256: {}",
        sha256_hex(&bytes)
    );
    println!(
        "day batch: {}\nsubmission: {}",
        day.display(),
        out.display()
    );
    Ok(())
}
