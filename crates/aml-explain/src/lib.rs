//! Exact TreeSHAP explanations for aml-miner tree ensembles.
//!
//! * [`reference_contributions`]: the textbook path-dependent TreeSHAP recursion (the oracle).
//! * [`TreeShapExplainer`]: the same values by exact per-leaf quadrature, vectorised over rows, parallel
//!   over rows and bit-identical for any thread count; [`contributions`] is the one-call form.
//! * [`Explanation`]: score, base value and top features of a row, serialised as `explain_json`.
//! * [`global_importance`]: mean |SHAP|, total gain and split count per feature.
//! * [`adapters`]: linfa-trees and smartcore trees converted to `TreeEnsemble`.
//!
//! Output layout follows LightGBM's `pred_contrib`: per class (one block for single-output models),
//! one column per feature in raw (log-odds) space, then the class's expected value; each block
//! sums to the class's raw score (the plain sum over trees, also for `average_output` models).
//! Numerical and categorical splits, every missing-value rule, multiclass and random-forest
//! ensembles are explained; linear trees are refused, as LightGBM refuses them.

pub mod adapters;
mod error;
mod explanation;
mod fast;
mod importance;
mod reference;
pub mod synthetic;

pub use error::ExplainError;
pub use explanation::{top_k_indices, Explanation, FeatureImpact, DEFAULT_TOP_K};
pub use fast::{contributions, ShapScratch, TreeShapExplainer, MAX_TABLE_DEPTH};
pub use importance::{global_importance, FeatureImportance};
pub use reference::reference_contributions;
