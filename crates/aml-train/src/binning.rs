//! Deterministic quantile binning of feature values (LightGBM's `BinMapper`).
//!
//! Each feature's distinct values, taken from a seeded sample of at most
//! `bin_construct_sample_cnt` rows, are cut into at most `max_bin` bins of
//! roughly equal row counts. A bin's upper bound is the midpoint between the
//! largest sample value inside it and the smallest value of the next bin, kept
//! in `f64`, and the last bin is open (`+inf`). Missing values (`NaN`) get an
//! extra bin of their own whenever the training column contains one.
//!
//! A value `x` lands in the first bin whose upper bound satisfies
//! `x as f64 <= bound`, which is exactly the comparison a tree node makes at
//! prediction time (`x <= threshold` goes left). Splitting "bins `0..=t` left"
//! and writing `threshold = upper_bound[t]` therefore sends every training row
//! the same way in the binned learner and in the raw-feature predictor.
//!
//! Storage is feature-major: one contiguous `u8` column per feature (or `u16`
//! when more than 256 bins are needed), the layout histogram construction reads.

use ndarray::ArrayView2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Bin boundaries of one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct BinMapper {
    /// Inclusive upper bound of each value bin; the last one is `+inf`.
    upper_bounds: Vec<f64>,
    /// Whether the last bin holds missing values.
    has_nan_bin: bool,
    /// Smallest and largest non-missing value of the column (`None` when all missing).
    range: Option<(f32, f32)>,
}

impl BinMapper {
    /// Builds the mapper from a column's sampled values; `has_nan` says whether
    /// the full column has missing values; `range` is the full column's min/max.
    pub fn from_sample(
        sample: &[f32],
        max_bin: usize,
        has_nan: bool,
        range: Option<(f32, f32)>,
    ) -> Self {
        let mut values: Vec<f64> = sample
            .iter()
            .filter(|v| !v.is_nan())
            .map(|&v| f64::from(v))
            .collect();
        values.sort_by(f64::total_cmp);
        // Distinct values (0.0 and -0.0 merged) with their counts.
        let mut distinct: Vec<(f64, usize)> = Vec::new();
        for v in values {
            match distinct.last_mut() {
                Some((last, count)) if *last == v => *count += 1,
                _ => distinct.push((v, 1)),
            }
        }
        let upper_bounds = find_upper_bounds(&distinct, max_bin.max(1));
        BinMapper {
            upper_bounds,
            has_nan_bin: has_nan,
            range,
        }
    }

    /// Number of bins holding real values.
    pub fn num_value_bins(&self) -> usize {
        self.upper_bounds.len()
    }

    /// Total number of bins including the missing-value bin.
    pub fn num_bins(&self) -> usize {
        self.upper_bounds.len() + usize::from(self.has_nan_bin)
    }

    /// Index of the missing-value bin, if the feature has one (always the last bin).
    pub fn nan_bin(&self) -> Option<usize> {
        self.has_nan_bin.then_some(self.upper_bounds.len())
    }

    /// Whether no split on this feature can separate any rows.
    pub fn is_trivial(&self) -> bool {
        self.num_bins() <= 1
    }

    /// The split threshold written into the tree for "bins `0..=bin` go left".
    ///
    /// For the last value bin (all values left, only missing values right) the
    /// bound is `+inf`; `f64::MAX` is written instead so model files stay finite.
    pub fn threshold(&self, bin: usize) -> f64 {
        let b = self.upper_bounds[bin];
        if b.is_finite() {
            b
        } else {
            f64::MAX
        }
    }

    /// The bin of value `x`. Missing values go to the missing bin, or, when the
    /// feature has none, are treated as `0.0` like LightGBM's `MissingType::None`.
    #[inline]
    pub fn bin_of(&self, x: f32) -> usize {
        if x.is_nan() {
            if let Some(b) = self.nan_bin() {
                return b;
            }
            return self.value_bin(0.0);
        }
        self.value_bin(f64::from(x))
    }

    #[inline]
    fn value_bin(&self, x: f64) -> usize {
        let i = self.upper_bounds.partition_point(|&ub| ub < x);
        i.min(self.upper_bounds.len() - 1)
    }

    /// LightGBM's `feature_infos` entry: `[min:max]`, or `none` for an unsplittable feature.
    pub fn feature_info(&self) -> String {
        match self.range {
            Some((lo, hi)) if !self.is_trivial() => format!("[{lo}:{hi}]"),
            _ => "none".to_string(),
        }
    }
}

