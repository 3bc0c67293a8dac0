//! Money-flow graph features of the alerted address, from the CSR graph of the batch.
//!
//! Self-loops are ignored and duplicate (from, to) rows summed (see [`crate::graph`]).
//! An address absent from money_flows.parquet has no flows: counts and sums are 0, ratios and
//! PageRank NaN.

use crate::columns::ColumnSink;
use crate::graph::FlowGraph;
use crate::partition::merge_sorted;
use crate::prepared::PreparedBatch;
use crate::spec::FeatureSpec;
use crate::stats::signed_log1p;
use aml_core::tables::Severity;
use rayon::prelude::*;

/// Fewest alerted nodes rayon splits off as one job (each job starts an empty scratch set; the
/// scratch does not change any value, so neither does the splitting).
const ROWS_PER_SPLIT: usize = 64;

/// Entries inserted between two looks at the 2-hop reach cap.
const CAP_CHECK: usize = 512;

const DEFS: [(&str, &str); 17] = [
    (
        "flow_present",
        "1 if the address occurs in money_flows.parquet, else 0",
    ),
    (
        "flow_in_degree",
        "distinct senders to the address (self-loops ignored)",
    ),
    (
        "flow_out_degree",
        "distinct receivers from the address (self-loops ignored)",
    ),
    (
        "flow_counterparties",
        "distinct counterparties in either direction",
    ),
    (
        "flow_reciprocity",
        "share of counterparties with flows in both directions",
    ),
    (
        "flow_log_in_usd",
        "sign*ln(1+|v|) of USD received (duplicate edges summed)",
    ),
    ("flow_log_out_usd", "sign*ln(1+|v|) of USD sent"),
    (
        "flow_log_net_usd",
        "sign*ln(1+|v|) of USD received minus USD sent",
    ),
    ("flow_in_tx", "transactions received"),
    ("flow_out_tx", "transactions sent"),
    (
        "flow_alerted_counterparty_share",
        "share of counterparties that have an alert in the batch",
    ),
    (
        "flow_high_severity_counterparties",
        "counterparties with a high or critical alert in the batch",
    ),
    (
        "flow_log_usd_with_alerted",
        "sign*ln(1+|v|) of USD exchanged (both ways) with alerted counterparties",
    ),
    (
        "flow_log_usd_with_high_severity",
        "sign*ln(1+|v|) of USD exchanged with high/critical-alert counterparties",
    ),
    (
        "flow_reach_2hop",
        "distinct addresses within 2 undirected hops, capped at the spec's reach_cap",
    ),
    (
        "flow_neighbour_degree_sum",
        "sum of the counterparties' undirected degrees (2-hop walks)",
    ),
    (
        "flow_pagerank_scaled",
        "PageRank on the flow graph times the number of nodes (1 = average)",
    ),
];

/// Per-node statistics that only need the node's own adjacency lists.
fn local_stats(g: &FlowGraph, level: &[u8], v: u32) -> [f64; 15] {
    let (outs, ins) = (g.out.range(v), g.inc.range(v));
    let high_level = Severity::High.ordinal() + 1;
    let (mut in_usd, mut in_tx, mut out_usd, mut out_tx) = (0.0, 0.0, 0.0, 0.0);
    let (mut union, mut both, mut alerted, mut high) = (0usize, 0usize, 0usize, 0usize);
    let (mut usd_alerted, mut usd_high, mut degree_sum) = (0.0, 0.0, 0.0);
    let (mut i, mut j) = (outs.start, ins.start);
    // Merge walk over the two sorted lists: each counterparty visited once, in id order.
    while i < outs.end || j < ins.end {
        let next_out = if i < outs.end {
            g.out.neighbours[i]
        } else {
            u32::MAX
        };
        let next_in = if j < ins.end {
            g.inc.neighbours[j]
        } else {
            u32::MAX
        };
        let u = next_out.min(next_in);
        let mut usd = 0.0;
        let mut directions = 0;
        if i < outs.end && next_out == u {
            out_usd += g.out.usd[i];
            out_tx += g.out.tx[i];
            usd += g.out.usd[i];
            directions += 1;
            i += 1;
        }
        if j < ins.end && next_in == u {
            let edge = g.inc.edge[j] as usize;
            in_usd += g.out.usd[edge];
            in_tx += g.out.tx[edge];
            usd += g.out.usd[edge];
            directions += 1;
            j += 1;
        }
        union += 1;
        if directions == 2 {
            both += 1;
        }
        let lv = level[u as usize];
        if lv > 0 {
            alerted += 1;
            usd_alerted += usd;
        }
        if lv >= high_level {
            high += 1;
            usd_high += usd;
        }
        degree_sum += (g.out.degree(u) + g.inc.degree(u)) as f64;
    }
    let ratio = |a: usize| {
        if union == 0 {
            f64::NAN
        } else {
            a as f64 / union as f64
        }
    };
    [
        1.0,
        ins.len() as f64,
        outs.len() as f64,
        union as f64,
        ratio(both),
        signed_log1p(in_usd),
        signed_log1p(out_usd),
        signed_log1p(in_usd - out_usd),
        in_tx,
        out_tx,
        ratio(alerted),
        high as f64,
        signed_log1p(usd_alerted),
        signed_log1p(usd_high),
        degree_sum,
    ]
}

