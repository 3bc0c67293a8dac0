//! smartcore `RandomForestClassifier` (two classes) -> [`TreeEnsemble`] whose raw score is the
//! fraction of trees voting for the second class (`classes[1]`); the forest predicts that class
//! exactly when the fraction is above 0.5 (smartcore breaks vote ties towards the first class).
//!
//! smartcore keeps trees and nodes in private fields without accessors, so they are read through
//! the forest's public serde `Serialize` implementation into the mirror structs below (only the
//! fields needed; smartcore 0.7 field names).

use aml_models::{ObjectiveKind, TreeEnsemble};
use serde::{Deserialize, Serialize};

use super::{feature_names, TreeBuilder};
use crate::ExplainError;

const MODEL: &str = "smartcore RandomForestClassifier";

#[derive(Deserialize)]
struct NodeMirror {
    output: usize,
    n_node_samples: usize,
    split_feature: usize,
    split_value: Option<f64>,
    split_score: Option<f64>,
    true_child: Option<usize>,
    false_child: Option<usize>,
}

#[derive(Deserialize)]
struct TreeMirror {
    nodes: Vec<NodeMirror>,
    num_features: usize,
}

#[derive(Deserialize)]
struct ForestMirror {
    trees: Option<Vec<TreeMirror>>,
    classes: Option<Vec<serde_json::Value>>,
}

fn conversion(reason: impl Into<String>) -> ExplainError {
    ExplainError::Conversion {
        model: MODEL,
        reason: reason.into(),
    }
}

fn add_node(
    tree: &TreeMirror,
    id: usize,
    depth: usize,
    at: usize,
    builder: &mut TreeBuilder,
    leaf_value: &dyn Fn(usize) -> f64,
) -> Result<(), ExplainError> {
    let node = tree
        .nodes
        .get(id)
        .ok_or_else(|| conversion(format!("node {id} does not exist")))?;
    if depth > tree.nodes.len() {
        return Err(conversion("node links form a cycle"));
    }
    let count = node.n_node_samples as u64;
    let (Some(t), Some(f)) = (node.true_child, node.false_child) else {
        builder.set_leaf(at, leaf_value(node.output), count);
        return Ok(());
    };
    // smartcore: `x <= split_value` -> true child; NaN compares false -> false child.
    let threshold = node.split_value.unwrap_or(f64::NAN);
    let gain = node.split_score.unwrap_or(0.0);
    let (left, right) = builder.split(at, node.split_feature, threshold, gain, count);
    add_node(tree, t, depth + 1, left, builder, leaf_value)?;
    add_node(tree, f, depth + 1, right, builder, leaf_value)
}

/// Converts a fitted binary smartcore random forest classifier (any matrix/label types that
/// serialise) into an ensemble of its trees, each leaf worth `1 / n_trees` if it votes for
/// `classes[1]`, so the raw score is the share of trees voting for the second class.
pub fn random_forest_classifier_to_ensemble<M: Serialize>(
    forest: &M,
    names: Option<&[String]>,
) -> Result<TreeEnsemble, ExplainError> {
    let json = serde_json::to_value(forest).map_err(|e| conversion(e.to_string()))?;
    let mirror: ForestMirror =
        serde_json::from_value(json).map_err(|e| conversion(format!("unexpected layout: {e}")))?;
    let trees = mirror
        .trees
        .ok_or_else(|| conversion("forest is not fitted"))?;
    let classes = mirror
        .classes
        .ok_or_else(|| conversion("forest is not fitted"))?;
    if classes.len() > 2 {
        return Err(conversion(format!(
            "{} classes; only binary forests are supported",
            classes.len()
        )));
    }
    let nf = trees.first().map_or(0, |t| t.num_features);
    let weight = 1.0 / trees.len().max(1) as f64;
    let leaf_value = |output: usize| if output == 1 { weight } else { 0.0 };
    let mut out = Vec::with_capacity(trees.len());
    for tree in &trees {
        if tree.num_features != nf {
            return Err(conversion("trees disagree on the number of features"));
        }
        let mut builder = TreeBuilder::new();
        add_node(tree, 0, 0, TreeBuilder::ROOT, &mut builder, &leaf_value)?;
        out.push(builder.finish(1.0));
    }
    let ensemble = TreeEnsemble {
        trees: out,
        base_score: 0.0,
        feature_names: feature_names(MODEL, names, nf)?,
        feature_infos: vec!["none".to_string(); nf],
        objective: ObjectiveKind::Regression,
        average_output: false,
    };
    ensemble.validate().map_err(conversion)?;
    Ok(ensemble)
}