/// Greedy equal-count cutting of sorted distinct values into at most `max_bin` bins.
fn find_upper_bounds(distinct: &[(f64, usize)], max_bin: usize) -> Vec<f64> {
    let mut bounds = Vec::new();
    let midpoint = |i: usize| {
        let (a, b) = (distinct[i].0, distinct[i + 1].0);
        let m = a / 2.0 + b / 2.0;
        // Keep a <= m < b even for extreme values.
        if m >= b || m < a {
            a
        } else {
            m
        }
    };
    if distinct.len() <= max_bin {
        bounds.extend((0..distinct.len().saturating_sub(1)).map(midpoint));
    } else {
        let mut remaining: usize = distinct.iter().map(|d| d.1).sum();
        let mut bins_left = max_bin;
        let mut acc = 0usize;
        for i in 0..distinct.len() - 1 {
            if bins_left <= 1 {
                break;
            }
            acc += distinct[i].1;
            let target = remaining as f64 / bins_left as f64;
            // Cut when this bin is full, or when only enough distinct values remain
            // to give each remaining bin one value.
            let values_left = distinct.len() - 1 - i;
            if acc as f64 >= target || values_left < bins_left {
                bounds.push(midpoint(i));
                remaining -= acc;
                acc = 0;
                bins_left -= 1;
            }
        }
    }
    bounds.push(f64::INFINITY);
    bounds
}

/// One feature's bin indices for every row.
#[derive(Debug, Clone, PartialEq)]
pub enum BinColumn {
    /// Up to 256 bins.
    U8(Vec<u8>),
    /// Up to 65,536 bins.
    U16(Vec<u16>),
}

impl BinColumn {
    /// Bin of row `row`.
    #[inline]
    pub fn get(&self, row: usize) -> usize {
        match self {
            BinColumn::U8(v) => usize::from(v[row]),
            BinColumn::U16(v) => usize::from(v[row]),
        }
    }
}

/// The binned training matrix: mappers plus feature-major bin columns.
#[derive(Debug, Clone, PartialEq)]
pub struct BinnedData {
    /// One mapper per feature.
    pub mappers: Vec<BinMapper>,
    /// One column of bin indices per feature.
    pub columns: Vec<BinColumn>,
    /// Number of rows.
    pub n_rows: usize,
}

impl BinnedData {
    /// Bins `features` (rows x features, `NaN` = missing).
    ///
    /// Boundaries come from at most `sample_cnt` rows chosen by a
    /// `ChaCha8Rng` seeded with `seed` (all rows when there are fewer), so the
    /// result depends only on the data and the seed, never on the thread count.
    ///
    /// ```
    /// use aml_train::binning::BinnedData;
    /// let x = ndarray::array![[1.0f32], [2.0], [f32::NAN], [2.0]];
    /// let b = BinnedData::from_features(x.view(), 255, 200_000, 0);
    /// assert_eq!(b.mappers[0].num_bins(), 3); // {1}, {2}, missing
    /// assert_eq!((0..4).map(|r| b.columns[0].get(r)).collect::<Vec<_>>(), [0, 1, 2, 1]);
    /// ```
    pub fn from_features(
        features: ArrayView2<f32>,
        max_bin: usize,
        sample_cnt: usize,
        seed: u64,
    ) -> Self {
        let (n_rows, n_features) = features.dim();
        let sample_rows = sample_row_indices(n_rows, sample_cnt, seed);
        let (mappers, columns): (Vec<BinMapper>, Vec<BinColumn>) = (0..n_features)
            .into_par_iter()
            .map(|f| {
                let column = features.column(f);
                let mut has_nan = false;
                let mut range: Option<(f32, f32)> = None;
                for &v in column.iter() {
                    if v.is_nan() {
                        has_nan = true;
                    } else {
                        range = Some(match range {
                            None => (v, v),
                            Some((lo, hi)) => (lo.min(v), hi.max(v)),
                        });
                    }
                }
                let sample: Vec<f32> = match &sample_rows {
                    Some(rows) => rows.iter().map(|&r| column[r]).collect(),
                    None => column.to_vec(),
                };
                let mapper = BinMapper::from_sample(&sample, max_bin, has_nan, range);
                let bins = if mapper.num_bins() <= 256 {
                    BinColumn::U8(column.iter().map(|&v| mapper.bin_of(v) as u8).collect())
                } else {
                    BinColumn::U16(column.iter().map(|&v| mapper.bin_of(v) as u16).collect())
                };
                (mapper, bins)
            })
            .unzip();
        BinnedData {
            mappers,
            columns,
            n_rows,
        }
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.mappers.len()
    }
}

