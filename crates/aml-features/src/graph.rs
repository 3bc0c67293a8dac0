//! The money-flow graph in compact CSR form, built once per batch.
//!
//! Nodes are the interned addresses of [`MoneyFlows`] (sorted, so ids do not depend on file
//! row order). Self-loops are dropped and duplicate (from, to) rows are summed into one edge;
//! duplicates are summed in a canonical order (by value) so the sum is bitwise independent of
//! row order. Both directions are stored: `out` lists are sorted by target, `in` lists by source.

use crate::spec::PageRankParams;
use aml_core::tables::MoneyFlows;
use rayon::prelude::*;

/// Nodes per parallel work item: a fixed chunking keeps every reduction's order independent
/// of the number of threads.
const CHUNK: usize = 4096;

/// One direction of adjacency: row `v` spans `offsets[v]..offsets[v+1]`.
#[derive(Debug, Clone, Default)]
pub struct Adjacency {
    /// Row starts, length `n_nodes + 1`.
    pub offsets: Vec<u64>,
    /// Neighbour node ids, sorted within each row, no repeats.
    pub neighbours: Vec<u32>,
    /// Summed `amount_usd_sum` of the merged edge (non-finite inputs count as 0).
    pub usd: Vec<f64>,
    /// Summed `tx_count` of the merged edge (non-finite inputs count as 0).
    pub tx: Vec<f64>,
}

/// The row accessors of a CSR direction (`offsets` + `neighbours`).
macro_rules! csr_rows {
    ($direction:ty) => {
        impl $direction {
            /// The entry range of node `v`.
            pub fn range(&self, v: u32) -> std::ops::Range<usize> {
                let v = v as usize;
                self.offsets[v] as usize..self.offsets[v + 1] as usize
            }

            /// Neighbours of node `v`.
            pub fn of(&self, v: u32) -> &[u32] {
                &self.neighbours[self.range(v)]
            }

            /// Number of distinct neighbours of `v`.
            pub fn degree(&self, v: u32) -> usize {
                self.range(v).len()
            }
        }
    };
}

csr_rows!(Adjacency);
csr_rows!(Incoming);

/// The incoming direction: row `v` lists the senders to `v`, sorted, no repeats; entry `j` is the
/// merged edge at position `edge[j]` of the outgoing arrays (its values are
/// `out.usd[edge[j]]` and `out.tx[edge[j]]`), so the values are stored once.
#[derive(Debug, Clone, Default)]
pub struct Incoming {
    /// Row starts, length `n_nodes + 1`.
    pub offsets: Vec<u64>,
    /// Sender node ids, sorted within each row, no repeats.
    pub neighbours: Vec<u32>,
    /// Position of each entry's edge in the outgoing arrays.
    pub edge: Vec<u32>,
}

/// The directed, deduplicated, self-loop-free money-flow graph.
#[derive(Debug, Clone, Default)]
pub struct FlowGraph {
    /// Number of nodes (distinct addresses in the flows).
    pub n_nodes: usize,
    /// Outgoing edges, sorted by target.
    pub out: Adjacency,
    /// Incoming edges, sorted by source (values in `out`).
    pub inc: Incoming,
    /// Flow rows dropped because from == to.
    pub self_loops: usize,
    /// Flow rows merged into an earlier row with the same (from, to).
    pub duplicates: usize,
}

fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

impl FlowGraph {
    /// Builds both CSR directions: O(edges), whatever the row order. Rows sorted by
    /// (from, to), as a loaded batch's canonical order has them, are merged in one sequential
    /// pass; other orders go through a counting sort first. Both give the same graph.
    pub fn build(flows: &MoneyFlows) -> FlowGraph {
        let n = flows.addresses.len();
        let (out, self_loops, duplicates) = match outgoing_of_sorted(flows) {
            Some(built) => built,
            None => outgoing_by_counting_sort(flows),
        };
        let inc = transpose(&out, n);
        FlowGraph {
            n_nodes: n,
            out,
            inc,
            self_loops,
            duplicates,
        }
    }

