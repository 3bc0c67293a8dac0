//! Deterministic random ensembles and inputs shared by the integration tests.
#![allow(dead_code)]

use aml_models::tree::ZERO_THRESHOLD;
use aml_models::{LeafStats, MissingType, NodeSplit, ObjectiveKind, Tree, TreeEnsemble};

/// SplitMix64: tiny, seedable, good enough to shape test trees.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
}

/// Threshold candidates that exercise LightGBM's edge cases.
fn threshold(rng: &mut Rng) -> f64 {
    match rng.below(8) {
        0 => 0.0,
        1 => ZERO_THRESHOLD,
        2 => -ZERO_THRESHOLD,
        3 => f64::from((rng.unit() * 4.0 - 2.0) as f32),
        4 => 1e-36 * if rng.coin() { 1.0 } else { -1.0 },
        5 => (rng.below(9) as f64 - 4.0) * 0.5,
        _ => rng.unit() * 6.0 - 3.0,
    }
}

/// A random valid tree grown like LightGBM: splitting leaf `l` creates internal node
/// `k` whose left child keeps leaf `l` and whose right child is the new leaf.
pub fn random_tree(rng: &mut Rng, num_features: usize, max_leaves: usize) -> Tree {
    let leaves = 1 + rng.below(max_leaves);
    grown_tree(rng, num_features, leaves)
}

/// A random valid tree with exactly `leaves` leaves (see [`random_tree`]).
pub fn grown_tree(rng: &mut Rng, num_features: usize, leaves: usize) -> Tree {
    let mut t = Tree::constant(rng.unit() - 0.5, rng.below(1000) as u64);
    t.leaf_weight[0] = rng.unit() * 10.0;
    for _ in 1..leaves {
        let l = rng.below(t.num_leaves());
        let split = NodeSplit {
            feature: rng.below(num_features) as u32,
            gain: rng.unit() * 100.0,
            threshold: threshold(rng),
            default_left: rng.coin(),
            missing_type: match rng.below(3) {
                0 => MissingType::None,
                1 => MissingType::Zero,
                _ => MissingType::NaN,
            },
        };
        let scale = [1e-3, 0.1, 1.0, 7.0][rng.below(4)];
        // The left child keeps the leaf's weight and count.
        let left = LeafStats {
            value: (rng.unit() - 0.5) * scale,
            weight: t.leaf_weight[l],
            count: t.leaf_count[l],
        };
        let right = LeafStats {
            value: (rng.unit() - 0.5) * scale,
            weight: rng.unit() * 10.0,
            count: rng.below(1000) as u64,
        };
        t.split_leaf(l, split, left, right);
    }
    t.shrinkage = [1.0, 0.1, 0.05][rng.below(3)];
    t
}

/// LightGBM's decision at internal node `node` for value `x` (`true` = left), spelled out
/// independently of `aml_models::tree` so it can be the oracle of the library's walks.
pub fn reference_goes_left(tree: &Tree, node: usize, x: f64) -> bool {
    // LightGBM's dense predictor turns |x| <= kZeroThreshold into 0 (NaN stays NaN).
    let x = if x.abs() <= ZERO_THRESHOLD { 0.0 } else { x };
    if let Some(c) = tree.categorical.as_ref().filter(|c| c.is_categorical[node]) {
        // A category is the value truncated towards zero; NaN and negatives go right.
        let category = x.trunc();
        if x.is_nan() || category < 0.0 {
            return false;
        }
        let category = category as u64; // saturates for huge values, which no set holds
        let set = tree.threshold[node] as usize;
        let words = &c.bits[c.boundaries[set] as usize..c.boundaries[set + 1] as usize];
        return match words.get((category / 32) as usize) {
            Some(w) => (w >> (category % 32)) & 1 == 1,
            None => false,
        };
    }
    let missing = match tree.missing_type[node] {
        MissingType::None => false,
        MissingType::Zero => x.is_nan() || x == 0.0,
        MissingType::NaN => x.is_nan(),
    };
    if missing {
        return tree.default_left[node];
    }
    // Missing type None reads NaN as 0.
    let x = if x.is_nan() { 0.0 } else { x };
    x <= tree.threshold[node]
}

