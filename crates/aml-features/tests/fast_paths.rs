//! Equivalence tests for the fast paths of the graph and feature code: each is checked against
//! a plain reference implementation written here (the straightforward form of the documented
//! algorithm), on hand-built edge cases and on random graphs with hubs, isolated nodes,
//! self-loops and duplicate rows.

mod common;

use aml_features::{CommunityParams, FlowGraph};
use common::{unit_flows as flows, Rng};
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
}
