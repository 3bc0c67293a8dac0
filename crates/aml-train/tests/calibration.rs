//! Evidence calibration: Platt scaling over the scorer's log-odds and the alert's own evidence
//! columns, fitted on the validation rows (weights come from the data, not from a prior).

use aml_models::scorers::{logit, EvidenceTerm};
use aml_models::Calibration;
use aml_train::pipeline::calibration::{
    choose_calibration, cross_fitted_scores, fit_evidence_platt, CalibrationMode, Evidence,
};
use ndarray::Array2;

/// A deterministic uniform in [0, 1) from an integer (a fixed hash, no rng crate).
fn unit(i: u64, salt: u64) -> f64 {
    let mut x = i
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Rows whose true log-odds are `logit(p) + weight * (confidence - 0.5)`: the scorer's
/// probability `p` misses what the alert's confidence knows.
fn rows(n: u64, weight: f64) -> (Vec<f64>, Vec<f64>, Evidence) {
    let (mut labels, mut probs, mut confidence) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let p = 0.02 + 0.5 * unit(i, 1);
        let c = unit(i, 2);
        let truth = 1.0 / (1.0 + (-(logit(p) + weight * (c - 0.5))).exp());
        labels.push(f64::from(unit(i, 3) < truth));
        probs.push(p);
        confidence.push(c);
    }
    let evidence = Evidence {
        names: vec!["alert_confidence_score".into()],
        columns: vec![confidence],
    };
    (labels, probs, evidence)
}

fn weight_of(calibration: &Calibration) -> (f64, f64) {
    match calibration {
        Calibration::EvidencePlatt { a, evidence, .. } => (*a, evidence[0].weight),
        other => panic!("expected an evidence calibration, got {other:?}"),
    }
}

#[test]
fn fitted_evidence_weight_follows_the_data() {
    for (true_weight, low, high) in [(2.0, 1.5, 2.5), (0.0, -0.4, 0.4), (-2.0, -2.5, -1.5)] {
        let (labels, probs, evidence) = rows(20_000, true_weight);
        let cal = fit_evidence_platt(&labels, &probs, &evidence).unwrap();
        cal.validate().unwrap();
        let (a, w) = weight_of(&cal);
        assert!((a - 1.0).abs() < 0.15, "slope {a} for weight {true_weight}");
        assert!(
            (low..=high).contains(&w),
            "fitted weight {w} for true weight {true_weight}"
        );
    }
}

#[test]
fn auto_keeps_the_evidence_calibration_when_the_evidence_informs() {
    let (labels, probs, evidence) = rows(6_000, 2.5);
    let choice = choose_calibration(CalibrationMode::Auto, &labels, &probs, &evidence);
    assert_eq!(
        choice.kind,
        CalibrationMode::EvidencePlatt,
        "{:?}",
        choice.candidates
    );
    let names: Vec<&str> = choice.candidates.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["none", "platt", "isotonic", "evidence_platt"]);
    // Without evidence columns only the probability-only maps compete.
    let plain = choose_calibration(CalibrationMode::Auto, &labels, &probs, &Evidence::none());
    assert_ne!(plain.kind, CalibrationMode::EvidencePlatt);
    assert_eq!(plain.candidates.len(), 3);
    assert!(cross_fitted_scores(
        CalibrationMode::EvidencePlatt,
        &labels,
        &probs,
        &Evidence::none()
    )
    .is_none());
}

#[test]
fn evidence_calibration_is_monotone_in_the_raw_score() {
    let (labels, probs, evidence) = rows(4_000, -1.0);
    let cal = fit_evidence_platt(&labels, &probs, &evidence).unwrap();
    for c in [0.0, 0.3, 0.9, f64::NAN] {
        let out: Vec<f64> = (1..100)
            .map(|k| cal.apply_with(k as f64 / 100.0, &[c]))
            .collect();
        assert!(
            out.windows(2).all(|w| w[0] < w[1]),
            "not increasing at confidence {c}"
        );
    }
    // A fit whose slope would reverse the model's order is refused, and so is such a map.
    let reversed: Vec<f64> = labels.iter().map(|&y| 1.0 - y).collect();
    let r = fit_evidence_platt(&reversed, &probs, &evidence);
    assert!(r.is_none(), "{r:?}");
    let bad = Calibration::EvidencePlatt {
        a: -0.5,
        b: 0.0,
        evidence: Vec::new(),
    };
    assert!(bad.validate().is_err());
}