    /// PageRank by power iteration on the unweighted deduplicated graph. Dangling mass is spread
    /// uniformly. Each node's new rank is one sequential sum over its sorted in-list, and the
    /// convergence test sums fixed-size chunks in order, so the result is bitwise identical with
    /// any number of threads.
    pub fn pagerank(&self, params: &PageRankParams) -> Vec<f64> {
        let n = self.n_nodes;
        if n == 0 {
            return Vec::new();
        }
        let d = params.damping.clamp(0.0, 1.0);
        let inv_n = 1.0 / n as f64;
        let mut rank = vec![inv_n; n];
        let mut contrib = vec![0.0f64; n];
        let mut next = vec![0.0f64; n];
        for _ in 0..params.max_iterations {
            // Each node's share per out-edge, and the rank of dangling nodes (summed in node
            // order per chunk, chunks in order) in the same pass.
            let dangling = ordered_sum(
                contrib
                    .par_chunks_mut(CHUNK)
                    .zip(rank.par_chunks(CHUNK))
                    .enumerate()
                    .map(|(c, (out, r))| {
                        let mut dangling = 0.0;
                        for (i, (o, &x)) in out.iter_mut().zip(r).enumerate() {
                            let deg = self.out.degree((c * CHUNK + i) as u32);
                            if deg > 0 {
                                *o = x / deg as f64;
                            } else {
                                *o = 0.0;
                                dangling += x;
                            }
                        }
                        dangling
                    })
                    .collect(),
            );
            let base = (1.0 - d) * inv_n + d * dangling * inv_n;
            let diff = ordered_sum(
                next.par_chunks_mut(CHUNK)
                    .zip(rank.par_chunks(CHUNK))
                    .enumerate()
                    .map(|(c, (out, old))| {
                        let mut delta = 0.0;
                        for (i, (o, &prev)) in out.iter_mut().zip(old).enumerate() {
                            let v = (c * CHUNK + i) as u32;
                            let mut s = 0.0;
                            for &u in self.inc.of(v) {
                                s += contrib[u as usize];
                            }
                            *o = base + d * s;
                            delta += (*o - prev).abs();
                        }
                        delta
                    })
                    .collect(),
            );
            std::mem::swap(&mut rank, &mut next);
            if diff < params.tolerance {
                break;
            }
        }
        rank
    }
}

/// The outgoing adjacency of rows in any order (a counting sort by sender, then each row by
/// (receiver, USD, tx)), with the self-loop and duplicate counts.
fn outgoing_by_counting_sort(flows: &MoneyFlows) -> (Adjacency, usize, usize) {
    let n = flows.addresses.len();
    let m = flows.from.len();
    let mut self_loops = 0usize;
    let mut counts = vec![0u64; n + 1];
    for e in 0..m {
        let (f, t) = (flows.from[e] as usize, flows.to[e] as usize);
        if f >= n || t >= n {
            continue; // ids outside the interned table cannot occur in a validated batch
        }
        if f == t {
            self_loops += 1;
        } else {
            counts[f + 1] += 1;
        }
    }
    for v in 0..n {
        counts[v + 1] += counts[v];
    }
    let mut cursor = counts.clone();
    let mut order = vec![0u32; counts[n] as usize];
    for e in 0..m {
        let (f, t) = (flows.from[e] as usize, flows.to[e] as usize);
        if f >= n || t >= n || f == t {
            continue;
        }
        order[cursor[f] as usize] = e as u32;
        cursor[f] += 1;
    }
    drop(cursor);
    // Canonical order inside each row: by target, then by the summed values themselves.
    let key = |e: &u32| {
        let e = *e as usize;
        (
            flows.to[e],
            finite_or_zero(flows.amount_usd_sum[e]),
            finite_or_zero(flows.tx_count[e]),
        )
    };
    for v in 0..n {
        let row = &mut order[counts[v] as usize..counts[v + 1] as usize];
        if row.len() > 1 && !row.windows(2).all(|w| key(&w[0]).0 < key(&w[1]).0) {
            row.sort_unstable_by(|a, b| {
                let (ka, kb) = (key(a), key(b));
                ka.0.cmp(&kb.0)
                    .then(ka.1.total_cmp(&kb.1))
                    .then(ka.2.total_cmp(&kb.2))
            });
        }
    }
    let mut out = Adjacency {
        offsets: vec![0u64; n + 1],
        neighbours: Vec::with_capacity(order.len()),
        usd: Vec::with_capacity(order.len()),
        tx: Vec::with_capacity(order.len()),
    };
    let mut duplicates = 0usize;
    for v in 0..n {
        let row = &order[counts[v] as usize..counts[v + 1] as usize];
        let mut last: Option<u32> = None;
        for &e in row {
            let e = e as usize;
            let (t, usd, tx) = (
                flows.to[e],
                finite_or_zero(flows.amount_usd_sum[e]),
                finite_or_zero(flows.tx_count[e]),
            );
            if last == Some(t) {
                duplicates += 1;
                if let (Some(u), Some(x)) = (out.usd.last_mut(), out.tx.last_mut()) {
                    *u += usd;
                    *x += tx;
                }
            } else {
                out.neighbours.push(t);
                out.usd.push(usd);
                out.tx.push(tx);
                last = Some(t);
            }
        }
        out.offsets[v + 1] = out.neighbours.len() as u64;
    }
    (out, self_loops, duplicates)
}

