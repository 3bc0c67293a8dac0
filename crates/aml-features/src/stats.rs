//! Small numeric helpers shared by the feature blocks.

/// `sign(x) * ln(1 + |x|)`: compresses heavy-tailed USD amounts while keeping order and sign.
/// NaN stays NaN.
pub fn signed_log1p(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    x.signum() * x.abs().ln_1p()
}

/// Running aggregate over the finite values pushed (NaN and infinities are skipped), summed in
/// push order; callers push in a canonical order so results are bitwise reproducible.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Number of finite values.
    pub count: usize,
    sum: f64,
    sum_sq: f64,
    max: f64,
    min: f64,
}

impl Summary {
    /// Adds one value (ignored unless finite).
    pub fn push(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        if self.count == 0 {
            self.max = x;
            self.min = x;
        } else {
            self.max = self.max.max(x);
            self.min = self.min.min(x);
        }
        self.count += 1;
        self.sum += x;
        self.sum_sq += x * x;
    }

    /// Aggregates an iterator.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Summary {
        let mut s = Summary::default();
        for v in values {
            s.push(v);
        }
        s
    }

    /// Sum (0 when empty).
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Mean, NaN when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum / self.count as f64
        }
    }

    /// Maximum, NaN when empty.
    pub fn max(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.max
        }
    }

    /// Minimum, NaN when empty.
    pub fn min(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.min
        }
    }

    /// Population standard deviation, NaN when empty (0 for one value).
    pub fn std(&self) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        let n = self.count as f64;
        let mean = self.sum / n;
        (self.sum_sq / n - mean * mean).max(0.0).sqrt()
    }
}

/// Shannon entropy of a count histogram divided by `ln(bins)`, so 0 = all activity in one bin and
/// 1 = evenly spread. NaN when the histogram is empty or all zero.
pub fn normalised_entropy(counts: &[u16]) -> f64 {
    let total: f64 = counts.iter().map(|&c| c as f64).sum();
    if counts.len() < 2 || total <= 0.0 {
        return f64::NAN;
    }
    let mut h = 0.0;
    for &c in counts {
        if c > 0 {
            let p = c as f64 / total;
            h -= p * p.ln();
        }
    }
    h / (counts.len() as f64).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_skips_non_finite() {
        let s = Summary::of([1.0, f64::NAN, 3.0, f64::INFINITY]);
        assert_eq!(s.count, 2);
        assert_eq!(s.mean(), 2.0);
        assert_eq!(s.max(), 3.0);
        assert_eq!(s.std(), 1.0);
        assert!(Summary::default().mean().is_nan());
    }

    #[test]
    fn entropy_bounds() {
        assert_eq!(normalised_entropy(&[5, 0, 0, 0]), 0.0);
        assert!((normalised_entropy(&[2, 2, 2, 2]) - 1.0).abs() < 1e-12);
        assert!(normalised_entropy(&[0, 0]).is_nan());
        assert!(normalised_entropy(&[]).is_nan());
    }

    #[test]
    fn signed_log_keeps_sign() {
        assert_eq!(signed_log1p(0.0), 0.0);
        assert!(signed_log1p(-10.0) < 0.0);
        assert!(signed_log1p(f64::NAN).is_nan());
    }
}
