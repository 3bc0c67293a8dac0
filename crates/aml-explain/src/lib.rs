//! Exact TreeSHAP explanations for aml-miner tree ensembles.
//!
//! * [`reference_contributions`]: the textbook path-dependent TreeSHAP recursion (the oracle).
//! * [`TreeShapExplainer`]: the same values from per-leaf subset tables, O(T L D) per row, parallel
//!   over rows and bit-identical for any thread count; [`contributions`] is the one-call form.
//! * [`Explanation`]: score, base value and top features of a row, serialised as `explain_json`.
//! * [`global_importance`]: mean |SHAP|, total gain and split count per feature.
//! * [`adapters`]: linfa-trees and smartcore trees converted to `TreeEnsemble`.
//!
//! Output layout follows LightGBM's `pred_contrib`: one column per feature in raw (log-odds) space,
//! then the expected value; each row sums to the raw prediction.
#![deny(missing_docs)]

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
