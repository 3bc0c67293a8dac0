//! `TreeShapExplainer::explain_json` (the miner's fused path: contributions per block straight
//! into `explain_json`) against the plain one it replaces: `explain`, score replaced, then
//! `Explanation::to_explain_json`. The strings must be byte-identical for numerical and
//! categorical models, NaN / infinite / zero values, every `top_k`, any row count, f32 and f64
//! input, 1 or 2 threads; and `top_k_indices` (one-pass selection) must equal a full sort.

use aml_explain::synthetic::{categorical_rows, categorize, random_ensemble, EnsembleShape};
use aml_explain::{top_k_indices, ExplainError, TreeShapExplainer, DEFAULT_TOP_K};
use aml_models::{ObjectiveKind, TreeEnsemble};
use ndarray::{Array2, ArrayView2};
use proptest::prelude::*;

/// The plain path: every row's `Explanation`, score replaced, serialised.
fn plain_json<T: Copy + Into<f64> + Sync>(
    explainer: &TreeShapExplainer,
    x: ArrayView2<'_, T>,
    scores: &[f64],
    k: usize,
) -> Vec<String> {
    explainer
        .explain(x, k)
        .unwrap()
        .into_iter()
        .zip(scores)
        .map(|(mut e, &s)| {
            e.score = s;
            e.to_explain_json()
        })
        .collect()
}

fn model(seed: u64, categorical: &[u32]) -> TreeEnsemble {
    let shape = EnsembleShape {
        trees: 15,
        leaves: 20,
        features: 9,
        used_features: 7,
        root_count: 3000,
    };
    let mut model = random_ensemble(seed, shape);
    categorize(&mut model, seed ^ 3, categorical, 2);
    model
}

fn scores(n: usize) -> Vec<f64> {
    (0..n).map(|i| (i as f64 * 0.37).sin().abs()).collect()
}

/// The sort the one-pass selection replaced.
fn sorted_top_k(contrib: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..contrib.len()).filter(|&i| contrib[i] != 0.0).collect();
    idx.sort_by(|&a, &b| {
        contrib[b]
            .abs()
            .total_cmp(&contrib[a].abs())
            .then(a.cmp(&b))
    });
    idx.truncate(k);
    idx
}

#[test]
fn equals_the_plain_path_for_every_top_k_and_row_count() {
    let categorical = [1, 4];
    let model = model(5, &categorical);
    let explainer = TreeShapExplainer::new(&model).unwrap();
    let mut rows = categorical_rows(6, 300, 9, &categorical, 50);
    // values JSON cannot hold, and huge / tiny ones
    rows[[0, 0]] = f64::INFINITY;
    rows[[1, 2]] = f64::NEG_INFINITY;
    rows[[2, 3]] = 1e300;
    rows[[3, 5]] = -1e-300;
    for n in [0, 1, 31, 33, 128, 129, 300] {
        let x = rows.slice(ndarray::s![..n, ..]);
        let s = scores(n);
        for k in [0, 1, DEFAULT_TOP_K, 9, 20] {
            assert_eq!(
                explainer.explain_json(x, &s, k).unwrap(),
                plain_json(&explainer, x, &s, k),
                "n {n} k {k}"
            );
        }
    }
    // f32 input (the miner's matrix) is widened the same way on both paths
    let x32: Array2<f32> = rows.mapv(|v| v as f32);
    let s = scores(300);
    assert_eq!(
        explainer
            .explain_json(x32.view(), &s, DEFAULT_TOP_K)
            .unwrap(),
        plain_json(&explainer, x32.view(), &s, DEFAULT_TOP_K)
    );
}

