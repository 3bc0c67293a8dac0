//! linfa-trees `DecisionTree` -> [`TreeEnsemble`] (one tree, identity output).

use aml_models::{ObjectiveKind, TreeEnsemble};
use linfa::{Float, Label};
use linfa_trees::{DecisionTree, TreeNode};
use ndarray::ArrayView2;

use super::{feature_names, next_down, TreeBuilder};
use crate::ExplainError;

const MODEL: &str = "linfa-trees DecisionTree";

fn add_node<F: Float, L: Label + std::fmt::Debug>(
    node: &TreeNode<F, L>,
    at: usize,
    builder: &mut TreeBuilder,
    label_value: &dyn Fn(&L) -> f64,
) -> Result<(), ExplainError> {
    if let Some(label) = node.prediction() {
        builder.set_leaf(at, label_value(&label), 0);
        return Ok(());
    }
    let (feature, split, gain) = node.split();
    let split = split.to_f64().ok_or_else(|| ExplainError::Conversion {
        model: MODEL,
        reason: "split value not representable as f64".into(),
    })?;
    // linfa sends `x < split` left; LightGBM trees send `x <= threshold` left.
    let (left, right) = builder.split(
        at,
        feature,
        next_down(split),
        gain.to_f64().unwrap_or(0.0),
        0,
    );
    for (at, child) in [left, right].into_iter().zip(node.children()) {
        let child = child.as_ref().ok_or_else(|| ExplainError::Conversion {
            model: MODEL,
            reason: format!("internal node on feature {feature} lacks a child"),
        })?;
        add_node(child, at, builder, label_value)?;
    }
    Ok(())
}

/// Converts a fitted linfa `DecisionTree` into a one-tree ensemble predicting `label_value(label)`.
///
/// linfa stores no sample counts, so covers are counted from `training_records` (pass the records
/// the tree was fitted on; every node must be reached by at least one row for TreeSHAP).
/// `feature_names` defaults to `feature-{i}`.
pub fn decision_tree_to_ensemble<F, L>(
    tree: &DecisionTree<F, L>,
    training_records: ArrayView2<'_, F>,
    label_value: impl Fn(&L) -> f64,
    names: Option<&[String]>,
) -> Result<TreeEnsemble, ExplainError>
where
    F: Float,
    L: Label + std::fmt::Debug,
{
    let nf = training_records.ncols();
    let mut builder = TreeBuilder::new();
    add_node(
        tree.root_node(),
        TreeBuilder::ROOT,
        &mut builder,
        &label_value,
    )?;
    let rows: Vec<Vec<f64>> = training_records
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect())
        .collect();
    builder.recount(rows.iter().map(|r| r.as_slice()));
    let ensemble = TreeEnsemble {
        trees: vec![builder.finish(1.0)],
        base_score: 0.0,
        feature_names: feature_names(MODEL, names, nf)?,
        feature_infos: vec!["none".to_string(); nf],
        objective: ObjectiveKind::Regression,
        average_output: false,
    };
    ensemble
        .validate()
        .map_err(|reason| ExplainError::Conversion {
            model: MODEL,
            reason,
        })?;
    Ok(ensemble)
}
