//! Property tests: efficiency (sum + expected == raw prediction, per class for multiclass
//! ensembles with categorical splits), unused features get exactly 0, fast == reference, both ==
//! brute-force Shapley values of the path-dependent game, and thread-count / row-order independence.

use aml_explain::synthetic::{
    categorical_rows, categorize, random_ensemble, random_rows, EnsembleShape,
};
use aml_explain::{reference_contributions, TreeShapExplainer};
use aml_models::{LeafStats, MissingType, NodeSplit, ObjectiveKind, Tree, TreeEnsemble};
use proptest::prelude::*;

/// Path-dependent conditional expectation E[f(x) | x_S] (features in `known` follow the row,
/// others average the children by cover), summed over trees plus the base score.
fn conditional_value(model: &TreeEnsemble, row: &[f64], known: u32) -> f64 {
    fn walk(t: &Tree, node: i32, row: &[f64], known: u32) -> f64 {
        if node < 0 {
            return t.leaf_value[(!node) as usize];
        }
        let n = node as usize;
        let f = t.split_feature[n] as usize;
        let (l, r) = (t.left_child[n], t.right_child[n]);
        if known >> f & 1 == 1 {
            let c = if t.goes_left(n, row[f]) { l } else { r };
            return walk(t, c, row, known);
        }
        let count = |c: i32| {
            if c < 0 {
                t.leaf_count[(!c) as usize] as f64
            } else {
                t.internal_count[c as usize] as f64
            }
        };
        let total = t.internal_count[n] as f64;
        (count(l) * walk(t, l, row, known) + count(r) * walk(t, r, row, known)) / total
    }
    let mut v = model.base_score;
    for t in &model.trees {
        v += if t.num_internal() == 0 {
            t.leaf_value[0]
        } else {
            walk(t, 0, row, known)
        };
    }
    v
}

/// Shapley values by enumerating all subsets (only for a handful of features).
fn brute_force_shapley(model: &TreeEnsemble, row: &[f64]) -> Vec<f64> {
    let n = model.num_features();
    let fact = |k: usize| (1..=k).map(|i| i as f64).product::<f64>();
    let mut phi = vec![0.0; n + 1];
    for (i, p) in phi.iter_mut().enumerate().take(n) {
        for s in 0u32..(1 << n) {
            if s >> i & 1 == 1 {
                continue;
            }
            let k = s.count_ones() as usize;
            let w = fact(k) * fact(n - k - 1) / fact(n);
            *p +=
                w * (conditional_value(model, row, s | 1 << i) - conditional_value(model, row, s));
        }
    }
    phi[n] = conditional_value(model, row, 0);
    phi
}