/// A reusable set of graph nodes: one bit per node, so the whole set (62.5 KB for 500,000
/// nodes) stays in the core's cache while the 2-hop walks hit it in random order.
pub(crate) struct NodeSet {
    bits: Vec<u64>,
}

impl NodeSet {
    /// An empty set over nodes `0..n`.
    pub(crate) fn new(n: usize) -> NodeSet {
        NodeSet {
            bits: vec![0; n.div_ceil(64)],
        }
    }

    /// Adds every node of `nodes`; returns how many were new (no branch on the answer).
    fn insert_all(&mut self, nodes: &[u32]) -> u32 {
        let mut new = 0;
        for &u in nodes {
            let (word, bit) = ((u >> 6) as usize, 1u64 << (u & 63));
            let old = self.bits[word];
            self.bits[word] = old | bit;
            new += u32::from(old & bit == 0);
        }
        new
    }

    /// Removes every node of `nodes` (with the other nodes of their words).
    fn clear_words(&mut self, nodes: &[u32]) {
        for &u in nodes {
            self.bits[(u >> 6) as usize] = 0;
        }
    }

    /// Empties the set.
    fn clear(&mut self) {
        self.bits.fill(0);
    }
}

/// The neighbourhood sets of the longest adjacency lists (at least as many entries as a
/// [`NodeSet`] has words), built once: a 2-hop walk whose first counterparty is one of them
/// starts from a copy of its set (one pass over the words) instead of inserting its entries.
pub(crate) struct HubSets {
    /// Hub node ids, sorted.
    nodes: Vec<u32>,
    /// Per hub: its senders and receivers as a set, and how many they are.
    sets: Vec<(NodeSet, u32)>,
}

impl HubSets {
    /// The sets of every node with at least `n.div_ceil(64)` adjacency entries.
    pub(crate) fn new(g: &FlowGraph) -> HubSets {
        let words = g.n_nodes.div_ceil(64);
        let nodes: Vec<u32> = (0..g.n_nodes as u32)
            .filter(|&u| g.out.degree(u) + g.inc.degree(u) >= words.max(1))
            .collect();
        let sets = nodes
            .par_iter()
            .map(|&u| {
                let mut set = NodeSet::new(g.n_nodes);
                let size = set.insert_all(g.out.of(u)) + set.insert_all(g.inc.of(u));
                (set, size)
            })
            .collect();
        HubSets { nodes, sets }
    }

    /// No precomputed sets.
    #[cfg(test)]
    fn none() -> HubSets {
        HubSets {
            nodes: Vec::new(),
            sets: Vec::new(),
        }
    }

    fn get(&self, u: u32) -> Option<&(NodeSet, u32)> {
        self.nodes.binary_search(&u).ok().map(|i| &self.sets[i])
    }
}

