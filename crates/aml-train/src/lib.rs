//! aml-train: deterministic histogram gradient-boosted trees (binary log loss,
//! LambdaRank, L2 regression) producing [`aml_models::TreeEnsemble`]s, plus
//! evaluation metrics.
//!
//! The engine follows LightGBM's design, one concept per module:
//! [`binning`] (quantile bins, missing-value bin), [`histogram`] (per-leaf
//! gradient histograms with the subtraction trick), [`split`] (best threshold
//! and missing direction), [`learner`] (leaf-wise growth), [`objective`],
//! [`sampling`] (bagging, feature fraction) and [`boosting`] (the loop, early
//! stopping). The same data, parameters and seed give a bit-identical model
//! with any number of threads.
//!
//! Cargo features (both on by default): `miner` adds [`pipeline`] (SOT history -> model bundle,
//! the domain side) and `parquet` adds Parquet input to [`data_file`]. Without them the crate is
//! the engine alone and depends on no SOT schema, arrow, parquet or ed25519.
#![forbid(unsafe_code)]

pub mod binning;
pub mod boosting;
pub mod data_file;
pub mod dataset;
pub mod error;
pub mod histogram;
pub mod learner;
pub mod linfa_gbdt;
pub mod metric;
pub mod objective;
pub mod params;
#[cfg(feature = "miner")]
pub mod pipeline;
pub mod predict;
pub mod sampling;
pub mod split;

pub use boosting::{train, RoundInfo, TrainOutput};
pub use dataset::Dataset;
pub use error::TrainError;
pub use params::{GbdtParams, Metric, Objective};
