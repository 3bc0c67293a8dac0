//! linfa integration: [`GbdtClassifier`] and [`GbdtRegressor`] implement
//! `linfa::traits::Fit`, and the fitted [`FittedGbdt`] implements
//! `PredictInplace` (hence `Predict`), so the GBDT slots into linfa pipelines.
//!
//! Records are `f32` matrices (`NaN` = missing). Classifier targets are
//! `bool`; regressor targets are `f64`. Non-empty linfa sample weights are
//! used as row weights.

use aml_models::TreeEnsemble;
use linfa::dataset::{AsSingleTargets, DatasetBase};
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, ArrayBase, Data, Ix2};

use crate::dataset::Dataset;
use crate::error::TrainError;
use crate::params::{GbdtParams, Objective};
use crate::predict::predict_raw;

/// Binary classifier hyper-parameters (the objective is forced to `Binary`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GbdtClassifier(pub GbdtParams);

/// Regressor hyper-parameters (the objective is forced to `Regression`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GbdtRegressor(pub GbdtParams);

/// A trained ensemble as a linfa model.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedGbdt {
    /// The trained trees.
    pub ensemble: TreeEnsemble,
}

fn fit_with<D: Data<Elem = f32>>(
    params: &GbdtParams,
    objective: Objective,
    records: &ArrayBase<D, Ix2>,
    labels: Vec<f64>,
    weights: &[f32],
) -> Result<FittedGbdt, TrainError> {
    let mut data = Dataset::new(records.to_owned(), labels, Vec::new())?;
    if !weights.is_empty() {
        data = data.with_weights(weights.iter().map(|&w| f64::from(w)).collect())?;
    }
    let params = GbdtParams {
        objective,
        ..params.clone()
    };
    Ok(FittedGbdt {
        ensemble: crate::train(&params, &data, None, None)?.ensemble,
    })
}

impl<D: Data<Elem = f32>, T: AsSingleTargets<Elem = bool>> Fit<ArrayBase<D, Ix2>, T, TrainError>
    for GbdtClassifier
{
    type Object = FittedGbdt;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<FittedGbdt, TrainError> {
        let labels = dataset
            .as_single_targets()
            .iter()
            .map(|&b| f64::from(u8::from(b)))
            .collect();
        let weights = dataset.weights().map(|w| w.to_vec()).unwrap_or_default();
        fit_with(
            &self.0,
            Objective::Binary,
            &dataset.records,
            labels,
            &weights,
        )
    }
}

impl<D: Data<Elem = f32>, T: AsSingleTargets<Elem = f64>> Fit<ArrayBase<D, Ix2>, T, TrainError>
    for GbdtRegressor
{
    type Object = FittedGbdt;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<FittedGbdt, TrainError> {
        let labels = dataset.as_single_targets().to_vec();
        let weights = dataset.weights().map(|w| w.to_vec()).unwrap_or_default();
        fit_with(
            &self.0,
            Objective::Regression,
            &dataset.records,
            labels,
            &weights,
        )
    }
}

impl FittedGbdt {
    /// Transformed predictions: probabilities for a classifier, values for a regressor.
    ///
    /// Records with a different number of columns than the training data get `NaN`s
    /// (linfa's `PredictInplace` cannot return an error).
    pub fn predict_values<D: Data<Elem = f32>>(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        if x.ncols() != self.ensemble.num_features() {
            return Array1::from_elem(x.nrows(), f64::NAN);
        }
        match predict_raw(&self.ensemble, x.view()) {
            Ok(raw) => raw
                .into_iter()
                .map(|r| self.ensemble.transform(r))
                .collect(),
            Err(_) => Array1::from_elem(x.nrows(), f64::NAN),
        }
    }
}

impl<D: Data<Elem = f32>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for FittedGbdt {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        let values = self.predict_values(x);
        for (o, v) in y.iter_mut().zip(values) {
            *o = v;
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}

/// Class predictions (`probability > 0.5`) for a classifier.
impl<D: Data<Elem = f32>> PredictInplace<ArrayBase<D, Ix2>, Array1<bool>> for FittedGbdt {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<bool>) {
        let values = self.predict_values(x);
        for (o, v) in y.iter_mut().zip(values) {
            *o = v > 0.5;
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<bool> {
        Array1::from_elem(x.nrows(), false)
    }
}
