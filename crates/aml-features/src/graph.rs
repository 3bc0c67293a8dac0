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

/// Flow rows per job of the parallel sorted build (the last job may be shorter).
const ROWS_PER_JOB: usize = 1 << 18;

/// The number of jobs of a parallel pass over `items`: one when the pool has one thread or the
/// input is small, else about one job per `per_job` items, at most four per thread. Results
/// never depend on it.
fn jobs_for(items: usize, per_job: usize) -> usize {
    let threads = rayon::current_num_threads();
    if threads <= 1 {
        1
    } else {
        items.div_ceil(per_job).clamp(1, 4 * threads)
    }
}

/// The outgoing adjacency when the rows are sorted by (from, to) with every id in range (else
/// `None`), each run of duplicate rows summed in (USD, tx) order, as the counting sort sums
/// them. Built in parallel: see [`outgoing_of_sorted_in`].
fn outgoing_of_sorted(flows: &MoneyFlows) -> Option<(Adjacency, usize, usize)> {
    let (n, m) = (flows.addresses.len(), flows.from.len());
    let (from, to) = (&flows.from, &flows.to);
    let sorted = (1..m)
        .into_par_iter()
        .with_min_len(1 << 16)
        .all(|e| (from[e - 1], to[e - 1]) <= (from[e], to[e]));
    let in_range = from.last().is_none_or(|&f| (f as usize) < n)
        && to
            .par_iter()
            .with_min_len(1 << 16)
            .all(|&t| (t as usize) < n);
    if !sorted || !in_range {
        return None;
    }
    Some(outgoing_of_sorted_in(flows, jobs_for(m, ROWS_PER_JOB)))
}

