//! Tier 2: behaviour. Pattern traps are alerts the data owner planted with a known answer: a trap with
//! `expected_result` 1 should score strictly above the 90th percentile of all scores, one with 0
//! strictly below the median, the percentiles computed as numpy's default (linear) `percentile`,
//! as the validator computes them. Strict comparisons make ties count against the alert, so the
//! result does not depend on how tied scores would be ordered.

use std::collections::BTreeMap;

use aml_core::meta::Meta;
use aml_core::submission::ScoreRow;
use serde::Serialize;

use super::Check;

/// Percentile of all scores an `expected_result = 1` trap's alerts must score strictly above.
pub const TOP_PERCENTILE: f64 = 90.0;
/// Percentile (the median) an `expected_result = 0` trap's alerts must score strictly below.
pub const BOTTOM_PERCENTILE: f64 = 50.0;
/// A trap passes when strictly more than this share of its alerts comply.
pub const TRAP_COMPLIANCE: f64 = 0.70;
/// Tier 2 passes when at least this share of the traps pass.
pub const TRAPS_PASS_SHARE: f64 = 0.80;

/// One trap's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrapResult {
    /// Trap id from META.json.
    pub trap_id: String,
    /// 1 = should score above the 90th percentile, 0 = below the median.
    pub expected_result: u8,
    /// Alerts in the trap.
    pub n_alerts: usize,
    /// Alerts that comply (an alert without a score never complies).
    pub n_comply: usize,
    /// `n_comply / n_alerts` (0 for an empty trap).
    pub compliance: f64,
    /// `compliance > 0.7`.
    pub passed: bool,
}

/// Tier 2 outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tier2Report {
    /// Per trap, in META.json order.
    pub traps: Vec<TrapResult>,
    /// Share of traps passed (1 when the batch has no trap).
    pub trap_pass_rate: f64,
    /// Determinism re-run, when one was made.
    pub determinism: Option<Check>,
    /// Traps pass at >= 80% and the determinism check (if any) passed.
    pub passed: bool,
    /// `trap_pass_rate`, or 0 when the determinism check failed.
    pub score: f64,
}

/// numpy's default `percentile` (method "linear") of the non-NaN scores: the value at virtual index
/// `(n - 1) * q / 100` of the sorted scores, interpolated between its neighbours the way numpy does
/// (from the nearer end, so a percentile between two equal scores is exactly that score). `None`
/// when there is no score.
pub fn percentile(scores: &[f64], q: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = scores.iter().copied().filter(|s| !s.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    let last = sorted.len().checked_sub(1)?;
    let index = last as f64 * (q / 100.0);
    let below = (index.floor() as usize).min(last);
    let above = (below + 1).min(last);
    let (a, b, t) = (sorted[below], sorted[above], index - below as f64);
    let diff = b - a;
    Some(if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    })
}

/// Evaluates every trap of `meta` against `scores`.
pub fn traps(meta: &Meta, scores: &[ScoreRow]) -> Vec<TrapResult> {
    let by_id: BTreeMap<&str, f64> = scores
        .iter()
        .filter(|r| !r.score.is_nan())
        .map(|r| (r.alert_id.as_str(), r.score))
        .collect();
    let all: Vec<f64> = scores.iter().map(|r| r.score).collect();
    let top = percentile(&all, TOP_PERCENTILE).unwrap_or(f64::INFINITY);
    let median = percentile(&all, BOTTOM_PERCENTILE).unwrap_or(f64::NEG_INFINITY);
    meta.pattern_traps
        .iter()
        .map(|trap| {
            let n_comply = trap
                .alert_ids
                .iter()
                .filter(|id| match by_id.get(id.as_str()) {
                    Some(&score) if trap.expected_result == 1 => score > top,
                    Some(&score) => score < median,
                    None => false,
                })
                .count();
            let n_alerts = trap.alert_ids.len();
            let compliance = if n_alerts == 0 {
                0.0
            } else {
                n_comply as f64 / n_alerts as f64
            };
            TrapResult {
                trap_id: trap.trap_id.clone(),
                expected_result: trap.expected_result,
                n_alerts,
                n_comply,
                compliance,
                passed: compliance > TRAP_COMPLIANCE,
            }
        })
        .collect()
}

/// Compares the submitted scores with a fresh scoring of the same batch: every alert id, score (bit for
/// bit), model version and explanation must be identical. Latency is not compared: it is a measurement.
pub fn determinism(submitted: &[ScoreRow], rerun: &[ScoreRow]) -> Check {
    let key = |rows: &[ScoreRow]| -> BTreeMap<String, (u64, String, String)> {
        rows.iter()
            .map(|r| {
                (
                    r.alert_id.clone(),
                    (
                        r.score.to_bits(),
                        r.model_version.clone(),
                        r.explain_json.clone(),
                    ),
                )
            })
            .collect()
    };
    let (a, b) = (key(submitted), key(rerun));
    let differing: Vec<&String> = a
        .iter()
        .filter(|(id, value)| b.get(*id) != Some(*value))
        .map(|(id, _)| id)
        .chain(b.keys().filter(|id| !a.contains_key(*id)))
        .collect();
    Check::new(
        "determinism",
        differing.is_empty() && submitted.len() == rerun.len(),
        if differing.is_empty() {
            format!("{} alerts re-scored identically", rerun.len())
        } else {
            format!(
                "{} alerts differ on re-run (first: {})",
                differing.len(),
                differing[0]
            )
        },
    )
}

