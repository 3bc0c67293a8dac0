//! Tier 1: integrity. Everything here must pass or the submission is rejected outright: the three
//! Parquet files read with the contract's columns, the score rows (see [`score_checks`]), the rows of
//! rankings and cluster scores and every `explain_json` (see [`super::rows`]), and the receipt (hash,
//! signature, not the development key, image digest, the template's input hash of `alerts.parquet`
//! and our batch hash of META.json, model version of every row).

use std::collections::BTreeSet;
use std::path::Path;

use aml_core::submission::{
    check_image_digest, files, read_cluster_scores, read_rankings, read_scores, verify_receipt,
};
use aml_core::submission::{Receipt, ScoreRow};
use aml_core::Batch;
use serde::Serialize;

use super::{rows, Check};

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

/// Hex public key of the public development key ([`crate::pipeline::development_key`]).
fn development_pubkey() -> String {
    hex::encode(
        crate::pipeline::development_key()
            .verifying_key()
            .to_bytes(),
    )
}

/// Checks on the receipt: readable, hash of `scores.parquet`, signature, not signed with the public
/// development key, and input hash when the batch directory is known. Returns the receipt when it could
/// be read.
pub fn receipt_checks(
    submission_dir: &Path,
    batch_dir: Option<&Path>,
) -> (Vec<Check>, Option<Receipt>) {
    let path = submission_dir.join(files::RECEIPT);
    let receipt = match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| Receipt::from_json_bytes(&bytes))
    {
        Ok(receipt) => receipt,
        Err(reason) => {
            return (
                vec![Check::new(
                    "receipt",
                    false,
                    format!("{}: {reason}", path.display()),
                )],
                None,
            )
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
    let development = development_pubkey();
    checks.push(if receipt.miner_pubkey.eq_ignore_ascii_case(&development) {
        Check::new(
            "not_development_key",
            false,
            format!(
                "signed with the public development key {development}: anyone can sign as it; \
                 sign with --key FILE or AML_MINER_KEY"
            ),
        )
    } else {
        Check::new(
            "not_development_key",
            true,
            "not the public development key",
        )
    });
    checks.push(match check_image_digest(&receipt.image_digest) {
        Ok(()) => Check::new("image_digest", true, receipt.image_digest.clone()),
        Err(e) => Check::new("image_digest", false, e),
    });
    if let Some(dir) = batch_dir {
        checks.push(hash_check(
            "input_hash",
            Some(&receipt.input_hash),
            aml_core::io::input_hash(dir),
            &dir.join(aml_core::batch::files::ALERTS),
        ));
        checks.push(hash_check(
            "batch_hash",
            receipt.batch_hash(),
            aml_core::io::batch_hash(dir),
            &dir.join(aml_core::batch::files::META),
        ));
    }
    (checks, Some(receipt))
}

/// The receipt's hash of a batch file (`claimed`, `None` when the key is absent) against the file's
/// sha256 (`actual`).
fn hash_check(
    name: &str,
    claimed: Option<&str>,
    actual: std::io::Result<String>,
    file: &Path,
) -> Check {
    match (claimed, actual) {
        (Some(claimed), Ok(hash)) => Check::new(
            name,
            hash.eq_ignore_ascii_case(claimed),
            format!("receipt {claimed} vs sha256({}) {hash}", file.display()),
        ),
        (None, _) => Check::new(name, false, format!("the receipt has no `{name}`")),
        (_, Err(e)) => Check::new(name, false, format!("{}: {e}", file.display())),
    }
}

/// Schema check of a submission file: passes when it could be read with the contract's columns and types.
fn readable<T>(
    name: &str,
    rows: &Result<Vec<T>, aml_core::error::SubmissionError>,
    what: &str,
) -> Check {
    match rows {
        Ok(rows) => Check::new(name, true, format!("{} {what} rows", rows.len())),
        Err(e) => Check::new(name, false, e.to_string()),
    }
}

/// Runs tier 1 and returns the report plus the score rows when `scores.parquet` could be read.
pub fn check(
    batch: &Batch,
    batch_dir: Option<&Path>,
    submission_dir: &Path,
) -> (Tier1Report, Option<Vec<ScoreRow>>) {
    let mut checks = Vec::new();
    let scores = read_scores(&submission_dir.join(files::SCORES));
    checks.push(readable("scores_schema", &scores, "score"));
    let scores = scores.ok();
    let rankings = read_rankings(&submission_dir.join(files::RANKINGS));
    checks.push(readable("rankings_schema", &rankings, "ranking"));
    let clusters = read_cluster_scores(&submission_dir.join(files::CLUSTER_SCORES));
    checks.push(readable(
        "cluster_scores_schema",
        &clusters,
        "cluster score",
    ));
    if let Some(rows) = &scores {
        checks.extend(score_checks(batch, rows));
        checks.push(rows::explain_json(rows));
    }
    if let Ok(rows) = &rankings {
        let coverage = rows::id_coverage("rankings_alerts", rows, &batch.alerts.alert_id);
        checks.extend([coverage, rows::ranking_order(rows)]);
    }
    if let Ok(rows) = &clusters {
        let coverage = rows::id_coverage("cluster_ids", rows, &batch.clusters.cluster_id);
        checks.extend([coverage, rows::cluster_score_range(rows)]);
    }
    let (receipt_checks, receipt) = receipt_checks(submission_dir, batch_dir);
    checks.extend(receipt_checks);
    if let Some(receipt) = &receipt {
        checks.push(rows::model_version(
            scores.as_deref().unwrap_or_default(),
            clusters.as_deref().unwrap_or_default(),
            &receipt.model_version,
        ));
    }
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