fn shape_strategy(max_features: usize) -> impl Strategy<Value = EnsembleShape> {
    (
        1usize..6,
        1usize..20,
        1usize..=max_features,
        0usize..3,
        2u64..200,
    )
        .prop_map(|(trees, leaves, used, unused, root_count)| EnsembleShape {
            trees,
            leaves,
            features: used + unused,
            used_features: used,
            root_count,
        })
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn efficiency_unused_zero_and_fast_equals_reference(
        shape in shape_strategy(8), seed in any::<u64>(), row_seed in any::<u64>()
    ) {
        let model = random_ensemble(seed, shape);
        let rows = random_rows(row_seed, 8, shape.features, 0.15);
        let explainer = TreeShapExplainer::new(&model).unwrap();
        let fast = explainer.contributions(rows.view()).unwrap();
        for (r, row) in rows.rows().into_iter().enumerate() {
            let row = row.to_vec();
            let reference = reference_contributions(&model, &row).unwrap();
            let fast_row = fast.row(r).to_vec();
            prop_assert!(max_abs_diff(&reference, &fast_row) <= 1e-9, "fast {:?} ref {:?}", fast_row, reference);
            let total: f64 = fast_row.iter().sum();
            prop_assert!((total - model.predict_raw_reference(&row)).abs() <= 1e-9);
            let ref_total: f64 = reference.iter().sum();
            prop_assert!((ref_total - model.predict_raw_reference(&row)).abs() <= 1e-9);
            for f in shape.used_features..shape.features {
                prop_assert_eq!(fast_row[f], 0.0);
                prop_assert_eq!(reference[f], 0.0);
            }
        }
    }

    /// Multiclass (and single-output) ensembles with categorical splits, plain or `average_output`:
    /// per class, fast and reference contributions plus the class's expected value sum to the
    /// class's raw score of the reference walk, agree with each other, and give unused features 0
    /// in every class block.
    #[test]
    fn categorical_multiclass_blocks_sum_to_each_class_raw_score(
        shape in shape_strategy(8),
        classes in 1usize..4,
        ova in any::<bool>(),
        average_output in any::<bool>(),
        seed in any::<u64>(),
        row_seed in any::<u64>(),
    ) {
        let shape = EnsembleShape { trees: shape.trees * classes, ..shape };
        let mut model = random_ensemble(seed, shape);
        // Even features split on categories, odd ones on thresholds.
        let categorical: Vec<u32> = (0..shape.features as u32).step_by(2).collect();
        categorize(&mut model, seed ^ 1, &categorical, 2);
        model.average_output = average_output;
        if classes > 1 {
            model.objective = if ova {
                ObjectiveKind::MulticlassOva { num_class: classes, sigmoid: 1.0 }
            } else {
                ObjectiveKind::Multiclass { num_class: classes }
            };
        }
        let rows = categorical_rows(row_seed, 8, shape.features, &categorical, 70);
        let explainer = TreeShapExplainer::new(&model).unwrap();
        let nf = shape.features;
        prop_assert_eq!(explainer.output_len(), classes * (nf + 1));
        let fast = explainer.contributions(rows.view()).unwrap();
        for (r, row) in rows.rows().into_iter().enumerate() {
            let row = row.to_vec();
            let raw = model.predict_raw_reference_classes(&row);
            let reference = reference_contributions(&model, &row).unwrap();
            let fast_row = fast.row(r).to_vec();
            prop_assert!(max_abs_diff(&reference, &fast_row) <= 1e-9, "fast {:?} ref {:?}", fast_row, reference);
            for (class, (f, e)) in fast_row.chunks(nf + 1).zip(reference.chunks(nf + 1)).enumerate() {
                let (fast_total, ref_total): (f64, f64) = (f.iter().sum(), e.iter().sum());
                prop_assert!((fast_total - raw[class]).abs() <= 1e-9, "class {} fast {} raw {}", class, fast_total, raw[class]);
                prop_assert!((ref_total - raw[class]).abs() <= 1e-9, "class {} ref {} raw {}", class, ref_total, raw[class]);
                for u in shape.used_features..nf {
                    prop_assert_eq!(f[u], 0.0);
                    prop_assert_eq!(e[u], 0.0);
                }
            }
        }
    }

    /// With `categories`, even features split on category sets (and rows hold categories there).
    #[test]
    fn reference_matches_brute_force_shapley(
        shape in shape_strategy(5), seed in any::<u64>(), row_seed in any::<u64>(),
        categories in any::<bool>()
    ) {
        let mut model = random_ensemble(seed, shape);
        let rows = if categories {
            let categorical: Vec<u32> = (0..shape.features as u32).step_by(2).collect();
            categorize(&mut model, seed ^ 1, &categorical, 1);
            categorical_rows(row_seed, 3, shape.features, &categorical, 40)
        } else {
            random_rows(row_seed, 3, shape.features, 0.2)
        };
        for row in rows.rows() {
            let row = row.to_vec();
            let exact = brute_force_shapley(&model, &row);
            let reference = reference_contributions(&model, &row).unwrap();
            prop_assert!(max_abs_diff(&exact, &reference) <= 1e-9, "exact {:?} ref {:?}", exact, reference);
        }
    }
}

