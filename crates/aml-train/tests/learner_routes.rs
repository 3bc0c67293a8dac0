//! The learner routes training rows with the tree it writes: for every grown tree, the leaf a
//! row's bins reach (`LearnedTree::leaf_of_binned_row`) and the leaf segment the partition put
//! it in are the leaf `Tree::leaf_index` reaches on the row's raw `f32` values.

use aml_train::binning::BinnedData;
use aml_train::learner::{GrowthLimits, TreeLearner};
use aml_train::split::SplitConstraints;
use ndarray::Array2;
use proptest::prelude::*;

fn constraints() -> SplitConstraints {
    SplitConstraints {
        lambda_l1: 0.0,
        lambda_l2: 1.0,
        min_data_in_leaf: 2,
        min_sum_hessian_in_leaf: 1e-3,
        min_gain_to_split: 0.0,
    }
}

/// Columns with NaNs, exact zeros, repeated values and ordinary numbers.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        1 => Just(f32::NAN),
        1 => Just(0.0f32),
        2 => (-4i32..=4).prop_map(|v| v as f32 * 0.5),
        4 => -100.0f32..100.0,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn binned_routes_are_the_trees_routes(
        cells in proptest::collection::vec(value(), 40 * 3..=120 * 3),
        grads in proptest::collection::vec(-1.0f32..1.0, 120),
        max_bin in 2usize..20,
        bagged in any::<bool>(),
    ) {
        let n = cells.len() / 3;
        let x = Array2::from_shape_vec((n, 3), cells[..n * 3].to_vec()).unwrap();
        let data = BinnedData::from_features(x.view(), max_bin, 1000, 5);
        let gh: Vec<[f32; 2]> = (0..n).map(|r| [grads[r], 1.0]).collect();
        let bag: Vec<u32> = (0..n as u32).filter(|r| r % 3 != 1).collect();
        let limits = GrowthLimits { num_leaves: 12, max_depth: -1 };
        let mut learner = TreeLearner::new(&data, constraints(), limits);
        let grown = learner.grow(&gh, bagged.then_some(&bag[..]), &[true; 3]);
        let tree = &grown.tree;
        prop_assert_eq!(tree.validate(3), Ok(()));
        for r in 0..n {
            let raw: Vec<f32> = x.row(r).to_vec();
            prop_assert_eq!(grown.leaf_of_binned_row(&data, r), tree.leaf_index(&raw), "row {}", r);
        }
        for leaf in 0..tree.num_leaves() {
            let rows = grown.leaf_rows(&learner, leaf);
            prop_assert_eq!(rows.len() as u64, tree.leaf_count[leaf]);
            for &r in rows {
                let raw: Vec<f32> = x.row(r as usize).to_vec();
                prop_assert_eq!(tree.leaf_index(&raw), leaf);
            }
        }
    }
}
