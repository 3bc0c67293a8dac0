//! Our GBDT engine against LightGBM 4.7, split by split.
//!
//! `scripts/fixtures_training.py` trained LightGBM on the data files in
//! `tests/fixtures/training/` and committed its model text, its raw predictions and
//! `cases.json` (parameters, LightGBM's bin count per feature). Every case here trains
//! our engine on the same file with the same parameters and compares, tree by tree:
//! split features, thresholds (exactly, by the rules below), missing-value directions,
//! tree shapes, row counts per node and leaf, leaf values and hessian sums (relative
//! 1e-9), split gains and internal values (1e-5: LightGBM prints them with 6 digits),
//! then the raw score of every training row (1e-9) and the metric.
//!
//! What agrees by design, and what legitimately differs:
//!
//! - Bins. Every feature of the fixture has fewer distinct values than `max_bin - 1`,
//!   so both engines give each distinct value its own bin (LightGBM with
//!   `min_data_in_bin = 1`; our binning has no such minimum). LightGBM also keeps
//!   zero in a bin of its own, `(-1e-35, 1e-35]`, even when the column has no zero:
//!   its bin count is ours plus one exactly when no training value is 0. With more
//!   distinct values than bins the two greedy binnings differ (LightGBM gives zero
//!   its bin, splits `max_bin` between negative and positive values and treats
//!   very frequent values apart), so trees would differ from the first split on
//!   such a feature: the fixture does not go there.
//! - Thresholds: see `threshold_mismatch`. Between two values `a < b` our bound is
//!   `a/2 + b/2` and LightGBM's the next `f64` above `(a + b)/2`; next to zero
//!   LightGBM's is `-1e-35` or `1e-35`; within a gap of bins that are empty in the
//!   node, we keep the lowest bound and LightGBM the highest when it scans down.
//!   Both cut the node's training rows identically (checked).
//! - Missing-value direction: when the node holds no missing value both directions
//!   are the same split and LightGBM's choice is rounding noise; not compared then.
//! - Row counts (`binary_min_data`). LightGBM's histograms hold no counts: it checks
//!   `min_data_in_leaf` against counts estimated from hessians, exact while every
//!   hessian is equal (L2 regression; the first binary rounds). Later it grows a leaf
//!   under `min_data_in_leaf` or refuses a split of ours whose estimate falls under
//!   it; the test requires the first differing tree to show one of the two.
//!   `binary_hessian` has `min_data_in_leaf = 0` (leaves limited by their exact
//!   hessian sums) and agrees on every tree.
//! - Pruned features (`regression_depth`, `regression_l2_pruning`). When no
//!   threshold of a feature beats `min_gain_to_split` in a leaf, LightGBM stops
//!   evaluating that feature in the leaf's whole subtree; we evaluate every feature
//!   in every leaf. With `lambda_l1 = lambda_l2 = 0` a split never loses against its
//!   parent and the pruning changes nothing; with L1 or L2 it can, and the test
//!   requires the first differing tree to contain a split of ours on a feature that
//!   could not split one of the node's ancestors.
//! - Sums. Both engines keep gradients in `f32` and sum histograms in `f64`, but in
//!   other orders, and LightGBM adds `kEpsilon` (1e-15) to hessian sums: values agree
//!   to about 1e-12, not bit for bit, and exact gain ties (possible with tiny leaves in
//!   the first binary round, where every gradient is +-0.5) may be broken differently.
//!
//! After a documented divergence the models differ but must be equally good (AUC
//! within 0.01, L2 within 5%).

use std::path::{Path, PathBuf};

