//! Tier 1: integrity. Everything here must pass or the submission is rejected outright.

use std::collections::BTreeSet;
use std::path::Path;

use aml_core::submission::{
    files, read_cluster_scores, read_rankings, read_scores, verify_receipt,
};
use aml_core::submission::{Receipt, ScoreRow};
use aml_core::Batch;
use serde::Serialize;

use super::Check;

/// Minimum population standard deviation of the scores: below it the scores are "constant".
pub const MIN_SCORE_STD: f64 = 1e-6;

/// Tier 1 outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tier1Report {
    /// Every check, in a fixed order.
    pub checks: Vec<Check>,
    /// True when every check passed.
    pub passed: bool,
    /// Share of checks passed, in `[0, 1]`.
    pub score: f64,
}

/// Population mean and standard deviation (0 for an empty slice).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn first_few(items: &[&str]) -> String {
    let shown: Vec<&str> = items.iter().take(5).copied().collect();
    let more = items.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// A check that passes when `offenders` is empty, else names the first few of them.
fn offenders_check(name: &str, offenders: &[&str], ok: &str, problem: &str) -> Check {
    if offenders.is_empty() {
        Check::new(name, true, ok)
    } else {
        Check::new(
            name,
            false,
            format!("{} {problem}: {}", offenders.len(), first_few(offenders)),
        )
    }
}

/// Checks on the score rows themselves (cardinality, ids, range, spread, latency).
pub fn score_checks(batch: &Batch, scores: &[ScoreRow]) -> Vec<Check> {
    let mut checks = Vec::new();
    let expected = batch.meta.n_alerts as usize;
    checks.push(Check::new(
        "cardinality",
        scores.len() == expected && scores.len() == batch.alerts.len(),
        format!(
            "{} score rows, META n_alerts {expected}, batch has {} alerts",
            scores.len(),
            batch.alerts.len()
        ),
    ));
    let mut seen = BTreeSet::new();
    let duplicates: Vec<&str> = scores
        .iter()
        .filter(|row| !seen.insert(row.alert_id.as_str()))
        .map(|row| row.alert_id.as_str())
        .collect();
    checks.push(offenders_check(
        "unique_alert_ids",
        &duplicates,
        "every alert id appears once",
        "duplicated",
    ));
    let unknown: Vec<&str> = seen
        .iter()
        .copied()
        .filter(|id| batch.alerts.row_of(id).is_none())
        .collect();
    checks.push(offenders_check(
        "known_alert_ids",
        &unknown,
        "every scored alert is in the batch",
        "unknown",
    ));
    let missing: Vec<&str> = batch
        .alerts
        .alert_id
        .iter()
        .map(String::as_str)
        .filter(|id| !seen.contains(id))
        .collect();
    checks.push(offenders_check(
        "all_alerts_scored",
        &missing,
        "every batch alert has a score",
        "missing",
    ));
    let out_of_range: Vec<&str> = scores
        .iter()
        .filter(|row| !(row.score.is_finite() && (0.0..=1.0).contains(&row.score)))
        .map(|row| row.alert_id.as_str())
        .collect();
    checks.push(offenders_check(
        "score_range",
        &out_of_range,
        "every score is finite and in [0, 1]",
        "scores not finite or outside [0, 1]",
    ));
    let values: Vec<f64> = scores
        .iter()
        .map(|r| r.score)
        .filter(|s| s.is_finite())
        .collect();
    let (mean, std) = mean_std(&values);
    checks.push(Check::new(
        "not_constant",
        std > MIN_SCORE_STD,
        format!("mean {mean:.6}, std {std:.3e} (must exceed {MIN_SCORE_STD:e})"),
    ));
    let bad_latency = scores
        .iter()
        .filter(|row| !(row.latency_ms.is_finite() && row.latency_ms >= 0.0))
        .count();
    checks.push(Check::new(
        "latency",
        bad_latency == 0,
        format!("{bad_latency} rows with a negative or non-finite latency_ms"),
    ));
    checks
}

