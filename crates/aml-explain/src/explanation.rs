//! Per-row explanations: the score, its base value and the top features by |SHAP|, serialised as
//! the contract's `explain_json`.
//!
//! `explain_json` (see `SOT_SCHEMA.md`) is
//! `{"score": 0.87, "top_features": [{"feature": "...", "value": 1.23, "impact": 0.41}, ...]}`:
//! `score` is the transformed prediction (probability for binary models), `impact` the SHAP value in
//! raw (log-odds) space, so the impacts of all features plus the base value sum to the raw score.
//! Floats are written by `serde_json` (shortest round-trip representation), so the same numbers
//! always give the same bytes. A feature value that is NaN (missing) or infinite cannot be a JSON
//! number and is written as `null`.

use std::cmp::Ordering;

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize, Serializer};

use crate::error::ExplainError;
use crate::fast::TreeShapExplainer;

/// Number of features the contract puts in `explain_json`.
pub const DEFAULT_TOP_K: usize = 5;

/// One feature's share of a prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureImpact {
    /// Feature name from the model.
    pub feature: String,
    /// The row's value of the feature; `None` (JSON `null`) when missing (NaN) or infinite.
    pub value: Option<f64>,
    /// SHAP value in raw (log-odds) space.
    pub impact: f64,
}

/// Why one row got its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// Transformed prediction (probability for binary models, raw score otherwise).
    pub score: f64,
    /// Expected raw score over the training data (the SHAP base value).
    pub base_value: f64,
    /// Raw score: the model's prediction before the output transform.
    pub raw_score: f64,
    /// The largest |impact| features, largest first; ties go to the lower feature index.
    /// Features with an impact of exactly zero are left out.
    pub top_features: Vec<FeatureImpact>,
}

/// The contract's `explain_json` shape (only these two keys).
#[derive(Serialize)]
struct ExplainJson<'a> {
    score: f64,
    top_features: &'a [FeatureImpact],
}

/// Indices of the `k` largest `|contribution|` values (ties by index, exact zeros skipped).
pub fn top_k_indices(contrib: &[f64], k: usize) -> Vec<usize> {
    let mut idx = Vec::with_capacity(k.min(contrib.len()));
    top_k_into(contrib, k, &mut idx);
    idx
}

/// [`top_k_indices`] into `idx` (cleared first), in one pass without sorting every feature: each
/// non-zero value is inserted into the sorted top `k` (largest `|value|` first by `f64::total_cmp`,
/// ties to the lower index) when it ranks above the last one.
fn top_k_into(contrib: &[f64], k: usize, idx: &mut Vec<usize>) {
    idx.clear();
    if k == 0 {
        return;
    }
    for (i, &c) in contrib.iter().enumerate() {
        if c == 0.0 {
            continue;
        }
        let a = c.abs();
        // Every index already held is lower than `i`, so it wins a tie.
        if idx.len() == k && a.total_cmp(&contrib[idx[k - 1]].abs()) != Ordering::Greater {
            continue;
        }
        let at = idx.partition_point(|&j| contrib[j].abs().total_cmp(&a) != Ordering::Less);
        if idx.len() == k {
            idx.pop();
        }
        idx.insert(at, i);
    }
}

/// One row's `explain_json` written straight from its contributions: the same fields, order
/// and number formatting as [`Explanation::to_explain_json`] (the bytes are equal; tests check
/// it), borrowing the feature names.
#[derive(Serialize)]
struct RowExplainJson<'a> {
    score: f64,
    top_features: TopFeatures<'a>,
}

/// The top features of one row, serialised as [`FeatureImpact`]s are.
struct TopFeatures<'a> {
    names: &'a [String],
    row: &'a [f64],
    contrib: &'a [f64],
    idx: &'a [usize],
}

#[derive(Serialize)]
struct FeatureImpactRef<'a> {
    feature: &'a str,
    value: Option<f64>,
    impact: f64,
}

impl Serialize for TopFeatures<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.idx.iter().map(|&i| FeatureImpactRef {
            feature: &self.names[i],
            value: Some(self.row[i]).filter(|v| v.is_finite()),
            impact: self.contrib[i],
        }))
    }
}