/// The outgoing adjacency when the rows are sorted by (from, to) with every id in range (else
/// `None`): one pass, each run of duplicate rows summed in (USD, tx) order, as the counting sort
/// sums them.
fn outgoing_of_sorted(flows: &MoneyFlows) -> Option<(Adjacency, usize, usize)> {
    let (n, m) = (flows.addresses.len(), flows.from.len());
    let (from, to) = (&flows.from, &flows.to);
    let sorted = (1..m).all(|e| (from[e - 1], to[e - 1]) <= (from[e], to[e]));
    let in_range =
        from.last().is_none_or(|&f| (f as usize) < n) && to.iter().all(|&t| (t as usize) < n);
    if !sorted || !in_range {
        return None;
    }
    let value = |e: usize| {
        (
            finite_or_zero(flows.amount_usd_sum[e]),
            finite_or_zero(flows.tx_count[e]),
        )
    };
    let mut out = Adjacency {
        offsets: vec![0u64; n + 1],
        neighbours: Vec::with_capacity(m),
        usd: Vec::with_capacity(m),
        tx: Vec::with_capacity(m),
    };
    let (mut self_loops, mut duplicates) = (0usize, 0usize);
    let mut run: Vec<(f64, f64)> = Vec::new();
    let mut e = 0;
    while e < m {
        let (f, t) = (from[e], to[e]);
        let end = e
            + 1
            + (e + 1..m)
                .take_while(|&k| from[k] == f && to[k] == t)
                .count();
        if f == t {
            self_loops += end - e;
        } else {
            let (usd, tx) = if end == e + 1 {
                value(e)
            } else {
                duplicates += end - e - 1;
                run.clear();
                run.extend((e..end).map(value));
                run.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
                let mut sum = run[0];
                for &(u, x) in &run[1..] {
                    sum.0 += u;
                    sum.1 += x;
                }
                sum
            };
            out.offsets[f as usize + 1] += 1;
            out.neighbours.push(t);
            out.usd.push(usd);
            out.tx.push(tx);
        }
        e = end;
    }
    for v in 0..n {
        out.offsets[v + 1] += out.offsets[v];
    }
    Some((out, self_loops, duplicates))
}

/// Sums per-chunk partial results in chunk order.
fn ordered_sum(parts: Vec<f64>) -> f64 {
    parts.into_iter().fold(0.0, |a, b| a + b)
}

/// Builds the reverse adjacency; iterating sources in increasing id order leaves every
/// in-list sorted by source. One random write per edge: (source, edge) pairs land in their
/// target's row, then split into the two arrays in one sequential pass.
fn transpose(out: &Adjacency, n: usize) -> Incoming {
    let m = out.neighbours.len();
    let mut offsets = vec![0u64; n + 1];
    for &t in &out.neighbours {
        offsets[t as usize + 1] += 1;
    }
    for v in 0..n {
        offsets[v + 1] += offsets[v];
    }
    // Edge positions fit u32 (the graph is built from u32 row indexes).
    let mut cursor: Vec<u32> = offsets[..n].iter().map(|&o| o as u32).collect();
    let mut pairs = vec![(0u32, 0u32); m];
    for s in 0..n {
        for e in out.range(s as u32) {
            let slot = &mut cursor[out.neighbours[e] as usize];
            pairs[*slot as usize] = (s as u32, e as u32);
            *slot += 1;
        }
    }
    drop(cursor);
    let (neighbours, edge) = pairs.into_iter().unzip();
    Incoming {
        offsets,
        neighbours,
        edge,
    }
}
