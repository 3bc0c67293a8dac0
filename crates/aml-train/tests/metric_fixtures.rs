//! Conformance: aml_train::metric against scikit-learn / LightGBM values
//! committed in `tests/fixtures/metrics/metrics.json`
//! (regenerate with `python3 scripts/fixtures_metrics.py`).

use aml_train::metric;
use serde_json::Value;

const TOLERANCE: f64 = 1e-12;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/metrics/metrics.json"
    );
    let text = std::fs::read_to_string(path).expect("metric fixture is committed");
    serde_json::from_str(&text).expect("metric fixture is valid JSON")
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect()
}

/// Keyed map `{"k": value}` as (k, value) pairs.
fn by_k(value: &Value) -> Vec<(usize, f64)> {
    value
        .as_object()
        .expect("object")
        .iter()
        .map(|(k, v)| (k.parse().expect("integer key"), v.as_f64().expect("number")))
        .collect()
}

/// Tracks the largest |ours - oracle| and fails on any difference over the tolerance.
#[derive(Default)]
struct Comparison {
    max_abs_diff: f64,
    checks: usize,
}

impl Comparison {
    fn check(&mut self, what: &str, ours: f64, oracle: f64) {
        let diff = (ours - oracle).abs();
        assert!(
            diff <= TOLERANCE,
            "{what}: ours {ours} vs oracle {oracle} (|diff| {diff:e})"
        );
        self.max_abs_diff = self.max_abs_diff.max(diff);
        self.checks += 1;
    }
}

#[test]
fn binary_metrics_match_scikit_learn() {
    let fixture = fixture();
    let mut cmp = Comparison::default();
    for case in fixture["binary_cases"].as_array().expect("binary cases") {
        let name = case["name"].as_str().expect("name");
        let labels = floats(&case["labels"]);
        let scores = floats(&case["scores"]);
        let expect = |key: &str| case[key].as_f64().expect("number");
        cmp.check(
            &format!("{name} roc_auc"),
            metric::roc_auc(&labels, &scores),
            expect("roc_auc"),
        );
        cmp.check(
            &format!("{name} average_precision"),
            metric::average_precision(&labels, &scores),
            expect("average_precision"),
        );
        cmp.check(
            &format!("{name} brier"),
            metric::brier(&labels, &scores),
            expect("brier"),
        );
        cmp.check(
            &format!("{name} log_loss"),
            metric::log_loss(&labels, &scores),
            expect("log_loss"),
        );
        for (bins, oracle) in by_k(&case["ece"]) {
            let ours = metric::expected_calibration_error(&labels, &scores, bins);
            cmp.check(&format!("{name} ece/{bins}"), ours, oracle);
        }
        for (k, oracle) in by_k(&case["precision_at_k"]) {
            cmp.check(
                &format!("{name} precision@{k}"),
                metric::precision_at_k(&labels, &scores, k),
                oracle,
            );
        }
    }
    assert!(
        cmp.checks >= 100,
        "fixture too small: {} checks",
        cmp.checks
    );
    println!(
        "binary metrics: {} checks, max |diff| = {:e}",
        cmp.checks, cmp.max_abs_diff
    );
}

#[test]
fn ndcg_matches_lightgbm_and_scikit_learn() {
    let fixture = fixture();
    let mut cmp = Comparison::default();
    for case in fixture["ranking_cases"].as_array().expect("ranking cases") {
        let name = case["name"].as_str().expect("name");
        let relevance = floats(&case["relevance"]);
        let scores = floats(&case["scores"]);
        let groups: Vec<usize> = case["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| g.as_u64().expect("size") as usize)
            .collect();
        for (k, oracle) in by_k(&case["mean_ndcg_lightgbm"]) {
            let ours = metric::mean_ndcg_at_k(&relevance, &scores, &groups, k);
            cmp.check(&format!("{name} mean ndcg@{k}"), ours, oracle);
        }
        for (k, oracle) in by_k(&case["whole_list_ndcg_lightgbm"]) {
            cmp.check(
                &format!("{name} ndcg@{k}"),
                metric::ndcg_at_k(&relevance, &scores, k),
                oracle,
            );
        }
        if let Some(sklearn) = case.get("whole_list_ndcg_sklearn") {
            for (k, oracle) in by_k(sklearn) {
                let ours = metric::ndcg_at_k(&relevance, &scores, k);
                cmp.check(&format!("{name} ndcg@{k} (sklearn)"), ours, oracle);
            }
        }
    }
    assert!(cmp.checks >= 60, "fixture too small: {} checks", cmp.checks);
    println!(
        "ndcg: {} checks, max |diff| = {:e}",
        cmp.checks, cmp.max_abs_diff
    );
}
