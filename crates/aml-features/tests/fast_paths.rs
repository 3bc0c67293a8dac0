//! Equivalence tests for the fast paths of the graph and feature code: each is checked against
//! a plain reference implementation written here (the straightforward form of the documented
//! algorithm), on hand-built edge cases and on random graphs with hubs, isolated nodes,
//! self-loops and duplicate rows.

mod common;

use aml_features::prepared::sorted_join;
use aml_features::PageRankParams;
use aml_features::{CommunityParams, FeatureBuilder, FlowGraph, PreparedBatch};
use common::{batch, on_threads, tables, unit_flows as flows, with_flows, Rng};
use proptest::prelude::*;

/// Random edges over `n` nodes: a few hubs draw a large share of the rows.
fn random_edges(n: usize, m: usize, hubs: usize, seed: u64) -> Vec<(u32, u32)> {
    let mut rng = Rng::new(seed);
    (0..m)
        .map(|_| {
            let a = rng.below(n) as u32;
            let b = if hubs > 0 && rng.below(3) == 0 {
                rng.below(hubs.min(n))
            } else {
                rng.below(n)
            } as u32;
            if rng.below(2) == 0 {
                (a, b)
            } else {
                (b, a)
            }
        })
        .collect()
}

/// Undirected weighted graph of the reference Louvain: per node, (neighbour, weight) sorted.
type Weighted = Vec<Vec<(u32, u64)>>;

/// Reference local moving: nodes in id order, each to the neighbouring community with the
/// largest gain `link - total * k / 2m` if strictly better than staying (ties: smallest id).
fn reference_local_moving(g: &Weighted, max_passes: usize) -> (Vec<u32>, bool) {
    let n = g.len();
    let degree: Vec<u64> = g.iter().map(|row| row.iter().map(|e| e.1).sum()).collect();
    let two_m: u64 = degree.iter().sum();
    let mut community: Vec<u32> = (0..n as u32).collect();
    if two_m == 0 {
        return (community, false);
    }
    let mut total = degree.clone();
    let inv_two_m = 1.0 / two_m as f64;
    let mut moved_any = false;
    let mut passes = 0;
    while passes < max_passes {
        passes += 1;
        let mut moves = 0usize;
        for v in 0..n {
            let own = community[v];
            let mut link: std::collections::BTreeMap<u32, u64> = Default::default();
            for &(u, w) in &g[v] {
                if u as usize != v {
                    *link.entry(community[u as usize]).or_default() += w;
                }
            }
            total[own as usize] -= degree[v];
            let k = degree[v] as f64;
            let gain = |c: u32| {
                link.get(&c).copied().unwrap_or(0) as f64 - total[c as usize] as f64 * k * inv_two_m
            };
            // Candidates in id order, so the first of equal gains is the smallest id.
            let candidate =
                link.keys()
                    .filter(|&&c| c != own)
                    .fold(None, |best: Option<u32>, &c| match best {
                        Some(b) if gain(b) >= gain(c) => Some(b),
                        _ => Some(c),
                    });
            let chosen = candidate.filter(|&c| gain(c) > gain(own)).unwrap_or(own);
            total[chosen as usize] += degree[v];
            moves += usize::from(chosen != own);
            community[v] = chosen;
        }
        if moves == 0 {
            return (community, moved_any);
        }
        moved_any = true;
    }
    (community, moved_any)
}

/// Renumbers labels 0, 1, ... in order of first appearance.
fn reference_renumber(labels: &mut [u32]) -> usize {
    let mut map = std::collections::HashMap::new();
    for l in labels.iter_mut() {
        let next = map.len() as u32;
        *l = *map.entry(*l).or_insert(next);
    }
    map.len()
}

