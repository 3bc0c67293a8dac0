//! Partitions of the money-flow graph: weakly connected components and Louvain communities.
//!
//! Both ignore edge direction and amounts (an undirected, unweighted view of the deduplicated
//! graph) and are deterministic by construction: nodes are visited in node-id order (ids come
//! from the sorted address table, so they do not depend on file row order), every tie goes to
//! the smallest label, work is sequential and every sum is an exact integer sum. Labels are
//! canonical: a component is labelled by its smallest node, communities are numbered in order
//! of their smallest node.

use crate::graph::FlowGraph;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Bounds of the Louvain optimisation (each bound keeps the cost O(bound x edges)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunityParams {
    /// Maximum aggregation levels.
    pub max_levels: usize,
    /// Maximum local-moving passes over all nodes per level.
    pub max_passes: usize,
}

impl Default for CommunityParams {
    fn default() -> Self {
        CommunityParams {
            max_levels: 6,
            max_passes: 8,
        }
    }
}

/// An undirected weighted graph in CSR form; a self-loop entry holds twice the weight of the
/// edges folded into the node (so a node's degree is the sum of its row). `weights` is `None`
/// when every entry weighs 1 (the flow graph itself: no 80 MB vector of ones to stream).
struct Undirected {
    offsets: Vec<usize>,
    neighbours: Vec<u32>,
    weights: Option<Vec<u64>>,
}

impl Undirected {
    fn n(&self) -> usize {
        self.offsets.len() - 1
    }

    fn row(&self, v: usize) -> std::ops::Range<usize> {
        self.offsets[v]..self.offsets[v + 1]
    }

    /// Weighted degree of every node (the sum of its row).
    fn degrees(&self) -> Vec<u64> {
        match &self.weights {
            None => self
                .offsets
                .windows(2)
                .map(|w| (w[1] - w[0]) as u64)
                .collect(),
            Some(weights) => (0..self.n())
                .map(|v| weights[self.row(v)].iter().sum())
                .collect(),
        }
    }

    /// The flow graph without direction: one unit-weight entry per distinct counterparty.
    fn from_flows(g: &FlowGraph) -> Undirected {
        let n = g.n_nodes;
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        let mut neighbours = Vec::with_capacity(g.out.neighbours.len() * 2);
        for v in 0..n as u32 {
            merge_sorted(g.out.of(v), g.inc.of(v), |u| neighbours.push(u));
            offsets.push(neighbours.len());
        }
        Undirected {
            offsets,
            neighbours,
            weights: None,
        }
    }
}

/// Calls `f` once per distinct value of two sorted, repeat-free lists, in increasing order.
pub(crate) fn merge_sorted(a: &[u32], b: &[u32], mut f: impl FnMut(u32)) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let x = a.get(i).copied().unwrap_or(u32::MAX);
        let y = b.get(j).copied().unwrap_or(u32::MAX);
        let u = x.min(y);
        if x == u {
            i += 1;
        }
        if y == u {
            j += 1;
        }
        f(u);
    }
}

/// Union-find root with path halving.
fn find(parent: &mut [u32], mut v: u32) -> u32 {
    while parent[v as usize] != v {
        let grand = parent[parent[v as usize] as usize];
        parent[v as usize] = grand;
        v = grand;
    }
    v
}

/// Renumbers `labels` as 0, 1, ... in order of each label's first node; returns the count.
fn renumber(labels: &mut [u32]) -> usize {
    let mut new_id = vec![u32::MAX; labels.len()];
    let mut next = 0u32;
    for l in labels.iter_mut() {
        let slot = &mut new_id[*l as usize];
        if *slot == u32::MAX {
            *slot = next;
            next += 1;
        }
        *l = *slot;
    }
    next as usize
}

impl FlowGraph {
    /// Weakly connected component of every node, labelled by the component's smallest node id.
    /// Union-find over the out-edges: O(edges · α(nodes)).
    pub fn components(&self) -> Vec<u32> {
        let mut parent: Vec<u32> = (0..self.n_nodes as u32).collect();
        for v in 0..self.n_nodes as u32 {
            for &u in self.out.of(v) {
                let (a, b) = (find(&mut parent, v), find(&mut parent, u));
                // The smaller root wins, so each root is its component's smallest node.
                if a < b {
                    parent[b as usize] = a;
                } else if b < a {
                    parent[a as usize] = b;
                }
            }
        }
        (0..self.n_nodes as u32)
            .map(|v| find(&mut parent, v))
            .collect()
    }

