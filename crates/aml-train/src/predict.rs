//! Raw-feature prediction used during training: a plain traversal of one [`aml_models::Tree`]
//! on `f32` rows (validation scores grow tree by tree), and whole-ensemble prediction for
//! the linfa wrappers through [`aml_models::Predictor`].

use aml_models::{Tree, TreeEnsemble};
use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;

/// Rows per parallel chunk; each row's result is independent of the chunking.
const CHUNK: usize = 1024;

/// Leaf reached by `row` in `tree`: the tree's own walk ([`Tree::leaf_by`] with
/// [`Tree::goes_left`]) on the widened values.
#[inline]
pub fn leaf_of_row(tree: &Tree, row: ArrayView1<f32>) -> usize {
    tree.leaf_by(|node| tree.goes_left(node, f64::from(row[tree.split_feature[node] as usize])))
}

/// Adds `tree`'s output for every row of `features` to `scores` (parallel, deterministic).
pub fn add_tree_scores(tree: &Tree, features: ArrayView2<f32>, scores: &mut [f64]) {
    scores
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| {
            for (j, s) in chunk.iter_mut().enumerate() {
                *s += tree.leaf_value[leaf_of_row(tree, features.row(c * CHUNK + j))];
            }
        });
}

/// Raw scores (`base_score + sum of trees`) of every row of `features`, through the
/// inference engine of `aml-models` ([`aml_models::Predictor`]: compact nodes, row blocks),
/// so trained models are scored exactly as they will be in production.
pub fn predict_raw(
    ensemble: &TreeEnsemble,
    features: ArrayView2<f32>,
) -> Result<Vec<f64>, aml_models::PredictError> {
    aml_models::Predictor::new(ensemble)?.predict_raw(features)
}
