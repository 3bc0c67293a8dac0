//! Squared error (LightGBM `regression`, L2).

use super::{fill_rows, ObjectiveFunction};
use crate::dataset::Dataset;

/// `loss = (score - label)^2 / 2`, weighted.
#[derive(Debug, Clone)]
pub struct SquaredError {
    labels: Vec<f64>,
    weights: Option<Vec<f64>>,
    init: f64,
}

impl SquaredError {
    /// Boosts from the weighted mean label like LightGBM.
    pub fn new(data: &Dataset) -> Self {
        SquaredError {
            labels: data.labels.clone(),
            weights: data.weights.clone(),
            init: super::weighted_mean(data),
        }
    }
}

impl ObjectiveFunction for SquaredError {
    fn init_score(&self) -> f64 {
        self.init
    }

    fn gradients(&self, scores: &[f64], out: &mut [[f32; 2]]) {
        fill_rows(out, |i| {
            let w = self.weights.as_ref().map_or(1.0, |w| w[i]);
            [((scores[i] - self.labels[i]) * w) as f32, w as f32]
        });
    }
}