    /// Louvain communities (modularity on the undirected, unweighted graph) of every node,
    /// numbered 0, 1, ... in order of each community's smallest node.
    ///
    /// Local moving visits nodes in id order and moves a node to the neighbouring community
    /// with the largest modularity gain, only if strictly better than staying (ties: smallest
    /// community id); then communities are folded into nodes and the next level starts. Each
    /// pass is O(edges) with a dense counter, so the total is O(levels · passes · edges).
    pub fn communities(&self, params: &CommunityParams) -> Vec<u32> {
        let mut node_label: Vec<u32> = (0..self.n_nodes as u32).collect();
        if self.n_nodes == 0 {
            return node_label;
        }
        let mut level = Undirected::from_flows(self);
        for _ in 0..params.max_levels {
            let (mut labels, moved) = local_moving(&level, params.max_passes);
            if !moved {
                break;
            }
            let count = renumber(&mut labels);
            for l in node_label.iter_mut() {
                *l = labels[*l as usize];
            }
            level = aggregate(&level, &labels, count);
        }
        // Level ids are already in smallest-member order at each level, but renumbering over the
        // original nodes makes the canonical order explicit.
        renumber(&mut node_label);
        node_label
    }
}

/// An exact integer weight of the local-moving counters: `u32` when every sum fits (half the
/// cache footprint of `u64`), else `u64`. Every value converts to `f64` exactly below 2^53, so
/// the gains, and therefore the labels, do not depend on the width.
trait Weight:
    Copy + Default + Eq + std::ops::AddAssign + std::ops::SubAssign + std::fmt::Debug
{
    fn from_u64(x: u64) -> Self;
    fn to_f64(self) -> f64;
}