/// A multiclass model has one score per class, not the single score and top features of
/// `explain_json`: refuse it rather than explain class 0 only.
fn single_output(explainer: &TreeShapExplainer) -> Result<(), ExplainError> {
    match explainer.num_class() {
        1 => Ok(()),
        k => Err(ExplainError::Unsupported(format!(
            "a multiclass model ({k} classes) as one score and top features per row: \
             explain_json needs a single-output model (use the per-class contributions instead)"
        ))),
    }
}

impl Explanation {
    /// Builds the explanation of `row` from its contribution vector (`num_features + 1` values,
    /// expected value last, as produced by [`TreeShapExplainer`]). The raw score is the model's own
    /// prediction (trees summed in order), so `score` matches the scoring path exactly.
    ///
    /// Errors: a multiclass model ([`ExplainError::Unsupported`]: one score per class has no
    /// single top-k), or a `row` / `contrib` of the wrong length.
    pub fn from_contributions(
        explainer: &TreeShapExplainer,
        row: &[f64],
        contrib: &[f64],
        top_k: usize,
    ) -> Result<Self, ExplainError> {
        single_output(explainer)?;
        let model = explainer.ensemble();
        let nf = model.num_features();
        if row.len() != nf {
            return Err(ExplainError::FeatureCountMismatch {
                expected: nf,
                got: row.len(),
            });
        }
        if contrib.len() != nf + 1 {
            return Err(ExplainError::FeatureCountMismatch {
                expected: nf + 1,
                got: contrib.len(),
            });
        }
        let raw_score = model.predict_raw_reference(row);
        let top_features = top_k_indices(&contrib[..nf], top_k)
            .into_iter()
            .map(|i| FeatureImpact {
                feature: model.feature_names[i].clone(),
                value: Some(row[i]).filter(|v| v.is_finite()),
                impact: contrib[i],
            })
            .collect();
        Ok(Explanation {
            score: model.transform(raw_score),
            base_value: contrib[nf],
            raw_score,
            top_features,
        })
    }

    /// The contract's `explain_json` string: `{"score":..,"top_features":[{"feature":..,"value":..,"impact":..}]}`.
    pub fn to_explain_json(&self) -> String {
        serde_json::to_string(&ExplainJson {
            score: self.score,
            top_features: &self.top_features,
        })
        .expect("serialising plain numbers and strings cannot fail")
    }
}

impl TreeShapExplainer {
    /// The contract's `explain_json` of every row of `x`, with `scores[r]` as row `r`'s score:
    /// exactly the string `Explanation::to_explain_json` gives for [`Self::explain`]'s row `r`
    /// with its `score` replaced by `scores[r]` (how the miner attaches its calibrated
    /// probability), without what that path builds and drops: the model's raw prediction per
    /// row, a matrix of every row's contributions, owned feature names.
    ///
    /// Single-output models only ([`ExplainError::Unsupported`] for multiclass);
    /// [`ExplainError::RowCountMismatch`] when `scores` and `x` differ in length.
    pub fn explain_json<T>(
        &self,
        x: ArrayView2<'_, T>,
        scores: &[f64],
        top_k: usize,
    ) -> Result<Vec<String>, ExplainError>
    where
        T: Copy + Into<f64> + Sync,
    {
        single_output(self)?;
        if scores.len() != x.nrows() {
            return Err(ExplainError::RowCountMismatch {
                what: "scores",
                expected: x.nrows(),
                got: scores.len(),
            });
        }
        let nf = self.num_features();
        let names = &self.ensemble().feature_names;
        let mut out = vec![String::new(); x.nrows()];
        self.for_each_block(
            x,
            &mut out,
            1,
            || (Vec::with_capacity(top_k.min(nf)), Vec::new(), vec![0.0; nf]),
            |(idx, buf, row), first, contrib, dst| {
                for (r, (json, contrib)) in
                    dst.iter_mut().zip(contrib.chunks_exact(nf + 1)).enumerate()
                {
                    let contrib = &contrib[..nf];
                    for (d, &v) in row.iter_mut().zip(x.row(first + r)) {
                        *d = v.into();
                    }
                    top_k_into(contrib, top_k, idx);
                    buf.clear();
                    serde_json::to_writer(
                        &mut *buf,
                        &RowExplainJson {
                            score: scores[first + r],
                            top_features: TopFeatures {
                                names,
                                row,
                                contrib,
                                idx,
                            },
                        },
                    )
                    .expect("serialising plain numbers and strings cannot fail");
                    *json = String::from_utf8(buf.clone()).expect("serde_json writes UTF-8");
                }
            },
        )?;
        Ok(out)
    }

