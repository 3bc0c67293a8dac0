//! Random LightGBM-shaped ensembles with categorical splits, linear leaves, infinite thresholds,
//! several classes and random-forest averaging: written as LightGBM text, parsed back, and predicted through every
//! predictor path with `f64` and `f32` inputs. Every raw score equals a plain recursive walk
//! written here (LightGBM's decision rules, spelled out independently of `aml_models::tree`),
//! bit for bit, and every prediction equals that walk's raw scores averaged and transformed.

mod common;

use aml_models::tree::{CategoricalSplits, LinearLeaves, ZERO_THRESHOLD};
use aml_models::{
    parse_model, write_model, FeatureValue, GbdtModel, Model, ObjectiveKind, Predictor, Tree,
    TreeEnsemble,
};
use common::{grown_tree, reference_goes_left, Rng};
use ndarray::Array2;
use proptest::prelude::*;

/// Category sets with empty sets, all-zero words and high categories.
fn random_sets(rng: &mut Rng) -> (Vec<u32>, Vec<u32>) {
    let mut boundaries = vec![0u32];
    let mut bits = Vec::new();
    for _ in 0..1 + rng.below(3) {
        for _ in 0..rng.below(4) {
            bits.push(match rng.below(4) {
                0 => 0,
                1 => 1 << rng.below(32),
                _ => rng.next_u64() as u32,
            });
        }
        boundaries.push(bits.len() as u32);
    }
    (boundaries, bits)
}

/// Turns some nodes of `tree` into categorical splits over random category sets.
fn add_categorical(rng: &mut Rng, tree: &mut Tree) {
    let (boundaries, bits) = random_sets(rng);
    let sets = boundaries.len() - 1;
    let mut is_categorical = vec![false; tree.num_internal()];
    for (node, cat) in is_categorical.iter_mut().enumerate() {
        if rng.coin() {
            *cat = true;
            tree.threshold[node] = rng.below(sets) as f64;
        }
    }
    tree.categorical = Some(CategoricalSplits {
        is_categorical,
        boundaries,
        bits,
    });
}

/// Gives every leaf of `tree` a linear model over 0-3 random features.
fn add_linear(rng: &mut Rng, tree: &mut Tree, num_features: usize) {
    let leaves = tree.num_leaves();
    let mut linear = LinearLeaves {
        leaf_const: Vec::new(),
        leaf_features: Vec::new(),
        leaf_coeff: Vec::new(),
    };
    for _ in 0..leaves {
        let n = rng.below(4);
        linear.leaf_const.push(rng.unit() * 2.0 - 1.0);
        linear
            .leaf_features
            .push((0..n).map(|_| rng.below(num_features) as u32).collect());
        linear
            .leaf_coeff
            .push((0..n).map(|_| (rng.unit() - 0.5) * 4.0).collect());
    }
    tree.linear = Some(linear);
}

/// A random ensemble: `num_class` classes, categorical nodes and linear leaves in some trees.
fn random_ensemble(seed: u64, num_class: usize, average_output: bool) -> TreeEnsemble {
    let mut rng = Rng(seed);
    let num_features = 1 + rng.below(6);
    let iterations = rng.below(6);
    let categorical = rng.coin();
    let linear = rng.below(3) == 0;
    let trees = (0..iterations * num_class)
        .map(|_| {
            let leaves = 1 + rng.below(12);
            let mut t = grown_tree(&mut rng, num_features, leaves);
            // LightGBM writes `inf` for a split that sends only missing values right.
            for threshold in t.threshold.iter_mut() {
                if rng.below(8) == 0 {
                    *threshold = [f64::INFINITY, f64::NEG_INFINITY][rng.below(2)];
                }
            }
            if categorical && rng.coin() {
                add_categorical(&mut rng, &mut t);
            }
            if linear {
                add_linear(&mut rng, &mut t, num_features);
            }
            t
        })
        .collect();
    let sigmoid = [1.0, 0.7, 2.5][rng.below(3)];
    let objective = match (num_class, rng.below(3)) {
        (1, 0) => ObjectiveKind::Binary { sigmoid },
        (1, 1) => ObjectiveKind::Regression,
        (1, _) => ObjectiveKind::CrossEntropy,
        (k, 0) => ObjectiveKind::MulticlassOva {
            num_class: k,
            sigmoid,
        },
        (k, _) => ObjectiveKind::Multiclass { num_class: k },
    };
    TreeEnsemble {
        trees,
        base_score: 0.0,
        feature_names: (0..num_features).map(|i| format!("f{i}")).collect(),
        feature_infos: vec!["none".into(); num_features],
        objective,
        average_output,
    }
}

/// Inputs for categorical and numerical nodes alike: NaN, zeros, tiny, negative, non-integer,
/// huge and infinite values, categories in and past the sets, thresholds and their neighbours.
fn random_rows(rng: &mut Rng, ensemble: &TreeEnsemble, n: usize) -> Vec<Vec<f64>> {
    let mut rows = common::random_rows(rng, ensemble, n);
    for v in rows.iter_mut().flatten() {
        *v = match rng.below(4) {
            0 => (rng.below(140) as f64) - 4.0,
            1 => [
                -0.5,
                0.5,
                3.7,
                -1.0,
                31.999,
                1e300,
                -1e300,
                f64::INFINITY,
                f64::NEG_INFINITY,
                2147483648.0,
                4294967297.0,
                -2147483649.0,
                1e19,
            ][rng.below(13)],
            _ => *v,
        };
    }
    rows
}

