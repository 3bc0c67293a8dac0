//! Gradient histograms: per feature and bin, the sums of gradients and
//! hessians and the row count of the rows in one leaf.
//!
//! All features' bins live in one flat buffer ([`HistogramLayout`] gives each
//! feature's offset), so a leaf's histogram is one allocation that can be
//! recycled. Building is parallel over features, but each feature's bins are
//! accumulated by a single thread in row order, so the sums (and hence the
//! model) are bit-identical whatever the thread count. The row counts of an
//! all-rows histogram (every tree's root without sampling) never change, so
//! [`HistogramLayout`] counts them once and such a build only sums gradients and
//! hessians. The subtraction trick (`larger child = parent - smaller child`) is
//! [`subtract`].

use rayon::prelude::*;

use crate::binning::{BinColumn, BinnedData};

/// Gradient statistics of the rows falling into one bin.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BinStats {
    /// Sum of gradients.
    pub grad: f64,
    /// Sum of hessians.
    pub hess: f64,
    /// Number of rows.
    pub count: u64,
}

impl BinStats {
    #[inline]
    fn add(&mut self, gh: [f32; 2]) {
        self.grad += f64::from(gh[0]);
        self.hess += f64::from(gh[1]);
        self.count += 1;
    }
}

/// Where each feature's bins start in a flat histogram buffer, and the row count of every
/// bin over all rows.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramLayout {
    offsets: Vec<usize>,
    /// Rows of the whole data in each bin (flat like a leaf buffer): the counts of every
    /// all-rows histogram, which therefore only sums gradients and hessians.
    all_counts: Vec<u64>,
}

impl HistogramLayout {
    /// The layout for `data`'s features (one counting pass over the bins).
    pub fn new(data: &BinnedData) -> Self {
        let mut offsets = Vec::with_capacity(data.n_features() + 1);
        let mut at = 0;
        offsets.push(0);
        for m in &data.mappers {
            at += m.num_bins();
            offsets.push(at);
        }
        let mut all_counts = vec![0u64; at];
        split_at_widths(&mut all_counts, &offsets)
            .into_par_iter()
            .zip(data.columns.par_iter())
            .for_each(|(counts, column)| match column {
                BinColumn::U8(bins) => count_bins(counts, bins),
                BinColumn::U16(bins) => count_bins(counts, bins),
            });
        HistogramLayout {
            offsets,
            all_counts,
        }
    }

    /// Total number of bins over all features (the buffer length).
    pub fn total_bins(&self) -> usize {
        *self.offsets.last().unwrap_or(&0)
    }

    /// A zeroed buffer for one leaf.
    pub fn new_buffer(&self) -> Vec<BinStats> {
        vec![BinStats::default(); self.total_bins()]
    }

    /// The bins of feature `f` within a leaf buffer.
    pub fn feature<'a>(&self, buffer: &'a [BinStats], f: usize) -> &'a [BinStats] {
        &buffer[self.offsets[f]..self.offsets[f + 1]]
    }

    /// Mutable per-feature slices of a leaf buffer, in feature order.
    fn split_mut<'a>(&self, buffer: &'a mut [BinStats]) -> Vec<&'a mut [BinStats]> {
        split_at_widths(buffer, &self.offsets)
    }
}

/// `buffer` cut at `offsets` (ascending, from 0) into one mutable slice per feature.
fn split_at_widths<'a, T>(mut buffer: &'a mut [T], offsets: &[usize]) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(offsets.len().saturating_sub(1));
    for w in offsets.windows(2) {
        let (head, tail) = buffer.split_at_mut(w[1] - w[0]);
        out.push(head);
        buffer = tail;
    }
    out
}

fn count_bins<B: Copy + Into<usize>>(counts: &mut [u64], bins: &[B]) {
    for &b in bins {
        counts[b.into()] += 1;
    }
}

/// Which rows a histogram covers, with their gradient/hessian pairs.
#[derive(Debug, Clone, Copy)]
pub enum LeafRows<'a> {
    /// Every row of the data in order; `gh[r]` belongs to row `r`.
    All {
        /// Gradient/hessian per row.
        gh: &'a [[f32; 2]],
    },
    /// A subset: `gh[i]` belongs to row `rows[i]` (gradients gathered in leaf order).
    Subset {
        /// Row indices, ascending.
        rows: &'a [u32],
        /// Gathered gradient/hessian pairs, aligned with `rows`.
        gh: &'a [[f32; 2]],
    },
}

/// Builds the histograms of the features flagged in `used` into `buffer`
/// (other features' bins are left untouched).
///
/// The result is [`build_feature`]'s, bit for bit: every bin's sums take the same
/// additions in the same (row) order. With [`LeafRows::All`] only gradients and hessians
/// are summed; the counts are the layout's.
pub fn build(
    layout: &HistogramLayout,
    data: &BinnedData,
    used: &[bool],
    rows: LeafRows<'_>,
    buffer: &mut [BinStats],
) {
    let all_counts = split_counts(layout);
    layout
        .split_mut(buffer)
        .into_par_iter()
        .zip(data.columns.par_iter())
        .zip(all_counts)
        .zip(used.par_iter())
        .filter(|(_, &u)| u)
        .for_each(|(((out, column), counts), _)| match rows {
            LeafRows::All { gh } => {
                match column {
                    BinColumn::U8(bins) => sum_gradients(out, bins, gh),
                    BinColumn::U16(bins) => sum_gradients(out, bins, gh),
                }
                for (s, &c) in out.iter_mut().zip(counts) {
                    s.count = c;
                }
            }
            LeafRows::Subset { .. } => build_feature(out, column, rows),
        });
}

