//! Errors and warnings of feature building.

use std::path::PathBuf;

/// Why a feature matrix could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// `FeatureBuilder::fit` needs at least one training batch to learn vocabularies from.
    #[error("no training batch given to FeatureBuilder::fit")]
    NoTrainingBatches,
    /// Alert scores passed to the cluster builder must align with the alert rows.
    #[error("alert score vector has {got} entries but the batch has {expected} alerts")]
    ScoreLengthMismatch {
        /// Number of alerts in the batch.
        expected: usize,
        /// Length of the given score slice.
        got: usize,
    },
    /// An importance vector must give one value per feature column.
    #[error("importance vector has {got} entries but the matrix has {expected} features")]
    ImportanceLengthMismatch {
        /// Number of feature columns.
        expected: usize,
        /// Length of the importance slice.
        got: usize,
    },
    /// A column index passed to a selection helper is out of range.
    #[error("column index {index} out of range for {n_features} features")]
    ColumnOutOfRange {
        /// The offending index.
        index: usize,
        /// Number of feature columns.
        n_features: usize,
    },
    /// A feature spec could not be parsed.
    #[error("invalid feature spec JSON: {0}")]
    SpecJson(#[from] serde_json::Error),
    /// Writing the matrix as Parquet failed.
    #[error("cannot write feature matrix to {path}: {message}")]
    Write {
        /// Destination file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A bug: a feature block produced a different number of columns than it declared.
    #[error(
        "internal error in feature block {block}: declared {declared} columns, produced {produced}"
    )]
    BlockShape {
        /// Name of the block.
        block: &'static str,
        /// Declared column count.
        declared: usize,
        /// Produced column count.
        produced: usize,
    },
}

/// Something unusual about the batch that did not stop featurisation; reported and logged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FeatureWarning {
    /// The spec expects an address-feature column the batch does not have: the column is all NaN.
    MissingAddressColumn {
        /// The missing column name.
        column: String,
    },
    /// Alerts whose address has no row in features.parquet: their address features are NaN.
    AlertsWithoutAddressFeatures {
        /// How many alerts.
        count: usize,
    },
    /// Cluster member ids that match no alert in the batch: ignored.
    UnknownClusterAlerts {
        /// How many references.
        count: usize,
    },
    /// Money-flow rows from an address to itself: ignored by every graph feature.
    SelfLoops {
        /// How many rows.
        count: usize,
    },
    /// Money-flow rows repeating an already seen (from, to) pair: summed into one edge.
    DuplicateEdges {
        /// How many extra rows.
        count: usize,
    },
    /// The label memory holds labels of the batch's own day or later (or the batch has no
    /// valid processing_date): its `mem_*` features see labels a scorer of that day could not.
    LabelMemoryNotBefore {
        /// The memory's last labelled day.
        last_day: String,
        /// The batch's processing_date.
        processing_date: String,
    },
}

impl std::fmt::Display for FeatureWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeatureWarning::MissingAddressColumn { column } => write!(
                f,
                "features.parquet has no column `{column}` expected by the feature spec: filled with NaN"
            ),
            FeatureWarning::AlertsWithoutAddressFeatures { count } => write!(
                f,
                "{count} alert(s) have an address missing from features.parquet: address features are NaN"
            ),
            FeatureWarning::UnknownClusterAlerts { count } => write!(
                f,
                "{count} cluster member reference(s) name no alert of the batch: ignored"
            ),
            FeatureWarning::SelfLoops { count } => {
                write!(f, "{count} money-flow self-loop row(s) ignored by graph features")
            }
            FeatureWarning::DuplicateEdges { count } => write!(
                f,
                "{count} duplicate money-flow row(s) summed into their (from, to) edge"
            ),
            FeatureWarning::LabelMemoryNotBefore {
                last_day,
                processing_date,
            } => write!(
                f,
                "the label memory holds labels up to {last_day}, not before the batch's processing_date {processing_date:?}: its mem_* features see labels of that day or later"
            ),
        }
    }
}