/// Reference Louvain over the undirected, unweighted view of `g`.
fn reference_communities(g: &FlowGraph, params: &CommunityParams) -> Vec<u32> {
    let n = g.n_nodes;
    let mut level: Weighted = (0..n as u32)
        .map(|v| {
            let mut row: Vec<u32> = g.out.of(v).iter().chain(g.inc.of(v)).copied().collect();
            row.sort_unstable();
            row.dedup();
            row.into_iter().map(|u| (u, 1)).collect()
        })
        .collect();
    let mut node_label: Vec<u32> = (0..n as u32).collect();
    if n == 0 {
        return node_label;
    }
    for _ in 0..params.max_levels {
        let (mut labels, moved) = reference_local_moving(&level, params.max_passes);
        if !moved {
            break;
        }
        let count = reference_renumber(&mut labels);
        for l in node_label.iter_mut() {
            *l = labels[*l as usize];
        }
        // Fold communities into nodes; a row lists its communities in first-seen order
        // (members in node order, each member's entries in row order).
        let mut next: Weighted = vec![Vec::new(); count];
        for c in 0..count as u32 {
            let row = &mut next[c as usize];
            for (v, _) in labels.iter().enumerate().filter(|(_, &l)| l == c) {
                for &(u, w) in &level[v] {
                    let cu = labels[u as usize];
                    match row.iter_mut().find(|e| e.0 == cu) {
                        Some(e) => e.1 += w,
                        None => row.push((cu, w)),
                    }
                }
            }
        }
        level = next;
    }
    reference_renumber(&mut node_label);
    node_label
}

