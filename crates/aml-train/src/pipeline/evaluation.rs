//! The metrics table: every model and baseline evaluated on the validation day.

use serde::{Deserialize, Serialize};

use crate::metric::{
    average_precision, brier, expected_calibration_error, log_loss, ndcg_at_k, precision_at_k,
    roc_auc,
};

/// Metrics of one model on the validation day; `None` = not defined (e.g. Brier of a ranking score).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// Model name.
    pub model: String,
    /// Rows evaluated.
    pub n: usize,
    /// ROC AUC.
    pub auc: Option<f64>,
    /// Area under the precision-recall curve (average precision).
    pub auc_pr: Option<f64>,
    /// Brier score (probabilities only).
    pub brier: Option<f64>,
    /// Log loss (probabilities only).
    pub log_loss: Option<f64>,
    /// NDCG@100 with graded relevance.
    #[serde(default)]
    pub ndcg_100: Option<f64>,
    /// NDCG@500 with graded relevance.
    pub ndcg_500: Option<f64>,
    /// Precision among the 100 highest scores.
    pub precision_100: Option<f64>,
    /// Expected calibration error, 10 bins (probabilities only).
    pub ece: Option<f64>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

impl MetricsRow {
    /// Evaluates `scores` against binary `labels` and graded `relevance`; `probabilities` says
    /// whether Brier, log loss and ECE are meaningful for these scores.
    pub fn evaluate(
        model: &str,
        labels: &[f64],
        relevance: &[f64],
        scores: &[f64],
        probabilities: bool,
    ) -> MetricsRow {
        let prob = |v: f64| if probabilities { finite(v) } else { None };
        MetricsRow {
            model: model.to_string(),
            n: labels.len(),
            auc: finite(roc_auc(labels, scores)),
            auc_pr: finite(average_precision(labels, scores)),
            brier: prob(brier(labels, scores)),
            log_loss: prob(log_loss(labels, scores)),
            ndcg_100: finite(ndcg_at_k(relevance, scores, 100)),
            ndcg_500: finite(ndcg_at_k(relevance, scores, 500)),
            precision_100: finite(precision_at_k(labels, scores, 100)),
            ece: prob(expected_calibration_error(labels, scores, 10)),
        }
    }

    /// Metric values by name (for `metadata.json`).
    pub fn as_map(&self) -> std::collections::BTreeMap<String, Option<f64>> {
        [
            ("auc", self.auc),
            ("auc_pr", self.auc_pr),
            ("brier", self.brier),
            ("log_loss", self.log_loss),
            ("ndcg_100", self.ndcg_100),
            ("ndcg_500", self.ndcg_500),
            ("precision_100", self.precision_100),
            ("ece", self.ece),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// All rows, in insertion order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MetricsTable {
    /// The rows.
    pub rows: Vec<MetricsRow>,
}

impl MetricsTable {
    /// The row of `model`, if present.
    pub fn row(&self, model: &str) -> Option<&MetricsRow> {
        self.rows.iter().find(|r| r.model == model)
    }

    /// A Markdown table (`-` for undefined values).
    pub fn to_markdown(&self) -> String {
        let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        let mut s = String::from(
            "| model | n | AUC | AUC-PR | Brier | log loss | NDCG@100 | NDCG@500 | P@100 | ECE |\n|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.model,
                r.n,
                cell(r.auc),
                cell(r.auc_pr),
                cell(r.brier),
                cell(r.log_loss),
                cell(r.ndcg_100),
                cell(r.ndcg_500),
                cell(r.precision_100),
                cell(r.ece)
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_scores_have_no_probability_metrics() {
        let labels = [0.0, 1.0, 0.0, 1.0];
        let rel = [0.0, 3.0, 1.0, 2.0];
        let row = MetricsRow::evaluate("r", &labels, &rel, &[-1.0, 2.0, 0.5, 1.0], false);
        assert_eq!(row.auc, Some(1.0));
        assert!(row.brier.is_none() && row.ece.is_none());
        let table = MetricsTable { rows: vec![row] };
        assert!(table.to_markdown().contains("| r | 4 | 1.0000 |"));
    }
}
