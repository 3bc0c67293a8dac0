//! Equivalence of the canonical money-flows row order of `Batch::from_tables` (rows cut in runs of
//! one sender, runs sorted by sender, each sender's rows sorted by receiver and values in
//! parallel) against a naive stable sort by every column, kept here as the oracle: rows grouped
//! by sender, interleaved or shuffled, duplicate edges with equal or different values, NaN and
//! unloaded columns, 1 and 2 threads.

mod common;

use std::cmp::Ordering;

use aml_core::tables::MoneyFlows;
use aml_core::Batch;
use common::tiny_tables;
use proptest::prelude::*;

/// The oracle: a stable sort of the rows by (from, to, then every value column in declaration
/// order, f64 by `total_cmp`, unloaded columns equal).
fn naive_sorted(flows: &MoneyFlows) -> MoneyFlows {
    let f = |column: &[f64], a: usize, b: usize| {
        if column.is_empty() {
            Ordering::Equal
        } else {
            column[a].total_cmp(&column[b])
        }
    };
    let u = |column: &[u64], a: usize, b: usize| column.get(a).cmp(&column.get(b));
    let mut order: Vec<usize> = (0..flows.len()).collect();
    order.sort_by(|&a, &b| {
        (flows.from[a], flows.to[a])
            .cmp(&(flows.from[b], flows.to[b]))
            .then(f(&flows.tx_count, a, b))
            .then(f(&flows.amount_sum, a, b))
            .then(f(&flows.amount_usd_sum, a, b))
            .then(u(&flows.first_seen_timestamp, a, b))
            .then(u(&flows.last_seen_timestamp, a, b))
            .then(f(&flows.active_days, a, b))
            .then(f(&flows.avg_tx_size_usd, a, b))
            .then(f(&flows.unique_assets, a, b))
            .then(f(&flows.reciprocity_ratio, a, b))
            .then(
                flows
                    .is_bidirectional
                    .get(a)
                    .cmp(&flows.is_bidirectional.get(b)),
            )
    });
    fn pick<T: Clone>(values: &[T], order: &[usize]) -> Vec<T> {
        if values.is_empty() {
            return Vec::new();
        }
        order.iter().map(|&row| values[row].clone()).collect()
    }
    MoneyFlows {
        addresses: flows.addresses.clone(),
        from: pick(&flows.from, &order),
        to: pick(&flows.to, &order),
        tx_count: pick(&flows.tx_count, &order),
        amount_sum: pick(&flows.amount_sum, &order),
        amount_usd_sum: pick(&flows.amount_usd_sum, &order),
        first_seen_timestamp: pick(&flows.first_seen_timestamp, &order),
        last_seen_timestamp: pick(&flows.last_seen_timestamp, &order),
        active_days: pick(&flows.active_days, &order),
        avg_tx_size_usd: pick(&flows.avg_tx_size_usd, &order),
        unique_assets: pick(&flows.unique_assets, &order),
        reciprocity_ratio: pick(&flows.reciprocity_ratio, &order),
        is_bidirectional: pick(&flows.is_bidirectional, &order),
    }
}

/// `from_tables` on `flows` with the tiny batch's other tables, with `threads` rayon threads.
fn canonical(flows: &MoneyFlows, threads: usize) -> MoneyFlows {
    let (mut meta, alerts, features, clusters, _, labels) = tiny_tables();
    meta.n_money_flows = flows.len() as u64;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| Batch::from_tables(meta, alerts, features, clusters, flows.clone(), labels))
        .unwrap()
        .0
        .money_flows
}