/// Runs tier 2.
pub fn check(meta: &Meta, scores: &[ScoreRow], determinism: Option<Check>) -> Tier2Report {
    let traps = traps(meta, scores);
    let trap_pass_rate = if traps.is_empty() {
        1.0
    } else {
        traps.iter().filter(|t| t.passed).count() as f64 / traps.len() as f64
    };
    let deterministic = determinism.as_ref().is_none_or(|c| c.passed);
    Tier2Report {
        passed: trap_pass_rate >= TRAPS_PASS_SHARE && deterministic,
        score: if deterministic { trap_pass_rate } else { 0.0 },
        traps,
        trap_pass_rate,
        determinism,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aml_core::meta::PatternTrap;

    fn rows(scores: &[f64]) -> Vec<ScoreRow> {
        scores
            .iter()
            .enumerate()
            .map(|(i, &score)| ScoreRow {
                alert_id: format!("a{i:02}"),
                score,
                model_version: "m".into(),
                latency_ms: 0.0,
                explain_json: "{}".into(),
            })
            .collect()
    }

    fn trap(id: &str, ids: &[&str], expected_result: u8) -> PatternTrap {
        PatternTrap {
            trap_id: id.into(),
            alert_ids: ids.iter().map(|s| s.to_string()).collect(),
            expected_result,
        }
    }

    #[test]
    fn top_and_bottom_follow_ranks() {
        // 20 alerts with scores 0.00 .. 0.95: 90th percentile 0.855 (a18, a19 above), median 0.475
        // (a00..a09 below).
        let scores = rows(&(0..20).map(|i| i as f64 / 20.0).collect::<Vec<_>>());
        let meta = Meta {
            pattern_traps: vec![
                trap("hi", &["a19", "a18"], 1),
                trap("hi_miss", &["a19", "a17"], 1),
                trap("lo", &["a00", "a09", "a05", "a01"], 0),
                trap("lo_miss", &["a00", "a10", "a11", "a12"], 0),
                trap("unknown", &["zz"], 1),
            ],
            ..Meta::default()
        };
        let result = traps(&meta, &scores);
        let passed: Vec<bool> = result.iter().map(|t| t.passed).collect();
        assert_eq!(passed, vec![true, false, true, false, false]);
        assert_eq!(result[1].n_comply, 1);
        assert_eq!(result[3].n_comply, 1);
        let report = check(&meta, &scores, None);
        assert!((report.trap_pass_rate - 0.4).abs() < 1e-12);
        assert!(!report.passed);
    }

    #[test]
    fn percentiles_are_numpy_linear() {
        // Values from numpy.percentile(x, q) with the default method.
        let x = [0.3, 0.1, 0.4, 0.2];
        assert_eq!(percentile(&x, 50.0), Some(0.25));
        assert_eq!(percentile(&x, 90.0), Some(0.37000000000000005));
        assert_eq!(percentile(&[0.5], 90.0), Some(0.5));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[0.2, 0.2, 0.2, 0.9], 50.0), Some(0.2));
    }

    #[test]
    fn ties_count_against_the_trap() {
        // 11 scores of 0 and 9 of 1: the median is 0, so a benign trap scored 0 is not below it,
        // and the 90th percentile is 1, so an illicit trap scored 1 is not above it. Ranking the
        // tied alerts in the trap's favour would have passed both.
        let mut values = vec![0.0; 11];
        values.extend([1.0; 9]);
        let scores = rows(&values);
        let meta = Meta {
            pattern_traps: vec![
                trap("benign", &["a00", "a01", "a02"], 0),
                trap("illicit", &["a18", "a19"], 1),
            ],
            ..Meta::default()
        };
        let result = traps(&meta, &scores);
        assert_eq!(result[0].n_comply, 0);
        assert_eq!(result[1].n_comply, 0);
        // Untie them and both pass.
        let mut untied = values.clone();
        untied[..3].fill(-0.1);
        untied[18..].fill(1.1);
        let result = traps(&meta, &rows(&untied));
        assert!(result.iter().all(|t| t.passed));
    }

    #[test]
    fn determinism_detects_one_changed_bit() {
        let a = rows(&[0.1, 0.2, 0.3]);
        let mut b = a.clone();
        assert!(determinism(&a, &b).passed);
        b[1].score = f64::from_bits(b[1].score.to_bits() + 1);
        let check = determinism(&a, &b);
        assert!(!check.passed);
        assert!(check.detail.contains("a01"));
    }
}
