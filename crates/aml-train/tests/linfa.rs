//! The GBDT used through linfa's `Fit` / `Predict` traits.

use aml_train::linfa_gbdt::{GbdtClassifier, GbdtRegressor};
use aml_train::GbdtParams;
use linfa::traits::{Fit, Predict};
use linfa::DatasetBase;
use ndarray::{Array1, Array2};

#[test]
fn classifier_and_regressor_fit_and_predict() {
    let n = 400;
    let x = Array2::from_shape_fn((n, 2), |(r, c)| ((r * (c + 7)) % 97) as f32 / 97.0);
    let y_class: Array1<bool> = x.rows().into_iter().map(|r| r[0] + r[1] > 1.0).collect();
    let params = GbdtParams {
        num_iterations: 30,
        ..GbdtParams::default()
    };
    let data = DatasetBase::new(x.clone(), y_class.clone());
    let model = GbdtClassifier(params.clone()).fit(&data).unwrap();
    let classes: Array1<bool> = model.predict(&x);
    let accuracy = classes.iter().zip(&y_class).filter(|(a, b)| a == b).count() as f64 / n as f64;
    assert!(accuracy > 0.95, "accuracy {accuracy}");
    let probs: Array1<f64> = model.predict(&x);
    assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)));

    let y_reg: Array1<f64> = x
        .rows()
        .into_iter()
        .map(|r| f64::from(r[0]) * 10.0)
        .collect();
    let model = GbdtRegressor(params)
        .fit(&DatasetBase::new(x.clone(), y_reg.clone()))
        .unwrap();
    let pred: Array1<f64> = model.predict(&x);
    let mse = (&pred - &y_reg).mapv(|d| d * d).mean().unwrap();
    assert!(mse < 0.1, "mse {mse}");
    // Wrong column count: NaN predictions rather than a panic.
    let wrong: Array1<f64> = model.predict(&Array2::<f32>::zeros((3, 5)));
    assert!(wrong.iter().all(|v| v.is_nan()));
}
