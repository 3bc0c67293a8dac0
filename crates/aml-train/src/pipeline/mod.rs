//! The training pipeline: from labelled history batches to a checked [`aml_models::Bundle`].
//!
//! One concept per module:
//! - [`data`]: history batches -> per-day feature matrices with contract labels (unlabelled
//!   alerts left out), graded relevance and cluster labels.
//! - [`calibration`]: Platt and isotonic calibration, kept only when they lower the Brier score.
//! - [`evaluation`]: the metrics table (AUC, AUC-PR, Brier, log loss, NDCG@500, precision@100, ECE).
//! - [`baselines`]: severity+confidence GBDT, linfa-trees decision tree, smartcore random forest.
//! - [`ranking`]: the alert ranker's objective and trees chosen out of fold, and whether it
//!   beats ranking by the scorer on the held-out days (else the scorer's score ranks).
//! - [`tuning`]: k-fold cross-validation grouped by day: the scorer's number of rounds, and a
//!   seeded random search of its parameters.
//! - [`refit`]: the shipped scorer fitted again on training and validation days together.
//! - [`training`]: [`train_bundle`], which ties everything together.
//!
//! Validation is time based: the last day(s) of the history are held out for early stopping,
//! calibration and the metrics table; the feature spec is fitted on the training days only.
//! The label memory is out of time too: each day is featurised with the labels of earlier days
//! only ([`training::day_memories`], `TrainConfig::label_memory`), and the bundle stores the
//! memory of all its days for the days after them.
//! Every step is seeded, so the same history and config give byte-identical bundle files.

// The error carries the batch loader's error (file, column, row) by value; pipeline calls run once
// per training job, so the larger Result is not on a hot path.
#![allow(clippy::result_large_err)]

pub mod baselines;
pub mod calibration;
pub mod data;
pub mod evaluation;
pub mod ranking;
pub mod refit;
pub mod training;
pub mod tuning;

pub use data::{load_history, DayData};
pub use evaluation::{MetricsRow, MetricsTable};
pub use training::{train_bundle, TrainConfig, TrainReport};
pub use tuning::{cv_rounds, tune_scorer, with_cv_rounds, RoundsChoice, TuningResult};

use std::path::PathBuf;

/// Why the training pipeline failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A history batch could not be loaded.
    #[error("history batch {path}: {source}")]
    Batch {
        /// Batch directory.
        path: PathBuf,
        /// Underlying error.
        source: aml_core::BatchError,
    },
    /// A history batch has no `address_labels.parquet`.
    #[error("history batch {path} has no address_labels.parquet: training needs labels")]
    NoLabels {
        /// Batch directory.
        path: PathBuf,
    },
    /// A training configuration file could not be read or parsed.
    #[error("training configuration {0}")]
    Config(String),
    /// Not enough data to train and validate.
    #[error("not enough training data: {0}")]
    NotEnoughData(String),
    /// Two history batches have the same processing date (the same day would be counted twice).
    #[error("history has two batches for processing_date {date}: {first} and {second}")]
    DuplicateDay {
        /// The repeated processing date.
        date: String,
        /// The first batch (directory, or batch_id when no directory is known).
        first: String,
        /// The second batch with that date.
        second: String,
    },
    /// Every labelled alert of the training days has the same label: a classifier cannot learn.
    #[error("every one of the {rows} labelled alerts on the {days} training day(s) has label {label} ({meaning}): the history needs both illicit and licit alerts")]
    OneClass {
        /// The only label present (0 or 1).
        label: u8,
        /// What that label means.
        meaning: String,
        /// Labelled alerts on the training days.
        rows: usize,
        /// Number of training days.
        days: usize,
    },
    /// Feature building failed.
    #[error(transparent)]
    Features(#[from] aml_features::FeatureError),
    /// A label memory could not be built.
    #[error(transparent)]
    LabelMemory(#[from] aml_features::MemoryError),
    /// A history batch's processing_date is not a date (the label memory needs day arithmetic).
    #[error("history batch {batch}: processing_date {date:?} is not a YYYY-MM-DD date")]
    BadDate {
        /// The batch id.
        batch: String,
        /// Its processing_date.
        date: String,
    },
    /// The GBDT engine failed.
    #[error("training {model}: {source}")]
    Train {
        /// Which model.
        model: String,
        /// Underlying error.
        source: crate::TrainError,
    },
    /// Wrapping models failed.
    #[error(transparent)]
    Scorer(#[from] aml_models::ScorerError),
    /// Model text or prediction failed.
    #[error(transparent)]
    Model(#[from] aml_models::ModelError),
    /// The bundle is inconsistent.
    #[error(transparent)]
    Bundle(#[from] aml_models::BundleError),
    /// A baseline library failed.
    #[error("baseline {model}: {reason}")]
    Baseline {
        /// Which baseline.
        model: String,
        /// What went wrong.
        reason: String,
    },
    /// Writing a report file failed.
    #[error("{path}: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}
