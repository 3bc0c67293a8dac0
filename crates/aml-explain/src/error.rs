//! Errors raised while preparing or running explanations.

use thiserror::Error;

/// Everything that can go wrong in `aml-explain`; each variant names the offending tree, node or column.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ExplainError {
    /// The ensemble failed `TreeEnsemble::validate` (bad child links, short arrays, ...).
    #[error("invalid tree ensemble: {0}")]
    InvalidEnsemble(String),
    /// A node of a tree with splits has a data count of zero, so cover ratios are undefined.
    #[error("Tree={tree}: {kind} {node} has a data count of 0; TreeSHAP needs positive covers")]
    ZeroCover {
        /// Tree index in the ensemble.
        tree: usize,
        /// `"internal node"` or `"leaf"`.
        kind: &'static str,
        /// Index of the node or leaf inside the tree.
        node: usize,
    },
    /// The input matrix has a different number of columns than the model has features.
    #[error("input has {got} columns but the model has {expected} features")]
    FeatureCountMismatch {
        /// Number of features the model expects.
        expected: usize,
        /// Number of columns supplied.
        got: usize,
    },
    /// A per-row input has a different number of rows than the matrix it goes with.
    #[error("{what} has {got} values but the input has {expected} rows")]
    RowCountMismatch {
        /// Which input.
        what: &'static str,
        /// Number of rows of the matrix.
        expected: usize,
        /// Number of values supplied.
        got: usize,
    },
    /// The ensemble uses a model feature TreeSHAP does not explain.
    #[error("cannot explain {0}")]
    Unsupported(String),
    /// A baseline model could not be converted into a `TreeEnsemble`.
    #[error("cannot convert {model}: {reason}")]
    Conversion {
        /// Which model type was being converted.
        model: &'static str,
        /// Why the conversion failed.
        reason: String,
    },
}
