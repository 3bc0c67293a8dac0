//! Errors raised while validating inputs or training.
//!
//! Every variant names what was wrong and where (row, parameter, query), so a
//! caller can fix the input without reading the engine's source.

use thiserror::Error;

/// Everything that can go wrong in [`crate::train`] and [`crate::dataset::Dataset`] construction.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TrainError {
    /// The data has no rows or no feature columns.
    #[error("empty data: {0}")]
    EmptyData(String),
    /// Two inputs that must agree in length do not.
    #[error("shape mismatch: {what} has {got} entries, expected {expected}")]
    ShapeMismatch {
        /// Which input is wrong.
        what: String,
        /// Its length.
        got: usize,
        /// The length it must have.
        expected: usize,
    },
    /// A label is not acceptable for the dataset or objective.
    #[error("invalid label {value} at row {row}: {reason}")]
    InvalidLabel {
        /// Zero-based row index.
        row: usize,
        /// The offending label.
        value: f64,
        /// Why it is rejected.
        reason: String,
    },
    /// A sample weight is negative, NaN or infinite.
    #[error("invalid weight {value} at row {row}: weights must be finite and >= 0")]
    InvalidWeight {
        /// Zero-based row index.
        row: usize,
        /// The offending weight.
        value: f64,
    },
    /// Query group sizes are missing, empty or do not sum to the row count.
    #[error("invalid query groups: {0}")]
    InvalidGroups(String),
    /// A training parameter is out of range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParam {
        /// Parameter name (LightGBM spelling).
        name: String,
        /// Why it is rejected.
        reason: String,
    },
    /// The validation set does not match the training set.
    #[error("validation data: {0}")]
    InvalidValidation(String),
    /// The rayon thread pool could not be built.
    #[error("thread pool: {0}")]
    ThreadPool(String),
    /// An error reported by linfa while handling a `DatasetBase`.
    #[error("linfa: {0}")]
    Linfa(String),
}

impl From<linfa::error::Error> for TrainError {
    fn from(e: linfa::error::Error) -> Self {
        TrainError::Linfa(e.to_string())
    }
}

impl TrainError {
    /// Shorthand for [`TrainError::InvalidParam`].
    pub(crate) fn param(name: &str, reason: impl Into<String>) -> Self {
        TrainError::InvalidParam {
            name: name.to_string(),
            reason: reason.into(),
        }
    }
}