/// The outgoing adjacency of rows sorted by (from, to) with every id in range, in `jobs` parts
/// (at least one): the rows are split at sender boundaries (so no run of duplicate rows is
/// split), each part counts its edges, a prefix sum places each part's edges and row ends, and
/// the parts fill their own slices of the arrays in parallel. Every edge and sum is the one
/// the one-pass merge of all rows gives, whatever `jobs` is.
fn outgoing_of_sorted_in(flows: &MoneyFlows, jobs: usize) -> (Adjacency, usize, usize) {
    let (n, m) = (flows.addresses.len(), flows.from.len());
    let (from, to) = (&flows.from[..], &flows.to[..]);
    // Part k holds the senders nodes[k]..nodes[k + 1] and their rows rows[k]..rows[k + 1].
    let jobs = jobs.max(1);
    let mut nodes = vec![0u32];
    for k in 1..jobs {
        match from.get(k * m / jobs) {
            Some(&f) if f > *nodes.last().unwrap_or(&0) => nodes.push(f),
            _ => {}
        }
    }
    nodes.push(n as u32);
    let rows: Vec<usize> = nodes
        .iter()
        .map(|&v| from.partition_point(|&f| f < v))
        .collect();
    // Edges, self-loop rows and rows of each part.
    let counts: Vec<(usize, usize)> = rows
        .par_windows(2)
        .map(|r| {
            let (mut edges, mut self_loops) = (0usize, 0usize);
            for e in r[0]..r[1] {
                let (f, t) = (from[e], to[e]);
                if f == t {
                    self_loops += 1;
                } else if e == r[0] || (from[e - 1], to[e - 1]) != (f, t) {
                    edges += 1;
                }
            }
            (edges, self_loops)
        })
        .collect();
    let total: usize = counts.iter().map(|c| c.0).sum();
    let self_loops: usize = counts.iter().map(|c| c.1).sum();
    let duplicates = m - self_loops - total;
    let mut out = Adjacency {
        offsets: vec![0u64; n + 1],
        neighbours: vec![0u32; total],
        usd: vec![0f64; total],
        tx: vec![0f64; total],
    };
    // Each part's slices: its row ends offsets[v + 1] for its senders, and its edges.
    let mut parts = Vec::with_capacity(counts.len());
    {
        let (mut ends, mut nb, mut usd, mut tx) = (
            &mut out.offsets[1..],
            &mut out.neighbours[..],
            &mut out.usd[..],
            &mut out.tx[..],
        );
        let mut first_edge = 0usize;
        for (k, &(edges, _)) in counts.iter().enumerate() {
            let senders = (nodes[k + 1] - nodes[k]) as usize;
            let (e, rest_ends) = std::mem::take(&mut ends).split_at_mut(senders);
            let (a, rest_nb) = std::mem::take(&mut nb).split_at_mut(edges);
            let (b, rest_usd) = std::mem::take(&mut usd).split_at_mut(edges);
            let (c, rest_tx) = std::mem::take(&mut tx).split_at_mut(edges);
            parts.push((k, first_edge, e, a, b, c));
            (ends, nb, usd, tx) = (rest_ends, rest_nb, rest_usd, rest_tx);
            first_edge += edges;
        }
    }
    let value = |e: usize| {
        (
            finite_or_zero(flows.amount_usd_sum[e]),
            finite_or_zero(flows.tx_count[e]),
        )
    };
    parts
        .into_par_iter()
        .for_each(|(k, first_edge, ends, nb, usd, tx)| {
            let lo = nodes[k];
            let mut run: Vec<(f64, f64)> = Vec::new();
            let (mut e, stop, mut w) = (rows[k], rows[k + 1], 0usize);
            let mut sender = lo;
            while e < stop {
                let (f, t) = (from[e], to[e]);
                let end = e
                    + 1
                    + (e + 1..stop)
                        .take_while(|&j| from[j] == f && to[j] == t)
                        .count();
                if f != t {
                    // Row ends of the senders before f (none of their edges remain).
                    while sender < f {
                        ends[(sender - lo) as usize] = (first_edge + w) as u64;
                        sender += 1;
                    }
                    let (u, x) = if end == e + 1 {
                        value(e)
                    } else {
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
                    nb[w] = t;
                    usd[w] = u;
                    tx[w] = x;
                    w += 1;
                }
                e = end;
            }
            for end in &mut ends[(sender - lo) as usize..] {
                *end = (first_edge + w) as u64;
            }
        });
    (out, self_loops, duplicates)
}

/// Sums per-chunk partial results in chunk order.
fn ordered_sum(parts: Vec<f64>) -> f64 {
    parts.into_iter().fold(0.0, |a, b| a + b)
}

/// The row starts of the reverse adjacency (a prefix sum of the in-degrees).
fn in_offsets(out: &Adjacency, n: usize) -> Vec<u64> {
    let mut offsets = vec![0u64; n + 1];
    for &t in &out.neighbours {
        offsets[t as usize + 1] += 1;
    }
    for v in 0..n {
        offsets[v + 1] += offsets[v];
    }
    offsets
}

/// Builds the reverse adjacency; iterating sources in increasing id order leaves every
/// in-list sorted by source. Each entry's source and edge are written straight into their
/// arrays at the target's cursor: two random writes per edge, but no intermediate array of
/// pairs to fault in and split afterwards.
fn transpose(out: &Adjacency, n: usize) -> Incoming {
    let m = out.neighbours.len();
    let offsets = in_offsets(out, n);
    // Edge positions fit u32 (the graph is built from u32 row indexes).
    let mut cursor: Vec<u32> = offsets[..n].iter().map(|&o| o as u32).collect();
    let mut neighbours = vec![0u32; m];
    let mut edge = vec![0u32; m];
    for s in 0..n {
        for e in out.range(s as u32) {
            let slot = &mut cursor[out.neighbours[e] as usize];
            neighbours[*slot as usize] = s as u32;
            edge[*slot as usize] = e as u32;
            *slot += 1;
        }
    }
    Incoming {
        offsets,
        neighbours,
        edge,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flow rows over `n` nodes sorted by (from, to): `m` random rows from a simple LCG, each
    /// repeated up to `repeat` times (duplicate runs, values in random order), with values that
    /// include NaN, infinities, signed zeros and 1e16 (so a run's sum depends on its order).
    fn sorted_flows(n: usize, m: usize, repeat: usize, seed: u64) -> MoneyFlows {
        const VALUES: [f64; 8] = [0.1, 0.2, 1e16, 3.0, -0.0, f64::NAN, f64::INFINITY, 7.5];
        let mut state = seed | 1;
        let mut next = move |k: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as usize) % k.max(1)
        };
        let mut rows = Vec::new();
        for _ in 0..m {
            let (f, t) = (next(n) as u32, next(n) as u32);
            for _ in 0..1 + next(repeat + 1) {
                rows.push((f, t, VALUES[next(8)], VALUES[next(8)]));
            }
        }
        rows.sort_by_key(|r| (r.0, r.1));
        MoneyFlows {
            addresses: (0..n).map(|i| format!("a{i:06}")).collect(),
            from: rows.iter().map(|r| r.0).collect(),
            to: rows.iter().map(|r| r.1).collect(),
            amount_usd_sum: rows.iter().map(|r| r.2).collect(),
            tx_count: rows.iter().map(|r| r.3).collect(),
            ..MoneyFlows::default()
        }
    }

    /// The transpose of round four, the reference: (source, edge) pairs land in their
    /// target's row, then split into the two arrays.
    fn reference_transpose(out: &Adjacency, n: usize) -> Incoming {
        let m = out.neighbours.len();
        let offsets = in_offsets(out, n);
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

    fn bits(values: &[f64]) -> Vec<u64> {
        values.iter().map(|x| x.to_bits()).collect()
    }

    fn out_arrays(
        built: &(Adjacency, usize, usize),
    ) -> (Vec<u64>, Vec<u32>, Vec<u64>, Vec<u64>, usize, usize) {
        let (a, self_loops, duplicates) = built;
        (
            a.offsets.clone(),
            a.neighbours.clone(),
            bits(&a.usd),
            bits(&a.tx),
            *self_loops,
            *duplicates,
        )
    }

    fn in_arrays(inc: &Incoming) -> (Vec<u64>, Vec<u32>, Vec<u32>) {
        (
            inc.offsets.clone(),
            inc.neighbours.clone(),
            inc.edge.clone(),
        )
    }

    fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
        match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
            Ok(pool) => pool.install(f),
            Err(e) => panic!("thread pool: {e}"),
        }
    }

    /// Shapes: empty, one node (self-loops only), nodes without rows, one sender (every split
    /// point inside its rows), one duplicate run (every split point inside it), hubs of long
    /// runs, and random sparse and dense graphs.
    fn shapes() -> Vec<MoneyFlows> {
        let mut shapes = vec![
            sorted_flows(0, 0, 0, 1),
            sorted_flows(1, 5, 2, 2),
            sorted_flows(40, 0, 0, 3),
        ];
        let mut one_sender = sorted_flows(50, 120, 3, 4);
        one_sender.from.iter_mut().for_each(|f| *f = 7);
        let mut one_sender = {
            let mut order: Vec<usize> = (0..one_sender.from.len()).collect();
            order.sort_by_key(|&k| one_sender.to[k]);
            let pick = |v: &[f64]| order.iter().map(|&k| v[k]).collect::<Vec<f64>>();
            MoneyFlows {
                to: order.iter().map(|&k| one_sender.to[k]).collect(),
                amount_usd_sum: pick(&one_sender.amount_usd_sum),
                tx_count: pick(&one_sender.tx_count),
                ..one_sender.clone()
            }
        };
        shapes.push(one_sender.clone());
        one_sender.to.iter_mut().for_each(|t| *t = 9);
        shapes.push(one_sender);
        for (n, m, repeat, seed) in [
            (30, 400, 6, 5),
            (500, 700, 2, 6),
            (2000, 9000, 3, 7),
            (64, 3000, 1, 8),
        ] {
            shapes.push(sorted_flows(n, m, repeat, seed));
        }
        shapes
    }

    #[test]
    fn sorted_rows_in_parts_give_the_counting_sorts_graph_on_1_and_2_threads() {
        for flows in shapes() {
            let want = out_arrays(&outgoing_by_counting_sort(&flows));
            for threads in [1, 2] {
                for jobs in 1..=7 {
                    let got = on_threads(threads, || outgoing_of_sorted_in(&flows, jobs));
                    assert_eq!(out_arrays(&got), want, "{threads} threads, {jobs} jobs");
                }
                let got = on_threads(threads, || outgoing_of_sorted(&flows));
                assert_eq!(got.as_ref().map(out_arrays), Some(want.clone()));
            }
        }
    }

    #[test]
    fn transpose_matches_the_transpose_through_pairs() {
        for flows in shapes() {
            let n = flows.addresses.len();
            let (out, _, _) = outgoing_by_counting_sort(&flows);
            assert_eq!(
                in_arrays(&transpose(&out, n)),
                in_arrays(&reference_transpose(&out, n))
            );
        }
    }
}
