//! Global feature importance from the tree structure (LightGBM's `split` and `gain` types).
//!
//! TreeSHAP-based importance (mean |SHAP|) lives in `aml-explain`; these two need
//! only the trees, so they are cheap enough to write into every model file.

use crate::tree::TreeEnsemble;

impl TreeEnsemble {
    /// Number of splits that use each feature, over all trees (LightGBM `importance_type="split"`).
    pub fn split_importance(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.num_features()];
        for t in &self.trees {
            for &f in &t.split_feature {
                if let Some(c) = counts.get_mut(f as usize) {
                    *c += 1;
                }
            }
        }
        counts
    }

    /// Sum of split gains per feature (LightGBM `importance_type="gain"`).
    ///
    /// Summed in tree order then node order, so the result is deterministic.
    pub fn gain_importance(&self) -> Vec<f64> {
        let mut gains = vec![0.0f64; self.num_features()];
        for t in &self.trees {
            for (&f, &g) in t.split_feature.iter().zip(&t.split_gain) {
                if let Some(s) = gains.get_mut(f as usize) {
                    *s += g;
                }
            }
        }
        gains
    }
}

#[cfg(test)]
mod tests {
    use crate::tree::{MissingType, ObjectiveKind, Tree, TreeEnsemble};

    #[test]
    fn counts_and_gains_per_feature() {
        let t = Tree {
            split_feature: vec![2, 0, 2],
            split_gain: vec![5.0, 1.5, 0.25],
            threshold: vec![0.0; 3],
            default_left: vec![false; 3],
            missing_type: vec![MissingType::None; 3],
            left_child: vec![1, -1, -3],
            right_child: vec![2, -2, -4],
            internal_value: vec![0.0; 3],
            internal_weight: vec![0.0; 3],
            internal_count: vec![0; 3],
            leaf_value: vec![0.0; 4],
            leaf_weight: vec![0.0; 4],
            leaf_count: vec![0; 4],
            shrinkage: 1.0,
            categorical: None,
            linear: None,
        };
        let e = TreeEnsemble {
            trees: vec![t.clone(), t],
            base_score: 0.0,
            feature_names: vec!["a".into(), "b".into(), "c".into()],
            feature_infos: vec!["none".into(); 3],
            objective: ObjectiveKind::Regression,
            average_output: false,
        };
        assert_eq!(e.split_importance(), vec![2, 0, 4]);
        assert_eq!(e.gain_importance(), vec![3.0, 0.0, 10.5]);
    }
}
