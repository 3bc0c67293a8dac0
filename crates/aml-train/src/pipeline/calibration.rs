//! Probability calibration fitted on the validation day: Platt scaling, isotonic regression,
//! and Platt scaling that also sees the alert's own evidence (its confidence and severity
//! columns, [`EVIDENCE_FEATURES`]): the scorer's trees spend few splits on those columns, so
//! inside the large low-score mass of benign alerts their order is left to noise; a fitted
//! linear term on the log-odds orders alerts there by their own evidence, with weights the
//! validation day decides (a weight can come out zero or negative).
//!
//! A calibration is kept only if it improves the Brier score, judged out of sample: the
//! validation rows are split in two halves by position (even / odd), each candidate is fitted
//! on one half and scored on the other, both ways, and the mean Brier is compared with the
//! uncalibrated one. The winner is then refitted on the whole validation day; the same
//! cross-fitting gives the out-of-sample calibrated scores the metrics table reports.

use aml_models::scorers::{logit, EvidenceTerm};
use aml_models::Calibration;
use ndarray::ArrayView2;
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
    /// Only Platt scaling with the alert's evidence columns (kept if it improves Brier).
    EvidencePlatt,
}

/// Alert matrix columns an evidence calibration may read: the alert's own confidence and
/// severity, as the alerting system reported them.
pub const EVIDENCE_FEATURES: [&str; 2] = ["alert_confidence_score", "severity_ordinal"];

/// The evidence columns of the calibration rows: names and one value per row each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// Column names (a subset of [`EVIDENCE_FEATURES`], in that order).
    pub names: Vec<String>,
    /// `columns[k][i]`: row `i`'s value of column `names[k]` (NaN when missing).
    pub columns: Vec<Vec<f64>>,
}

impl Evidence {
    /// No evidence column: only the probability-only calibrations can be fitted.
    pub fn none() -> Evidence {
        Evidence::default()
    }

    /// The [`EVIDENCE_FEATURES`] among `names`, read from the rows of `x` (columns `names`).
    pub fn from_matrix(names: &[String], x: ArrayView2<'_, f32>) -> Evidence {
        let mut out = Evidence::none();
        for feature in EVIDENCE_FEATURES {
            if let Some(j) = names.iter().position(|n| n == feature) {
                out.names.push(feature.to_string());
                out.columns
                    .push(x.column(j).iter().map(|&v| f64::from(v)).collect());
            }
        }
        out
    }

    /// The rows at `rows`, in that order.
    fn select(&self, rows: &[usize]) -> Evidence {
        Evidence {
            names: self.names.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| rows.iter().map(|&i| c[i]).collect())
                .collect(),
        }
    }

    /// Row `i`'s evidence values, in column order.
    fn row(&self, i: usize) -> Vec<f64> {
        self.columns.iter().map(|c| c[i]).collect()
    }
}

impl CalibrationMode {
    /// The mode's name as in the metrics table and `metadata.json` (snake case).
    pub fn name(self) -> &'static str {
        match self {
            CalibrationMode::None => "none",
            CalibrationMode::Auto => "auto",
            CalibrationMode::Platt => "platt",
            CalibrationMode::Isotonic => "isotonic",
            CalibrationMode::EvidencePlatt => "evidence_platt",
        }
    }
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

/// Solves `h * d = g` for a small symmetric positive definite `h` (Gaussian elimination with
/// partial pivoting); `None` when `h` is singular.
fn solve(mut h: Vec<Vec<f64>>, mut g: Vec<f64>) -> Option<Vec<f64>> {
    let n = g.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| h[i][col].abs().total_cmp(&h[j][col].abs()))?;
        if h[pivot][col].abs() < 1e-18 {
            return None;
        }
        h.swap(col, pivot);
        g.swap(col, pivot);
        for r in col + 1..n {
            let f = h[r][col] / h[col][col];
            let (above, below) = h.split_at_mut(r);
            for (x, &p) in below[0][col..].iter_mut().zip(&above[col][col..]) {
                *x -= f * p;
            }
            g[r] -= f * g[col];
        }
    }
    let mut d = vec![0.0; n];
    for r in (0..n).rev() {
        let tail: f64 = (r + 1..n).map(|c| h[r][c] * d[c]).sum();
        d[r] = (g[r] - tail) / h[r][r];
    }
    Some(d)
}