/// Distinct nodes within two undirected hops of `v` (excluding `v`), stopping at `cap`, so the
/// result is exactly `min(reach, cap)` whatever the visiting order. `seen` is an empty scratch
/// set over the graph's nodes, left empty; `order` is scratch space. Also returns the number of
/// adjacency entries walked beyond `v`'s own lists (the work done).
///
/// Each counterparty is walked once (a counterparty in both directions is not walked twice),
/// the one with the most adjacency entries first (ties: smallest id): a walk that reaches the
/// cap stops after fewer entries.
pub(crate) fn reach_2hop(
    g: &FlowGraph,
    hubs: &HubSets,
    v: u32,
    cap: u32,
    seen: &mut NodeSet,
    order: &mut Vec<(u32, u32)>,
) -> (u32, usize) {
    // Exact shortcut: one counterparty u with at least cap + 1 senders (or receivers) already
    // puts cap nodes other than v within two hops.
    let hub = g.out.of(v).iter().chain(g.inc.of(v)).any(|&u| {
        let most = g.out.degree(u).max(g.inc.degree(u));
        most > cap as usize
    });
    if hub {
        return (cap, 0);
    }
    let lists = |u: u32| [g.out.of(u), g.inc.of(u)];
    order.clear();
    merge_sorted(g.out.of(v), g.inc.of(v), |u| {
        let entries = g.out.degree(u) + g.inc.degree(u);
        order.push((u32::try_from(entries).unwrap_or(u32::MAX), u));
    });
    let longest_first = |a: &(u32, u32), b: &(u32, u32)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
    let entries: u64 = order.iter().map(|&(e, _)| u64::from(e)).sum();
    if entries + (g.out.degree(v) + g.inc.degree(v)) as u64 >= u64::from(cap) {
        order.sort_unstable_by(longest_first);
    } else if let Some(i) = (0..order.len()).min_by(|&i, &j| longest_first(&order[i], &order[j])) {
        // The walk cannot reach the cap, so it walks everything: only the first
        // counterparty's place matters (its set may be copied).
        order.swap(0, i);
    }
    // Counts may run past `cap` inside one adjacency list: the result is clamped, and it is
    // exact below the cap because every node is counted once. The count leaves `v` out.
    let mut count: u32 = 0;
    let mut first = 0;
    let mut copied = false;
    if let Some((set, size)) = order.first().and_then(|&(_, u)| hubs.get(u)) {
        // The first counterparty's neighbourhood holds `v` itself.
        seen.bits.copy_from_slice(&set.bits);
        count = size - 1;
        (first, copied) = (1, true);
    }
    seen.insert_all(&[v]);
    count += lists(v).iter().map(|l| seen.insert_all(l)).sum::<u32>();
    let mut walked = 0usize;
    let mut visited = first;
    'walk: for &(_, u) in &order[first..] {
        visited += 1;
        for list in lists(u) {
            // The cap is checked every `CAP_CHECK` entries: a walk that reaches it inside a
            // long list stops there (the result is `cap` either way).
            for part in list.chunks(CAP_CHECK) {
                if count >= cap {
                    break 'walk;
                }
                count += seen.insert_all(part);
                walked += part.len();
            }
        }
    }
    // Empty the set: rewrite the words written when that is cheaper than zeroing them all.
    if copied || walked >= seen.bits.len() {
        seen.clear();
    } else {
        seen.clear_words(&[v]);
        for list in lists(v) {
            seen.clear_words(list);
        }
        for &(_, u) in &order[..visited] {
            for list in lists(u) {
                seen.clear_words(list);
            }
        }
    }
    (count.min(cap), walked)
}

/// The 17 values of an alert whose address is graph node `v`.
fn node_row(p: &PreparedBatch<'_>, v: u32, reach: u32, pagerank: &[f64]) -> [f64; 17] {
    let local = local_stats(&p.graph, &p.node_alert_level, v);
    let mut row = [0.0; 17];
    row[..14].copy_from_slice(&local[..14]);
    row[14] = f64::from(reach);
    row[15] = local[14];
    row[16] = pagerank[v as usize] * p.graph.n_nodes as f64;
    row
}

