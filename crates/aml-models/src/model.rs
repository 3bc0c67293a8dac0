//! The `Model` trait: what the scorer, ranker and service need from any trained model.
//!
//! A model is identified by its `version`: the first 12 hex digits of the
//! SHA-256 of its model text. [`GbdtModel`] keeps the exact text it was loaded
//! from (or would save), so the version of a loaded model equals the hash of
//! the file on disk, and saving then loading never changes it.

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayView2};

use crate::model_file::{self, ModelFileError};
use crate::predict::{PredictError, Predictor};
use crate::tree::TreeEnsemble;

/// Errors from loading, saving or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Reading or writing the model file failed.
    #[error("{path}: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The model text is malformed or unsupported.
    #[error("{path}: {source}")]
    Parse {
        /// File involved (empty when parsing from memory).
        path: PathBuf,
        /// Underlying error, with the line number.
        source: ModelFileError,
    },
    /// Prediction failed (e.g. wrong feature count).
    #[error(transparent)]
    Predict(#[from] PredictError),
}

/// A trained model that maps a feature matrix to one score per row.
pub trait Model: Send + Sync {
    /// Names of the input columns, in order.
    fn feature_names(&self) -> &[String];
    /// Transformed predictions (probabilities for binary models), one per row.
    fn predict(&self, features: ArrayView2<'_, f32>) -> Result<Vec<f64>, ModelError>;
    /// Raw (untransformed) scores, one per row.
    fn predict_raw(&self, features: ArrayView2<'_, f32>) -> Result<Vec<f64>, ModelError>;
    /// First 12 hex digits of the SHA-256 of the model text.
    fn version(&self) -> String;
    /// The model as a tree ensemble computing the same [`Model::predict`] output, if it is one:
    /// TreeSHAP explains the alert scorer's scores through it, and a bundle records its tree
    /// count. `None` by default; [`GbdtModel`] returns its ensemble, and a linfa or smartcore
    /// tree model can return its conversion (`aml_explain::adapters`).
    fn tree_ensemble(&self) -> Option<&TreeEnsemble> {
        None
    }
    /// Writes the model text atomically (temporary file in the same directory, then rename).
    fn save(&self, path: &Path) -> Result<(), ModelError>;
    /// Reads a model written by [`Model::save`] (or by LightGBM for [`GbdtModel`]).
    fn load(path: &Path) -> Result<Self, ModelError>
    where
        Self: Sized;
}

/// First 12 hex digits of the SHA-256 of `text`.
pub fn model_version(text: &str) -> String {
    let mut h = aml_core::io::sha256_hex(text.as_bytes());
    h.truncate(12);
    h
}

/// A gradient-boosted tree model: the ensemble, its exact text, and a compiled predictor.
#[derive(Debug, Clone)]
pub struct GbdtModel {
    ensemble: TreeEnsemble,
    text: String,
    predictor: Predictor,
    parameters: Vec<String>,
}

impl GbdtModel {
    /// Wraps a freshly built ensemble (its text is [`TreeEnsemble::to_model_string`]).
    pub fn from_ensemble(ensemble: TreeEnsemble) -> Result<Self, ModelError> {
        let parameters = model_file::default_parameters(&ensemble);
        Self::from_ensemble_with_parameters(ensemble, parameters)
    }

    /// Wraps an ensemble and writes `parameters` (`[key: value]` lines) into its `parameters:` block.
    pub fn from_ensemble_with_parameters(
        ensemble: TreeEnsemble,
        parameters: Vec<String>,
    ) -> Result<Self, ModelError> {
        let text = model_file::write_model(&ensemble, &parameters).map_err(|source| {
            ModelError::Parse {
                path: PathBuf::new(),
                source,
            }
        })?;
        let predictor = Predictor::new(&ensemble)?;
        Ok(GbdtModel {
            ensemble,
            text,
            predictor,
            parameters,
        })
    }

    /// Parses model text (ours or LightGBM's), keeping the text for `version` and `save`.
    pub fn from_model_str(text: &str) -> Result<Self, ModelError> {
        Self::parse(text, PathBuf::new())
    }

    fn parse(text: &str, path: PathBuf) -> Result<Self, ModelError> {
        let file = model_file::parse_model(text).map_err(|source| ModelError::Parse {
            path: path.clone(),
            source,
        })?;
        let predictor = Predictor::new(&file.ensemble)?;
        Ok(GbdtModel {
            ensemble: file.ensemble,
            text: text.to_string(),
            predictor,
            parameters: file.parameters,
        })
    }

    /// The underlying ensemble (for TreeSHAP, importance, inspection).
    pub fn ensemble(&self) -> &TreeEnsemble {
        &self.ensemble
    }

    /// The compiled predictor (single rows, `f64` input, sequential batches).
    pub fn predictor(&self) -> &Predictor {
        &self.predictor
    }

    /// The exact model text that `save` writes and `version` hashes.
    pub fn model_text(&self) -> &str {
        &self.text
    }

    /// Lines of the `parameters:` block.
    pub fn parameters(&self) -> &[String] {
        &self.parameters
    }

    /// Raw scores per row: the number of classes (1 except for multiclass models, which
    /// [`Model::predict`] refuses with [`PredictError::MultipleClasses`]).
    pub fn num_class(&self) -> usize {
        self.predictor.num_class()
    }

    /// Raw score of every class for every row (`nrows x num_class`).
    pub fn predict_raw_classes(
        &self,
        features: ArrayView2<'_, f32>,
    ) -> Result<Array2<f64>, ModelError> {
        Ok(self.predictor.predict_raw_classes(features)?)
    }

    /// Prediction of every class for every row (`nrows x num_class`): softmax for multiclass,
    /// a sigmoid per class for multiclassova, averaged first for random forests.
    pub fn predict_classes(
        &self,
        features: ArrayView2<'_, f32>,
    ) -> Result<Array2<f64>, ModelError> {
        Ok(self.predictor.predict_classes(features)?)
    }
}

impl Model for GbdtModel {
    fn feature_names(&self) -> &[String] {
        &self.ensemble.feature_names
    }

    fn predict(&self, features: ArrayView2<'_, f32>) -> Result<Vec<f64>, ModelError> {
        Ok(self.predictor.predict(features)?)
    }

    fn predict_raw(&self, features: ArrayView2<'_, f32>) -> Result<Vec<f64>, ModelError> {
        Ok(self.predictor.predict_raw(features)?)
    }

    fn version(&self) -> String {
        model_version(&self.text)
    }

    fn tree_ensemble(&self) -> Option<&TreeEnsemble> {
        Some(&self.ensemble)
    }

    fn save(&self, path: &Path) -> Result<(), ModelError> {
        aml_core::io::atomic_write(path, self.text.as_bytes()).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{ObjectiveKind, Tree};

    fn model() -> GbdtModel {
        GbdtModel::from_ensemble(TreeEnsemble {
            trees: vec![Tree::constant(0.5, 10)],
            base_score: 0.0,
            feature_names: vec!["x".into()],
            feature_infos: vec!["none".into()],
            objective: ObjectiveKind::Binary { sigmoid: 1.0 },
            average_output: false,
        })
        .unwrap()
    }

    #[test]
    fn save_load_keeps_version_and_predictions() {
        let m = model();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.txt");
        m.save(&path).unwrap();
        let back = GbdtModel::load(&path).unwrap();
        assert_eq!(back.version(), m.version());
        assert_eq!(back.version().len(), 12);
        assert_eq!(
            model_version(&std::fs::read_to_string(&path).unwrap()),
            m.version()
        );
        let x = ndarray::Array2::<f32>::zeros((2, 1));
        assert_eq!(
            back.predict(x.view()).unwrap(),
            m.predict(x.view()).unwrap()
        );
        let p = m.predict(x.view()).unwrap()[0];
        assert_eq!(p, 1.0 / (1.0 + (-0.5f64).exp()));
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn load_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.txt");
        std::fs::write(&path, "tree\nversion=v4\nnum_class=two\n").unwrap();
        let err = GbdtModel::load(&path).unwrap_err().to_string();
        assert!(err.contains("bad.txt") && err.contains("line 3"), "{err}");
        assert!(GbdtModel::load(&dir.path().join("missing.txt")).is_err());
    }
}