    /// Explains every row of `x`: SHAP values, then score and the `top_k` features per row.
    ///
    /// Single-output models only: a multiclass model is refused ([`ExplainError::Unsupported`]).
    pub fn explain<T>(
        &self,
        x: ArrayView2<'_, T>,
        top_k: usize,
    ) -> Result<Vec<Explanation>, ExplainError>
    where
        T: Copy + Into<f64> + Sync,
    {
        single_output(self)?;
        let contrib = self.contributions(x)?;
        (0..x.nrows())
            .into_par_iter()
            .map(|r| {
                let row: Vec<f64> = x.row(r).iter().map(|&v| v.into()).collect();
                let c = contrib.row(r);
                Explanation::from_contributions(
                    self,
                    &row,
                    c.as_slice().expect("contribution rows are contiguous"),
                    top_k,
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{random_ensemble, random_rows, EnsembleShape};

    #[test]
    fn top_k_orders_by_magnitude_then_index_and_skips_zeros() {
        let c = [0.5, -2.0, 0.0, 2.0, -0.5, 1.0];
        assert_eq!(top_k_indices(&c, 4), vec![1, 3, 5, 0]);
        assert_eq!(top_k_indices(&c, 10), vec![1, 3, 5, 0, 4]);
        assert!(top_k_indices(&[0.0, 0.0], 5).is_empty());
    }

    #[test]
    fn explain_json_has_contract_shape_and_null_for_missing_values() {
        let e = Explanation {
            score: 0.87,
            base_value: -1.0,
            raw_score: 1.9,
            top_features: vec![
                FeatureImpact {
                    feature: "volume_usd".into(),
                    value: Some(1.23),
                    impact: 0.41,
                },
                FeatureImpact {
                    feature: "degree".into(),
                    value: None,
                    impact: -0.2,
                },
            ],
        };
        assert_eq!(
            e.to_explain_json(),
            r#"{"score":0.87,"top_features":[{"feature":"volume_usd","value":1.23,"impact":0.41},{"feature":"degree","value":null,"impact":-0.2}]}"#
        );
    }

    #[test]
    fn explanations_sum_to_raw_score_and_are_deterministic() {
        let shape = EnsembleShape {
            trees: 20,
            leaves: 15,
            features: 12,
            used_features: 12,
            root_count: 1000,
        };
        let model = random_ensemble(21, shape);
        let explainer = TreeShapExplainer::new(&model).unwrap();
        let rows = random_rows(22, 20, shape.features, 0.2);
        let all = explainer.explain(rows.view(), shape.features).unwrap();
        let again = explainer.explain(rows.view(), DEFAULT_TOP_K).unwrap();
        for ((r, e), short) in all.iter().enumerate().zip(&again) {
            let row = rows.row(r).to_vec();
            assert_eq!(e.raw_score, model.predict_raw_reference(&row));
            assert_eq!(e.score, model.transform(e.raw_score));
            let total: f64 = e.top_features.iter().map(|f| f.impact).sum::<f64>() + e.base_value;
            assert!((total - e.raw_score).abs() < 1e-9);
            assert_eq!(
                short.top_features[..],
                e.top_features[..short.top_features.len()]
            );
            assert!(short.top_features.len() <= DEFAULT_TOP_K);
            for f in &e.top_features {
                let i: usize = f.feature[1..].parse().unwrap();
                assert_eq!(f.value.is_none(), row[i].is_nan());
            }
            let json: serde_json::Value = serde_json::from_str(&short.to_explain_json()).unwrap();
            assert_eq!(json.as_object().unwrap().len(), 2);
        }
    }
}