/// Output of leaf `leaf`: its constant, or its linear model (the constant if a feature is NaN).
fn leaf_output(tree: &Tree, leaf: usize, row: &[f64]) -> f64 {
    let Some(l) = &tree.linear else {
        return tree.leaf_value[leaf];
    };
    let mut out = l.leaf_const[leaf];
    for (&f, &c) in l.leaf_features[leaf].iter().zip(&l.leaf_coeff[leaf]) {
        let x = row[f as usize];
        if x.is_nan() {
            return tree.leaf_value[leaf];
        }
        out += c * if x.abs() <= ZERO_THRESHOLD { 0.0 } else { x };
    }
    out
}

/// The recursive walk from LightGBM child reference `child` (`< 0` is leaf `!child`).
fn walk(tree: &Tree, child: i32, row: &[f64]) -> f64 {
    if child < 0 {
        return leaf_output(tree, (!child) as usize, row);
    }
    let node = child as usize;
    let next = if reference_goes_left(tree, node, row[tree.split_feature[node] as usize]) {
        tree.left_child[node]
    } else {
        tree.right_child[node]
    };
    walk(tree, next, row)
}

/// Raw score of every class: tree `t` adds to class `t % K`, in tree order.
fn reference_raw(e: &TreeEnsemble, row: &[f64]) -> Vec<f64> {
    let k = e.num_class();
    let mut s = vec![e.base_score; k];
    for (t, tree) in e.trees.iter().enumerate() {
        s[t % k] += if tree.num_internal() == 0 {
            leaf_output(tree, 0, row)
        } else {
            walk(tree, 0, row)
        };
    }
    s
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Checks every predictor path on `x` against the reference raw scores `want` (one per row).
fn check_paths<T: FeatureValue>(
    p: &Predictor,
    e: &TreeEnsemble,
    x: &Array2<T>,
    want: &[Vec<f64>],
) -> Result<(), TestCaseError> {
    let k = e.num_class();
    let parallel = p.predict_raw_classes(x.view()).unwrap();
    let sequential = p.predict_raw_classes_sequential(x.view()).unwrap();
    // A column-major copy takes the gathering path.
    let fortran = x.t().to_owned();
    let gathered = p.predict_raw_classes(fortran.t()).unwrap();
    let probs = p.predict_classes(x.view()).unwrap();
    for (i, w) in want.iter().enumerate() {
        let row = x.row(i).to_vec();
        let mut one = vec![0.0; k];
        p.predict_raw_row_classes(&row, &mut one).unwrap();
        for (what, got) in [
            ("parallel", parallel.row(i).to_vec()),
            ("sequential", sequential.row(i).to_vec()),
            ("gathered", gathered.row(i).to_vec()),
            ("single row", one),
        ] {
            prop_assert_eq!(bits(&got), bits(w), "{} row {}", what, i);
        }
        let mut pred = w.clone();
        e.transform_classes(&mut pred);
        prop_assert_eq!(bits(&probs.row(i).to_vec()), bits(&pred), "pred row {}", i);
        if k == 1 {
            prop_assert_eq!(p.predict_raw_row(&row).unwrap().to_bits(), w[0].to_bits());
            prop_assert_eq!(p.predict_row(&row).unwrap().to_bits(), pred[0].to_bits());
        }
    }
    if k == 1 {
        prop_assert_eq!(
            bits(&p.predict_raw(x.view()).unwrap()),
            bits(&parallel.column(0).to_vec())
        );
        prop_assert_eq!(
            bits(&p.predict_raw_sequential(x.view()).unwrap()),
            bits(&parallel.column(0).to_vec())
        );
        prop_assert_eq!(
            bits(&p.predict(x.view()).unwrap()),
            bits(&probs.column(0).to_vec())
        );
    } else {
        prop_assert!(p.predict_raw(x.view()).is_err());
        prop_assert!(p.predict(x.view()).is_err());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn written_parsed_and_predicted_like_the_reference_walk(
        seed in any::<u64>(),
        num_class in 1usize..=3,
        average_output in any::<bool>(),
    ) {
        let ensemble = random_ensemble(seed, num_class, average_output);
        let text = write_model(&ensemble, &[]).unwrap();
        let parsed = parse_model(&text).unwrap().ensemble;
        prop_assert_eq!(&parsed, &ensemble);
        let p = parsed.predictor().unwrap();
        prop_assert_eq!(p.num_class(), num_class);
        let mut rng = Rng(seed ^ 0x5555);
        let n = 1 + rng.below(150);
        let rows = random_rows(&mut rng, &parsed, n);
        let x = common::to_array(&rows, parsed.num_features());
        let want: Vec<Vec<f64>> = rows.iter().map(|r| reference_raw(&parsed, r)).collect();
        check_paths(&p, &parsed, &x, &want)?;
        // f32 inputs decide as the f64 values they widen to.
        let x32 = x.mapv(|v| v as f32);
        let want32: Vec<Vec<f64>> = x32
            .rows()
            .into_iter()
            .map(|r| reference_raw(&parsed, &r.iter().map(|&v| f64::from(v)).collect::<Vec<_>>()))
            .collect();
        check_paths(&p, &parsed, &x32, &want32)?;
        // The model as the miner loads it: GbdtModel over the same text.
        let model = GbdtModel::from_model_str(&text).unwrap();
        let raw = model.predict_raw_classes(x32.view()).unwrap();
        prop_assert_eq!(bits(&raw.iter().copied().collect::<Vec<_>>()), bits(&want32.concat()));
        if num_class == 1 {
            prop_assert_eq!(bits(&model.predict_raw(x32.view()).unwrap()), bits(&want32.concat()));
        } else {
            prop_assert!(model.predict(x32.view()).is_err());
        }
    }
}
