//! Tree ensembles, LightGBM-compatible model files and the `Model` trait for aml-miner.
//!
//! - [`tree`]: the shared data model ([`TreeEnsemble`], [`Tree`]), laid out like LightGBM's `Tree=N` blocks.
//! - [`model_file`]: LightGBM v4 text model read and write.
//! - [`predict`]: compact node layout and fast, exact, parallel prediction.
//! - [`model`]: the [`Model`] trait and [`GbdtModel`].
//! - [`importance`]: split-count and gain importance.
//! - `scorers` and `bundle` (cargo feature `miner`, on by default): the alert scorer, ranker,
//!   cluster scorer and the model bundle. With `default-features = false` the crate is the engine
//!   above and pulls in no SOT schema, arrow, parquet or ed25519.
//!
//! ```
//! use aml_models::{GbdtModel, Model, ObjectiveKind, Tree, TreeEnsemble};
//! let ensemble = TreeEnsemble {
//!     trees: vec![Tree::constant(0.25, 100)],
//!     base_score: 0.0,
//!     feature_names: vec!["amount".into()],
//!     feature_infos: vec!["none".into()],
//!     objective: ObjectiveKind::Regression,
//!     average_output: false,
//! };
//! let text = ensemble.to_model_string().unwrap();
//! assert_eq!(TreeEnsemble::from_model_str(&text).unwrap(), ensemble);
//! let model = GbdtModel::from_ensemble(ensemble).unwrap();
//! let x = ndarray::Array2::<f32>::zeros((3, 1));
//! assert_eq!(model.predict(x.view()).unwrap(), vec![0.25; 3]);
//! assert_eq!(model.version().len(), 12);
//! ```

#[cfg(feature = "miner")]
pub mod bundle;
pub mod importance;
pub mod model;
pub mod model_file;
pub mod predict;
#[cfg(feature = "miner")]
pub mod scorers;
pub mod tree;

#[cfg(feature = "miner")]
pub use bundle::{Bundle, BundleError, BundleMetadata, ModelMetadata, TrainingInfo};
pub use model::{model_version, GbdtModel, Model, ModelError};
pub use model_file::{parse_model, write_model, ModelFile, ModelFileError};
pub use predict::{FeatureValue, PredictError, Predictor};
#[cfg(feature = "miner")]
pub use scorers::{
    competition_ranks, AlertRanker, AlertScorer, Calibration, ClusterScorer, ScorerError,
    SCORER_FEATURE,
};
pub use tree::{
    IdentityObjective, LeafStats, LogLinkObjective, MissingType, NodeSplit, ObjectiveKind,
    OutputTransform, Tree, TreeEnsemble,
};
