//! Our GBDT engine against LightGBM 4.7, split by split.
//!
//! `scripts/fixtures_training.py` trained LightGBM on the data files in
//! `tests/fixtures/training/` and committed its model text and raw predictions.
//! Every case here trains our engine on the same file with the same parameters
//! and compares, tree by tree: the split features, the thresholds (exactly,
//! through the rules below), the missing-value directions, the tree shapes, the
//! leaf and internal row counts, the leaf values and the split gains (relative
//! 1e-9), then the raw predictions of every training row.
//!
//! Where the engines agree by design, and where they legitimately differ:
//!
//! - Bins. Every feature of the fixture has fewer distinct values than
//!   `max_bin - 1`, so both engines give each distinct value its own bin
//!   (LightGBM with `min_data_in_bin = 1`; our binning has no such minimum). On
//!   top of that LightGBM always keeps zero in a bin of its own,
//!   `(-1e-35, 1e-35]`, even when the column has no zero: its bin count is ours
//!   plus one exactly when no training value is 0 (checked per feature).
//! - Thresholds. A threshold between two distinct values `a < b` is our
//!   `a/2 + b/2` (exact for `f32` data) and LightGBM's next `f64` above
//!   `(a + b)/2` (`Common::GetDoubleUpperBound`): LightGBM's is exactly
//!   `next_up(ours)`. Both send the same training rows the same way. Next to
//!   zero LightGBM writes `-1e-35` or `1e-35` (`kZeroThreshold`) instead of the
//!   midpoint: then we require that both thresholds lie between the same two
//!   training values. "All values left, missing right" is our `f64::MAX`
//!   and LightGBM's `+inf` bin bound, written `1.7976931348623157e+308` too.
//! - Row counts. LightGBM's histograms do not count rows; `min_data_in_leaf` is
//!   checked against counts estimated from hessians (`hess * num_data / sum_hess`,
//!   rounded). For L2 regression every hessian is 1 and the estimate is exact;
//!   for the binary objective a split whose child is near `min_data_in_leaf`
//!   rows may be allowed by one engine and refused by the other. The binary
//!   cases here use `min_data_in_leaf = 20` on leaves of hundreds of rows and
//!   the comparison shows no such split arises.
//! - Sums. Both engines keep gradients in `f32` and sum histograms in `f64`,
//!   but LightGBM accumulates the right child from the top bin down and adds
//!   `kEpsilon` (1e-15) to hessian sums, so gains and leaf values agree to about
//!   1e-12 relative, not bit for bit.

use std::path::{Path, PathBuf};

use aml_models::tree::ZERO_THRESHOLD;
use aml_models::{parse_model, Tree, TreeEnsemble};
use aml_train::binning::BinnedData;
use aml_train::data_file::{read_features_f64, ReadOptions};
use aml_train::metric::{l2, roc_auc};
use aml_train::predict::predict_raw;
use aml_train::{train, GbdtParams, Objective};
use ndarray::Array2;

/// Relative tolerance on values LightGBM writes in full (leaf values and weights, raw scores).
const REL_TOL: f64 = 1e-9;
/// Relative tolerance on values LightGBM writes with 6 significant digits.
const PRINTED_TOL: f64 = 1e-5;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/training")
}

struct Case {
    name: String,
    data: PathBuf,
    params: GbdtParams,
    lightgbm_num_bins: Vec<usize>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixture_dir().join("cases.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            // LightGBM's parameter names are ours; the ones we do not have
            // (deterministic, force_row_wise, min_data_in_bin, ...) are ignored.
            let params: GbdtParams = serde_json::from_value(c["params"].clone()).unwrap();
            Case {
                name: c["name"].as_str().unwrap().to_string(),
                data: fixture_dir().join(c["data"].as_str().unwrap()),
                params,
                lightgbm_num_bins: serde_json::from_value(c["lightgbm_num_bins"].clone())
                    .unwrap(),
            }
        })
        .collect()
}

