//! Self-validation of a submission, the way the subnet's validator judges it, so a miner can check a
//! submission before sending it.
//!
//! - [`tier1`]: integrity (files, columns and types, one finite score in `[0, 1]` per alert, no unknown or
//!   duplicate alert, scores not constant, rankings and cluster scores covering the batch once with ranks
//!   that follow the ranking scores, `explain_json` shape, model versions, receipt hash and signature,
//!   not the public development key); its row checks live in [`rows`].
//! - [`tier2`]: behaviour (pattern traps from META.json, optional determinism re-run).
//! - [`tier3`]: ground truth (AUC, AUC-PR, Brier, log loss, NDCG@500 the template's way with binary
//!   relevance plus our graded NDCG@500, precision@K, tau) when labels exist.
//! - [`ensemble`]: what a validator does with many miners' scores.
//!
//! Every check produces a report entry instead of an early error, so one run lists every problem.

pub mod ensemble;
pub mod labels;
pub mod rows;
pub mod tier1;
pub mod tier2;
pub mod tier3;

use std::path::Path;

use aml_core::submission::ScoreRow;
use aml_core::Batch;
use serde::Serialize;

pub use tier1::Tier1Report;
pub use tier2::{Tier2Report, TrapResult};
pub use tier3::Tier3Report;

/// Weight of tier 1 in the seeds' immediate score.
pub const TIER1_WEIGHT: f64 = 0.2;
/// Weight of tier 2 in the seeds' immediate score.
pub const TIER2_WEIGHT: f64 = 0.3;

/// One named check and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Short machine-readable name, e.g. `cardinality`.
    pub name: String,
    /// Whether the check passed.
    pub passed: bool,
    /// What was found (always filled, also on success, so a report explains itself).
    pub detail: String,
}

impl Check {
    /// A check named `name` with outcome `passed` and explanation `detail`.
    pub fn new(name: &str, passed: bool, detail: impl Into<String>) -> Check {
        Check {
            name: name.to_string(),
            passed,
            detail: detail.into(),
        }
    }
}

/// The full self-validation report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationReport {
    /// Batch id from META.json.
    pub batch_id: String,
    /// Processing date from META.json.
    pub processing_date: String,
    /// Integrity.
    pub tier1: Tier1Report,
    /// Behaviour.
    pub tier2: Tier2Report,
    /// Ground truth, when labels were available.
    pub tier3: Option<Tier3Report>,
    /// Seeds' immediate score: `0.2 * tier1.score + 0.3 * tier2.score`.
    pub immediate_score: f64,
}

impl ValidationReport {
    /// True when every pass/fail tier passed (tier 1 integrity and tier 2 behaviour; tier 3 is a
    /// measurement without a verdict).
    pub fn passed(&self) -> bool {
        self.tier1.passed && self.tier2.passed
    }

    /// Human-readable multi-line report.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "submission validation for batch {} ({})\n",
            self.batch_id, self.processing_date
        );
        let verdict = |passed: bool| if passed { "PASS" } else { "FAIL" };
        out.push_str(&format!(
            "Tier 1 (integrity): {}  score {:.3}\n",
            verdict(self.tier1.passed),
            self.tier1.score
        ));
        for check in &self.tier1.checks {
            out.push_str(&format!(
                "  [{}] {}: {}\n",
                verdict(check.passed),
                check.name,
                check.detail
            ));
        }
        out.push_str(&format!(
            "Tier 2 (behaviour): {}  score {:.3}  traps passed {}/{}\n",
            verdict(self.tier2.passed),
            self.tier2.score,
            self.tier2.traps.iter().filter(|t| t.passed).count(),
            self.tier2.traps.len()
        ));
        for trap in &self.tier2.traps {
            out.push_str(&format!(
                "  [{}] trap {} (expected {}): {}/{} alerts comply ({:.1}%)\n",
                verdict(trap.passed),
                trap.trap_id,
                trap.expected_result,
                trap.n_comply,
                trap.n_alerts,
                100.0 * trap.compliance
            ));
        }
        if let Some(check) = &self.tier2.determinism {
            out.push_str(&format!(
                "  [{}] {}: {}\n",
                verdict(check.passed),
                check.name,
                check.detail
            ));
        }
        match &self.tier3 {
            Some(t3) => {
                out.push_str(&format!(
                    "Tier 3 (ground truth, {} labelled alerts, {} positive):\n",
                    t3.n_labelled, t3.n_positive
                ));
                out.push_str(&format!(
                    "  AUC {:.4}  AUC-PR {:.4}  Brier {:.4}  log loss {:.4}  NDCG@500 {:.4} \
                     (graded {:.4})\n",
                    t3.auc, t3.auc_pr, t3.brier, t3.log_loss, t3.ndcg_at_500, t3.graded_ndcg_at_500
                ));
                for p in &t3.precision_at_k {
                    out.push_str(&format!("  precision@{} {:.4}\n", p.k, p.precision));
                }
                out.push_str(&format!("  tau score {:.4}\n", t3.tau_score));
            }
            None => out.push_str("Tier 3: no labels\n"),
        }
        out.push_str(&format!("immediate score {:.4}\n", self.immediate_score));
        out
    }
}

/// Runs every tier on the submission in `submission_dir` for `batch` (loaded from `batch_dir`, which is
/// needed for the receipt's input hash). `labels` overrides the batch's own labels for tier 3;
/// `rerun` is a fresh scoring of the same batch for the determinism check (see [`tier2::determinism`]).
pub fn validate_submission(
    batch: &Batch,
    batch_dir: Option<&Path>,
    submission_dir: &Path,
    labels: Option<&aml_core::tables::AddressLabels>,
    rerun: Option<&[ScoreRow]>,
) -> ValidationReport {
    let (tier1, scores) = tier1::check(batch, batch_dir, submission_dir);
    let determinism = rerun.map(|rows| tier2::determinism(scores.as_deref().unwrap_or(&[]), rows));
    let tier2 = tier2::check(&batch.meta, scores.as_deref().unwrap_or(&[]), determinism);
    let tier3 = labels
        .or(batch.labels.as_ref())
        .and_then(|labels| tier3::evaluate(batch, labels, scores.as_deref()?));
    ValidationReport {
        batch_id: batch.meta.batch_id.clone(),
        processing_date: batch.meta.processing_date.clone(),
        immediate_score: TIER1_WEIGHT * tier1.score + TIER2_WEIGHT * tier2.score,
        tier1,
        tier2,
        tier3,
    }
}