#[test]
fn ties_in_impact_go_to_the_lower_feature_on_both_paths() {
    // Two identical stumps on features 0 and 2: equal impacts, so the tie order decides.
    let mut model = model(7, &[]);
    let stump = model.trees[0].clone();
    let mut twin = stump.clone();
    twin.split_feature = twin.split_feature.iter().map(|_| 2).collect();
    let mut first = stump;
    first.split_feature = first.split_feature.iter().map(|_| 0).collect();
    model.trees = vec![twin, first];
    let explainer = TreeShapExplainer::new(&model).unwrap();
    let mut rows = categorical_rows(8, 40, 9, &[], 0);
    for r in 0..40 {
        rows[[r, 2]] = rows[[r, 0]];
    }
    let s = scores(40);
    let fused = explainer.explain_json(rows.view(), &s, 1).unwrap();
    assert_eq!(fused, plain_json(&explainer, rows.view(), &s, 1));
    // a row with a non-zero impact names feature 0, never feature 2
    assert!(fused.iter().any(|j| j.contains("\"f0\"")));
    assert!(fused.iter().all(|j| !j.contains("\"f2\"")));
}

#[test]
fn threads_and_row_order_do_not_change_the_strings() {
    let model = model(9, &[]);
    let explainer = TreeShapExplainer::new(&model).unwrap();
    let rows = categorical_rows(10, 500, 9, &[], 0);
    let s = scores(500);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                explainer
                    .explain_json(rows.view(), &s, DEFAULT_TOP_K)
                    .unwrap()
            })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    // Row order: reversed rows (and scores) give the reversed strings.
    let reversed = rows.slice(ndarray::s![..;-1, ..]).to_owned();
    let rev_scores: Vec<f64> = s.iter().rev().copied().collect();
    let mut rev = explainer
        .explain_json(reversed.view(), &rev_scores, DEFAULT_TOP_K)
        .unwrap();
    rev.reverse();
    assert_eq!(rev, one);
}

#[test]
fn refuses_multiclass_wrong_score_count_and_wrong_width() {
    let mut multi = model(11, &[]);
    multi.objective = ObjectiveKind::Multiclass { num_class: 3 };
    let rows = categorical_rows(12, 10, 9, &[], 0);
    let err = TreeShapExplainer::new(&multi)
        .unwrap()
        .explain_json(rows.view(), &scores(10), 5)
        .unwrap_err();
    assert!(matches!(err, ExplainError::Unsupported(_)), "{err:?}");
    let explainer = TreeShapExplainer::new(&model(11, &[])).unwrap();
    let err = explainer
        .explain_json(rows.view(), &scores(9), 5)
        .unwrap_err();
    assert_eq!(
        err,
        ExplainError::RowCountMismatch {
            what: "scores",
            expected: 10,
            got: 9
        }
    );
    assert_eq!(
        err.to_string(),
        "scores has 9 values but the input has 10 rows"
    );
    let narrow = rows.slice(ndarray::s![.., ..8]);
    let err = explainer.explain_json(narrow, &scores(10), 5).unwrap_err();
    assert!(matches!(
        err,
        ExplainError::FeatureCountMismatch {
            expected: 9,
            got: 8
        }
    ));
}

fn contribution() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(0.5),
        Just(-0.5),
        Just(f64::NAN),
        Just(f64::INFINITY),
        -3.0f64..3.0,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn one_pass_top_k_equals_the_full_sort(
        contrib in proptest::collection::vec(contribution(), 0..40),
        k in 0usize..45,
    ) {
        prop_assert_eq!(top_k_indices(&contrib, k), sorted_top_k(&contrib, k));
    }

    #[test]
    fn random_models_and_rows_give_the_same_bytes(
        seed in any::<u64>(),
        n in 0usize..200,
        k in 0usize..12,
        categorical in any::<bool>(),
    ) {
        let features: Vec<u32> = if categorical { vec![0, 2, 6] } else { Vec::new() };
        let model = model(seed, &features);
        let explainer = TreeShapExplainer::new(&model).unwrap();
        let rows = categorical_rows(seed ^ 1, n, 9, &features, 40);
        let s = scores(n);
        prop_assert_eq!(
            explainer.explain_json(rows.view(), &s, k).unwrap(),
            plain_json(&explainer, rows.view(), &s, k)
        );
    }
}