/// The layout's all-row counts, one slice per feature.
fn split_counts(layout: &HistogramLayout) -> Vec<&[u64]> {
    layout
        .offsets
        .windows(2)
        .map(|w| &layout.all_counts[w[0]..w[1]])
        .collect()
}

/// Gradient and hessian sums of every row (counts untouched), in row order.
fn sum_gradients<B: Copy + Into<usize>>(out: &mut [BinStats], bins: &[B], gh: &[[f32; 2]]) {
    out.fill(BinStats::default());
    for (&b, &g) in bins.iter().zip(gh) {
        let s = &mut out[b.into()];
        s.grad += f64::from(g[0]);
        s.hess += f64::from(g[1]);
    }
}

/// Accumulates one feature's histogram in row order, counting rows (the reference
/// [`build`] agrees with).
pub fn build_feature(out: &mut [BinStats], column: &BinColumn, rows: LeafRows<'_>) {
    out.fill(BinStats::default());
    match column {
        BinColumn::U8(bins) => accumulate(out, bins, rows),
        BinColumn::U16(bins) => accumulate(out, bins, rows),
    }
}

#[inline]
fn accumulate<B: Copy + Into<usize>>(out: &mut [BinStats], bins: &[B], rows: LeafRows<'_>) {
    match rows {
        LeafRows::All { gh } => {
            for (&b, &g) in bins.iter().zip(gh) {
                out[b.into()].add(g);
            }
        }
        LeafRows::Subset { rows, gh } => {
            for (&r, &g) in rows.iter().zip(gh) {
                out[bins[r as usize].into()].add(g);
            }
        }
    }
}

/// The subtraction trick: `parent -= child` for the used features, turning a
/// parent's histogram into its other child's without touching any row.
pub fn subtract(
    layout: &HistogramLayout,
    used: &[bool],
    parent: &mut [BinStats],
    child: &[BinStats],
) {
    layout
        .split_mut(parent)
        .into_par_iter()
        .enumerate()
        .filter(|(f, _)| used[*f])
        .for_each(|(f, p)| {
            for (a, b) in p.iter_mut().zip(layout.feature(child, f)) {
                a.grad -= b.grad;
                a.hess -= b.hess;
                a.count -= b.count;
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn data() -> (BinnedData, Vec<[f32; 2]>) {
        let x = Array2::from_shape_fn((50, 3), |(r, c)| {
            if c == 2 && r % 7 == 0 {
                f32::NAN
            } else {
                ((r * (c + 3)) % 11) as f32
            }
        });
        let gh = (0..50)
            .map(|r| [r as f32 * 0.5 - 10.0, 1.0 + (r % 3) as f32])
            .collect();
        (BinnedData::from_features(x.view(), 255, 1000, 0), gh)
    }

    #[test]
    fn histogram_sums_match_rows_and_subtraction_gives_sibling() {
        let (d, gh) = data();
        let layout = HistogramLayout::new(&d);
        let used = vec![true; 3];
        let mut all = layout.new_buffer();
        build(&layout, &d, &used, LeafRows::All { gh: &gh }, &mut all);
        for f in 0..3 {
            let h = layout.feature(&all, f);
            assert_eq!(h.iter().map(|b| b.count).sum::<u64>(), 50);
            let g: f64 = h.iter().map(|b| b.grad).sum();
            let expect: f64 = gh.iter().map(|g| f64::from(g[0])).sum();
            assert!((g - expect).abs() < 1e-9);
        }
        let even: Vec<u32> = (0..50).step_by(2).collect();
        let odd: Vec<u32> = (1..50).step_by(2).collect();
        let gather = |rows: &[u32]| rows.iter().map(|&r| gh[r as usize]).collect::<Vec<_>>();
        let (ge, go) = (gather(&even), gather(&odd));
        let mut h_even = layout.new_buffer();
        build(
            &layout,
            &d,
            &used,
            LeafRows::Subset {
                rows: &even,
                gh: &ge,
            },
            &mut h_even,
        );
        let mut h_odd = layout.new_buffer();
        build(
            &layout,
            &d,
            &used,
            LeafRows::Subset {
                rows: &odd,
                gh: &go,
            },
            &mut h_odd,
        );
        subtract(&layout, &used, &mut all, &h_even);
        for (a, b) in all.iter().zip(&h_odd) {
            assert_eq!(a.count, b.count);
            assert!((a.grad - b.grad).abs() < 1e-9 && (a.hess - b.hess).abs() < 1e-9);
        }
    }

    #[test]
    fn unused_features_are_untouched() {
        let (d, gh) = data();
        let layout = HistogramLayout::new(&d);
        let mut buf = layout.new_buffer();
        build(
            &layout,
            &d,
            &[false, true, false],
            LeafRows::All { gh: &gh },
            &mut buf,
        );
        assert!(layout.feature(&buf, 0).iter().all(|b| b.count == 0));
        assert_eq!(
            layout.feature(&buf, 1).iter().map(|b| b.count).sum::<u64>(),
            50
        );
    }
}
