//! Pattern traps are the data owner's known answers, and alert evidence rises with truth.

use aml_synth::{write_batch, SynthConfig};
use arrow::datatypes::Float32Type;
use std::collections::BTreeMap;

mod common;
use common::{primitives, strings, traps};

/// One alert as the tests see it.
struct Alert {
    id: String,
    address: String,
    severity: String,
    confidence: f64,
    rule_score: f64,
}

/// A day's alerts, risk level per labelled address, and the META traps (ids, expected result).
struct Day {
    alerts: Vec<Alert>,
    risk: BTreeMap<String, String>,
    traps: Vec<(Vec<String>, u8)>,
}

fn generate(config: &SynthConfig) -> Day {
    let dir = tempfile::tempdir().unwrap();
    write_batch(dir.path(), config, 0).unwrap();
    let alerts_path = dir.path().join("alerts.parquet");
    let ids = strings(&alerts_path, "alert_id");
    let addresses = strings(&alerts_path, "address");
    let severities = strings(&alerts_path, "severity");
    let confidences = primitives::<Float32Type>(&alerts_path, "alert_confidence_score");
    let evidence = strings(&alerts_path, "evidence_json");
    let alerts = ids
        .into_iter()
        .zip(addresses)
        .zip(severities)
        .zip(confidences)
        .zip(evidence)
        .map(|((((id, address), severity), confidence), evidence)| {
            let evidence: serde_json::Value = serde_json::from_str(&evidence).unwrap();
            Alert {
                id,
                address,
                severity,
                confidence: f64::from(confidence),
                rule_score: evidence["rule_score"].as_f64().unwrap(),
            }
        })
        .collect();
    let labels_path = dir.path().join("address_labels.parquet");
    let risk = strings(&labels_path, "address")
        .into_iter()
        .zip(strings(&labels_path, "risk_level"))
        .collect();
    let traps = traps(dir.path());
    Day {
        alerts,
        risk,
        traps,
    }
}

fn labelled_small() -> SynthConfig {
    SynthConfig {
        with_labels: true,
        ..SynthConfig::small()
    }
}

#[test]
fn traps_have_five_alerts_the_right_severity_and_noise_free_labels() {
    let day = generate(&labelled_small());
    let by_id: BTreeMap<&str, &Alert> = day.alerts.iter().map(|a| (a.id.as_str(), a)).collect();
    assert_eq!(day.traps.len(), 6, "three illicit and three benign traps");
    for (ids, expected) in &day.traps {
        assert_eq!(ids.len(), 5, "alerts of a trap expecting {expected}");
        for id in ids {
            let alert = by_id[id.as_str()];
            let risk = day.risk.get(&alert.address).map(String::as_str);
            if *expected == 1 {
                assert!(
                    ["high", "critical"].contains(&alert.severity.as_str()),
                    "illicit trap alert {id} severity {}",
                    alert.severity
                );
                assert!(
                    matches!(risk, Some("high" | "critical")),
                    "illicit trap address {} labelled {risk:?}",
                    alert.address
                );
            } else {
                assert_eq!(alert.severity, "low", "benign trap alert {id}");
                assert_eq!(
                    risk,
                    Some("low"),
                    "benign trap address {} label",
                    alert.address
                );
            }
        }
    }
    assert_eq!(
        day.traps.iter().filter(|t| t.1 == 1).count(),
        3,
        "illicit traps"
    );
}

#[test]
fn benign_trap_evidence_carries_no_value_of_its_own() {
    let day = generate(&labelled_small());
    let trap_ids: Vec<&String> = day
        .traps
        .iter()
        .filter(|t| t.1 == 0)
        .flat_map(|t| &t.0)
        .collect();
    let (trap, other): (Vec<&Alert>, Vec<&Alert>) =
        day.alerts.iter().partition(|a| trap_ids.contains(&&a.id));
    assert_eq!(trap.len(), 15);
    let mut trap_scores: Vec<f64> = trap.iter().map(|a| a.rule_score).collect();
    trap_scores.sort_by(f64::total_cmp);
    trap_scores.dedup();
    assert!(
        trap_scores.len() > 10,
        "benign trap rule scores should vary like any other: {trap_scores:?}"
    );
    // Benign traps are ordinary registry addresses, whose anomaly rule scores lower than the
    // false positives selected for their high rule scores, so their evidence sits in the lower
    // part of the day's range; a margin of about one evidence noise deviation (0.8) covers the
    // tail of 15 draws on a 500-alert day while still refusing any planted out-of-range value.
    let low = other.iter().map(|a| a.rule_score).fold(f64::MAX, f64::min) - 1.0;
    let high = other.iter().map(|a| a.rule_score).fold(f64::MIN, f64::max);
    assert!(
        trap_scores.iter().all(|s| (low..=high).contains(s)),
        "benign trap rule scores {trap_scores:?} outside the other alerts' range {low}..{high}"
    );
}

/// Illicit share of labelled alerts in each quarter of `key` (lowest first).
fn illicit_share_by_quarter(day: &Day, key: impl Fn(&Alert) -> f64) -> Vec<f64> {
    let mut labelled: Vec<(f64, bool)> = day
        .alerts
        .iter()
        .filter_map(|a| {
            let risk = day.risk.get(&a.address)?;
            Some((key(a), risk == "high" || risk == "critical"))
        })
        .collect();
    labelled.sort_by(|a, b| a.0.total_cmp(&b.0));
    labelled
        .chunks(labelled.len().div_ceil(4))
        .map(|c| c.iter().filter(|x| x.1).count() as f64 / c.len() as f64)
        .collect()
}

#[test]
fn confidence_and_rule_score_rise_with_truth() {
    let day = generate(&SynthConfig {
        n_alerts: 1500,
        n_addresses: 15_000,
        n_flows: 60_000,
        ..labelled_small()
    });
    for (name, share) in [
        (
            "confidence",
            illicit_share_by_quarter(&day, |a| a.confidence),
        ),
        (
            "rule_score",
            illicit_share_by_quarter(&day, |a| a.rule_score),
        ),
    ] {
        assert!(
            share.windows(2).all(|w| w[0] <= w[1]),
            "illicit share by {name} quarter should not fall: {share:?}"
        );
        assert!(
            share[3] > 2.0 * share[0],
            "top {name} quarter should be clearly more illicit: {share:?}"
        );
    }
}
