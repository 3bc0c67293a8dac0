//! History batches -> per-day feature matrices with labels by the contract's rule.
//!
//! Label rule (SOT_SCHEMA.md): an alert's address with risk level high or critical is illicit
//! (1), low or medium is not (0), an address without a label leaves the alert *unlabelled*: it
//! is left out of training and evaluation, never counted as 0. Ranking relevance is the graded
//! risk level (critical 3, high 2, medium 1, low 0). A cluster is illicit when at least one of
//! its labelled member alerts is, not illicit when it has labelled members and none is, and
//! unlabelled otherwise.

use std::path::{Path, PathBuf};

use aml_core::batch::Batch;
use aml_features::{FeatureMatrix, FeatureSpec, LabelMemory};
use ndarray::{Array2, Axis};

use super::PipelineError;

/// One history day, featurised.
#[derive(Debug, Clone)]
pub struct DayData {
    /// Processing date (`YYYY-MM-DD`).
    pub date: String,
    /// The batch (kept for the cluster matrix, which needs alert scores).
    pub batch: Batch,
    /// Alert feature matrix (all alerts, rows sorted by alert_id).
    pub matrix: FeatureMatrix,
    /// Contract label per matrix row (`None` = unlabelled).
    pub labels: Vec<Option<u8>>,
    /// Graded relevance per matrix row (`None` = unlabelled).
    pub relevance: Vec<Option<u8>>,
}

impl DayData {
    /// Featurises `batch` with `spec` and attaches labels from its `address_labels`.
    pub fn new(batch: Batch, spec: &FeatureSpec) -> Result<DayData, PipelineError> {
        DayData::with_memory(batch, spec, None)
    }

    /// [`DayData::new`] with `memory` for the `label_memory` feature group. It must hold only
    /// labels from before the batch's day (see [`super::training::day_memories`]).
    pub fn with_memory(
        batch: Batch,
        spec: &FeatureSpec,
        memory: Option<&LabelMemory>,
    ) -> Result<DayData, PipelineError> {
        let matrix = spec.transform_with_memory(&batch, memory)?;
        let (labels, relevance) = alert_labels(&batch, &matrix.row_ids);
        Ok(DayData {
            date: batch.meta.processing_date.clone(),
            batch,
            matrix,
            labels,
            relevance,
        })
    }

    /// Indices of labelled rows, ascending.
    pub fn labelled_rows(&self) -> Vec<usize> {
        (0..self.labels.len())
            .filter(|&i| self.labels[i].is_some())
            .collect()
    }
}

/// Day-grouped fold `fold` of `k`: (days to fit on, held-out days), the held-out ones being the
/// days at positions `i % k == fold`, so no day is split between fitting and evaluation.
pub fn split_days(days: &[DayData], k: usize, fold: usize) -> (Vec<&DayData>, Vec<&DayData>) {
    let (mut fit, mut held) = (Vec::new(), Vec::new());
    for (i, day) in days.iter().enumerate() {
        if i % k == fold {
            held.push(day);
        } else {
            fit.push(day);
        }
    }
    (fit, held)
}

/// Contract labels and graded relevance for the alerts `alert_ids` (any order) of `batch`.
pub fn alert_labels(batch: &Batch, alert_ids: &[String]) -> (Vec<Option<u8>>, Vec<Option<u8>>) {
    let alerts = &batch.alerts;
    let mut labels = Vec::with_capacity(alert_ids.len());
    let mut relevance = Vec::with_capacity(alert_ids.len());
    for id in alert_ids {
        let address = alerts
            .alert_id
            .binary_search(id)
            .ok()
            .map(|i| alerts.address[i].as_str());
        let (l, r) = match (address, &batch.labels) {
            (Some(a), Some(table)) => (table.label_of(a), table.relevance_of(a)),
            _ => (None, None),
        };
        labels.push(l);
        relevance.push(r);
    }
    (labels, relevance)
}

/// Cluster labels for the cluster ids `cluster_ids`, from the per-alert labels of `day`.
pub fn cluster_labels(day: &DayData, cluster_ids: &[String]) -> Vec<Option<u8>> {
    let clusters = &day.batch.clusters;
    cluster_ids
        .iter()
        .map(|id| {
            let c = clusters.cluster_id.binary_search(id).ok()?;
            let mut label = None;
            for alert in &clusters.related_alert_ids[c] {
                if let Ok(row) = day.matrix.row_ids.binary_search(alert) {
                    match day.labels[row] {
                        Some(1) => return Some(1),
                        Some(_) => label = Some(0),
                        None => {}
                    }
                }
            }
            label
        })
        .collect()
}

/// Loads every history batch (integrity checked), requires labels and one batch per processing
/// date, sorts by processing date.
pub fn load_history(dirs: &[PathBuf]) -> Result<Vec<Batch>, PipelineError> {
    let mut batches = Vec::with_capacity(dirs.len());
    for dir in dirs {
        batches.push(load_labelled(dir)?);
    }
    check_distinct_days(&batches, |i| dirs[i].display().to_string())?;
    batches.sort_by(|a, b| {
        (&a.meta.processing_date, &a.meta.batch_id)
            .cmp(&(&b.meta.processing_date, &b.meta.batch_id))
    });
    Ok(batches)
}

/// Refuses two batches with the same processing date; `name(i)` names batch `i` in the error.
pub fn check_distinct_days(
    batches: &[Batch],
    name: impl Fn(usize) -> String,
) -> Result<(), PipelineError> {
    let mut first_of_day: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(batches.len());
    for (i, batch) in batches.iter().enumerate() {
        let date = batch.meta.processing_date.as_str();
        if let Some(&first) = first_of_day.get(date) {
            return Err(PipelineError::DuplicateDay {
                date: date.to_string(),
                first: name(first),
                second: name(i),
            });
        }
        first_of_day.insert(date, i);
    }
    Ok(())
}

fn load_labelled(dir: &Path) -> Result<Batch, PipelineError> {
    let (batch, report) = Batch::load(dir).map_err(|source| PipelineError::Batch {
        path: dir.to_path_buf(),
        source,
    })?;
    for w in &report.warnings {
        tracing::warn!("{}: {w}", dir.display());
    }
    if batch.labels.is_none() {
        return Err(PipelineError::NoLabels {
            path: dir.to_path_buf(),
        });
    }
    Ok(batch)
}

/// Rows `rows` of `values`, stacked in order.
pub fn select_rows(values: &Array2<f32>, rows: &[usize]) -> Array2<f32> {
    values.select(Axis(0), rows)
}

/// Stacks `parts` vertically (all with the same number of columns).
pub fn stack(parts: &[Array2<f32>], n_cols: usize) -> Array2<f32> {
    if parts.is_empty() {
        return Array2::zeros((0, n_cols));
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    ndarray::concatenate(Axis(0), &views).expect("same column count")
}