/// Fits Platt scaling over the log-odds and the evidence columns,
/// `sigmoid(a * logit(p) + b + sum_k w_k * x_k)`, by Newton's method on the log loss, each step
/// halved until the loss does not rise (a small ridge term towards `a = 1`, `b = w = 0` keeps
/// it defined when the classes separate). A
/// missing evidence value counts as its column's mean. `None` when the fit fails or its slope
/// `a` comes out negative (the map must keep the model's order).
pub fn fit_evidence_platt(
    labels: &[f64],
    probs: &[f64],
    evidence: &Evidence,
) -> Option<Calibration> {
    let fills: Vec<f64> = evidence
        .columns
        .iter()
        .map(|c| {
            let known: Vec<f64> = c.iter().copied().filter(|v| !v.is_nan()).collect();
            if known.is_empty() {
                0.0
            } else {
                known.iter().sum::<f64>() / known.len() as f64
            }
        })
        .collect();
    // Design rows: (logit p, 1, x_1 .. x_k).
    let rows: Vec<Vec<f64>> = (0..probs.len())
        .map(|i| {
            let mut r = vec![logit(probs[i]), 1.0];
            r.extend(evidence.columns.iter().zip(&fills).map(|(c, &fill)| {
                if c[i].is_nan() {
                    fill
                } else {
                    c[i]
                }
            }));
            r
        })
        .collect();
    let dim = 2 + evidence.columns.len();
    let prior: Vec<f64> = (0..dim).map(|k| f64::from(u8::from(k == 0))).collect();
    let mut theta = prior.clone();
    let ridge = 1e-6;
    let loss = |theta: &[f64]| -> f64 {
        let penalty: f64 = theta
            .iter()
            .zip(&prior)
            .map(|(t, p)| (t - p) * (t - p))
            .sum();
        let data: f64 = rows
            .iter()
            .zip(labels)
            .map(|(r, &y)| {
                let z: f64 = r.iter().zip(theta).map(|(x, t)| x * t).sum();
                // log(1 + e^z) - y z, computed without overflow.
                z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z
            })
            .sum();
        data + 0.5 * ridge * penalty
    };
    let mut current = loss(&theta);
    for _ in 0..100 {
        let mut g: Vec<f64> = (0..dim).map(|k| ridge * (theta[k] - prior[k])).collect();
        let mut h: Vec<Vec<f64>> = (0..dim)
            .map(|r| (0..dim).map(|c| if r == c { ridge } else { 0.0 }).collect())
            .collect();
        for (r, &y) in rows.iter().zip(labels) {
            let z: f64 = r.iter().zip(&theta).map(|(x, t)| x * t).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            let w = (p * (1.0 - p)).max(1e-12);
            for j in 0..dim {
                g[j] += (p - y) * r[j];
                for k in 0..dim {
                    h[j][k] += w * r[j] * r[k];
                }
            }
        }
        let mut d = solve(h, g)?;
        let mut next: Vec<f64> = theta.iter().zip(&d).map(|(t, s)| t - s).collect();
        let mut next_loss = loss(&next);
        for _ in 0..40 {
            if next_loss <= current {
                break;
            }
            d.iter_mut().for_each(|s| *s *= 0.5);
            next = theta.iter().zip(&d).map(|(t, s)| t - s).collect();
            next_loss = loss(&next);
        }
        if next_loss > current {
            break;
        }
        theta = next;
        current = next_loss;
        if d.iter().map(|v| v.abs()).sum::<f64>() < 1e-12 {
            break;
        }
    }
    if theta.iter().any(|t| !t.is_finite()) || theta[0] < 0.0 {
        return None;
    }
    Some(Calibration::EvidencePlatt {
        a: theta[0],
        b: theta[1],
        evidence: evidence
            .names
            .iter()
            .zip(&theta[2..])
            .zip(&fills)
            .map(|((feature, &weight), &fill)| EvidenceTerm {
                feature: feature.clone(),
                weight,
                fill,
            })
            .collect(),
    })
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

fn fit(
    kind: CalibrationMode,
    labels: &[f64],
    probs: &[f64],
    evidence: &Evidence,
) -> Option<Calibration> {
    match kind {
        CalibrationMode::Platt => Some(fit_platt(labels, probs)),
        CalibrationMode::Isotonic => Some(fit_isotonic(labels, probs)),
        CalibrationMode::EvidencePlatt if !evidence.names.is_empty() => {
            fit_evidence_platt(labels, probs, evidence)
        }
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
/// is not a calibration method (or cannot be fitted, e.g. an evidence calibration without
/// evidence columns).
pub fn cross_fitted_scores(
    kind: CalibrationMode,
    labels: &[f64],
    probs: &[f64],
    evidence: &Evidence,
) -> Option<Vec<f64>> {
    let fitted = [1, 0].map(|parity| {
        let rows: Vec<usize> = (0..labels.len()).filter(|i| i % 2 == parity).collect();
        let (l, p) = half(labels, probs, parity);
        fit(kind, &l, &p, &evidence.select(&rows))
    });
    let mut out = Vec::with_capacity(probs.len());
    for (i, &p) in probs.iter().enumerate() {
        out.push(fitted[i % 2].as_ref()?.apply_with(p, &evidence.row(i)));
    }
    Some(out)
}

fn cross_fitted_brier(
    kind: CalibrationMode,
    labels: &[f64],
    probs: &[f64],
    evidence: &Evidence,
) -> f64 {
    cross_fitted_scores(kind, labels, probs, evidence).map_or(f64::INFINITY, |p| brier(labels, &p))
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
/// if it beats the uncalibrated Brier; needs at least 20 rows and both classes. The evidence
/// calibration is a candidate only when `evidence` has a column.
pub fn choose_calibration(
    mode: CalibrationMode,
    labels: &[f64],
    probs: &[f64],
    evidence: &Evidence,
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
        CalibrationMode::Auto if !evidence.names.is_empty() => &[
            CalibrationMode::Platt,
            CalibrationMode::Isotonic,
            CalibrationMode::EvidencePlatt,
        ],
        CalibrationMode::Auto => &[CalibrationMode::Platt, CalibrationMode::Isotonic],
        CalibrationMode::Platt => &[CalibrationMode::Platt],
        CalibrationMode::Isotonic => &[CalibrationMode::Isotonic],
        CalibrationMode::EvidencePlatt => &[CalibrationMode::EvidencePlatt],
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
        let b = cross_fitted_brier(kind, labels, probs, evidence);
        candidates.push((kind.name().to_string(), b));
        if b.is_finite() && b < uncalibrated && best.is_none_or(|(_, bb)| b < bb) {
            best = Some((kind, b));
        }
    }
    CalibrationChoice {
        calibration: best.and_then(|(kind, _)| fit(kind, labels, probs, evidence)),
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
        let choice = choose_calibration(CalibrationMode::Auto, &labels, &probs, &Evidence::none());
        assert!(choice.calibration.is_some(), "{:?}", choice.candidates);
    }

    #[test]
    fn well_calibrated_input_keeps_no_calibration_with_mode_none() {
        let labels = [0.0, 1.0, 0.0, 1.0];
        let choice = choose_calibration(
            CalibrationMode::None,
            &labels,
            &[0.2, 0.8, 0.3, 0.7],
            &Evidence::none(),
        );
        assert!(choice.calibration.is_none());
    }
}