#[test]
fn missing_evidence_counts_as_the_fitted_mean() {
    let (labels, probs, mut evidence) = rows(3_000, 1.0);
    evidence.columns[0][0] = f64::NAN;
    let cal = fit_evidence_platt(&labels, &probs, &evidence).unwrap();
    let Calibration::EvidencePlatt {
        evidence: terms, ..
    } = &cal
    else {
        panic!("{cal:?}")
    };
    let known: Vec<f64> = evidence.columns[0][1..].to_vec();
    let mean = known.iter().sum::<f64>() / known.len() as f64;
    assert!((terms[0].fill - mean).abs() < 1e-12);
    assert_eq!(
        cal.apply_with(0.2, &[f64::NAN]),
        cal.apply_with(0.2, &[mean])
    );
}

#[test]
fn evidence_is_read_from_the_named_matrix_columns() {
    let names: Vec<String> = ["x", "severity_ordinal", "alert_confidence_score"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let x = Array2::from_shape_vec((2, 3), vec![0.0f32, 2.0, 0.25, 1.0, 3.0, 0.75]).unwrap();
    let evidence = Evidence::from_matrix(&names, x.view());
    assert_eq!(
        evidence.names,
        ["alert_confidence_score", "severity_ordinal"]
    );
    assert_eq!(evidence.columns, vec![vec![0.25, 0.75], vec![2.0, 3.0]]);
    assert!(Evidence::from_matrix(&names[..1], x.view())
        .names
        .is_empty());
}

#[test]
fn calibrations_round_trip_and_old_maps_still_load() {
    let cal = Calibration::EvidencePlatt {
        a: 0.9,
        b: -0.25,
        evidence: vec![EvidenceTerm {
            feature: "alert_confidence_score".into(),
            weight: 1.5,
            fill: 0.5,
        }],
    };
    let json = serde_json::to_string(&cal).unwrap();
    assert!(json.contains("\"method\":\"evidence_platt\""), "{json}");
    assert_eq!(serde_json::from_str::<Calibration>(&json).unwrap(), cal);
    // A calibration as older bundles store it loads and maps exactly as before.
    let old: Calibration = serde_json::from_str(r#"{"method":"platt","a":1.5,"b":-0.5}"#).unwrap();
    assert_eq!(old, Calibration::Platt { a: 1.5, b: -0.5 });
    assert!(old.evidence_features().is_empty());
    assert_eq!(old.apply_with(0.3, &[0.9]), old.apply(0.3));
}

/// A small binary model over `x` and `alert_confidence_score` (only `x` carries signal).
fn scorer_model() -> aml_models::GbdtModel {
    let n = 400;
    let x = Array2::from_shape_fn((n, 2), |(r, c)| unit(r as u64, 10 + c as u64) as f32);
    let labels: Vec<f64> = (0..n)
        .map(|r| f64::from(unit(r as u64, 12) < f64::from(x[[r, 0]])))
        .collect();
    let names = vec!["x".to_string(), "alert_confidence_score".to_string()];
    let data = aml_train::Dataset::new(x, labels, names).unwrap();
    let params = aml_train::GbdtParams {
        num_iterations: 5,
        ..aml_train::GbdtParams::default()
    };
    let out = aml_train::train(&params, &data, None, None).unwrap();
    aml_models::GbdtModel::from_ensemble(out.ensemble).unwrap()
}

#[test]
fn alert_scorer_applies_the_evidence_from_the_matrix() {
    use aml_models::AlertScorer;
    let model = scorer_model();
    let term = |feature: &str| EvidenceTerm {
        feature: feature.into(),
        weight: 3.0,
        fill: 0.5,
    };
    let cal = Calibration::EvidencePlatt {
        a: 1.0,
        b: 0.0,
        evidence: vec![term("alert_confidence_score")],
    };
    let matrix = aml_features::FeatureMatrix {
        values: Array2::from_shape_vec((3, 2), vec![0.5f32, 0.1, 0.5, 0.9, 0.5, f32::NAN]).unwrap(),
        feature_names: vec!["x".into(), "alert_confidence_score".into()],
        row_ids: vec!["a1".into(), "a2".into(), "a3".into()],
    };
    let raw = AlertScorer::new(model.clone(), None)
        .unwrap()
        .score(&matrix)
        .unwrap();
    let calibrated = AlertScorer::new(model.clone(), Some(cal.clone()))
        .unwrap()
        .score(&matrix)
        .unwrap();
    for (i, confidence) in [0.1f32, 0.9, f32::NAN].into_iter().enumerate() {
        let expected = cal.apply_with(raw[i], &[f64::from(confidence)]);
        assert_eq!(calibrated[i], expected, "row {i}");
    }
    assert!(calibrated[1] > calibrated[0], "{calibrated:?}");
    // A calibration reading a column the model does not have is refused, naming the column.
    let foreign = Calibration::EvidencePlatt {
        a: 1.0,
        b: 0.0,
        evidence: vec![term("severity_ordinal")],
    };
    let err = AlertScorer::new(model, Some(foreign)).unwrap_err();
    assert!(err.to_string().contains("\"severity_ordinal\""), "{err}");
}
