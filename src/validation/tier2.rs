//! Tier 2: behaviour. Pattern traps are alerts the data owner planted with a known answer: a trap with
//! `expected_result` 1 should land in the top 10% of scores, one with 0 in the bottom half.

use std::collections::BTreeMap;

use aml_core::meta::Meta;
use aml_core::submission::ScoreRow;
use serde::Serialize;

use super::Check;

/// Share of the scores forming the "top" that an `expected_result = 1` trap must reach.
pub const TOP_SHARE: f64 = 0.10;
/// Share of the scores forming the "bottom" that an `expected_result = 0` trap must stay in.
pub const BOTTOM_SHARE: f64 = 0.50;
/// A trap passes when strictly more than this share of its alerts comply.
pub const TRAP_COMPLIANCE: f64 = 0.70;
/// Tier 2 passes when at least this share of the traps pass.
pub const TRAPS_PASS_SHARE: f64 = 0.80;

/// One trap's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrapResult {
    /// Trap id from META.json.
    pub trap_id: String,
    /// 1 = should be in the top 10%, 0 = should be in the bottom half.
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

/// Position of each score among all scores, answering "is it in the top / bottom share" with ties in the
/// alert's favour: an alert is in the top `share` when fewer than `ceil(share * n)` scores are strictly
/// higher, and in the bottom `share` when fewer than `ceil(share * n)` scores are strictly lower.
struct ScoreOrder {
    sorted: Vec<f64>,
}

impl ScoreOrder {
    fn new(scores: &[ScoreRow]) -> ScoreOrder {
        let mut sorted: Vec<f64> = scores
            .iter()
            .map(|r| r.score)
            .filter(|s| !s.is_nan())
            .collect();
        sorted.sort_by(f64::total_cmp);
        ScoreOrder { sorted }
    }

    fn quota(&self, share: f64) -> usize {
        (share * self.sorted.len() as f64).ceil() as usize
    }

    fn in_top(&self, score: f64, share: f64) -> bool {
        let higher = self.sorted.len() - self.sorted.partition_point(|s| *s <= score);
        higher < self.quota(share)
    }

    fn in_bottom(&self, score: f64, share: f64) -> bool {
        let lower = self.sorted.partition_point(|s| *s < score);
        lower < self.quota(share)
    }
}

/// Evaluates every trap of `meta` against `scores`.
pub fn traps(meta: &Meta, scores: &[ScoreRow]) -> Vec<TrapResult> {
    let by_id: BTreeMap<&str, f64> = scores
        .iter()
        .filter(|r| !r.score.is_nan())
        .map(|r| (r.alert_id.as_str(), r.score))
        .collect();
    let order = ScoreOrder::new(scores);
    meta.pattern_traps
        .iter()
        .map(|trap| {
            let n_comply = trap
                .alert_ids
                .iter()
                .filter(|id| match by_id.get(id.as_str()) {
                    Some(&score) if trap.expected_result == 1 => order.in_top(score, TOP_SHARE),
                    Some(&score) => order.in_bottom(score, BOTTOM_SHARE),
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

    #[test]
    fn top_and_bottom_follow_ranks() {
        // 20 alerts with scores 0.00 .. 0.95: top 10% = a19, a18; bottom half = a00..a09.
        let scores = rows(&(0..20).map(|i| i as f64 / 20.0).collect::<Vec<_>>());
        let trap = |id: &str, ids: &[&str], expected| PatternTrap {
            trap_id: id.into(),
            alert_ids: ids.iter().map(|s| s.to_string()).collect(),
            expected_result: expected,
        };
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