fn lightgbm_model(case: &Case) -> TreeEnsemble {
    let path = fixture_dir().join(format!("model_{}.txt", case.name));
    parse_model(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .ensemble
}

fn lightgbm_predictions(case: &Case) -> Vec<f64> {
    let path = fixture_dir().join(format!("pred_{}.txt", case.name));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

fn next_up(x: f64) -> f64 {
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

/// `a` and `b` within `tol` relative.
fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1e-12)
}

/// Our bin bound between consecutive distinct training values `a < b` (binning.rs).
fn our_bound(a: f64, b: f64) -> f64 {
    a / 2.0 + b / 2.0
}

/// LightGBM's bin bound between consecutive distinct training values `a < b`: the next `f64`
/// above the midpoint, or `-/+kZeroThreshold` next to zero, which has a bin of its own.
/// When no training value is 0 and `a < 0 < b`, the empty zero bin sits between them and
/// both `-1e-35` (below it) and `1e-35` (above it) cut; `highest` picks the latter.
fn lightgbm_bound(a: f64, b: f64, highest: bool) -> f64 {
    if b == 0.0 || (a < 0.0 && b > 0.0 && !highest) {
        -ZERO_THRESHOLD
    } else if a == 0.0 || (a < 0.0 && b > 0.0) {
        ZERO_THRESHOLD
    } else {
        next_up((a + b) / 2.0)
    }
}

/// Checks a split's thresholds against the values of the rows that reach the node.
///
/// Both engines cut the node's rows at the same place: the largest value going left is
/// `max_left`, the smallest going right `min_right`. Bins between them are empty in the
/// node, so every bound in that gap splits the node's rows the same way (a tie). We keep
/// the first bound, the one just above `max_left`. LightGBM scans from the top when missing
/// values go left (`default_left`) and keeps the first bound it meets, the one just below
/// `min_right`; when missing values go right it scans from the bottom like us.
fn threshold_mismatch(
    ours: f64,
    theirs: f64,
    default_left: bool,
    node_values: &[f64],
    column: &[f64],
) -> Option<String> {
    let max_left = node_values.iter().copied().filter(|&v| v <= ours).reduce(f64::max);
    let min_right = node_values.iter().copied().filter(|&v| v > ours).reduce(f64::min);
    let after = |v: f64| column.get(column.partition_point(|&c| c <= v)).copied();
    let before = |v: f64| column[..column.partition_point(|&c| c < v)].last().copied();
    let (want_ours, want_theirs) = match (max_left, min_right) {
        // All values left, only missing values right: the last bin's bound, +inf, written
        // as f64::MAX by both.
        (Some(_), None) => (f64::MAX, f64::MAX),
        (Some(l), Some(r)) => {
            let ours_at = our_bound(l, after(l).unwrap());
            let theirs_at = if default_left {
                lightgbm_bound(before(r).unwrap(), r, true)
            } else {
                lightgbm_bound(l, after(l).unwrap(), false)
            };
            (ours_at, theirs_at)
        }
        _ => return Some(format!("no value left of ours {ours:e}")),
    };
    let same_cut = node_values
        .iter()
        .all(|&v| (v <= ours) == (v <= theirs));
    (ours != want_ours || theirs != want_theirs || !same_cut).then(|| {
        format!(
            "ours {ours:e} (expected {want_ours:e}), LightGBM {theirs:e} (expected \
             {want_theirs:e}), node values {max_left:?} | {min_right:?}, same cut: {same_cut}"
        )
    })
}

/// Training rows reaching each internal node of `tree`.
fn node_rows(tree: &Tree, x: &Array2<f64>) -> Vec<Vec<usize>> {
    let mut rows = vec![Vec::new(); tree.num_internal()];
    for r in 0..x.nrows() {
        let row = x.row(r);
        let mut node = 0usize;
        while node < tree.num_internal() {
            rows[node].push(r);
            let f = tree.split_feature[node] as usize;
            let child = if tree.goes_left(node, row[f]) {
                tree.left_child[node]
            } else {
                tree.right_child[node]
            };
            if child < 0 {
                break;
            }
            node = child as usize;
        }
    }
    rows
}

/// Differences between our tree and LightGBM's, one message each.
fn compare_tree(ours: &Tree, theirs: &Tree, x: &Array2<f64>, columns: &[Vec<f64>]) -> Vec<String> {
    let mut out = Vec::new();
    if ours.num_leaves() != theirs.num_leaves() {
        out.push(format!(
            "num_leaves {} vs LightGBM {}",
            ours.num_leaves(),
            theirs.num_leaves()
        ));
        return out;
    }
    let rows = node_rows(theirs, x);
    for n in 0..ours.num_internal() {
        let f = ours.split_feature[n] as usize;
        if f != theirs.split_feature[n] as usize {
            out.push(format!(
                "node {n}: feature {f} vs LightGBM {}",
                theirs.split_feature[n]
            ));
            continue;
        }
        let values: Vec<f64> = rows[n]
            .iter()
            .map(|&r| x[[r, f]])
            .filter(|v| !v.is_nan())
            .collect();
        if let Some(why) = threshold_mismatch(
            ours.threshold[n],
            theirs.threshold[n],
            theirs.default_left[n],
            &values,
            &columns[f],
        ) {
            out.push(format!("node {n} (feature {f}): threshold {why}"));
        }
        if ours.default_left[n] != theirs.default_left[n] {
            out.push(format!("node {n}: default_left {}", ours.default_left[n]));
        }
        if ours.missing_type[n] != theirs.missing_type[n] {
            out.push(format!(
                "node {n}: missing type {:?} vs {:?}",
                ours.missing_type[n], theirs.missing_type[n]
            ));
        }
        if (ours.left_child[n], ours.right_child[n]) != (theirs.left_child[n], theirs.right_child[n])
        {
            out.push(format!("node {n}: children differ"));
        }
        if ours.internal_count[n] != theirs.internal_count[n] {
            out.push(format!(
                "node {n}: internal_count {} vs {}",
                ours.internal_count[n], theirs.internal_count[n]
            ));
        }
        // LightGBM writes split gains and internal values with 6 significant digits.
        if !close(ours.split_gain[n], theirs.split_gain[n], PRINTED_TOL) {
            out.push(format!(
                "node {n}: split_gain {:e} vs {:e}",
                ours.split_gain[n], theirs.split_gain[n]
            ));
        }
        if !close(ours.internal_value[n], theirs.internal_value[n], PRINTED_TOL) {
            out.push(format!(
                "node {n}: internal_value {:e} vs {:e}",
                ours.internal_value[n], theirs.internal_value[n]
            ));
        }
    }
    for l in 0..ours.num_leaves() {
        if ours.leaf_count[l] != theirs.leaf_count[l] {
            out.push(format!(
                "leaf {l}: count {} vs {}",
                ours.leaf_count[l], theirs.leaf_count[l]
            ));
        }
        if !close(ours.leaf_value[l], theirs.leaf_value[l], REL_TOL) {
            out.push(format!(
                "leaf {l}: value {:e} vs {:e}",
                ours.leaf_value[l], theirs.leaf_value[l]
            ));
        }
        if !close(ours.leaf_weight[l], theirs.leaf_weight[l], REL_TOL) {
            out.push(format!(
                "leaf {l}: weight {:e} vs {:e}",
                ours.leaf_weight[l], theirs.leaf_weight[l]
            ));
        }
    }
    out
}

/// Sorted distinct non-missing values of every column.
fn distinct_columns(x: &Array2<f64>) -> Vec<Vec<f64>> {
    x.columns()
        .into_iter()
        .map(|c| {
            let mut v: Vec<f64> = c.iter().copied().filter(|v| !v.is_nan()).collect();
            v.sort_by(f64::total_cmp);
            v.dedup();
            v
        })
        .collect()
}

fn run_case(case: &Case) {
    let (data, x64) = read_features_f64(&case.data, &ReadOptions::default()).unwrap();
    assert!(
        x64.iter().all(|&v| v.is_nan() || f64::from(v as f32) == v),
        "{}: the fixture's values must be exact f32 numbers",
        case.name
    );
    let columns = distinct_columns(&x64);

    // Bins: ours, plus LightGBM's own bin for zero when the column has no zero.
    let binned = BinnedData::from_features(
        data.features.view(),
        case.params.max_bin,
        case.params.bin_construct_sample_cnt,
        case.params.seed,
    );
    for (f, m) in binned.mappers.iter().enumerate() {
        let zero_bin = usize::from(!columns[f].contains(&0.0));
        assert_eq!(
            m.num_bins() + zero_bin,
            case.lightgbm_num_bins[f],
            "{}: bins of feature {f}",
            case.name
        );
    }

    let ours = train(&case.params, &data, None, None).unwrap().ensemble;
    let theirs = lightgbm_model(case);
    std::fs::write(format!("/tmp/trainfix_{}.txt", case.name), ours.to_model_string().unwrap()).unwrap();
    assert_eq!(ours.trees.len(), theirs.trees.len(), "{}: trees", case.name);
    assert_eq!(ours.feature_names, theirs.feature_names);
    let mut report = Vec::new();
    for (i, (a, b)) in ours.trees.iter().zip(&theirs.trees).enumerate() {
        for d in compare_tree(a, b, &x64, &columns) {
            report.push(format!("{} tree {i}: {d}", case.name));
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));

    let ours_raw = predict_raw(&ours, data.features.view()).unwrap();
    let theirs_raw = lightgbm_predictions(case);
    for (r, (a, b)) in ours_raw.iter().zip(&theirs_raw).enumerate() {
        assert!(close(*a, *b, REL_TOL), "{} row {r}: raw {a} vs LightGBM {b}", case.name);
    }
    let metric = |raw: &[f64]| match case.params.objective {
        Objective::Binary => roc_auc(&data.labels, raw),
        _ => l2(&data.labels, raw),
    };
    let (m_ours, m_theirs) = (metric(&ours_raw), metric(&theirs_raw));
    assert!(
        (m_ours - m_theirs).abs() <= 1e-9 * m_theirs.abs(),
        "{}: metric {m_ours} vs LightGBM {m_theirs}",
        case.name
    );
}

#[test]
fn binary_trees_match_lightgbm_split_by_split() {
    for case in cases().iter().filter(|c| c.params.objective == Objective::Binary) {
        run_case(case);
    }
}

#[test]
fn regression_trees_match_lightgbm_split_by_split() {
    for case in cases()
        .iter()
        .filter(|c| c.params.objective == Objective::Regression)
    {
        run_case(case);
    }
}