impl Weight for u32 {
    fn from_u64(x: u64) -> u32 {
        // Only used when the graph's total weight fits (checked by the caller).
        u32::try_from(x).unwrap_or(u32::MAX)
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Weight for u64 {
    fn from_u64(x: u64) -> u64 {
        x
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

/// Per community during local moving: the summed degree of its nodes (`total`) and the
/// link weight from the node being moved (`link`, 0 outside that node's visit). Kept side by
/// side so one cache line serves both reads.
#[derive(Clone, Copy, Default)]
struct Slot<W> {
    link: W,
    total: W,
}

/// One Louvain level: returns each node's community and whether any node moved.
fn local_moving(g: &Undirected, max_passes: usize) -> (Vec<u32>, bool) {
    let degree = g.degrees();
    let two_m: u64 = degree.iter().sum();
    // Every link and total is at most 2m.
    if u32::try_from(two_m).is_ok() {
        local_moving_as::<u32>(g, &degree, max_passes)
    } else {
        local_moving_as::<u64>(g, &degree, max_passes)
    }
}

/// [`local_moving`] with counters of type `W` (wide enough for the graph's total weight).
fn local_moving_as<W: Weight>(
    g: &Undirected,
    degree: &[u64],
    max_passes: usize,
) -> (Vec<u32>, bool) {
    let two_m: u64 = degree.iter().sum();
    let degree: Vec<W> = degree.iter().map(|&d| W::from_u64(d)).collect();
    match &g.weights {
        None => local_moving_with(g, &degree, two_m, max_passes, |_| W::from_u64(1)),
        Some(weights) => {
            local_moving_with(g, &degree, two_m, max_passes, |e| W::from_u64(weights[e]))
        }
    }
}

/// A community label during local moving. Labels are compared only to break ties (smallest
/// wins), so any order-preserving renumbering of the live communities gives the same moves.
trait Label: Copy + Eq + Ord {
    fn from_usize(x: usize) -> Self;
    fn index(self) -> usize;
}

impl Label for u32 {
    fn from_usize(x: usize) -> u32 {
        // Labels are node ids or positions among them (at most `n`, checked by the caller).
        u32::try_from(x).unwrap_or(u32::MAX)
    }
    fn index(self) -> usize {
        self as usize
    }
}

impl Label for u16 {
    fn from_usize(x: usize) -> u16 {
        // Only used once the live communities fit (checked by the caller).
        u16::try_from(x).unwrap_or(u16::MAX)
    }
    fn index(self) -> usize {
        usize::from(self)
    }
}

/// Live communities from which local moving switches to `u16` labels: their positions among
/// the live communities, in label order. Half the bytes per node label and a counter table of
/// at most 65,536 entries keep the random reads of the later passes in the core's cache.
const NARROW_LABELS: usize = 1 << 16;

/// [`local_moving`] with entry `e` weighing `weight(e)` (never 0), node degrees `degree`
/// summing to `two_m`.
fn local_moving_with<W: Weight>(
    g: &Undirected,
    degree: &[W],
    two_m: u64,
    max_passes: usize,
    weight: impl Fn(usize) -> W,
) -> (Vec<u32>, bool) {
    local_moving_narrowing(
        g,
        degree,
        two_m,
        max_passes,
        weight,
        NARROW_LABELS,
        true,
        PREFETCH_FROM_BYTES,
    )
}

/// [`local_moving_with`], switching to `u16` labels between passes once at most `narrow_at`
/// communities are live (`narrow_at` is at most [`NARROW_LABELS`]; 0 never switches), and
/// before that, with `compact`, renumbering the live communities 0, 1, ... in label order
/// whenever at most three quarters of the counters are live (a smaller counter table for the
/// random reads). Both renumberings keep the label order, so the moves are the same, and so
/// does `prefetch_from` (see [`local_moving_pass`]).
#[allow(clippy::too_many_arguments)]
fn local_moving_narrowing<W: Weight>(
    g: &Undirected,
    degree: &[W],
    two_m: u64,
    max_passes: usize,
    weight: impl Fn(usize) -> W,
    narrow_at: usize,
    compact: bool,
    prefetch_from: usize,
) -> (Vec<u32>, bool) {
    let n = g.n();
    // Each node's label: a position in `ids` (the label itself while `ids` is empty).
    let mut community: Vec<u32> = (0..n as u32).collect();
    if two_m == 0 {
        return (community, false);
    }
    let mut ids: Vec<u32> = Vec::new();
    let zero = W::default();
    let mut slots: Vec<Slot<W>> = degree
        .iter()
        .map(|&total| Slot { link: zero, total })
        .collect();
    let longest = (0..n).map(|v| g.row(v).len()).max().unwrap_or(0);
    let inv_two_m = 1.0 / two_m as f64;
    let mut touched: Vec<u32> = vec![0; longest + 1];
    let mut moved_any = false;
    for pass in 0..max_passes {
        // Before the first pass every node is its own community.
        let live = if pass == 0 {
            None
        } else {
            Some(live_labels(&community, slots.len()))
        };
        let n_live = live.as_ref().map_or(n, Vec::len);
        if n_live <= narrow_at.min(NARROW_LABELS) {
            let live = live.unwrap_or_else(|| (0..n as u32).collect());
            // Each live community's counters carry over to its position (totals are exact
            // integer sums, links are 0 between visits).
            let mut position = vec![0u16; slots.len()];
            for (i, &c) in live.iter().enumerate() {
                position[c as usize] = u16::from_usize(i);
            }
            let mut narrow: Vec<u16> = community.iter().map(|&c| position[c as usize]).collect();
            drop(position);
            let mut narrow_slots: Vec<Slot<W>> = live.iter().map(|&c| slots[c as usize]).collect();
            drop(slots);
            let mut touched = vec![0u16; longest + 1];
            for _ in pass..max_passes {
                let moved = local_moving_pass(
                    g,
                    degree,
                    inv_two_m,
                    &weight,
                    &mut narrow,
                    &mut narrow_slots,
                    &mut touched,
                    prefetch_from,
                );
                if !moved {
                    break;
                }
                moved_any = true;
            }
            for (c, &i) in community.iter_mut().zip(&narrow) {
                let label = live[usize::from(i)];
                *c = if ids.is_empty() {
                    label
                } else {
                    ids[label as usize]
                };
            }
            return (community, moved_any);
        }
        if let Some(live) = live.filter(|l| compact && l.len() * 4 <= slots.len() * 3) {
            let mut position = vec![0u32; slots.len()];
            for (i, &c) in live.iter().enumerate() {
                position[c as usize] = u32::from_usize(i);
            }
            for c in community.iter_mut() {
                *c = position[*c as usize];
            }
            drop(position);
            slots = live.iter().map(|&c| slots[c as usize]).collect();
            ids = if ids.is_empty() {
                live
            } else {
                live.iter().map(|&c| ids[c as usize]).collect()
            };
        }
        let moved = local_moving_pass(
            g,
            degree,
            inv_two_m,
            &weight,
            &mut community,
            &mut slots,
            &mut touched,
            prefetch_from,
        );
        if !moved {
            break;
        }
        moved_any = true;
    }
    if !ids.is_empty() {
        for c in community.iter_mut() {
            *c = ids[*c as usize];
        }
    }
    (community, moved_any)
}

/// The distinct values of `labels` (each below `universe`), in increasing order.
fn live_labels(labels: &[u32], universe: usize) -> Vec<u32> {
    let mut present = vec![0u64; universe.div_ceil(64)];
    for &c in labels {
        present[c as usize >> 6] |= 1 << (c & 63);
    }
    let count = present.iter().map(|w| w.count_ones() as usize).sum();
    let mut live = Vec::with_capacity(count);
    for (i, &word) in present.iter().enumerate() {
        let mut word = word;
        while word != 0 {
            live.push((i * 64) as u32 + word.trailing_zeros());
            word &= word - 1;
        }
    }
    live
}

/// Entries ahead of the local-moving scan whose neighbour's label is prefetched. Level-0 labels
/// (2 MB) and counters (up to 4 MB) live in L3, not L2, so each entry costs two dependent
/// L3 round trips that the out-of-order window alone does not overlap enough; on the full day
/// the prefetches cut level-0 local moving by about a third. Distances from 8/4 to 24/12 gave
/// the same time; the counters' prefetch does most of it.
const LABEL_AHEAD: usize = 16;
/// A pass prefetches only when its labels and counters take at least this many bytes (the
/// L2 size of the machine measured): on a mid-size graph whose arrays fit in L2 the prefetches
/// cost instructions and save nothing (`communities_200k` 66.8 -> 70.6 ms, median of 5 pairs).
const PREFETCH_FROM_BYTES: usize = 1 << 20;
/// Entries ahead of the scan whose community's counters are prefetched (its label was
/// prefetched `LABEL_AHEAD - SLOT_AHEAD` entries earlier).
const SLOT_AHEAD: usize = 8;

/// Asks the CPU to bring the cache line at `p` into L1; does nothing off x86_64. Any address
/// is allowed: nothing is read through the pointer.
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` is only a hint: it never faults (not even on an invalid or
    // unmapped address) and has no effect the program can observe but timing; its only
    // requirement, SSE, is part of the x86_64 baseline. (It is not callable without `unsafe`
    // outside a `#[target_feature(enable = "sse")]` function, even where SSE is enabled.)
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// One local-moving pass over every node in id order: `community` holds each node's label,
/// `slots` each label's counters (links 0, left 0), `touched` one spare entry per row entry.
/// Returns whether any node moved.
///
/// When `community` and `slots` take at least `prefetch_from` bytes, the loads of labels and
/// counters a few entries ahead are started early ([`LABEL_AHEAD`], [`SLOT_AHEAD`]); the
/// reads, sums and moves are the same either way.
#[allow(clippy::too_many_arguments)]
fn local_moving_pass<W: Weight, L: Label>(
    g: &Undirected,
    degree: &[W],
    inv_two_m: f64,
    weight: &impl Fn(usize) -> W,
    community: &mut [L],
    slots: &mut [Slot<W>],
    touched: &mut [L],
    prefetch_from: usize,
) -> bool {
    let bytes = std::mem::size_of_val(community) + std::mem::size_of_val(slots);
    if bytes >= prefetch_from {
        local_moving_scan::<W, L, true>(g, degree, inv_two_m, weight, community, slots, touched)
    } else {
        local_moving_scan::<W, L, false>(g, degree, inv_two_m, weight, community, slots, touched)
    }
}

/// [`local_moving_pass`], with or without the prefetches.
fn local_moving_scan<W: Weight, L: Label, const PREFETCH: bool>(
    g: &Undirected,
    degree: &[W],
    inv_two_m: f64,
    weight: &impl Fn(usize) -> W,
    community: &mut [L],
    slots: &mut [Slot<W>],
    touched: &mut [L],
) -> bool {
    let zero = W::default();
    let mut moved = false;
    let neighbours = &g.neighbours[..];
    for v in 0..g.n() {
        let own = community[v];
        // Communities with a link from `v`: the first `n_touched` entries. A community is
        // written at position `n_touched` on every link and kept only on its first (link
        // still 0), so the scan has no unpredictable branch.
        let mut n_touched = 0;
        for e in g.row(v) {
            if PREFETCH {
                // The scan walks `neighbours` linearly (across rows too), so the entries a few
                // steps ahead are known: start the two dependent random loads of entry
                // `e + SLOT_AHEAD` (its label, then its community's counters) early. The label
                // was requested `LABEL_AHEAD - SLOT_AHEAD` entries before, so it is usually in
                // L1 by now. A label may still change before the entry is reached (a move);
                // then the hint is merely wasted.
                if let Some(&u) = neighbours.get(e + LABEL_AHEAD) {
                    prefetch(community.as_ptr().wrapping_add(u as usize));
                }
                if let Some(c) = neighbours
                    .get(e + SLOT_AHEAD)
                    .and_then(|&u| community.get(u as usize))
                {
                    prefetch(slots.as_ptr().wrapping_add(c.index()));
                }
            }
            let u = neighbours[e] as usize;
            if u == v {
                continue;
            }
            let c = community[u];
            let slot = &mut slots[c.index()];
            touched[n_touched] = c;
            n_touched += usize::from(slot.link == zero);
            slot.link += weight(e);
        }
        let touched = &touched[..n_touched];
        let k = degree[v].to_f64();
        slots[own.index()].total -= degree[v];
        // Gain of joining c (up to a common factor and the cost of leaving `own`).
        let gain = |slot: &Slot<W>| slot.link.to_f64() - slot.total.to_f64() * k * inv_two_m;
        // The best other community (ties: smallest label) replaces `own` only if strictly
        // better.
        let mut best = own;
        let mut best_gain = f64::NEG_INFINITY;
        for &c in touched {
            if c == own {
                continue;
            }
            let g_c = gain(&slots[c.index()]);
            if g_c > best_gain || (g_c == best_gain && c < best) {
                best = c;
                best_gain = g_c;
            }
        }
        if best_gain <= gain(&slots[own.index()]) {
            best = own;
        }
        for &c in touched {
            slots[c.index()].link = zero;
        }
        slots[best.index()].total += degree[v];
        if best != own {
            community[v] = best;
            moved = true;
        }
    }
    moved
}

/// Folds each community of `labels` (0..count) into one node; internal edges become its
/// self-loop entry (weights stay exact integers). Members are listed with a counting sort (in
/// node order within a community), so each row's entries come out in first-seen order. Rows
/// are independent: ranges of communities with about the same number of members fold in
/// parallel and are concatenated in community order, so the result does not depend on the
/// number of threads.
fn aggregate(g: &Undirected, labels: &[u32], count: usize) -> Undirected {
    let mut starts = vec![0usize; count + 1];
    for &c in labels {
        starts[c as usize + 1] += 1;
    }
    for c in 0..count {
        starts[c + 1] += starts[c];
    }
    let mut cursor = starts.clone();
    let mut members = vec![0u32; labels.len()];
    for (v, &c) in labels.iter().enumerate() {
        members[cursor[c as usize]] = v as u32;
        cursor[c as usize] += 1;
    }
    drop(cursor);
    // Community ranges of about `labels.len() / PARTS` members each (a range holds at least
    // one community).
    const PARTS: usize = 16;
    let mut bounds = vec![0usize];
    for k in 1..PARTS {
        let target = labels.len() * k / PARTS;
        let c = starts.partition_point(|&s| s < target).min(count);
        if c > *bounds.last().unwrap_or(&0) {
            bounds.push(c);
        }
    }
    if *bounds.last().unwrap_or(&0) < count {
        bounds.push(count);
    }
    let parts: Vec<(Vec<usize>, Vec<u32>, Vec<u64>)> = bounds
        .par_windows(2)
        .map_init(
            || vec![0u64; count],
            |acc, range| fold_rows(g, labels, &starts, &members, range[0]..range[1], acc),
        )
        .collect();
    let mut offsets = Vec::with_capacity(count + 1);
    offsets.push(0);
    let total: usize = parts.iter().map(|p| p.1.len()).sum();
    let (mut neighbours, mut weights) = (Vec::with_capacity(total), Vec::with_capacity(total));
    for (lengths, ns, ws) in parts {
        for len in lengths {
            offsets.push(offsets[offsets.len() - 1] + len);
        }
        neighbours.extend_from_slice(&ns);
        weights.extend_from_slice(&ws);
    }
    Undirected {
        offsets,
        neighbours,
        weights: Some(weights),
    }
}

/// The aggregated rows of communities `range` (see [`aggregate`]): each row's length, and the
/// rows' entries one after the other. `acc` (one zero per community) is scratch, left zeroed.
fn fold_rows(
    g: &Undirected,
    labels: &[u32],
    starts: &[usize],
    members: &[u32],
    range: std::ops::Range<usize>,
    acc: &mut [u64],
) -> (Vec<usize>, Vec<u32>, Vec<u64>) {
    let mut touched: Vec<u32> = Vec::new();
    let mut lengths = Vec::with_capacity(range.len());
    let (mut neighbours, mut weights) = (Vec::new(), Vec::new());
    for c in range {
        for &v in &members[starts[c]..starts[c + 1]] {
            let row = g.row(v as usize);
            let mut add = |e: usize, w: u64| {
                let c = labels[g.neighbours[e] as usize];
                if acc[c as usize] == 0 {
                    touched.push(c);
                }
                acc[c as usize] += w;
            };
            match &g.weights {
                None => row.for_each(|e| add(e, 1)),
                Some(ws) => row.for_each(|e| add(e, ws[e])),
            }
        }
        lengths.push(touched.len());
        for &c in &touched {
            neighbours.push(c);
            weights.push(acc[c as usize]);
            acc[c as usize] = 0;
        }
        touched.clear();
    }
    (lengths, neighbours, weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random symmetric graph over `n` nodes from a simple LCG: unit weights, or random
    /// integer weights with self-loop entries (the shape of an aggregated level).
    fn random_graph(n: usize, m: usize, seed: u64, weighted: bool) -> Undirected {
        let mut state = seed | 1;
        let mut next = move |k: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as usize) % k
        };
        let mut rows: Vec<std::collections::BTreeMap<u32, u64>> = vec![Default::default(); n];
        for _ in 0..m {
            let (a, b, w) = (next(n), next(n), 1 + next(5) as u64);
            if a == b && !weighted {
                continue;
            }
            *rows[a].entry(b as u32).or_default() += if a == b { 2 * w } else { w };
            if a != b {
                *rows[b].entry(a as u32).or_default() += w;
            }
        }
        let mut offsets = vec![0];
        let (mut neighbours, mut weights) = (Vec::new(), Vec::new());
        for row in rows {
            for (u, w) in row {
                neighbours.push(u);
                weights.push(if weighted { w } else { 1 });
            }
            offsets.push(neighbours.len());
        }
        Undirected {
            offsets,
            neighbours,
            weights: weighted.then_some(weights),
        }
    }

    #[test]
    fn narrowed_and_compacted_labels_give_the_same_communities() {
        // `narrow_at` 0 without `compact` is the plain pass over node-id labels (the old code);
        // the others switch to `u16` positions before the first pass or after some passes, and
        // with `compact` renumber the live communities between passes before that.
        let (mut switched_late, mut compacted) = (0, 0);
        for seed in 0..60u64 {
            for weighted in [false, true] {
                let n = 1 + (seed as usize * 13) % 400;
                let g = random_graph(n, n * (1 + seed as usize % 6), seed, weighted);
                let degree: Vec<u64> = g.degrees();
                let two_m: u64 = degree.iter().sum();
                let weight = |e: usize| g.weights.as_ref().map_or(1, |w| w[e]);
                let run = |passes: usize, narrow_at: usize, compact: bool| {
                    local_moving_narrowing(
                        &g,
                        &degree,
                        two_m,
                        passes,
                        weight,
                        narrow_at,
                        compact,
                        PREFETCH_FROM_BYTES,
                    )
                };
                let plain = run(8, 0, false);
                let live = |passes: usize| live_labels(&run(passes, 0, false).0, n).len();
                let (after_one, after_two) = (live(1), live(2));
                for narrow_at in [0, 1, after_two, after_one, n / 2, n, NARROW_LABELS] {
                    for compact in [false, true] {
                        assert_eq!(
                            run(8, narrow_at, compact),
                            plain,
                            "seed {seed}, weighted {weighted}, narrow_at {narrow_at}, compact {compact}"
                        );
                    }
                }
                switched_late += usize::from(after_one < n);
                compacted += usize::from(after_one * 4 <= n * 3 && after_two < after_one);
            }
        }
        assert!(switched_late > 50, "the switch between passes is exercised");
        assert!(compacted > 20, "compaction between passes is exercised");
    }

    #[test]
    fn prefetching_and_plain_passes_give_the_same_communities() {
        // The prefetch distances reach across row ends and past the end of `neighbours`, and
        // labels change under the scan (moves), on every label width and counter layout.
        let mut moved_after_first = 0;
        for seed in 0..60u64 {
            for weighted in [false, true] {
                let n = 1 + (seed as usize * 17) % 700;
                let g = random_graph(n, n * (1 + seed as usize % 7), seed, weighted);
                let degree: Vec<u64> = g.degrees();
                let two_m: u64 = degree.iter().sum();
                let weight = |e: usize| g.weights.as_ref().map_or(1, |w| w[e]);
                // 0: every pass prefetches; usize::MAX: none does.
                let run = |passes: usize, narrow_at: usize, compact: bool, from: usize| {
                    local_moving_narrowing(
                        &g, &degree, two_m, passes, weight, narrow_at, compact, from,
                    )
                };
                for passes in [1, 2, 8] {
                    for (narrow_at, compact) in [(0, false), (0, true), (n / 2, true), (n, true)] {
                        assert_eq!(
                            run(passes, narrow_at, compact, 0),
                            run(passes, narrow_at, compact, usize::MAX),
                            "seed {seed}, weighted {weighted}, passes {passes}, narrow_at {narrow_at}"
                        );
                    }
                }
                moved_after_first += usize::from(run(1, 0, false, 0) != run(8, 0, false, 0));
            }
        }
        assert!(
            moved_after_first > 50,
            "later passes (moved labels) are exercised"
        );
    }

    #[test]
    fn live_labels_lists_each_label_once_in_order() {
        // Labels are below the number of labels (node ids).
        let mut labels = vec![5u32; 80];
        labels[..10].copy_from_slice(&[5, 0, 5, 3, 0, 63, 64, 3, 70, 64]);
        assert_eq!(live_labels(&labels, 80), vec![0, 3, 5, 63, 64, 70]);
        assert_eq!(live_labels(&labels, 71), vec![0, 3, 5, 63, 64, 70]);
        assert_eq!(live_labels(&[], 0), Vec::<u32>::new());
    }

    #[test]
    fn narrow_and_wide_counters_give_the_same_labels() {
        for seed in 0..40u64 {
            for weighted in [false, true] {
                let n = 1 + (seed as usize * 7) % 90;
                let g = random_graph(n, n * (1 + seed as usize % 5), seed, weighted);
                let degree = g.degrees();
                for passes in [1, 3, 8] {
                    let narrow = local_moving_as::<u32>(&g, &degree, passes);
                    let wide = local_moving_as::<u64>(&g, &degree, passes);
                    assert_eq!(narrow, wide, "seed {seed}, weighted {weighted}");
                    assert_eq!(local_moving(&g, passes), wide);
                }
            }
        }
    }
}