/// Flows over `names` addresses (every one used, so the dictionary stays as it is) whose rows are
/// `edges` (sender, receiver, value); `scoring` leaves the non-scoring columns unloaded.
fn flows_of(names: usize, edges: &[(u32, u32, u8)], scoring: bool) -> MoneyFlows {
    // Every address used once more, at the end, so `from_tables` keeps the dictionary.
    let rows: Vec<(u32, u32, u8)> = edges
        .iter()
        .copied()
        .chain((0..names as u32).map(|id| (id, (id + 1) % names as u32, 1)))
        .collect();
    let n = rows.len();
    // Validation allows NaN only in `reciprocity_ratio`.
    let value = |scale: f64, nan: bool| -> Vec<f64> {
        rows.iter()
            .map(|&(_, _, v)| {
                if nan && v == 7 {
                    f64::NAN
                } else {
                    f64::from(v % 3) * scale
                }
            })
            .collect()
    };
    MoneyFlows {
        addresses: (0..names).map(|i| format!("addr_{i:03}")).collect(),
        from: rows.iter().map(|r| r.0).collect(),
        to: rows.iter().map(|r| r.1).collect(),
        tx_count: value(1.0, false),
        amount_sum: loaded(scoring, value(2.0, false)),
        amount_usd_sum: value(3.0, false),
        first_seen_timestamp: loaded(
            scoring,
            rows.iter().map(|&(_, _, v)| u64::from(v % 2)).collect(),
        ),
        last_seen_timestamp: loaded(scoring, vec![5; n]),
        active_days: loaded(scoring, value(0.5, false)),
        avg_tx_size_usd: loaded(scoring, value(4.0, false)),
        unique_assets: loaded(scoring, value(1.0, false)),
        reciprocity_ratio: loaded(scoring, value(0.25, true)),
        is_bidirectional: loaded(scoring, rows.iter().map(|&(_, _, v)| v % 4 == 0).collect()),
    }
}

/// `column`, or nothing when only the scoring columns are loaded.
fn loaded<T>(scoring: bool, column: Vec<T>) -> Vec<T> {
    if scoring {
        Vec::new()
    } else {
        column
    }
}

/// NaN-aware comparison: the Debug text shows every value exactly.
fn check(flows: &MoneyFlows) {
    let expected = format!("{:?}", naive_sorted(flows));
    for threads in [1, 2] {
        assert_eq!(
            format!("{:?}", canonical(flows, threads)),
            expected,
            "{threads} threads"
        );
    }
}

#[test]
fn hand_built_orders_match_the_oracle() {
    // (sender, receiver, value): senders in runs (one sender twice, equal rows), then mixed.
    #[rustfmt::skip]
    let grouped = [(2, 1, 0), (2, 0, 1), (2, 1, 1), (0, 2, 2), (0, 2, 0), (1, 0, 7), (1, 0, 7), (2, 1, 0)];
    #[rustfmt::skip]
    let interleaved = [(1, 2, 0), (0, 1, 0), (1, 0, 1), (0, 2, 1), (1, 2, 0), (0, 1, 7), (2, 2, 2)];
    // Senders in increasing order (sorted in place, sender by sender), receivers not, and
    // repeated receivers whose values decide.
    #[rustfmt::skip]
    let by_sender = [(0, 2, 5), (0, 1, 3), (0, 2, 1), (0, 2, 5), (1, 0, 2), (1, 0, 1), (2, 2, 0), (2, 1, 6), (2, 0, 6)];
    for scoring in [false, true] {
        check(&flows_of(3, &by_sender, scoring));
        check(&flows_of(3, &[], scoring));
        check(&flows_of(3, &grouped, scoring));
        check(&flows_of(3, &interleaved, scoring));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_orders_match_the_oracle(
        names in 1usize..6,
        edges in prop::collection::vec((0u32..6, 0u32..6, 0u8..8), 0..80),
        layout in 0u8..3,
        scoring in any::<bool>(),
    ) {
        let mut edges: Vec<(u32, u32, u8)> = edges
            .into_iter()
            .map(|(from, to, value)| (from % names as u32, to % names as u32, value))
            .collect();
        match layout {
            // Senders in runs, not sorted.
            1 => edges.sort_by_key(|&(from, _, _)| (from * 7 + 3) % names as u32),
            // Senders in increasing order: the exporters' layout.
            2 => edges.sort_by_key(|&(from, _, _)| from),
            _ => {}
        }
        check(&flows_of(names, &edges, scoring));
    }
}