/// Checks on the receipt: readable, hash of `scores.parquet`, signature, and input hash when the batch
/// directory is known.
pub fn receipt_checks(submission_dir: &Path, batch_dir: Option<&Path>) -> Vec<Check> {
    let path = submission_dir.join(files::RECEIPT);
    let receipt: Receipt = match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
    {
        Ok(receipt) => receipt,
        Err(reason) => {
            return vec![Check::new(
                "receipt",
                false,
                format!("{}: {reason}", path.display()),
            )]
        }
    };
    let mut checks = vec![Check::new(
        "receipt",
        true,
        format!("model_version {}", receipt.model_version),
    )];
    let scores_path = submission_dir.join(files::SCORES);
    checks.push(match aml_core::io::sha256_file(&scores_path) {
        Ok(hash) => Check::new(
            "scores_hash",
            hash.eq_ignore_ascii_case(&receipt.scores_hash),
            format!(
                "receipt {} vs sha256(scores.parquet) {hash}",
                receipt.scores_hash
            ),
        ),
        Err(e) => Check::new(
            "scores_hash",
            false,
            format!("{}: {e}", scores_path.display()),
        ),
    });
    checks.push(match verify_receipt(&receipt) {
        Ok(()) => Check::new(
            "signature",
            true,
            format!("valid for key {}", receipt.miner_pubkey),
        ),
        Err(e) => Check::new("signature", false, e.to_string()),
    });
    if let Some(dir) = batch_dir {
        checks.push(match aml_core::io::input_hash(dir) {
            Ok(hash) => Check::new(
                "input_hash",
                hash.eq_ignore_ascii_case(&receipt.input_hash),
                format!("receipt {} vs batch {hash}", receipt.input_hash),
            ),
            Err(e) => Check::new("input_hash", false, format!("{}: {e}", dir.display())),
        });
    }
    checks
}

/// Runs tier 1 and returns the report plus the score rows when `scores.parquet` could be read.
pub fn check(
    batch: &Batch,
    batch_dir: Option<&Path>,
    submission_dir: &Path,
) -> (Tier1Report, Option<Vec<ScoreRow>>) {
    let mut checks = Vec::new();
    let scores = match read_scores(&submission_dir.join(files::SCORES)) {
        Ok(rows) => {
            checks.push(Check::new(
                "scores_schema",
                true,
                "columns and types as in the contract",
            ));
            Some(rows)
        }
        Err(e) => {
            checks.push(Check::new("scores_schema", false, e.to_string()));
            None
        }
    };
    let rankings = read_rankings(&submission_dir.join(files::RANKINGS));
    checks.push(match &rankings {
        Ok(rows) => Check::new(
            "rankings_schema",
            rows.len() == batch.alerts.len(),
            format!(
                "{} ranking rows for {} alerts",
                rows.len(),
                batch.alerts.len()
            ),
        ),
        Err(e) => Check::new("rankings_schema", false, e.to_string()),
    });
    checks.push(
        match read_cluster_scores(&submission_dir.join(files::CLUSTER_SCORES)) {
            Ok(rows) => Check::new(
                "cluster_scores_schema",
                rows.iter()
                    .all(|r| r.score.is_finite() && (0.0..=1.0).contains(&r.score)),
                format!("{} cluster score rows", rows.len()),
            ),
            Err(e) => Check::new("cluster_scores_schema", false, e.to_string()),
        },
    );
    if let Some(rows) = &scores {
        checks.extend(score_checks(batch, rows));
    }
    checks.extend(receipt_checks(submission_dir, batch_dir));
    let passed = checks.iter().all(|c| c.passed);
    let score = checks.iter().filter(|c| c.passed).count() as f64 / checks.len() as f64;
    (
        Tier1Report {
            checks,
            passed,
            score,
        },
        scores,
    )
}
