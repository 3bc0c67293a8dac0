//! Probability calibration fitted on the validation day: Platt scaling and isotonic regression.
//!
//! A calibration is kept only if it improves the Brier score, judged out of sample: the
//! validation rows are split in two halves by position (even / odd), each candidate is fitted
//! on one half and scored on the other, both ways, and the mean Brier is compared with the
//! uncalibrated one. The winner is then refitted on the whole validation day; the same
//! cross-fitting gives the out-of-sample calibrated scores the metrics table reports.

use aml_models::scorers::logit;
use aml_models::Calibration;
use serde::{Deserialize, Serialize};

use crate::metric::brier;

/// Which calibration to consider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMode {
    /// Never calibrate.
    None,
    /// Try Platt and isotonic, keep the better one if it improves Brier.
    #[default]
    Auto,
    /// Only Platt scaling (kept if it improves Brier).
    Platt,
    /// Only isotonic regression (kept if it improves Brier).
    Isotonic,
}

/// Fits Platt scaling `sigmoid(a * logit(p) + b)` by Newton's method on the log loss
/// (a small ridge term keeps it defined when the classes separate).
pub fn fit_platt(labels: &[f64], probs: &[f64]) -> Calibration {
    let z: Vec<f64> = probs.iter().map(|&p| logit(p)).collect();
    let (mut a, mut b) = (1.0f64, 0.0f64);
    let ridge = 1e-6;
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) =
            (ridge * (a - 1.0), ridge * b, ridge, 0.0, ridge);
        for (&zi, &yi) in z.iter().zip(labels) {
            let p = 1.0 / (1.0 + (-(a * zi + b)).exp());
            let w = (p * (1.0 - p)).max(1e-12);
            ga += (p - yi) * zi;
            gb += p - yi;
            haa += w * zi * zi;
            hab += w * zi;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-18 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-12 {
            break;
        }
    }
    if !a.is_finite() || !b.is_finite() {
        return Calibration::Platt { a: 1.0, b: 0.0 };
    }
    Calibration::Platt { a, b }
}

/// Smallest and largest calibrated probability an isotonic map may output: a block of
/// validation rows that happen to be all 0 or all 1 must not turn into a certain 0 or 1 (an
/// infinite log loss on the next day).
pub const ISOTONIC_FLOOR: f64 = 1e-3;

/// Fits isotonic regression (pool adjacent violators, equal inputs merged first).
///
/// The knots are the blocks' weighted mean inputs with the block means as values, so the map
/// is piecewise linear and strictly increasing between the first and last knot: two alerts
/// with different raw probabilities keep their order (a step function would tie whole blocks
/// of alerts and throw away ranking quality). Values are clamped to
/// `[ISOTONIC_FLOOR, 1 - ISOTONIC_FLOOR]`.
pub fn fit_isotonic(labels: &[f64], probs: &[f64]) -> Calibration {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&i, &j| probs[i].total_cmp(&probs[j]).then(i.cmp(&j)));
    // Blocks: (sum_x, sum_y, weight); equal inputs always share a block.
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    let mut last_x = f64::NAN;
    for &i in &order {
        match blocks.last_mut() {
            Some(last) if last_x == probs[i] => {
                last.0 += probs[i];
                last.1 += labels[i];
                last.2 += 1.0;
            }
            _ => blocks.push((probs[i], labels[i], 1.0)),
        }
        last_x = probs[i];
        while blocks.len() >= 2 {
            let n = blocks.len();
            let (prev, last) = (blocks[n - 2], blocks[n - 1]);
            if prev.1 / prev.2 >= last.1 / last.2 {
                blocks[n - 2] = (prev.0 + last.0, prev.1 + last.1, prev.2 + last.2);
                blocks.pop();
            } else {
                break;
            }
        }
    }
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    for (sx, sy, w) in blocks {
        let x = sx / w;
        let y = (sy / w).clamp(ISOTONIC_FLOOR, 1.0 - ISOTONIC_FLOOR);
        // Rounding can make two block centres equal; keep x strictly increasing.
        if xs.last().is_some_and(|&px| x <= px) {
            continue;
        }
        xs.push(x);
        ys.push(y);
    }
    if xs.is_empty() {
        return Calibration::Isotonic {
            x: vec![0.0, 1.0],
            y: vec![ISOTONIC_FLOOR, 1.0 - ISOTONIC_FLOOR],
        };
    }
    Calibration::Isotonic { x: xs, y: ys }
}

fn fit(kind: CalibrationMode, labels: &[f64], probs: &[f64]) -> Option<Calibration> {
    match kind {
        CalibrationMode::Platt => Some(fit_platt(labels, probs)),
        CalibrationMode::Isotonic => Some(fit_isotonic(labels, probs)),
        _ => None,
    }
}

/// The rows at even (`parity` 0) or odd (1) positions: the two halves of the cross-fitting.
fn half(labels: &[f64], probs: &[f64], parity: usize) -> (Vec<f64>, Vec<f64>) {
    (0..labels.len())
        .filter(|i| i % 2 == parity)
        .map(|i| (labels[i], probs[i]))
        .unzip()
}