#[test]
fn large_trees_take_the_fast_path_and_agree() {
    // 200 leaves: far more than 64 internal nodes, still at most 30 distinct features per path.
    let shape = EnsembleShape {
        trees: 3,
        leaves: 200,
        features: 30,
        used_features: 30,
        root_count: 5000,
    };
    let model = random_ensemble(11, shape);
    let explainer = TreeShapExplainer::new(&model).unwrap();
    assert_eq!(explainer.num_reference_trees(), 0);
    let rows = random_rows(12, 5, shape.features, 0.1);
    let fast = explainer.contributions(rows.view()).unwrap();
    for (r, row) in rows.rows().into_iter().enumerate() {
        let row = row.to_vec();
        let reference = reference_contributions(&model, &row).unwrap();
        assert!(max_abs_diff(&reference, &fast.row(r).to_vec()) <= 1e-9);
    }
}

/// A caterpillar tree: node `i` splits feature `i` at 0, its left child is leaf `i`, its right child
/// node `i + 1`; the deepest leaf's path tests `depth` distinct features.
fn chain_tree(depth: usize) -> Tree {
    let root_count = 100 + depth as u64;
    let mut t = Tree::constant(0.0, root_count);
    t.leaf_weight[0] = root_count as f64;
    for i in 0..depth {
        // Splitting the newest leaf: node i keeps leaf i on the left, the rest goes right.
        let rest = root_count - i as u64 - 1;
        let split = NodeSplit {
            feature: i as u32,
            threshold: 0.0,
            default_left: i % 2 == 0,
            missing_type: MissingType::NaN,
            gain: 1.0,
        };
        let left = LeafStats {
            value: (i as f64 * 0.37).sin(),
            weight: 1.0,
            count: 1,
        };
        let right = LeafStats {
            value: if i + 1 < depth { 0.0 } else { 0.25 },
            weight: rest as f64,
            count: rest,
        };
        t.split_leaf(i, split, left, right);
    }
    t
}

#[test]
fn paths_with_too_many_features_fall_back_to_reference_and_agree() {
    let depth = aml_explain::MAX_TABLE_DEPTH + 4;
    let shallow = random_ensemble(
        13,
        EnsembleShape {
            trees: 1,
            leaves: 15,
            features: depth,
            used_features: depth,
            root_count: 1000,
        },
    );
    let model = TreeEnsemble {
        trees: vec![chain_tree(depth), shallow.trees[0].clone(), chain_tree(8)],
        ..shallow
    };
    let explainer = TreeShapExplainer::new(&model).unwrap();
    assert_eq!(explainer.num_reference_trees(), 1);
    let mut rows = random_rows(14, 9, depth, 0.1);
    // Rows that reach the deepest leaves (all features positive) exercise the long path.
    for r in 0..3 {
        rows.row_mut(r).fill(1.0 + r as f64);
    }
    let fast = explainer.contributions(rows.view()).unwrap();
    for (r, row) in rows.rows().into_iter().enumerate() {
        let reference = reference_contributions(&model, &row.to_vec()).unwrap();
        assert!(max_abs_diff(&reference, &fast.row(r).to_vec()) <= 1e-9);
    }
}

