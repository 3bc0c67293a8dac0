//! Equivalence of the canonical sort of `Batch::from_tables` (fast paths: already-sorted input,
//! prefix-keyed parallel sort, parallel column permutation) against a naive stable sort kept here
//! as the oracle: same order, same values, same duplicate-key error, for any row order and 1 or 2
//! threads.

mod common;

use aml_core::error::BatchError;
use aml_core::tables::{AddressFeatures, Alerts, NumericColumn};
use aml_core::Batch;
use common::tiny_tables;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The oracle: stable sort of the row indices by key, first repeated key (in sorted order) refused.
fn naive_order(keys: &[String]) -> Result<Vec<usize>, (String, usize)> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    for pair in order.windows(2) {
        if keys[pair[0]] == keys[pair[1]] {
            return Err((keys[pair[1]].clone(), pair[1]));
        }
    }
    Ok(order)
}

fn pick<T: Clone>(values: &[T], order: &[usize]) -> Vec<T> {
    if values.is_empty() {
        return Vec::new();
    }
    order.iter().map(|&row| values[row].clone()).collect()
}

/// Keys that stress the 8-byte prefix: long shared prefixes, short keys, keys that differ only
/// after a NUL byte or only in length, non-ASCII.
fn random_key(rng: &mut ChaCha8Rng) -> String {
    let stems = [
        "",
        "a",
        "ab",
        "ab\0",
        "addr_000",
        "addr_0000",
        "addr_00000000x",
        "\u{e9}t\u{e9}",
    ];
    let mut key = stems[rng.random_range(0..stems.len())].to_string();
    for _ in 0..rng.random_range(0..4) {
        key.push(['0', '1', '\0', 'z', '\u{e9}'][rng.random_range(0..5)]);
    }
    if key.is_empty() {
        key.push('k');
    }
    key
}

fn random_features(rng: &mut ChaCha8Rng, n: usize, unique: bool) -> AddressFeatures {
    let mut address: Vec<String> = Vec::with_capacity(n);
    while address.len() < n {
        let key = random_key(rng);
        if !unique || !address.contains(&key) {
            address.push(key);
        }
    }
    let values = |rng: &mut ChaCha8Rng| -> Vec<f64> {
        (0..n)
            .map(|_| match rng.random_range(0..4) {
                0 => f64::NAN,
                1 => 0.0,
                _ => rng.random_range(0.0..100.0),
            })
            .collect()
    };
    let numeric = vec![
        NumericColumn {
            name: "extra_b".into(),
            values: values(rng),
        },
        NumericColumn {
            name: "degree_in".into(),
            values: values(rng),
        },
        NumericColumn {
            name: "extra_a".into(),
            values: values(rng),
        },
    ];
    let counts = |rng: &mut ChaCha8Rng, len: usize| -> Vec<Vec<u16>> {
        (0..n)
            .map(|_| {
                if rng.random_bool(0.3) {
                    vec![]
                } else {
                    (0..len).map(|_| rng.random_range(0..9)).collect()
                }
            })
            .collect()
    };
    AddressFeatures {
        window_days: (0..n).map(|row| row as u32).collect(),
        processing_date: vec!["2025-10-30".to_string(); n],
        numeric,
        hourly_activity: counts(rng, 24),
        daily_activity: counts(rng, 7),
        dominant_asset_in: (0..n).map(|row| format!("in{row}")).collect(),
        // A null or absent value is "".
        dominant_asset_out: (0..n)
            .map(|row| {
                if rng.random_bool(0.5) {
                    String::new()
                } else {
                    format!("out{row}")
                }
            })
            .collect(),
        address,
    }
}

fn expected_features(features: &AddressFeatures) -> Result<AddressFeatures, (String, usize)> {
    let order = naive_order(&features.address)?;
    let mut numeric: Vec<NumericColumn> = features
        .numeric
        .iter()
        .map(|column| NumericColumn {
            name: column.name.clone(),
            values: pick(&column.values, &order),
        })
        .collect();
    // Contract columns first (degree_in), then extras by name.
    numeric.sort_by_key(|column| (column.name != "degree_in", column.name.clone()));
    Ok(AddressFeatures {
        window_days: pick(&features.window_days, &order),
        processing_date: pick(&features.processing_date, &order),
        address: pick(&features.address, &order),
        numeric,
        hourly_activity: pick(&features.hourly_activity, &order),
        daily_activity: pick(&features.daily_activity, &order),
        dominant_asset_in: pick(&features.dominant_asset_in, &order),
        dominant_asset_out: pick(&features.dominant_asset_out, &order),
    })
}

fn shuffle_features(rng: &mut ChaCha8Rng, features: &AddressFeatures) -> AddressFeatures {
    let mut order: Vec<usize> = (0..features.len()).collect();
    for last in (1..order.len()).rev() {
        order.swap(last, rng.random_range(0..=last));
    }
    AddressFeatures {
        window_days: pick(&features.window_days, &order),
        processing_date: pick(&features.processing_date, &order),
        address: pick(&features.address, &order),
        numeric: features
            .numeric
            .iter()
            .map(|column| NumericColumn {
                name: column.name.clone(),
                values: pick(&column.values, &order),
            })
            .collect(),
        hourly_activity: pick(&features.hourly_activity, &order),
        daily_activity: pick(&features.daily_activity, &order),
        dominant_asset_in: pick(&features.dominant_asset_in, &order),
        dominant_asset_out: pick(&features.dominant_asset_out, &order),
    }
}

fn with_threads<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(work)
}