/// Calibrated probabilities of every row, each from a calibration fitted on the other half of
/// the rows (halves by position: even / odd), so they are out of sample. `None` when `kind`
/// is not a calibration method.
pub fn cross_fitted_scores(
    kind: CalibrationMode,
    labels: &[f64],
    probs: &[f64],
) -> Option<Vec<f64>> {
    let fitted = [half(labels, probs, 1), half(labels, probs, 0)].map(|(l, p)| fit(kind, &l, &p));
    let mut out = Vec::with_capacity(probs.len());
    for (i, &p) in probs.iter().enumerate() {
        out.push(fitted[i % 2].as_ref()?.apply(p));
    }
    Some(out)
}

fn cross_fitted_brier(kind: CalibrationMode, labels: &[f64], probs: &[f64]) -> f64 {
    cross_fitted_scores(kind, labels, probs).map_or(f64::INFINITY, |p| brier(labels, &p))
}

/// Outcome of [`choose_calibration`].
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationChoice {
    /// The kept calibration (fitted on all validation rows), or `None`.
    pub calibration: Option<Calibration>,
    /// The method of the kept calibration (`CalibrationMode::None` when none is kept).
    pub kind: CalibrationMode,
    /// Cross-fitted Brier of each candidate, `("none", ..)` first.
    pub candidates: Vec<(String, f64)>,
}

/// Picks the calibration with the lowest cross-fitted Brier among `mode`'s candidates, kept only
/// if it beats the uncalibrated Brier; needs at least 20 rows and both classes.
pub fn choose_calibration(
    mode: CalibrationMode,
    labels: &[f64],
    probs: &[f64],
) -> CalibrationChoice {
    let uncalibrated = (0..2)
        .map(|parity| {
            let (l, p) = half(labels, probs, parity);
            brier(&l, &p)
        })
        .sum::<f64>()
        / 2.0;
    let mut candidates = vec![("none".to_string(), uncalibrated)];
    let positives = labels.iter().filter(|&&y| y == 1.0).count();
    let kinds: &[CalibrationMode] = match mode {
        CalibrationMode::None => &[],
        CalibrationMode::Auto => &[CalibrationMode::Platt, CalibrationMode::Isotonic],
        CalibrationMode::Platt => &[CalibrationMode::Platt],
        CalibrationMode::Isotonic => &[CalibrationMode::Isotonic],
    };
    if labels.len() < 20 || positives == 0 || positives == labels.len() {
        return CalibrationChoice {
            calibration: None,
            kind: CalibrationMode::None,
            candidates,
        };
    }
    let mut best: Option<(CalibrationMode, f64)> = None;
    for &kind in kinds {
        let b = cross_fitted_brier(kind, labels, probs);
        candidates.push((format!("{kind:?}").to_lowercase(), b));
        if b.is_finite() && b < uncalibrated && best.is_none_or(|(_, bb)| b < bb) {
            best = Some((kind, b));
        }
    }
    CalibrationChoice {
        calibration: best.and_then(|(kind, _)| fit(kind, labels, probs)),
        kind: best.map_or(CalibrationMode::None, |(kind, _)| kind),
        candidates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_is_monotone_and_fits_means() {
        let probs = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
        let labels = [0.0, 1.0, 0.0, 0.0, 1.0, 1.0];
        let cal = fit_isotonic(&labels, &probs);
        cal.validate().unwrap();
        let out: Vec<f64> = probs.iter().map(|&p| cal.apply(p)).collect();
        assert!(out.windows(2).all(|w| w[0] <= w[1]), "{out:?}");
        assert_eq!(out[0], ISOTONIC_FLOOR);
        // Block {0.2, 0.3, 0.4} has mean 1/3 at its centre 0.3.
        assert!((out[2] - 1.0 / 3.0).abs() < 1e-12, "{out:?}");
        assert_eq!(out[5], 1.0 - ISOTONIC_FLOOR);
        // Strictly increasing between knots: distinct inputs keep their order.
        assert!(cal.apply(0.25) < cal.apply(0.35));
    }

    #[test]
    fn platt_recovers_a_miscalibrated_scale() {
        // True probability q; the model reports sigmoid(2 * logit(q)) (over-confident).
        let mut labels = Vec::new();
        let mut probs = Vec::new();
        for i in 0..2000 {
            let q = 0.05 + 0.9 * ((i * 7919) % 1000) as f64 / 1000.0;
            let y = f64::from(((i * 104_729) % 1000) as f64 / 1000.0 < q);
            let z = 2.0 * (q / (1.0 - q)).ln();
            labels.push(y);
            probs.push(1.0 / (1.0 + (-z).exp()));
        }
        let Calibration::Platt { a, .. } = fit_platt(&labels, &probs) else {
            panic!()
        };
        assert!((a - 0.5).abs() < 0.1, "slope {a}");
        let choice = choose_calibration(CalibrationMode::Auto, &labels, &probs);
        assert!(choice.calibration.is_some(), "{:?}", choice.candidates);
    }

    #[test]
    fn well_calibrated_input_keeps_no_calibration_with_mode_none() {
        let labels = [0.0, 1.0, 0.0, 1.0];
        let choice = choose_calibration(CalibrationMode::None, &labels, &[0.2, 0.8, 0.3, 0.7]);
        assert!(choice.calibration.is_none());
    }
}
