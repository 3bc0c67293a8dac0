//! Binary log loss with a sigmoid link (LightGBM `binary`).

use super::{fill_rows, ObjectiveFunction};
use crate::dataset::Dataset;
use crate::error::TrainError;

/// `loss = log(1 + exp(-y * sigmoid * score))` with `y` in {-1, +1}.
#[derive(Debug, Clone)]
pub struct BinaryLogLoss {
    is_pos: Vec<bool>,
    row_weight: Vec<f64>,
    sigmoid: f64,
    init: f64,
}

impl BinaryLogLoss {
    /// Checks labels are 0 or 1; positives are up-weighted by `scale_pos_weight`.
    pub fn new(data: &Dataset, sigmoid: f64, scale_pos_weight: f64) -> Result<Self, TrainError> {
        if let Some((row, &value)) = data
            .labels
            .iter()
            .enumerate()
            .find(|(_, &l)| l != 0.0 && l != 1.0)
        {
            return Err(TrainError::InvalidLabel {
                row,
                value,
                reason: "binary labels must be 0 or 1".into(),
            });
        }
        let is_pos: Vec<bool> = data.labels.iter().map(|&l| l == 1.0).collect();
        let row_weight = (0..data.n_rows())
            .map(|i| data.weight(i) * if is_pos[i] { scale_pos_weight } else { 1.0 })
            .collect();
        // Boost from the (sample-weighted) average like LightGBM's BoostFromScore.
        let p = super::weighted_mean(data).clamp(1e-15, 1.0 - 1e-15);
        let init = (p / (1.0 - p)).ln() / sigmoid;
        Ok(BinaryLogLoss {
            is_pos,
            row_weight,
            sigmoid,
            init,
        })
    }
}

impl ObjectiveFunction for BinaryLogLoss {
    fn init_score(&self) -> f64 {
        self.init
    }

    fn gradients(&self, scores: &[f64], out: &mut [[f32; 2]]) {
        let s = self.sigmoid;
        fill_rows(out, |i| {
            let y = if self.is_pos[i] { 1.0 } else { -1.0 };
            let response = -y * s / (1.0 + (y * s * scores[i]).exp());
            let abs = response.abs();
            let w = self.row_weight[i];
            [(response * w) as f32, (abs * (s - abs) * w) as f32]
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn gradient_is_probability_minus_label() {
        let d = Dataset::new(Array2::zeros((2, 1)), vec![0.0, 1.0], vec![]).unwrap();
        let o = BinaryLogLoss::new(&d, 1.0, 1.0).unwrap();
        assert_eq!(o.init_score(), 0.0);
        let mut gh = vec![[0.0; 2]; 2];
        o.gradients(&[0.0, 2.0], &mut gh);
        let p = 1.0 / (1.0 + (-2.0f64).exp());
        assert!(
            (f64::from(gh[0][0]) - 0.5).abs() < 1e-7 && (f64::from(gh[0][1]) - 0.25).abs() < 1e-7
        );
        assert!((f64::from(gh[1][0]) - (p - 1.0)).abs() < 1e-7);
        assert!((f64::from(gh[1][1]) - p * (1.0 - p)).abs() < 1e-7);
    }

    #[test]
    fn rejects_non_binary_labels() {
        let d = Dataset::new(Array2::zeros((2, 1)), vec![0.0, 2.0], vec![]).unwrap();
        assert!(matches!(
            BinaryLogLoss::new(&d, 1.0, 1.0),
            Err(TrainError::InvalidLabel { row: 1, .. })
        ));
    }
}