/// A tree too deep for the fast path in class 1 of a 2-class ensemble: its reference-recursion
/// contributions land in class 1's block.
#[test]
fn multiclass_reference_fallback_fills_its_class_block() {
    let depth = aml_explain::MAX_TABLE_DEPTH + 2;
    let shallow = random_ensemble(
        15,
        EnsembleShape {
            trees: 3,
            leaves: 15,
            features: depth,
            used_features: 10,
            root_count: 1000,
        },
    );
    let model = TreeEnsemble {
        trees: vec![
            shallow.trees[0].clone(),
            chain_tree(depth),
            shallow.trees[1].clone(),
            shallow.trees[2].clone(),
        ],
        objective: ObjectiveKind::Multiclass { num_class: 2 },
        ..shallow
    };
    let explainer = TreeShapExplainer::new(&model).unwrap();
    assert_eq!(explainer.num_reference_trees(), 1);
    let mut rows = random_rows(16, 6, depth, 0.1);
    rows.row_mut(0).fill(1.0);
    let fast = explainer.contributions(rows.view()).unwrap();
    for (r, row) in rows.rows().into_iter().enumerate() {
        let row = row.to_vec();
        let reference = reference_contributions(&model, &row).unwrap();
        assert!(max_abs_diff(&reference, &fast.row(r).to_vec()) <= 1e-9);
        let raw = model.predict_raw_reference_classes(&row);
        for (class, block) in fast.row(r).to_vec().chunks(depth + 1).enumerate() {
            assert!((block.iter().sum::<f64>() - raw[class]).abs() <= 1e-9);
        }
    }
    // The deep chain's last feature is used by class 1 only (row 0 reaches its deepest leaf).
    assert!(fast.column(depth - 1).iter().all(|&v| v == 0.0));
    assert!(fast.column(2 * depth).iter().any(|&v| v != 0.0));
}

#[test]
fn bit_identical_across_threads_and_row_order() {
    let shape = EnsembleShape {
        trees: 40,
        leaves: 31,
        features: 20,
        used_features: 18,
        root_count: 10_000,
    };
    let model = random_ensemble(3, shape);
    let explainer = TreeShapExplainer::new(&model).unwrap();
    let rows = random_rows(4, 100, shape.features, 0.1);
    let run = |threads: usize, x: ndarray::ArrayView2<f64>| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| explainer.contributions(x).unwrap())
    };
    let one = run(1, rows.view());
    let two = run(2, rows.view());
    assert_eq!(one, two);
    // The portable kernels give the same bits as the SIMD ones the CPU selected.
    let portable = explainer.clone().with_portable_kernels();
    assert_eq!(portable.contributions(rows.view()).unwrap(), one);
    // Reversed rows give the same per-row bits, and single-row calls agree with the batch.
    let reversed = rows.slice(ndarray::s![..;-1, ..]).to_owned();
    let rev = run(2, reversed.view());
    let mut scratch = explainer.new_scratch();
    let mut single = vec![0.0; shape.features + 1];
    for r in 0..rows.nrows() {
        assert_eq!(one.row(r), rev.row(rows.nrows() - 1 - r));
        explainer.contributions_into(&rows.row(r).to_vec(), &mut single, &mut scratch);
        assert_eq!(one.row(r).to_vec(), single);
    }
}

#[test]
fn f32_input_is_widened_exactly() {
    let shape = EnsembleShape {
        trees: 5,
        leaves: 15,
        features: 6,
        used_features: 6,
        root_count: 500,
    };
    let model = random_ensemble(5, shape);
    let explainer = TreeShapExplainer::new(&model).unwrap();
    let rows32 = random_rows(6, 10, shape.features, 0.1).mapv(|v| v as f32);
    let rows64 = rows32.mapv(f64::from);
    assert_eq!(
        explainer.contributions(rows32.view()).unwrap(),
        explainer.contributions(rows64.view()).unwrap()
    );
}

#[test]
fn rejects_zero_cover_and_wrong_width() {
    let shape = EnsembleShape {
        trees: 1,
        leaves: 4,
        features: 3,
        used_features: 3,
        root_count: 100,
    };
    let mut model = random_ensemble(9, shape);
    let explainer = TreeShapExplainer::new(&model).unwrap();
    let err = explainer
        .contributions(ndarray::Array2::<f64>::zeros((2, 4)).view())
        .unwrap_err();
    assert!(err.to_string().contains("4 columns"), "{err}");
    model.trees[0].leaf_count[1] = 0;
    let err = TreeShapExplainer::new(&model).unwrap_err();
    assert!(err.to_string().contains("leaf 1"), "{err}");
}
