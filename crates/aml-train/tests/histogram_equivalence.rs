//! `histogram::build` (all-row counts from the layout, parallel over features) against the
//! reference `histogram::build_feature` (one feature at a time, counting rows): the same
//! bits in every bin, for all rows and for row subsets, with 1 or 2 threads, on data with
//! missing values, ties, constant and wide (16-bit) columns.

use aml_train::binning::BinnedData;
use aml_train::histogram::{self, BinStats, HistogramLayout, LeafRows};
use ndarray::Array2;
use proptest::prelude::*;

fn bits(h: &[BinStats]) -> Vec<(u64, u64, u64)> {
    h.iter()
        .map(|b| (b.grad.to_bits(), b.hess.to_bits(), b.count))
        .collect()
}

/// Per feature, the reference histogram of `rows` next to `build`'s with `threads` threads.
fn compare(data: &BinnedData, used: &[bool], rows: LeafRows<'_>, threads: usize) {
    let layout = HistogramLayout::new(data);
    let mut fast = layout.new_buffer();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| histogram::build(&layout, data, used, rows, &mut fast));
    for (f, column) in data.columns.iter().enumerate() {
        let got = layout.feature(&fast, f);
        if !used[f] {
            assert!(
                got.iter().all(|b| *b == BinStats::default()),
                "feature {f} untouched"
            );
            continue;
        }
        let mut want = vec![BinStats::default(); got.len()];
        histogram::build_feature(&mut want, column, rows);
        assert_eq!(bits(got), bits(&want), "feature {f}, {threads} threads");
    }
}

fn check(x: &Array2<f32>, gh: &[[f32; 2]], keep: &[bool], used: &[bool], max_bin: usize) {
    let data = BinnedData::from_features(x.view(), max_bin, 1000, 3);
    let rows: Vec<u32> = (0..x.nrows() as u32)
        .filter(|&r| keep[r as usize])
        .collect();
    let gathered: Vec<[f32; 2]> = rows.iter().map(|&r| gh[r as usize]).collect();
    for threads in [1, 2] {
        compare(&data, used, LeafRows::All { gh }, threads);
        let subset = LeafRows::Subset {
            rows: &rows,
            gh: &gathered,
        };
        compare(&data, used, subset, threads);
    }
}

#[test]
fn edge_cases_agree_bit_for_bit() {
    // One row; a constant column; an all-missing column; a column of 600 distinct values
    // (16-bit bins); gradients of mixed magnitude so the order of the additions matters.
    let n = 600;
    let x = Array2::from_shape_fn((n, 4), |(r, c)| match c {
        0 => 5.0,
        1 => f32::NAN,
        2 => r as f32,
        _ => ((r * 7) % 13) as f32,
    });
    let gh: Vec<[f32; 2]> = (0..n)
        .map(|r| {
            [
                if r % 3 == 0 { 1e8 } else { 1e-3 * r as f32 },
                0.25 + r as f32,
            ]
        })
        .collect();
    let keep: Vec<bool> = (0..n).map(|r| r % 5 != 1).collect();
    check(&x, &gh, &keep, &[true; 4], 1000);
    check(&x, &gh, &keep, &[false, true, false, true], 255);
    check(&x, &gh, &vec![false; n], &[true; 4], 255);
    let one = Array2::from_shape_vec((1, 2), vec![1.0, f32::NAN]).unwrap();
    check(&one, &[[-2.0, 0.5]], &[true], &[true, true], 255);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_data_agrees_bit_for_bit(
        (n, f) in (1usize..400, 1usize..5),
        seed in any::<u64>(),
        max_bin in prop_oneof![Just(2usize), Just(15), Just(255), Just(400)],
        used_mask in any::<u8>(),
    ) {
        // A cheap deterministic stream of values: ties, NaNs, negatives, a wide spread.
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let x = Array2::from_shape_fn((n, f), |_| match next() % 10 {
            0 => f32::NAN,
            1 => 0.0,
            2 => (next() % 4) as f32,
            _ => (next() % 100_000) as f32 * 0.37 - 9_000.0,
        });
        let gh: Vec<[f32; 2]> = (0..n)
            .map(|_| {
                let g = (next() % 2001) as f32 - 1000.0;
                let scale = [1e-6f32, 1.0, 1e6][(next() % 3) as usize];
                [g * scale, (next() % 1000) as f32 * 1e-3]
            })
            .collect();
        let keep: Vec<bool> = (0..n).map(|_| next() % 3 != 0).collect();
        let used: Vec<bool> = (0..f).map(|j| used_mask & (1 << j) != 0 || j == 0).collect();
        check(&x, &gh, &keep, &used, max_bin);
    }
}
