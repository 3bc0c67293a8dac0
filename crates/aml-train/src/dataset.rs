//! The in-memory training set: a dense feature matrix plus labels, optional
//! weights and optional query groups.
//!
//! Construction validates everything that does not depend on the objective
//! (shapes, finite labels and weights, group sizes), so the engine can assume a
//! well-formed dataset. Objective-specific checks (binary labels in {0, 1},
//! ranking labels that index `label_gain`) happen in [`crate::train`].

use ndarray::Array2;

use crate::error::TrainError;

/// A dense training or validation set.
///
/// `features` is rows x features with `NaN` meaning "missing". Feature values
/// of `+inf`/`-inf` are accepted and binned into the outermost bins.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Rows x features, `NaN` = missing.
    pub features: Array2<f32>,
    /// One finite label per row.
    pub labels: Vec<f64>,
    /// Optional non-negative weight per row.
    pub weights: Option<Vec<f64>>,
    /// Query sizes in row order (sum == number of rows); required for LambdaRank.
    pub groups: Option<Vec<usize>>,
    /// Optional per-row raw-score offset the trees boost from (LightGBM's `init_score`); it is
    /// not part of the trained model, so predictions must add it back.
    pub init_scores: Option<Vec<f64>>,
    /// One name per feature column.
    pub feature_names: Vec<String>,
}

impl Dataset {
    /// Builds a dataset, checking shapes and that every label is finite.
    ///
    /// An empty `feature_names` gets LightGBM's default names `Column_0`, `Column_1`, ...
    ///
    /// ```
    /// use aml_train::dataset::Dataset;
    /// let x = ndarray::array![[1.0f32, 2.0], [3.0, f32::NAN]];
    /// let ds = Dataset::new(x, vec![0.0, 1.0], vec![]).unwrap();
    /// assert_eq!(ds.feature_names, ["Column_0", "Column_1"]);
    /// assert!(Dataset::new(ndarray::Array2::zeros((1, 1)), vec![f64::NAN], vec![]).is_err());
    /// ```
    pub fn new(
        features: Array2<f32>,
        labels: Vec<f64>,
        feature_names: Vec<String>,
    ) -> Result<Self, TrainError> {
        let (rows, cols) = features.dim();
        if rows == 0 {
            return Err(TrainError::EmptyData(
                "the feature matrix has no rows".into(),
            ));
        }
        if cols == 0 {
            return Err(TrainError::EmptyData(
                "the feature matrix has no columns".into(),
            ));
        }
        if labels.len() != rows {
            return Err(TrainError::ShapeMismatch {
                what: "labels".into(),
                got: labels.len(),
                expected: rows,
            });
        }
        let feature_names = if feature_names.is_empty() {
            (0..cols).map(|i| format!("Column_{i}")).collect()
        } else if feature_names.len() != cols {
            return Err(TrainError::ShapeMismatch {
                what: "feature_names".into(),
                got: feature_names.len(),
                expected: cols,
            });
        } else {
            feature_names
        };
        if let Some((row, &value)) = labels.iter().enumerate().find(|(_, l)| !l.is_finite()) {
            return Err(TrainError::InvalidLabel {
                row,
                value,
                reason: "labels must be finite".into(),
            });
        }
        Ok(Dataset {
            features,
            labels,
            weights: None,
            groups: None,
            init_scores: None,
            feature_names,
        })
    }

    /// Sets a per-row raw-score offset to boost from (one finite value per row).
    pub fn with_init_scores(mut self, init_scores: Vec<f64>) -> Result<Self, TrainError> {
        if init_scores.len() != self.n_rows() {
            return Err(TrainError::ShapeMismatch {
                what: "init_scores".into(),
                got: init_scores.len(),
                expected: self.n_rows(),
            });
        }
        if let Some(row) = init_scores.iter().position(|v| !v.is_finite()) {
            return Err(TrainError::InvalidParam {
                name: "init_score".into(),
                reason: format!("row {row} has the non-finite offset {}", init_scores[row]),
            });
        }
        self.init_scores = Some(init_scores);
        Ok(self)
    }

    /// Attaches query group sizes (consecutive rows); they must be positive and sum to the row count.
    pub fn with_groups(mut self, groups: Vec<usize>) -> Result<Self, TrainError> {
        if groups.is_empty() {
            return Err(TrainError::InvalidGroups("no query sizes given".into()));
        }
        if let Some(q) = groups.iter().position(|&g| g == 0) {
            return Err(TrainError::InvalidGroups(format!("query {q} has size 0")));
        }
        let total: usize = groups.iter().sum();
        if total != self.n_rows() {
            return Err(TrainError::InvalidGroups(format!(
                "query sizes sum to {total} but the data has {} rows",
                self.n_rows()
            )));
        }
        self.groups = Some(groups);
        Ok(self)
    }

    /// Attaches per-row weights; they must be finite and non-negative, one per row.
    pub fn with_weights(mut self, weights: Vec<f64>) -> Result<Self, TrainError> {
        if weights.len() != self.n_rows() {
            return Err(TrainError::ShapeMismatch {
                what: "weights".into(),
                got: weights.len(),
                expected: self.n_rows(),
            });
        }
        if let Some((row, &value)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            return Err(TrainError::InvalidWeight { row, value });
        }
        self.weights = Some(weights);
        Ok(self)
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.features.nrows()
    }

    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.features.ncols()
    }

    /// Weight of row `i` (1.0 when the dataset is unweighted).
    #[inline]
    pub(crate) fn weight(&self, i: usize) -> f64 {
        self.weights.as_ref().map_or(1.0, |w| w[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn small() -> Dataset {
        Dataset::new(Array2::zeros((4, 2)), vec![0.0, 1.0, 0.0, 1.0], vec![]).unwrap()
    }

    #[test]
    fn rejects_bad_shapes_and_labels() {
        assert!(matches!(
            Dataset::new(Array2::zeros((0, 2)), vec![], vec![]),
            Err(TrainError::EmptyData(_))
        ));
        assert!(matches!(
            Dataset::new(Array2::zeros((3, 0)), vec![0.0; 3], vec![]),
            Err(TrainError::EmptyData(_))
        ));
        assert!(matches!(
            Dataset::new(Array2::zeros((3, 1)), vec![0.0; 2], vec![]),
            Err(TrainError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            Dataset::new(Array2::zeros((2, 1)), vec![0.0, f64::INFINITY], vec![]),
            Err(TrainError::InvalidLabel { row: 1, .. })
        ));
        assert!(matches!(
            Dataset::new(Array2::zeros((2, 2)), vec![0.0; 2], vec!["a".into()]),
            Err(TrainError::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn groups_and_weights_are_checked() {
        assert!(small().with_groups(vec![1, 3]).is_ok());
        assert!(matches!(
            small().with_groups(vec![1, 2]),
            Err(TrainError::InvalidGroups(_))
        ));
        assert!(matches!(
            small().with_groups(vec![4, 0]),
            Err(TrainError::InvalidGroups(_))
        ));
        assert!(matches!(
            small().with_groups(vec![]),
            Err(TrainError::InvalidGroups(_))
        ));
        assert!(small().with_weights(vec![1.0; 4]).is_ok());
        assert!(matches!(
            small().with_weights(vec![1.0, -1.0, 1.0, 1.0]),
            Err(TrainError::InvalidWeight { row: 1, .. })
        ));
        assert!(matches!(
            small().with_weights(vec![1.0; 3]),
            Err(TrainError::ShapeMismatch { .. })
        ));
    }
}