/// Sorted row indices of the binning sample, or `None` to use every row.
fn sample_row_indices(n_rows: usize, sample_cnt: usize, seed: u64) -> Option<Vec<usize>> {
    if n_rows <= sample_cnt {
        return None;
    }
    // Partial Fisher-Yates: the first `sample_cnt` slots become a uniform sample.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6269_6e73_616d_706c);
    let mut idx: Vec<usize> = (0..n_rows).collect();
    for i in 0..sample_cnt {
        let j = rng.random_range(i..n_rows);
        idx.swap(i, j);
    }
    idx.truncate(sample_cnt);
    idx.sort_unstable();
    Some(idx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use proptest::prelude::*;

    #[test]
    fn few_distinct_values_get_one_bin_each() {
        let m = BinMapper::from_sample(&[3.0, 1.0, 2.0, 2.0], 255, false, Some((1.0, 3.0)));
        assert_eq!(m.num_bins(), 3);
        assert_eq!(m.threshold(0), 1.5);
        assert_eq!(m.threshold(1), 2.5);
        assert_eq!(
            m.bin_of(f32::NAN),
            0,
            "NaN without a missing bin is treated as 0.0"
        );
        assert_eq!(m.feature_info(), "[1:3]");
    }

    #[test]
    fn constant_column_is_trivial() {
        let m = BinMapper::from_sample(&[5.0; 10], 255, false, Some((5.0, 5.0)));
        assert!(m.is_trivial());
        assert_eq!(m.feature_info(), "none");
        let with_nan = BinMapper::from_sample(&[5.0; 10], 255, true, Some((5.0, 5.0)));
        assert!(!with_nan.is_trivial(), "value vs missing is still a split");
    }

    #[test]
    fn many_values_are_cut_into_roughly_equal_bins() {
        let n = 10_000;
        let x = Array2::from_shape_fn((n, 1), |(i, _)| (i as f32 * 0.37).sin());
        let b = BinnedData::from_features(x.view(), 16, 200_000, 1);
        assert_eq!(b.mappers[0].num_bins(), 16);
        let mut counts = [0usize; 16];
        for r in 0..n {
            counts[b.columns[0].get(r)] += 1;
        }
        for c in counts {
            assert!(
                (c as f64 - n as f64 / 16.0).abs() < n as f64 / 16.0 * 0.1,
                "{counts:?}"
            );
        }
    }

    #[test]
    fn more_than_256_bins_use_u16() {
        let x = Array2::from_shape_fn((1000, 1), |(i, _)| i as f32);
        let b = BinnedData::from_features(x.view(), 1000, 200_000, 0);
        assert!(matches!(b.columns[0], BinColumn::U16(_)));
        assert_eq!(b.columns[0].get(999), 999);
    }

    #[test]
    fn sampling_is_seeded() {
        let a = sample_row_indices(1000, 100, 7).unwrap();
        assert_eq!(a, sample_row_indices(1000, 100, 7).unwrap());
        assert_ne!(a, sample_row_indices(1000, 100, 8).unwrap());
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample_row_indices(10, 100, 0), None);
    }

    proptest! {
        /// The binned decision "bin <= t" equals the tree decision "x <= threshold(t)".
        #[test]
        fn thresholds_reproduce_binned_decisions(
            values in proptest::collection::vec(prop_oneof![Just(f32::NAN), -1e6f32..1e6f32, Just(0.0f32)], 1..300),
            max_bin in 2usize..40,
            sample in 1usize..300,
        ) {
            let x = Array2::from_shape_vec((values.len(), 1), values.clone()).unwrap();
            let b = BinnedData::from_features(x.view(), max_bin, sample, 3);
            let m = &b.mappers[0];
            prop_assert!(m.num_value_bins() <= max_bin);
            for (r, &v) in values.iter().enumerate() {
                let bin = b.columns[0].get(r);
                prop_assert!(bin < m.num_bins());
                if v.is_nan() {
                    prop_assert_eq!(Some(bin), m.nan_bin());
                    continue;
                }
                for t in 0..m.num_value_bins() {
                    prop_assert_eq!(bin <= t, f64::from(v) <= m.threshold(t));
                }
            }
        }
    }
}