use aml_models::tree::ZERO_THRESHOLD;
use aml_models::{parse_model, Tree, TreeEnsemble};
use aml_train::binning::BinnedData;
use aml_train::data_file::{read_features_f64, ReadOptions};
use aml_train::histogram::BinStats;
use aml_train::metric::{l2, roc_auc};
use aml_train::objective;
use aml_train::predict::predict_raw;
use aml_train::split::{best_split_for_feature, LeafSums, SplitConstraints};
use aml_train::{train, Dataset, GbdtParams, Objective};
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
    agreement: String,
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
                agreement: c["agreement"].as_str().unwrap().to_string(),
                lightgbm_num_bins: serde_json::from_value(c["lightgbm_num_bins"].clone()).unwrap(),
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
/// `min_right`; when missing values go right it scans from the bottom like us. One more
/// LightGBM detail: the zero bin is its most frequent ("default") bin, whose sums it
/// derives as the leaf's sums minus the other bins' (`FixHistogram`), so in a node without
/// zeros that bin holds rounding noise instead of exact zeros. When the gap spans it, the
/// noise decides between the bounds below it and above it: LightGBM may also pick `-1e-35`
/// (scanning down) or `1e-35` (scanning up).
fn threshold_mismatch(
    ours: f64,
    theirs: f64,
    default_left: bool,
    node_values: &[f64],
    column: &[f64],
) -> Option<String> {
    let max_left = node_values
        .iter()
        .copied()
        .filter(|&v| v <= ours)
        .reduce(f64::max);
    let min_right = node_values
        .iter()
        .copied()
        .filter(|&v| v > ours)
        .reduce(f64::min);
    let after = |v: f64| column.get(column.partition_point(|&c| c <= v)).copied();
    let before = |v: f64| column[..column.partition_point(|&c| c < v)].last().copied();
    // With only missing values left, the gap starts at the first bin.
    let lowest = max_left.unwrap_or(column[0]);
    let ours_at = match max_left {
        Some(l) => after(l).map_or(f64::MAX, |a| our_bound(l, a)),
        None => our_bound(column[0], column[1]),
    };
    let mut theirs_at = vec![match (min_right, max_left) {
        (Some(r), _) if default_left => lightgbm_bound(before(r).unwrap(), r, true),
        // Missing values right (possibly all the node's values left): LightGBM scans from
        // the bottom (f64::MAX stands for the last bin's bound, +inf).
        (_, Some(l)) => after(l).map_or(f64::MAX, |a| lightgbm_bound(l, a, false)),
        (_, None) => return Some(format!("no value on either side of {ours:e}")),
    }];
    if lowest < 0.0 && min_right.is_some_and(|r| r > 0.0) {
        theirs_at.push(if default_left {
            -ZERO_THRESHOLD
        } else {
            ZERO_THRESHOLD
        });
    }
    let same_cut = node_values.iter().all(|&v| (v <= ours) == (v <= theirs));
    (ours != ours_at || !theirs_at.contains(&theirs) || !same_cut).then(|| {
        format!(
            "ours {ours:e} (expected {ours_at:e}), LightGBM {theirs:e} (expected one of \
             {theirs_at:?}), node values {max_left:?} | {min_right:?}, same cut: {same_cut}"
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
    for (n, rows) in node_rows(theirs, x).iter().enumerate() {
        let f = ours.split_feature[n] as usize;
        if f != theirs.split_feature[n] as usize {
            out.push(format!(
                "node {n}: feature {f} vs LightGBM {}",
                theirs.split_feature[n]
            ));
            continue;
        }
        let values: Vec<f64> = rows
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
        // With no missing value in the node both directions split its rows alike: a tie,
        // which LightGBM breaks by the rounding of its two scans (opposite summation orders).
        let node_has_missing = rows.iter().any(|&r| x[[r, f]].is_nan());
        if ours.default_left[n] != theirs.default_left[n] && node_has_missing {
            out.push(format!("node {n}: default_left {}", ours.default_left[n]));
        }
        if ours.missing_type[n] != theirs.missing_type[n] {
            out.push(format!(
                "node {n}: missing type {:?} vs {:?}",
                ours.missing_type[n], theirs.missing_type[n]
            ));
        }
        if (ours.left_child[n], ours.right_child[n])
            != (theirs.left_child[n], theirs.right_child[n])
        {
            out.push(format!("node {n}: children differ"));
        }
        let what = format!("node {n}: internal_count");
        differ_eq(
            &mut out,
            &what,
            ours.internal_count[n],
            theirs.internal_count[n],
        );
        // LightGBM writes split gains and internal values with 6 significant digits.
        let (gain, value) = (
            format!("node {n}: split_gain"),
            format!("node {n}: internal_value"),
        );
        differ_close(
            &mut out,
            &gain,
            ours.split_gain[n],
            theirs.split_gain[n],
            PRINTED_TOL,
        );
        differ_close(
            &mut out,
            &value,
            ours.internal_value[n],
            theirs.internal_value[n],
            PRINTED_TOL,
        );
    }
    for l in 0..ours.num_leaves() {
        differ_eq(
            &mut out,
            &format!("leaf {l}: count"),
            ours.leaf_count[l],
            theirs.leaf_count[l],
        );
        let (value, weight) = (format!("leaf {l}: value"), format!("leaf {l}: weight"));
        differ_close(
            &mut out,
            &value,
            ours.leaf_value[l],
            theirs.leaf_value[l],
            REL_TOL,
        );
        differ_close(
            &mut out,
            &weight,
            ours.leaf_weight[l],
            theirs.leaf_weight[l],
            REL_TOL,
        );
    }
    out
}

/// Records `what {ours} vs {theirs}` when two exact quantities differ.
fn differ_eq<T: PartialEq + std::fmt::Display>(
    out: &mut Vec<String>,
    what: &str,
    ours: T,
    theirs: T,
) {
    if ours != theirs {
        out.push(format!("{what} {ours} vs {theirs}"));
    }
}

/// Records `what {ours:e} vs {theirs:e}` when two values are not within `tol` (relative).
fn differ_close(out: &mut Vec<String>, what: &str, ours: f64, theirs: f64, tol: f64) {
    if !close(ours, theirs, tol) {
        out.push(format!("{what} {ours:e} vs {theirs:e}"));
    }
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
    assert_eq!(ours.trees.len(), theirs.trees.len(), "{}: trees", case.name);
    assert_eq!(ours.feature_names, theirs.feature_names);
    let reports: Vec<Vec<String>> = ours
        .trees
        .iter()
        .zip(&theirs.trees)
        .map(|(a, b)| compare_tree(a, b, &x64, &columns))
        .collect();
    let first_difference = reports.iter().position(|r| !r.is_empty());
    let ours_raw = predict_raw(&ours, data.features.view()).unwrap();
    let theirs_raw = lightgbm_predictions(case);
    let metric = |raw: &[f64]| match case.params.objective {
        Objective::Binary => roc_auc(&data.labels, raw),
        _ => l2(&data.labels, raw),
    };
    let (m_ours, m_theirs) = (metric(&ours_raw), metric(&theirs_raw));
    let Some(k) = first_difference else {
        assert_eq!(case.agreement, "all", "{}: every tree agrees", case.name);
        for (r, (a, b)) in ours_raw.iter().zip(&theirs_raw).enumerate() {
            assert!(
                close(*a, *b, REL_TOL),
                "{} row {r}: raw {a} vs LightGBM {b}",
                case.name
            );
        }
        assert!(
            close(m_ours, m_theirs, REL_TOL),
            "{}: metric {m_ours} vs LightGBM {m_theirs}",
            case.name
        );
        return;
    };
    eprintln!(
        "{}: trees 0..{k} agree, metric {m_ours} vs LightGBM {m_theirs}",
        case.name
    );
    let why = || format!("{} tree {k}:\n{}", case.name, reports[k].join("\n"));
    match case.agreement.as_str() {
        "until_estimated_count" => {
            // Hessian-based estimates are exact while all hessians are equal (first rounds).
            assert!(k >= 5, "only {k} trees agree; {}", why());
            let min = case.params.min_data_in_leaf as u64;
            assert!(ours
                .trees
                .iter()
                .all(|t| t.leaf_count.iter().all(|&c| c >= min)));
            // Either LightGBM grew a leaf under min_data_in_leaf, or it refused one of our
            // splits whose estimated counts fall under it.
            let gh = round_gradients(case, &data, &ours, k);
            let small_leaf = theirs.trees[k].leaf_count.iter().any(|&c| c < min);
            let refused = refused_by_estimated_counts(case, &binned, &gh, &ours.trees[k], &x64);
            assert!(
                small_leaf || !refused.is_empty(),
                "row count estimates explain nothing; {}",
                why()
            );
        }
        "until_pruned_feature" => {
            let gh = round_gradients(case, &data, &ours, k);
            let pruned = pruned_splits(case, &binned, &gh, &ours.trees[k], &x64);
            assert!(
                !pruned.is_empty(),
                "none of our splits uses a feature LightGBM pruned; {}",
                why()
            );
        }
        other => panic!("{}: unexpected difference ({other}); {}", case.name, why()),
    }
    // After the divergence the models are different but equally good.
    let quality_tol = match case.params.objective {
        Objective::Binary => 0.01,
        _ => 0.05 * m_theirs,
    };
    assert!(
        (m_ours - m_theirs).abs() <= quality_tol,
        "{}: metric {m_ours} vs LightGBM {m_theirs}",
        case.name
    );
}

/// Gradients and hessians of round `k`, from the scores of our first `k` trees (which
/// agree with LightGBM's).
fn round_gradients(case: &Case, data: &Dataset, ours: &TreeEnsemble, k: usize) -> Vec<[f32; 2]> {
    let objective = objective::build(&case.params, data).unwrap();
    let scores = if k == 0 {
        vec![objective.init_score(); data.n_rows()]
    } else {
        let before = TreeEnsemble {
            trees: ours.trees[..k].to_vec(),
            ..ours.clone()
        };
        predict_raw(&before, data.features.view()).unwrap()
    };
    let mut gh = vec![[0f32; 2]; data.n_rows()];
    objective.gradients(&scores, &mut gh);
    gh
}

/// Each internal node's parent.
fn parents(tree: &Tree) -> Vec<Option<usize>> {
    let mut parent = vec![None; tree.num_internal()];
    for n in 0..tree.num_internal() {
        for child in [tree.left_child[n], tree.right_child[n]] {
            if child >= 0 {
                parent[child as usize] = Some(n);
            }
        }
    }
    parent
}

/// Nodes of our `tree` that split on a feature which could not split one of the node's
/// ancestors (no threshold with a gain above `min_gain_to_split`). LightGBM stops
/// evaluating such a feature in the whole subtree (`is_splittable` in
/// `SerialTreeLearner::FindBestSplits`), so it cannot make these splits; we still can.
fn pruned_splits(
    case: &Case,
    binned: &BinnedData,
    gh: &[[f32; 2]],
    tree: &Tree,
    x: &Array2<f64>,
) -> Vec<usize> {
    let constraints = SplitConstraints::from(&case.params);
    let splittable = |rows: &[usize], f: usize| {
        let mapper = &binned.mappers[f];
        let mut hist = vec![BinStats::default(); mapper.num_bins()];
        let mut total = LeafSums::default();
        for &r in rows {
            let b = &mut hist[binned.columns[f].get(r)];
            let (g, h) = (f64::from(gh[r][0]), f64::from(gh[r][1]));
            b.grad += g;
            b.hess += h;
            b.count += 1;
            total.grad += g;
            total.hess += h;
            total.count += 1;
        }
        best_split_for_feature(f, &hist, mapper, total, &constraints).is_some()
    };
    let rows = node_rows(tree, x);
    let parent = parents(tree);
    (0..tree.num_internal())
        .filter(|&n| {
            let f = tree.split_feature[n] as usize;
            std::iter::successors(parent[n], |&a| parent[a]).any(|a| !splittable(&rows[a], f))
        })
        .collect()
}

/// Nodes of our `tree` whose split LightGBM refuses because its row counts, estimated
/// from hessians, fall under `min_data_in_leaf`. Its histograms hold no counts: a bin's
/// count is `round(hess * num_data / sum_hess)` and the scanned side sums those
/// (the right side when scanning down, missing values left; the left side otherwise).
fn refused_by_estimated_counts(
    case: &Case,
    binned: &BinnedData,
    gh: &[[f32; 2]],
    tree: &Tree,
    x: &Array2<f64>,
) -> Vec<usize> {
    const K_EPSILON: f64 = 1e-15f32 as f64;
    let min = case.params.min_data_in_leaf as i64;
    let rows = node_rows(tree, x);
    (0..tree.num_internal())
        .filter(|&n| {
            let f = tree.split_feature[n] as usize;
            let num_data = rows[n].len() as i64;
            let sum_hess: f64 = rows[n].iter().map(|&r| f64::from(gh[r][1])).sum();
            let factor = num_data as f64 / (sum_hess + 2.0 * K_EPSILON);
            let mut side_hess = vec![0f64; binned.mappers[f].num_bins()];
            for &r in &rows[n] {
                let left = tree.goes_left(n, x[[r, f]]);
                if left != tree.default_left[n] {
                    side_hess[binned.columns[f].get(r)] += f64::from(gh[r][1]);
                }
            }
            let scanned: i64 = side_hess
                .iter()
                .map(|&h| (h * factor + 0.5).floor() as i64)
                .sum();
            scanned < min || num_data - scanned < min
        })
        .collect()
}

#[test]
fn binary_trees_match_lightgbm_split_by_split() {
    for case in cases()
        .iter()
        .filter(|c| c.params.objective == Objective::Binary)
    {
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