/// The leaf `row` reaches by a plain recursive walk with [`reference_goes_left`].
pub fn reference_leaf(tree: &Tree, row: &[f64]) -> usize {
    fn walk(tree: &Tree, child: i32, row: &[f64]) -> usize {
        if child < 0 {
            return (!child) as usize;
        }
        let node = child as usize;
        let x = row[tree.split_feature[node] as usize];
        if reference_goes_left(tree, node, x) {
            walk(tree, tree.left_child[node], row)
        } else {
            walk(tree, tree.right_child[node], row)
        }
    }
    if tree.num_internal() == 0 {
        0
    } else {
        walk(tree, 0, row)
    }
}

/// A random valid ensemble; `base_score` is zero when `with_base` is false.
pub fn random_ensemble(seed: u64, with_base: bool) -> TreeEnsemble {
    let mut rng = Rng(seed);
    let num_features = 1 + rng.below(12);
    let trees = (0..rng.below(25))
        .map(|_| random_tree(&mut rng, num_features, 20))
        .collect();
    let objective = match rng.below(3) {
        0 => ObjectiveKind::Binary {
            sigmoid: [1.0, 0.7, 2.5][rng.below(3)],
        },
        1 => ObjectiveKind::LambdaRank,
        _ => ObjectiveKind::Regression,
    };
    TreeEnsemble {
        trees,
        base_score: if with_base { rng.unit() - 0.5 } else { 0.0 },
        feature_names: (0..num_features).map(|i| format!("feat_{i}")).collect(),
        feature_infos: (0..num_features)
            .map(|i| {
                if i % 3 == 0 {
                    "none".to_string()
                } else {
                    format!("[-{i}:{i}]")
                }
            })
            .collect(),
        objective,
        average_output: false,
    }
}

/// Random rows mixing NaN, zeros, tiny values, the ensemble's thresholds and their neighbours.
pub fn random_rows(rng: &mut Rng, ensemble: &TreeEnsemble, n: usize) -> Vec<Vec<f64>> {
    let thresholds: Vec<f64> = ensemble
        .trees
        .iter()
        .flat_map(|t| t.threshold.iter().copied())
        .collect();
    (0..n)
        .map(|_| {
            (0..ensemble.num_features())
                .map(|_| match rng.below(10) {
                    0 => f64::NAN,
                    1 => 0.0,
                    2 => {
                        [ZERO_THRESHOLD, -ZERO_THRESHOLD, 5e-36, -5e-36, 1e-40, -0.0][rng.below(6)]
                    }
                    3..=5 if !thresholds.is_empty() => {
                        let t = thresholds[rng.below(thresholds.len())];
                        match rng.below(3) {
                            0 => t,
                            1 => f64::from_bits(t.to_bits().wrapping_add(1)),
                            _ => f64::from(t as f32),
                        }
                    }
                    _ => rng.unit() * 6.0 - 3.0,
                })
                .collect()
        })
        .collect()
}

/// Rows as an `ndarray` matrix.
pub fn to_array(rows: &[Vec<f64>], num_features: usize) -> ndarray::Array2<f64> {
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    ndarray::Array2::from_shape_vec((rows.len(), num_features), flat).expect("rectangular rows")
}

/// The LightGBM fixtures directory (`tests/fixtures`).
pub fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// A fixture file as text.
pub fn read(name: &str) -> String {
    let p = fixtures().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A number in a fixture (`nan` included).
pub fn parse_f64(s: &str) -> f64 {
    s.parse::<f64>()
        .unwrap_or_else(|_| panic!("bad number {s}"))
}

/// Header and rows of a tab-separated fixture.
pub fn read_tsv(name: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = read(name);
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split('\t')
        .map(String::from)
        .collect();
    let rows = lines
        .map(|l| l.split('\t').map(parse_f64).collect())
        .collect();
    (header, rows)
}
