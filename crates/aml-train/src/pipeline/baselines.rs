//! Baselines evaluated next to the scorer, on the same features and days:
//!
//! - `severity+confidence GBDT`: the GBDT on only `severity_ordinal` and
//!   `alert_confidence_score` (what the analyzer itself says), the bar the scorer must clear.
//! - `linfa-trees decision tree` (depth 8): probability = the training positive rate of the
//!   leaf a row falls in.
//! - `smartcore random forest` (25 trees, depth 8, rows capped at 20,000 by a seeded sample):
//!   probability = share of trees voting illicit; each tree is a one-tree smartcore forest with
//!   its own seed, because smartcore exposes only the majority vote.
//!
//! Missing values (NaN) are replaced by `-1e30` for the two libraries, which do not accept NaN.

use aml_models::Model as _;
use linfa::prelude::*;
use linfa_trees::DecisionTree;
use ndarray::{Array1, Array2, Axis};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

use super::evaluation::MetricsRow;
use super::training::{fit_gbdt, Labelled};
use super::PipelineError;
use crate::GbdtParams;

/// Stand-in for NaN in libraries without missing-value support.
const MISSING: f64 = -1e30;

fn dense_f64(x: &Array2<f32>) -> Array2<f64> {
    x.mapv(|v| if v.is_nan() { MISSING } else { f64::from(v) })
}

fn fail(model: &str, e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Baseline {
        model: model.to_string(),
        reason: e.to_string(),
    }
}

/// The severity+confidence-only GBDT's validation scores.
pub fn severity_confidence(
    names: &[String],
    train_rows: &Labelled,
    valid_rows: &Labelled,
    params: &GbdtParams,
) -> Result<Vec<f64>, PipelineError> {
    let cols: Vec<usize> = ["severity_ordinal", "alert_confidence_score"]
        .iter()
        .map(|c| {
            names
                .iter()
                .position(|n| n == c)
                .ok_or_else(|| fail("severity+confidence", format!("no column {c}")))
        })
        .collect::<Result<_, _>>()?;
    let sub = |rows: &Labelled| Labelled {
        x: rows.x.select(Axis(1), &cols),
        labels: rows.labels.clone(),
        relevance: rows.relevance.clone(),
        groups: rows.groups.clone(),
        offsets: rows.offsets.clone(),
    };
    let sub_names: Vec<String> = cols.iter().map(|&c| names[c].clone()).collect();
    let (t, v) = (sub(train_rows), sub(valid_rows));
    let model = fit_gbdt("severity+confidence", params, sub_names, &t, &v, false)?;
    Ok(model.predict(v.x.view())?)
}

/// Leaf id of `row` in a linfa tree (the path as bits), following linfa's `x < split` rule.
fn leaf_path(tree: &DecisionTree<f64, usize>, row: &[f64]) -> u64 {
    let mut node = tree.root_node();
    let mut path = 1u64;
    while !node.is_leaf() {
        let (feature, value, _) = node.split();
        let go_left = row[feature] < value;
        let children = node.children();
        let child = if go_left { children[0] } else { children[1] };
        path = (path << 1) | u64::from(!go_left);
        match child {
            Some(c) => node = &**c,
            None => break,
        }
    }
    path
}

/// The linfa-trees decision tree's validation probabilities.
pub fn decision_tree(
    train_rows: &Labelled,
    valid_rows: &Labelled,
) -> Result<Vec<f64>, PipelineError> {
    let x = dense_f64(&train_rows.x);
    let y: Array1<usize> = train_rows.labels.iter().map(|&l| l as usize).collect();
    let data = linfa::Dataset::new(x.clone(), y);
    let tree = DecisionTree::params()
        .max_depth(Some(8))
        .min_weight_leaf(20.0)
        .fit(&data)
        .map_err(|e| fail("decision tree", e))?;
    let mut leaves: std::collections::BTreeMap<u64, (f64, f64)> = std::collections::BTreeMap::new();
    for (row, &label) in x.rows().into_iter().zip(&train_rows.labels) {
        let e = leaves
            .entry(leaf_path(&tree, row.as_slice().expect("standard layout")))
            .or_default();
        e.0 += label;
        e.1 += 1.0;
    }
    let prior = train_rows.labels.iter().sum::<f64>() / train_rows.labels.len().max(1) as f64;
    let xv = dense_f64(&valid_rows.x);
    Ok(xv
        .rows()
        .into_iter()
        .map(|row| {
            leaves
                .get(&leaf_path(&tree, row.as_slice().expect("standard layout")))
                .map_or(prior, |(s, n)| s / n)
        })
        .collect())
}

/// The smartcore random forest's validation vote shares.
pub fn random_forest(
    train_rows: &Labelled,
    valid_rows: &Labelled,
    seed: u64,
) -> Result<Vec<f64>, PipelineError> {
    let mut idx: Vec<usize> = (0..train_rows.labels.len()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in (1..idx.len()).rev() {
        let j = rng.random_range(0..=i);
        idx.swap(i, j);
    }
    idx.truncate(20_000);
    idx.sort_unstable();
    let x = dense_f64(&train_rows.x.select(Axis(0), &idx));
    let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    let y: Vec<u32> = idx.iter().map(|&i| train_rows.labels[i] as u32).collect();
    let dm = DenseMatrix::from_2d_vec(&rows).map_err(|e| fail("random forest", e))?;
    let xv: Vec<Vec<f64>> = dense_f64(&valid_rows.x)
        .rows()
        .into_iter()
        .map(|r| r.to_vec())
        .collect();
    let dv = DenseMatrix::from_2d_vec(&xv).map_err(|e| fail("random forest", e))?;
    let n_trees = 25;
    let mut votes = vec![0.0; xv.len()];
    for t in 0..n_trees {
        let params = RandomForestClassifierParameters::default()
            .with_n_trees(1)
            .with_max_depth(8)
            .with_min_samples_leaf(5)
            .with_seed(seed.wrapping_add(t));
        let forest =
            RandomForestClassifier::fit(&dm, &y, params).map_err(|e| fail("random forest", e))?;
        let pred: Vec<u32> = forest.predict(&dv).map_err(|e| fail("random forest", e))?;
        for (v, p) in votes.iter_mut().zip(pred) {
            *v += f64::from(p) / n_trees as f64;
        }
    }
    Ok(votes)
}

/// All baseline rows for the metrics table.
pub fn run_all(
    names: &[String],
    train_rows: &Labelled,
    valid_rows: &Labelled,
    params: &GbdtParams,
) -> Result<Vec<MetricsRow>, PipelineError> {
    let (l, r) = (&valid_rows.labels, &valid_rows.relevance);
    Ok(vec![
        MetricsRow::evaluate(
            "baseline: severity+confidence GBDT",
            l,
            r,
            &severity_confidence(names, train_rows, valid_rows, params)?,
            true,
        ),
        MetricsRow::evaluate(
            "baseline: linfa-trees decision tree",
            l,
            r,
            &decision_tree(train_rows, valid_rows)?,
            true,
        ),
        MetricsRow::evaluate(
            "baseline: smartcore random forest",
            l,
            r,
            &random_forest(train_rows, valid_rows, params.seed)?,
            true,
        ),
    ])
}
