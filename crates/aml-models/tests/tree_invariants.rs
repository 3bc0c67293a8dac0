//! `Tree` keeps its own invariants: any sequence of `split_leaf` calls gives a tree that passes
//! `Tree::validate`, and the library's walk (`leaf_index` on `f64` and `f32` rows, `leaf_by`)
//! reaches the leaf of an independent recursive walk (`common::reference_leaf`).

mod common;

use aml_models::tree::CategoricalSplits;
use aml_models::{LeafStats, MissingType, NodeSplit, Tree};
use common::{grown_tree, reference_goes_left, reference_leaf, Rng};
use proptest::prelude::*;

const FEATURES: usize = 5;

/// One `split_leaf` call: which leaf (modulo the leaves there are), the split and both children.
fn split_call() -> impl Strategy<Value = (usize, NodeSplit, LeafStats, LeafStats)> {
    let missing = prop_oneof![
        Just(MissingType::None),
        Just(MissingType::Zero),
        Just(MissingType::NaN)
    ];
    let split = (
        0..FEATURES as u32,
        -3.0..3.0f64,
        any::<bool>(),
        missing,
        0.0..9.0f64,
    )
        .prop_map(
            |(feature, threshold, default_left, missing_type, gain)| NodeSplit {
                feature,
                threshold,
                default_left,
                missing_type,
                gain,
            },
        );
    let stats =
        (-1.0..1.0f64, 0.0..50.0f64, 0u64..500).prop_map(|(value, weight, count)| LeafStats {
            value,
            weight,
            count,
        });
    (any::<usize>(), split, stats.clone(), stats)
}

/// Rows mixing ordinary values, zeros, tiny values and NaN.
fn row() -> impl Strategy<Value = Vec<f64>> {
    let value = prop_oneof![
        4 => -3.5..3.5f64,
        1 => Just(0.0),
        1 => Just(f64::NAN),
        1 => Just(1e-36),
        1 => Just(-1e-40),
    ];
    proptest::collection::vec(value, FEATURES)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_sequence_of_splits_is_a_valid_tree(
        root in -1.0..1.0f64,
        calls in proptest::collection::vec(split_call(), 0..40),
        rows in proptest::collection::vec(row(), 1..20),
    ) {
        let mut tree = Tree::constant(root, 1000);
        for (pick, split, left, right) in calls {
            let leaf = pick % tree.num_leaves();
            let before = (tree.num_internal(), tree.num_leaves());
            let (stats_before, parent_before) = (
                (tree.leaf_value[leaf], tree.leaf_weight[leaf], tree.leaf_count[leaf]),
                tree.leaf_parent(leaf),
            );
            let (l, r) = tree.split_leaf(leaf, split, left, right);
            prop_assert_eq!((l, r), (leaf, before.1));
            prop_assert_eq!((tree.num_internal(), tree.num_leaves()), (before.0 + 1, before.1 + 1));
            let node = before.0;
            // The node took the leaf's place and its stats; the children hang below it.
            prop_assert_eq!(tree.leaf_parent(l), Some((node, true)));
            prop_assert_eq!(tree.leaf_parent(r), Some((node, false)));
            if let Some((p, is_left)) = parent_before {
                let child = if is_left { tree.left_child[p] } else { tree.right_child[p] };
                prop_assert_eq!(child, node as i32);
            }
            prop_assert_eq!(
                (tree.internal_value[node], tree.internal_weight[node], tree.internal_count[node]),
                stats_before
            );
            prop_assert_eq!(tree.leaf_value[l], left.value);
            prop_assert_eq!(tree.leaf_count[r], right.count);
            prop_assert_eq!(tree.validate(FEATURES), Ok(()));
        }
        for row in &rows {
            let leaf = reference_leaf(&tree, row);
            prop_assert_eq!(tree.leaf_index(row), leaf);
            prop_assert_eq!(tree.leaf_by(|n| tree.goes_left(n, row[tree.split_feature[n] as usize])), leaf);
        }
    }

    /// `leaf_index` on `f32` rows decides as the reference walk does on the widened values.
    #[test]
    fn leaf_index_agrees_with_the_reference_walk(seed in any::<u64>(), leaves in 1usize..40) {
        let mut rng = Rng(seed);
        let tree = grown_tree(&mut rng, FEATURES, leaves);
        prop_assert_eq!(tree.validate(FEATURES), Ok(()));
        for _ in 0..50 {
            let row: Vec<f32> = (0..FEATURES)
                .map(|_| match rng.below(6) {
                    0 => f32::NAN,
                    1 => 0.0,
                    2 => 1e-36,
                    _ => (rng.unit() * 6.0 - 3.0) as f32,
                })
                .collect();
            let wide: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
            prop_assert_eq!(tree.leaf_index(&row), reference_leaf(&tree, &wide));
            prop_assert_eq!(tree.leaf_index(&wide), reference_leaf(&tree, &wide));
        }
    }
}

/// A split on `feature` at `threshold`, NaN to the left.
fn split_on(feature: u32, threshold: f64) -> NodeSplit {
    NodeSplit {
        feature,
        threshold,
        default_left: true,
        missing_type: MissingType::NaN,
        gain: 1.0,
    }
}

/// Leaf stats with weight equal to count.
fn stats(value: f64, count: u64) -> LeafStats {
    LeafStats {
        value,
        weight: count as f64,
        count,
    }
}

#[test]
fn splitting_a_tree_with_category_sets_adds_a_numerical_node() {
    let mut rng = Rng(7);
    let mut tree = grown_tree(&mut rng, FEATURES, 3);
    tree.categorical = Some(CategoricalSplits {
        is_categorical: vec![true, false],
        boundaries: vec![0, 1],
        bits: vec![0b1010],
    });
    tree.threshold[0] = 0.0;
    tree.split_leaf(1, split_on(2, 0.5), stats(0.25, 3), stats(-0.25, 4));
    assert_eq!(tree.validate(FEATURES), Ok(()));
    let sets = tree.categorical.as_ref().unwrap();
    assert_eq!(sets.is_categorical, [true, false, false]);
    for x in [0.0, 1.0, 2.0, 3.0, f64::NAN, 0.4, 0.6] {
        for node in 0..tree.num_internal() {
            assert_eq!(
                tree.goes_left(node, x),
                reference_goes_left(&tree, node, x),
                "node {node} x {x}"
            );
        }
    }
}

#[test]
#[should_panic(expected = "leaf 3 out of range")]
fn splitting_a_missing_leaf_is_refused() {
    let mut tree = Tree::constant(0.0, 1);
    tree.split_leaf(3, split_on(0, 0.0), stats(0.0, 0), stats(0.0, 0));
}