/// Declares (and computes) the flow block.
pub(crate) fn flow_block(spec: &FeatureSpec, sink: &mut ColumnSink<PreparedBatch<'_>>) {
    sink.group("graph");
    sink.add_group("graph", DEFS, |p| {
        let g = &p.graph;
        let pagerank = g.pagerank(&spec.pagerank);
        let cap = spec.reach_cap.max(1);
        let hubs = HubSets::new(g);
        // Each distinct alerted node once (several alerts often share an address).
        let mut distinct: Vec<u32> = p.node.iter().flatten().copied().collect();
        distinct.sort_unstable();
        distinct.dedup();
        let rows: Vec<[f64; 17]> = distinct
            .par_iter()
            .with_min_len(ROWS_PER_SPLIT)
            .map_init(
                || (NodeSet::new(g.n_nodes), Vec::new()),
                |(seen, order), &v| {
                    let (reach, _) = reach_2hop(g, &hubs, v, cap, seen, order);
                    node_row(p, v, reach, &pagerank)
                },
            )
            .collect();
        let mut absent = [0.0; 17];
        for k in [4, 10, 16] {
            absent[k] = f64::NAN;
        }
        let row_of = |node: &Option<u32>| match node {
            Some(v) => distinct.binary_search(v).map_or(&absent, |i| &rows[i]),
            None => &absent,
        };
        (0..17)
            .map(|k| p.node.iter().map(|node| row_of(node)[k]).collect())
            .collect()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use aml_core::tables::MoneyFlows;

    /// A graph over `n` nodes with unit flows on `edges`.
    fn graph(edges: &[(u32, u32)], n: usize) -> FlowGraph {
        let m = edges.len();
        FlowGraph::build(&MoneyFlows {
            addresses: (0..n).map(|i| format!("a{i:04}")).collect(),
            from: edges.iter().map(|e| e.0).collect(),
            to: edges.iter().map(|e| e.1).collect(),
            tx_count: vec![1.0; m],
            amount_usd_sum: vec![1.0; m],
            ..MoneyFlows::default()
        })
    }

    #[test]
    fn reach_walks_the_longest_counterparty_first_and_each_once() {
        // Node 0 has counterparties 1..=5 (1 in both directions); node 5 sends to 40 leaves and
        // receives from 40 others (no single direction above the cap: no hub shortcut), nodes
        // 1..=4 send to 3 leaves each. With a cap of 50, the walk from 0 stops after node 5's
        // lists alone; without a cap, node 1 (sender and receiver) is walked once.
        let mut edges = vec![(0, 1), (1, 0), (0, 2), (3, 0), (0, 4), (5, 0)];
        edges.extend((0..40).map(|k| (5, 10 + k)));
        edges.extend((0..40).map(|k| (50 + k, 5)));
        for u in 1..=4u32 {
            edges.extend((0..3).map(|k| (u, 200 + 3 * u + k)));
        }
        let g = graph(&edges, 220);
        let mut seen = NodeSet::new(g.n_nodes);
        let mut order = Vec::new();
        let (reach, walked) = reach_2hop(&g, &HubSets::none(), 0, 50, &mut seen, &mut order);
        assert_eq!(reach, 50);
        assert_eq!(walked, 81, "node 5's 81 entries, then the cap");
        let (reach, walked) = reach_2hop(&g, &HubSets::none(), 0, 10_000, &mut seen, &mut order);
        assert_eq!(reach, 5 + 80 + 12);
        // Node 5: 81; nodes 1..=4: 3 leaves plus their links to 0 (node 1: two links).
        assert_eq!(walked, 81 + 5 + 4 + 4 + 4);
        assert!(
            seen.bits.iter().all(|&w| w == 0),
            "the scratch set is left empty"
        );
    }

    #[test]
    fn reach_stops_inside_a_long_list_once_the_cap_is_reached() {
        // Node 0 sends to node 1; node 1 sends to 600 leaves and receives from 600 others (and
        // from 0). Neither direction exceeds the cap of 700 (no hub shortcut), so the walk
        // inserts node 1's 600 receivers, then its senders a part at a time, and stops after
        // the part that reaches the cap instead of at the end of the list.
        let mut edges = vec![(0, 1)];
        edges.extend((0..600).map(|k| (1, 2 + k)));
        edges.extend((0..600).map(|k| (602 + k, 1)));
        let g = graph(&edges, 1202);
        assert!(g.inc.degree(1) > CAP_CHECK);
        let mut seen = NodeSet::new(g.n_nodes);
        let mut order = Vec::new();
        let (reach, walked) = reach_2hop(&g, &HubSets::none(), 0, 700, &mut seen, &mut order);
        assert_eq!(reach, 700);
        assert_eq!(
            walked,
            600 + CAP_CHECK,
            "the senders' first part reaches the cap"
        );
        assert!(seen.bits.iter().all(|&w| w == 0));
        let (reach, walked) = reach_2hop(&g, &HubSets::none(), 0, 10_000, &mut seen, &mut order);
        assert_eq!((reach, walked), (1 + 600 + 600, 600 + 601));
        assert!(seen.bits.iter().all(|&w| w == 0));
    }
}