/// Runs `from_tables` with the tiny batch's other tables; the result's features, or the error.
fn load_features(features: AddressFeatures) -> Result<AddressFeatures, BatchError> {
    let (mut meta, alerts, _, clusters, flows, labels) = tiny_tables();
    meta.n_addresses = features.len() as u64;
    Batch::from_tables(meta, alerts, features, clusters, flows, labels)
        .map(|(batch, _)| batch.features)
}

/// NaN-aware comparison (f64 NaN != NaN): the Debug text shows every value exactly.
fn same(a: &AddressFeatures, b: &AddressFeatures) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn check_features(features: AddressFeatures) {
    let expected = expected_features(&features);
    for threads in [1, 2] {
        let got = with_threads(threads, || load_features(features.clone()));
        match (&expected, got) {
            (Ok(expected), Ok(got)) => assert!(same(expected, &got), "{threads} threads"),
            (
                Err((key, row)),
                Err(BatchError::DuplicateKey {
                    file,
                    column,
                    key: k,
                    row: r,
                }),
            ) => {
                assert_eq!(file, "features.parquet");
                assert_eq!(column, "address");
                assert_eq!((&k, r), (key, *row), "{threads} threads");
            }
            (expected, got) => panic!("expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn features_sort_matches_the_naive_stable_sort() {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    for case in 0..200 {
        let n = [0, 1, 2, 3, 17, 60][case % 6];
        let features = random_features(&mut rng, n, case % 3 != 0);
        check_features(features.clone());
        // Already sorted input takes the fast path and must give the same batch.
        if let Ok(sorted) = expected_features(&features) {
            check_features(sorted.clone());
            let shuffled = shuffle_features(&mut rng, &sorted);
            let a = load_features(sorted).unwrap();
            let b = load_features(shuffled).unwrap();
            assert!(same(&a, &b), "row order changed the result");
        }
    }
}

#[test]
fn features_edge_cases_of_the_key_prefix() {
    let keys = |keys: &[&str]| -> AddressFeatures {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut features = random_features(&mut rng, keys.len(), false);
        features.address = keys.iter().map(|key| key.to_string()).collect();
        features
    };
    // Equal 8-byte prefixes decided by the tail, by the length, and by a NUL versus the padding.
    check_features(keys(&[
        "addr_0001b",
        "addr_0001a",
        "addr_0001",
        "ab\0",
        "ab",
        "ab\0\0",
    ]));
    // Sorted except the last pair; strictly sorted; a duplicate at the end and at the start.
    check_features(keys(&["a", "b", "c", "e", "d"]));
    check_features(keys(&["a", "b", "c", "d"]));
    check_features(keys(&["a", "b", "c", "c"]));
    check_features(keys(&["x", "x", "a", "b", "a"]));
    check_features(keys(&["same_prefix_1", "same_prefix_0", "same_prefix_1"]));
}

fn alerts_with_ids(ids: &[String]) -> Alerts {
    let (_, tiny, ..) = tiny_tables();
    let n = ids.len();
    let row = |r: usize| r % tiny.len();
    Alerts {
        window_days: (0..n).map(|r| r as u32).collect(),
        processing_date: vec![tiny.processing_date[0].clone(); n],
        alert_id: ids.to_vec(),
        address: (0..n).map(|r| tiny.address[row(r)].clone()).collect(),
        typology_type: (0..n).map(|r| format!("t{r}")).collect(),
        pattern_id: vec![String::new(); n],
        pattern_type: vec![String::new(); n],
        severity: vec!["high".to_string(); n],
        suspected_address_type: vec!["unknown".to_string(); n],
        suspected_address_subtype: vec![String::new(); n],
        alert_confidence_score: (0..n).map(|r| (r % 10) as f64 / 10.0).collect(),
        description: (0..n).map(|r| format!("d{r}")).collect(),
        volume_usd: (0..n).map(|r| r as f64).collect(),
        evidence_json: vec!["{}".to_string(); n],
        risk_indicators: (0..n).map(|r| vec![format!("r{r}")]).collect(),
    }
}

#[test]
fn alerts_sort_matches_the_naive_stable_sort() {
    let mut rng = ChaCha8Rng::seed_from_u64(61);
    for case in 0..100 {
        let n = [1, 2, 5, 40][case % 4];
        let mut ids: Vec<String> = (0..n).map(|_| random_key(&mut rng)).collect();
        if case % 2 == 0 {
            ids.sort();
            if case % 4 == 0 {
                ids.dedup();
            }
        }
        let alerts = alerts_with_ids(&ids);
        let (mut meta, _, features, clusters, flows, labels) = tiny_tables();
        meta.n_alerts = ids.len() as u64;
        let got = with_threads(2, || {
            Batch::from_tables(meta, alerts.clone(), features, clusters, flows, labels)
        });
        match (naive_order(&ids), got) {
            (Ok(order), Ok((batch, _))) => {
                assert_eq!(batch.alerts.alert_id, pick(&ids, &order));
                assert_eq!(
                    batch.alerts.typology_type,
                    pick(&alerts.typology_type, &order)
                );
                assert_eq!(
                    batch.alerts.risk_indicators,
                    pick(&alerts.risk_indicators, &order)
                );
                assert_eq!(batch.alerts.window_days, pick(&alerts.window_days, &order));
            }
            (Err((key, row)), Err(BatchError::DuplicateKey { key: k, row: r, .. })) => {
                assert_eq!((k, r), (key, row));
            }
            (expected, got) => panic!("expected {expected:?}, got {:?}", got.map(|_| ())),
        }
    }
}