#[test]
fn louvain_matches_the_reference_on_edge_cases() {
    let params = CommunityParams::default();
    let cases: Vec<(Vec<(u32, u32)>, usize)> = vec![
        (vec![], 0),
        (vec![], 1),
        (vec![(0, 0)], 1),
        (vec![(0, 1)], 2),
        (vec![(0, 1), (1, 0), (0, 1)], 3),
        // A star: one hub, many leaves, plus a triangle.
        (
            (1..40)
                .map(|i| (0, i))
                .chain([(40, 41), (41, 42), (42, 40)])
                .collect(),
            43,
        ),
        // A path.
        ((0..30).map(|i| (i, i + 1)).collect(), 31),
    ];
    for (edges, n) in cases {
        let g = FlowGraph::build(&flows(&edges, n));
        assert_eq!(
            g.communities(&params),
            reference_communities(&g, &params),
            "{edges:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn louvain_matches_the_reference_on_random_graphs(
        n in 1usize..120,
        density in 0usize..6,
        hubs in 0usize..4,
        seed in any::<u64>(),
        max_levels in 1usize..5,
        max_passes in 1usize..6,
    ) {
        let edges = random_edges(n, n * density, hubs, seed);
        let g = FlowGraph::build(&flows(&edges, n));
        let params = CommunityParams { max_levels, max_passes };
        prop_assert_eq!(g.communities(&params), reference_communities(&g, &params));
    }

    #[test]
    fn reach_2hop_matches_the_reference_on_random_graphs(
        (n, density, hubs) in (2usize..300, 0usize..8, 0usize..4),
        (seed, alerts) in (any::<u64>(), 1usize..40),
    ) {
        check_random_reach(n, density, hubs, seed, alerts);
    }

    #[test]
    fn reach_2hop_matches_the_reference_on_sparse_graphs_with_many_alerts(
        (n, density, hubs) in (1_000usize..5_000, 1usize..3, 0usize..3),
        (seed, alerts) in (any::<u64>(), 50usize..200),
    ) {
        // Thousands of bit words and short walks: the scratch set is emptied word by word
        // between alerts (a stale bit would shift a later alert's count), and around hubs
        // it is zeroed whole.
        check_random_reach(n, density, hubs, seed, alerts);
    }
}

/// [`check_reach`] on [`random_edges`] with `alerts` alerts on random nodes.
fn check_random_reach(n: usize, density: usize, hubs: usize, seed: u64, alerts: usize) {
    let edges = random_edges(n, n * density, hubs, seed);
    let mut rng = Rng::new(seed ^ 7);
    let alerted: Vec<u32> = (0..alerts).map(|_| rng.below(n) as u32).collect();
    check_reach(&edges, n, &alerted, seed);
}

/// Reference 2-hop reach: the set of nodes within two undirected hops, minus `v`, capped.
fn reference_reach(g: &FlowGraph, v: u32, cap: u32) -> u32 {
    let around = |u: u32| g.out.of(u).iter().chain(g.inc.of(u)).copied();
    let mut seen: std::collections::BTreeSet<u32> = around(v).collect();
    for u in around(v).collect::<Vec<_>>() {
        seen.extend(around(u));
    }
    seen.remove(&v);
    (seen.len() as u32).min(cap)
}

/// Checks `flow_reach_2hop` of every alert against [`reference_reach`] for several caps, on a
/// batch whose flows are `edges` over `n` nodes and whose alerts sit on `alerted` nodes.
fn check_reach(edges: &[(u32, u32)], n: usize, alerted: &[u32], seed: u64) {
    let mut t = with_flows(tables(seed, alerted.len(), n, 0, 0), flows(edges, n));
    t.alerts.address = alerted.iter().map(|v| format!("addr_{v:05}")).collect();
    let b = batch(t);
    let mut spec = FeatureBuilder::new().fit(&[&b]).unwrap();
    let prepared = PreparedBatch::new(&b);
    for cap in [1, 2, 5, 40, 151, 10_000] {
        spec.reach_cap = cap;
        let (m, _) = spec.transform_prepared(&prepared).unwrap();
        let column = m.column("flow_reach_2hop").unwrap();
        for (i, node) in prepared.node.iter().enumerate() {
            let want = node.map_or(0, |v| reference_reach(&prepared.graph, v, cap));
            assert_eq!(column[i], want as f32, "cap {cap}, row {i}, node {node:?}");
        }
    }
}

#[test]
fn reach_2hop_matches_the_reference_around_hubs() {
    // Three hubs of 150 counterparties each (hub 0 sends, hub 1 receives, hub 2 both), leaves
    // shared between hubs, a chain between the hubs, a self-loop and duplicate rows; alerts on
    // hubs, on leaves (several alerts on one address) and on an address outside the flows.
    let mut edges = Vec::new();
    for leaf in 0..150u32 {
        edges.push((0, 3 + leaf));
        edges.push((3 + (leaf + 100) % 400, 1));
        edges.push(if leaf % 2 == 0 {
            (2, 3 + (leaf + 200) % 400)
        } else {
            (3 + (leaf + 200) % 400, 2)
        });
    }
    edges.extend([(0, 1), (1, 2), (2, 2), (0, 1), (410, 411), (411, 410)]);
    check_reach(
        &edges,
        420,
        &[0, 1, 2, 3, 3, 4, 104, 150, 203, 410, 411, 419, 3],
        1,
    );
}

#[test]
fn prepared_communities_are_the_graphs_for_any_parameters() {
    let mut t = tables(3, 20, 200, 0, 0);
    t = with_flows(t, flows(&random_edges(200, 900, 3, 11), 200));
    let b = batch(t);
    let prepared = PreparedBatch::new(&b);
    let first = CommunityParams::default();
    let other = CommunityParams {
        max_levels: 1,
        max_passes: 1,
    };
    for params in [first, other, first] {
        assert_eq!(
            prepared.communities(&params).as_ref(),
            prepared.graph.communities(&params).as_slice()
        );
    }
    assert_ne!(
        prepared.graph.communities(&first),
        prepared.graph.communities(&other),
        "the two parameter sets must give different labels for this test to mean something"
    );
}

/// Reference join: one binary search per query.
fn reference_join(table: &[String], queries: &[&str]) -> Vec<Option<usize>> {
    queries
        .iter()
        .map(|q| table.binary_search_by(|s| s.as_str().cmp(q)).ok())
        .collect()
}

#[test]
fn sorted_join_matches_binary_search_on_edge_cases() {
    let table: Vec<String> = ["b", "d", "f"].map(String::from).to_vec();
    let cases: [&[&str]; 6] = [
        &[],
        &["a"],
        &["g", "g"],
        &["a", "b", "b", "c", "d", "e", "f", "g"],
        &["f"],
        &["", "b"],
    ];
    for queries in cases {
        assert_eq!(
            sorted_join(&table, queries),
            reference_join(&table, queries)
        );
    }
    assert_eq!(sorted_join(&[], &["a"]), vec![None]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sorted_join_matches_binary_search(
        table in proptest::collection::btree_set("[a-c]{0,3}", 0..30),
        mut queries in proptest::collection::vec("[a-c]{0,3}", 0..40),
    ) {
        let table: Vec<String> = table.into_iter().collect();
        queries.sort();
        let queries: Vec<&str> = queries.iter().map(String::as_str).collect();
        prop_assert_eq!(sorted_join(&table, &queries), reference_join(&table, &queries));
    }

    #[test]
    fn sorted_join_gallops_to_the_same_rows_over_long_gaps(
        table in proptest::collection::btree_set(0u32..5_000, 0..600),
        queries in proptest::collection::vec(0u32..5_100, 0..60),
        repeat_first in any::<bool>(),
    ) {
        // Gaps from 0 to thousands of rows between consecutive queries, queries before the
        // first and after the last row, repeated queries and absent ones.
        let table: Vec<String> = table.into_iter().map(|k| format!("{k:05}")).collect();
        let mut queries: Vec<String> = queries.into_iter().map(|k| format!("{k:05}")).collect();
        if repeat_first {
            queries.extend(table.first().cloned());
        }
        queries.sort();
        let queries: Vec<&str> = queries.iter().map(String::as_str).collect();
        prop_assert_eq!(sorted_join(&table, &queries), reference_join(&table, &queries));
    }

    #[test]
    fn prepared_joins_match_binary_search_in_any_row_order(seed in any::<u64>()) {
        let t = tables(seed, 60, 80, 300, 5);
        let mut t = common::shuffled(&t, seed ^ 3);
        // Some alerts share an address, one has none in the tables.
        t.alerts.address[1] = t.alerts.address[0].clone();
        t.alerts.address[2] = "nowhere".into();
        let b = batch(t);
        let p = PreparedBatch::new(&b);
        for (i, &r) in p.alert_rows.iter().enumerate() {
            let address = &b.alerts.address[r];
            prop_assert_eq!(p.feature_row[i], b.features.row_of(address));
            prop_assert_eq!(p.node[i], b.money_flows.address_id(address));
        }
        let mut order: Vec<usize> = (0..p.n_alerts()).collect();
        order.sort_by_key(|&i| (&b.alerts.address[p.alert_rows[i]], i));
        prop_assert_eq!(&p.by_address, &order);
    }
}

/// Reference PageRank: the documented power iteration, one plain sequential sum per quantity
/// (the library sums 4,096-node chunks in order, the same sums below 4,096 nodes).
fn reference_pagerank(g: &FlowGraph, params: &PageRankParams) -> Vec<f64> {
    let n = g.n_nodes;
    if n == 0 {
        return Vec::new();
    }
    let d = params.damping.clamp(0.0, 1.0);
    let inv_n = 1.0 / n as f64;
    let mut rank = vec![inv_n; n];
    for _ in 0..params.max_iterations {
        let degree = |v: usize| g.out.degree(v as u32);
        let contrib: Vec<f64> = (0..n)
            .map(|v| match degree(v) {
                0 => 0.0,
                k => rank[v] / k as f64,
            })
            .collect();
        let mut dangling = 0.0;
        for v in (0..n).filter(|&v| degree(v) == 0) {
            dangling += rank[v];
        }
        let base = (1.0 - d) * inv_n + d * dangling * inv_n;
        let next: Vec<f64> = (0..n)
            .map(|v| {
                let mut s = 0.0;
                for &u in g.inc.of(v as u32) {
                    s += contrib[u as usize];
                }
                base + d * s
            })
            .collect();
        let mut diff = 0.0;
        for (a, b) in next.iter().zip(&rank) {
            diff += (a - b).abs();
        }
        rank = next;
        if diff < params.tolerance {
            break;
        }
    }
    rank
}

/// Nodes, edges per node, hubs and seed of a [`random_edges`] graph.
fn graph_shape(
    nodes: std::ops::Range<usize>,
    density: std::ops::Range<usize>,
) -> impl Strategy<Value = (usize, usize, usize, u64)> {
    (nodes, density, 0usize..4, any::<u64>())
}

/// Bit patterns, so NaN and signed zeros compare exactly.
fn f64_bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|x| x.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn pagerank_matches_the_reference_bit_for_bit(
        (n, density, hubs, seed) in graph_shape(1..3_000, 0..5),
        max_iterations in 1usize..60,
    ) {
        // Dangling nodes (no out-edges) are common at low density.
        let edges = random_edges(n, n * density, hubs, seed);
        let g = FlowGraph::build(&flows(&edges, n));
        let params = PageRankParams { max_iterations, ..PageRankParams::default() };
        let want = f64_bits(&reference_pagerank(&g, &params));
        for threads in [1, 2] {
            let got = on_threads(threads, || g.pagerank(&params));
            prop_assert_eq!(&f64_bits(&got), &want, "{} threads", threads);
        }
    }

    #[test]
    fn louvain_aggregation_in_parts_matches_the_reference_on_1_and_2_threads(
        (n, density, hubs, seed) in graph_shape(200..2_500, 1..4),
    ) {
        // Large enough for level 0 to fold into many communities, split into many parts.
        let edges = random_edges(n, n * density, hubs, seed);
        let g = FlowGraph::build(&flows(&edges, n));
        let params = CommunityParams::default();
        let want = reference_communities(&g, &params);
        for threads in [1, 2] {
            prop_assert_eq!(&on_threads(threads, || g.communities(&params)), &want);
        }
    }
}

/// Flow rows over `n` nodes from `edges`, each with a value drawn from a small set that
/// includes NaN, infinities and signed zeros (so duplicate sums depend on their order).
fn valued_flows(edges: &[(u32, u32)], n: usize, seed: u64) -> aml_core::tables::MoneyFlows {
    const VALUES: [f64; 8] = [0.1, 0.2, 1e16, 3.0, -0.0, f64::NAN, f64::INFINITY, 7.5];
    let mut rng = Rng::new(seed);
    let mut f = flows(edges, n);
    for k in 0..edges.len() {
        f.amount_usd_sum[k] = VALUES[rng.below(VALUES.len())];
        f.tx_count[k] = VALUES[rng.below(VALUES.len())];
    }
    f
}

/// Rows `order` of `f`.
fn rows(f: &aml_core::tables::MoneyFlows, order: &[usize]) -> aml_core::tables::MoneyFlows {
    let mut g = f.clone();
    g.from = order.iter().map(|&k| f.from[k]).collect();
    g.to = order.iter().map(|&k| f.to[k]).collect();
    g.amount_usd_sum = order.iter().map(|&k| f.amount_usd_sum[k]).collect();
    g.tx_count = order.iter().map(|&k| f.tx_count[k]).collect();
    g
}

/// Every array of `g`, values as bit patterns.
fn graph_arrays(g: &FlowGraph) -> Vec<Vec<u64>> {
    let ids = |v: &[u32]| v.iter().map(|&x| u64::from(x)).collect::<Vec<u64>>();
    vec![
        g.out.offsets.clone(),
        ids(&g.out.neighbours),
        f64_bits(&g.out.usd),
        f64_bits(&g.out.tx),
        g.inc.offsets.clone(),
        ids(&g.inc.neighbours),
        ids(&g.inc.edge),
        vec![g.self_loops as u64, g.duplicates as u64],
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn graph_of_sorted_rows_matches_the_counting_sort_bit_for_bit(
        (n, density, hubs, seed) in graph_shape(1..400, 0..6),
        repeats in 0usize..40,
    ) {
        // Duplicate rows (some with other values), self-loops and hubs; rows sorted by
        // (from, to) with duplicates in random order take the one-pass path, shuffled rows the
        // counting sort.
        let mut edges = random_edges(n, n * density, hubs, seed);
        let mut rng = Rng::new(seed ^ 5);
        for _ in 0..repeats.min(edges.len()) {
            let k = rng.below(edges.len());
            edges.push(edges[k]);
        }
        edges.push((0, 0));
        let f = valued_flows(&edges, n, seed);
        let mut order: Vec<usize> = (0..edges.len()).collect();
        rng.shuffle(&mut order);
        let shuffled = FlowGraph::build(&rows(&f, &order));
        order.sort_by_key(|&k| (f.from[k], f.to[k]));
        let sorted = FlowGraph::build(&rows(&f, &order));
        prop_assert_eq!(graph_arrays(&sorted), graph_arrays(&shuffled));

        // The incoming side is the transpose of the outgoing one: senders in order, each entry
        // naming its outgoing edge.
        for v in 0..n as u32 {
            let senders: Vec<u32> = (0..n as u32).filter(|&s| sorted.out.of(s).contains(&v)).collect();
            prop_assert_eq!(sorted.inc.of(v), senders.as_slice());
            for (j, &s) in sorted.inc.range(v).zip(sorted.inc.of(v)) {
                let e = sorted.inc.edge[j] as usize;
                prop_assert!(sorted.out.range(s).contains(&e));
                prop_assert_eq!(sorted.out.neighbours[e], v);
            }
        }
    }
}
