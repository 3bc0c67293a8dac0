//! One day's money-flow graph: benign preferential-attachment edges with persistent favourite
//! counterparties, the planted laundering patterns of the live illicit communities, and the
//! per-address aggregates (degrees, volumes, PageRank, k-core, hub distance...) that the
//! feature table is derived from, so features and flows always agree.

use super::rng::{below, geometric, lognormal, normal, pick_cumulative, rng_for, stream, unit};
use super::world::{Community, Profile, Role, Typology};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Nodes per generation chunk (each chunk owns one random stream).
pub(crate) const NODE_CHUNK: usize = 4096;

/// Edge kinds.
pub(crate) const KIND_RANDOM: u8 = 0;
pub(crate) const KIND_FAVOURITE: u8 = 1;
pub(crate) const KIND_ILLICIT: u8 = 2;

/// One aggregated directed edge (local node indices; times in seconds from window start).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Edge {
    pub from: u32,
    pub to: u32,
    pub tx_count: u32,
    pub usd: f64,
    pub first: u32,
    pub last: u32,
    pub kind: u8,
}

/// Edges sorted by (from, to) with out and in adjacency.
pub(crate) struct Graph {
    pub n: usize,
    pub edges: Vec<Edge>,
    pub out_start: Vec<u32>,
    pub in_start: Vec<u32>,
    /// Edge indices grouped by `to`, each group sorted by `from`.
    pub in_edges: Vec<u32>,
}

impl Graph {
    pub(crate) fn out_range(&self, v: usize) -> std::ops::Range<usize> {
        self.out_start[v] as usize..self.out_start[v + 1] as usize
    }
    pub(crate) fn in_slice(&self, v: usize) -> &[u32] {
        &self.in_edges[self.in_start[v] as usize..self.in_start[v + 1] as usize]
    }
    pub(crate) fn has_edge(&self, a: usize, b: u32) -> bool {
        self.edges[self.out_range(a)]
            .binary_search_by_key(&b, |e| e.to)
            .is_ok()
    }
    /// Sorted distinct neighbours in either direction.
    pub(crate) fn neighbours(&self, v: usize) -> Vec<u32> {
        let out = self.edges[self.out_range(v)].iter().map(|e| e.to);
        let inn = self
            .in_slice(v)
            .iter()
            .map(|&i| self.edges[i as usize].from);
        let mut all: Vec<u32> = out.chain(inn).collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// Inputs shared by edge generation.
pub(crate) struct GraphInputs<'a> {
    pub seed: u64,
    pub day: u64,
    pub n_flows: usize,
    pub window_secs: u32,
    pub hubs: usize,
    pub profiles: &'a [Profile],
    pub communities: &'a [Community],
    /// Local index of each community member, in pattern order (parallel to `communities`).
    pub members_local: &'a [Vec<u32>],
    /// Maps a pool position to today's local index.
    pub local_of: &'a (dyn Fn(u64) -> Option<usize> + Sync),
}

/// Structuring thresholds (reporting limits people split amounts under).
const THRESHOLDS: [f64; 3] = [1000.0, 3000.0, 10000.0];

fn structured_amount(rng: &mut ChaCha8Rng, typical: f64) -> f64 {
    let t = THRESHOLDS
        .iter()
        .copied()
        .rev()
        .find(|&t| t <= typical * 3.0)
        .unwrap_or(THRESHOLDS[0]);
    t * (0.86 + 0.135 * unit(rng))
}

fn edge_times(rng: &mut ChaCha8Rng, window: u32, burst: f64) -> (u32, u32) {
    let first = (unit(rng) * window as f64) as u32;
    let span_share = if burst > 1.0 {
        0.05 * unit(rng)
    } else {
        unit(rng)
    };
    let span = (span_share * (window - first) as f64) as u32;
    (first, first + span)
}

fn benign_edge(rng: &mut ChaCha8Rng, inp: &GraphInputs, from: usize, to: usize, kind: u8) -> Edge {
    let pf = &inp.profiles[from];
    let pt = &inp.profiles[to];
    let mean_tx = pf.tx_per_edge * if pt.role.is_hub() { 1.5 } else { 1.0 };
    let tx_count = (1 + geometric(rng, mean_tx - 1.0).min(u32::MAX as u64 / 2)) as u32;
    let structure_p = 0.8 * super::rng::sigmoid(2.0 * (pf.structuring - 1.5));
    let per_tx = if unit(rng) < structure_p {
        structured_amount(rng, pf.tx_size)
    } else {
        lognormal(rng, pf.tx_size, pf.tx_sigma)
    };
    let (first, last) = edge_times(rng, inp.window_secs, pf.burst);
    Edge {
        from: from as u32,
        to: to as u32,
        tx_count,
        usd: per_tx * tx_count as f64,
        first,
        last,
        kind,
    }
}

/// Out-degree per node: stochastic rounding of the weight share of the benign edge budget.
fn out_degrees(inp: &GraphInputs, budget: usize) -> Vec<u32> {
    let n = inp.profiles.len();
    let total: f64 = inp.profiles.iter().map(|p| p.weight_out).sum();
    let mut rng = rng_for(&[inp.seed, stream::DEGREES, inp.day]);
    let cap = (n / 4).max(1) as f64;
    inp.profiles
        .iter()
        .map(|p| {
            let expected = (budget as f64 * p.weight_out / total).min(cap);
            let base = expected.floor();
            (base + f64::from(unit(&mut rng) < expected - base)) as u32
        })
        .collect()
}

fn benign_chunk(inp: &GraphInputs, chunk: usize, degrees: &[u32], in_cum: &[f64]) -> Vec<Edge> {
    let n = inp.profiles.len();
    let mut rng = rng_for(&[inp.seed, stream::EDGES, inp.day, chunk as u64]);
    let mut out = Vec::new();
    let mut targets: Vec<u32> = Vec::new();
    let lo = chunk * NODE_CHUNK;
    let hi = (lo + NODE_CHUNK).min(n);
    for (v, &degree) in degrees.iter().enumerate().take(hi).skip(lo) {
        let k = degree as usize;
        if k == 0 {
            continue;
        }
        let pv = &inp.profiles[v];
        let mut fav = rng_for(&[inp.seed, stream::FAVOURITES, pv.position]);
        targets.clear();
        let mut kinds: Vec<(u32, u8)> = Vec::with_capacity(k);
        for _ in 0..k {
            // The favourite stream always consumes two draws so it stays aligned across days.
            let to_hub = unit(&mut fav) < 0.3;
            let jitter = normal(&mut fav);
            let candidate = if to_hub {
                (jitter.abs() * 1e6) as u64 % inp.hubs as u64
            } else {
                (pv.position as f64 + 400.0 * jitter).max(inp.hubs as f64) as u64
            };
            let use_favourite = unit(&mut rng) < 0.65;
            let (target, kind) = match (use_favourite, (inp.local_of)(candidate)) {
                (true, Some(t)) => (t, KIND_FAVOURITE),
                _ => (pick_cumulative(&mut rng, in_cum), KIND_RANDOM),
            };
            if target != v {
                kinds.push((target as u32, kind));
            }
        }
        // One edge per directed pair: favourites win over random picks.
        kinds.sort_unstable_by_key(|&(t, kind)| (t, std::cmp::Reverse(kind)));
        kinds.dedup_by_key(|&mut (t, _)| t);
        for &(t, kind) in &kinds {
            out.push(benign_edge(&mut rng, inp, v, t as usize, kind));
            if pv.role == Role::Arbitrageur && unit(&mut rng) < 0.5 {
                out.push(benign_edge(&mut rng, inp, t as usize, v, KIND_RANDOM));
            }
        }
    }
    out
}

fn random_hub(rng: &mut ChaCha8Rng, inp: &GraphInputs, role: Role) -> usize {
    let hubs: Vec<usize> = (0..inp.hubs)
        .filter(|&h| inp.profiles[h].role == role)
        .collect();
    if hubs.is_empty() {
        below(rng, inp.hubs)
    } else {
        hubs[below(rng, hubs.len())]
    }
}

fn random_regular(rng: &mut ChaCha8Rng, inp: &GraphInputs) -> usize {
    let n = inp.profiles.len();
    for _ in 0..16 {
        let v = inp.hubs + below(rng, n - inp.hubs);
        if !inp.profiles[v].is_illicit() {
            return v;
        }
    }
    inp.hubs
}

/// Laundering edges of one community.
fn illicit_edges(inp: &GraphInputs, index: usize) -> Vec<Edge> {
    let c = &inp.communities[index];
    let m = &inp.members_local[index];
    let mut rng = rng_for(&[inp.seed, stream::ILLICIT_EDGES, inp.day, c.block]);
    let amount = lognormal(&mut rng, 60_000.0, 0.8) * c.strength;
    let window = inp.window_secs;
    let t0 = (unit(&mut rng) * window as f64 * 0.7) as u32;
    let hop = (600.0 + 7200.0 * unit(&mut rng)) as u32;
    let mut edges = Vec::new();
    let mut push = |rng: &mut ChaCha8Rng, from: usize, to: usize, usd: f64, step: u32| {
        if from == to {
            return;
        }
        let tx_count = if c.structuring {
            (usd / 9_400.0).ceil().max(1.0) as u32
        } else {
            1 + geometric(rng, 1.5) as u32
        };
        let first = (t0 + step * hop).min(window - 1);
        let last = (first + (unit(rng) * hop as f64 * 2.0) as u32).min(window - 1);
        edges.push(Edge {
            from: from as u32,
            to: to as u32,
            tx_count,
            usd,
            first,
            last,
            kind: KIND_ILLICIT,
        });
    };
    let node = |k: usize| m[k % m.len()] as usize;
    let n = m.len();
    let exchange_in = random_hub(&mut rng, inp, Role::Exchange);
    let exchange_out = random_hub(&mut rng, inp, Role::Exchange);
    match c.typology {
        Typology::Layering | Typology::Cycle | Typology::PeelChain => {
            push(&mut rng, exchange_in, node(0), amount, 0);
            let mut a = amount;
            let hops = if c.typology == Typology::Cycle {
                n
            } else {
                n - 1
            };
            for k in 0..hops {
                a *= 0.97 + 0.025 * unit(&mut rng);
                if c.typology == Typology::PeelChain {
                    let peel = a * (0.03 + 0.07 * unit(&mut rng));
                    let sink = random_regular(&mut rng, inp);
                    push(&mut rng, node(k), sink, peel, k as u32);
                    a -= peel;
                }
                push(&mut rng, node(k), node(k + 1), a, k as u32 + 1);
                if c.typology == Typology::Layering && unit(&mut rng) < 0.3 && k + 2 < n {
                    push(&mut rng, node(k), node(k + 2), a * 0.2, k as u32 + 1);
                }
            }
            push(
                &mut rng,
                node(n - 1),
                exchange_out,
                a * 0.98,
                hops as u32 + 1,
            );
        }
        Typology::FanIn => {
            let share = amount / (n - 1) as f64;
            for k in 1..n {
                for _ in 0..1 + below(&mut rng, 3) {
                    let victim = random_regular(&mut rng, inp);
                    let usd = share * 0.4 * (0.5 + unit(&mut rng));
                    push(&mut rng, victim, node(k), usd, 0);
                }
                let usd = share * (0.9 + 0.1 * unit(&mut rng));
                push(&mut rng, node(k), node(0), usd, 1);
            }
            push(&mut rng, node(0), exchange_out, amount * 0.95, 2);
        }
        Typology::FanOut => {
            push(&mut rng, exchange_in, node(0), amount, 0);
            let share = amount / (n - 1) as f64;
            for k in 1..n {
                let usd = share * (0.9 + 0.1 * unit(&mut rng));
                push(&mut rng, node(0), node(k), usd, 1);
                let sink = random_hub(&mut rng, inp, Role::Exchange);
                push(&mut rng, node(k), sink, share * 0.9, 2);
            }
        }
    }
    if c.uses_mixer {
        let mixer = random_hub(&mut rng, inp, Role::Mixer);
        for k in 0..n {
            if unit(&mut rng) < 0.4 {
                push(&mut rng, node(k), mixer, amount * 0.1, k as u32);
                if unit(&mut rng) < 0.5 {
                    push(&mut rng, mixer, node(k + 1), amount * 0.09, k as u32 + 1);
                }
            }
        }
    }
    edges
}

/// Generate and merge all of the day's edges, then build adjacency.
pub(crate) fn build(inp: &GraphInputs) -> Graph {
    let n = inp.profiles.len();
    let illicit: Vec<Edge> = (0..inp.communities.len())
        .into_par_iter()
        .map(|i| illicit_edges(inp, i))
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect();
    let budget = inp.n_flows.saturating_sub(illicit.len());
    let degrees = out_degrees(inp, budget);
    let mut in_cum = Vec::with_capacity(n);
    let mut acc = 0.0;
    for p in inp.profiles {
        acc += p.weight_in;
        in_cum.push(acc);
    }
    let chunks = n.div_ceil(NODE_CHUNK);
    let benign: Vec<Vec<Edge>> = (0..chunks)
        .into_par_iter()
        .map(|c| benign_chunk(inp, c, &degrees, &in_cum))
        .collect();
    let mut edges: Vec<Edge> =
        Vec::with_capacity(benign.iter().map(Vec::len).sum::<usize>() + illicit.len());
    for chunk in benign {
        edges.extend(chunk);
    }
    edges.extend(illicit);
    // Stable sort keeps concatenation order among equal pairs, so the merge below is deterministic.
    edges.par_sort_by_key(|e| (e.from, e.to));
    let mut merged: Vec<Edge> = Vec::with_capacity(edges.len());
    for e in edges {
        match merged.last_mut() {
            Some(last) if last.from == e.from && last.to == e.to => {
                last.tx_count = last.tx_count.saturating_add(e.tx_count);
                last.usd += e.usd;
                last.first = last.first.min(e.first);
                last.last = last.last.max(e.last);
                last.kind = last.kind.max(e.kind);
            }
            _ => merged.push(e),
        }
    }
    let edges = merged;
    let mut out_start = vec![0u32; n + 1];
    let mut in_start = vec![0u32; n + 1];
    for e in &edges {
        out_start[e.from as usize + 1] += 1;
        in_start[e.to as usize + 1] += 1;
    }
    for v in 0..n {
        out_start[v + 1] += out_start[v];
        in_start[v + 1] += in_start[v];
    }
    let mut cursor = in_start.clone();
    let mut in_edges = vec![0u32; edges.len()];
    for (i, e) in edges.iter().enumerate() {
        let slot = &mut cursor[e.to as usize];
        in_edges[*slot as usize] = i as u32;
        *slot += 1;
    }
    Graph {
        n,
        edges,
        out_start,
        in_start,
        in_edges,
    }
}

/// Per-address aggregates of the day's graph.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeStats {
    pub deg_in: u32,
    pub deg_out: u32,
    pub unique_cp: u32,
    pub tx_in: u64,
    pub tx_out: u64,
    pub usd_in: f64,
    pub usd_out: f64,
    pub max_tx: f64,
    pub min_tx: f64,
    pub median_in: f64,
    pub median_out: f64,
    pub size_variance: f64,
    pub size_skewness: f64,
    pub size_kurtosis: f64,
    pub volume_std: f64,
    pub volume_cv: f64,
    pub hhi: f64,
    pub top_share: f64,
    pub reciprocity: f64,
    pub first: u32,
    pub last: u32,
    pub favourite_share: f64,
    pub structured_share: f64,
    pub mixer_exposure: bool,
    pub small_share: f64,
    pub pagerank: f64,
    pub kcore: u32,
    pub hub_distance: u32,
    pub clustering: f64,
    pub khop2_count: u64,
    pub khop3_count: u64,
    pub khop2_volume: f64,
    pub khop3_volume: f64,
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = values.len() / 2;
    let (_, m, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

fn local_stats(g: &Graph, profiles: &[Profile], v: usize) -> NodeStats {
    let out = &g.edges[g.out_range(v)];
    let inn: Vec<&Edge> = g
        .in_slice(v)
        .iter()
        .map(|&i| &g.edges[i as usize])
        .collect();
    let mut s = NodeStats {
        deg_out: out.len() as u32,
        deg_in: inn.len() as u32,
        ..Default::default()
    };
    let mut sizes_in: Vec<f64> = inn
        .iter()
        .map(|e| e.usd / e.tx_count.max(1) as f64)
        .collect();
    let mut sizes_out: Vec<f64> = out
        .iter()
        .map(|e| e.usd / e.tx_count.max(1) as f64)
        .collect();
    let all_sizes: Vec<f64> = sizes_in.iter().chain(sizes_out.iter()).copied().collect();
    let volumes: Vec<f64> = inn
        .iter()
        .map(|e| e.usd)
        .chain(out.iter().map(|e| e.usd))
        .collect();
    s.tx_in = inn.iter().map(|e| e.tx_count as u64).sum();
    s.tx_out = out.iter().map(|e| e.tx_count as u64).sum();
    s.usd_in = inn.iter().map(|e| e.usd).sum();
    s.usd_out = out.iter().map(|e| e.usd).sum();
    s.max_tx = all_sizes.iter().copied().fold(0.0, f64::max);
    s.min_tx = all_sizes.iter().copied().fold(f64::INFINITY, f64::min);
    if !s.min_tx.is_finite() {
        s.min_tx = 0.0;
    }
    s.median_in = median(&mut sizes_in);
    s.median_out = median(&mut sizes_out);
    let k = all_sizes.len() as f64;
    if k > 0.0 {
        let mean = all_sizes.iter().sum::<f64>() / k;
        let m2 = all_sizes.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / k;
        let m3 = all_sizes.iter().map(|x| (x - mean).powi(3)).sum::<f64>() / k;
        let m4 = all_sizes.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / k;
        s.size_variance = m2;
        if m2 > 1e-12 {
            s.size_skewness = m3 / m2.powf(1.5);
            s.size_kurtosis = m4 / (m2 * m2) - 3.0;
        }
        s.structured_share = all_sizes
            .iter()
            .filter(|&&x| THRESHOLDS.iter().any(|&t| x >= 0.86 * t && x < t))
            .count() as f64
            / k;
        s.small_share = all_sizes.iter().filter(|&&x| x < 100.0).count() as f64 / k;
        let total: f64 = volumes.iter().sum();
        let vmean = total / k;
        s.volume_std = (volumes.iter().map(|x| (x - vmean).powi(2)).sum::<f64>() / k).sqrt();
        s.volume_cv = if vmean > 0.0 {
            s.volume_std / vmean
        } else {
            0.0
        };
        if total > 0.0 {
            s.hhi = volumes.iter().map(|x| (x / total).powi(2)).sum();
            s.top_share = volumes.iter().copied().fold(0.0, f64::max) / total;
        }
    }
    let neighbours = g.neighbours(v);
    s.unique_cp = neighbours.len() as u32;
    let reciprocal = out
        .iter()
        .filter(|e| g.has_edge(e.to as usize, v as u32))
        .count();
    s.reciprocity = if s.unique_cp > 0 {
        reciprocal as f64 / s.unique_cp as f64
    } else {
        0.0
    };
    s.first = out
        .iter()
        .map(|e| e.first)
        .chain(inn.iter().map(|e| e.first))
        .min()
        .unwrap_or(0);
    s.last = out
        .iter()
        .map(|e| e.last)
        .chain(inn.iter().map(|e| e.last))
        .max()
        .unwrap_or(0);
    if !out.is_empty() {
        s.favourite_share =
            out.iter().filter(|e| e.kind == KIND_FAVOURITE).count() as f64 / out.len() as f64;
    }
    s.mixer_exposure = neighbours
        .iter()
        .any(|&u| profiles[u as usize].role == Role::Mixer);
    // Local clustering estimated on the first 16 neighbours (hubs excluded to stay local).
    let sample: Vec<u32> = neighbours
        .iter()
        .copied()
        .filter(|&u| !profiles[u as usize].role.is_hub())
        .take(16)
        .collect();
    if sample.len() >= 2 {
        let mut links = 0;
        for (i, &a) in sample.iter().enumerate() {
            for &b in &sample[i + 1..] {
                if g.has_edge(a as usize, b) || g.has_edge(b as usize, a) {
                    links += 1;
                }
            }
        }
        let pairs = sample.len() * (sample.len() - 1) / 2;
        s.clustering = links as f64 / pairs as f64;
    }
    s
}

/// PageRank by pull iterations over in-edges (each node sums its inputs in a fixed order).
fn pagerank(g: &Graph, iterations: usize) -> Vec<f64> {
    let n = g.n;
    let damping = 0.85;
    let mut rank = vec![1.0 / n as f64; n];
    for _ in 0..iterations {
        let dangling: f64 = (0..n)
            .filter(|&v| g.out_start[v] == g.out_start[v + 1])
            .map(|v| rank[v])
            .sum();
        let base = (1.0 - damping) / n as f64 + damping * dangling / n as f64;
        rank = (0..n)
            .into_par_iter()
            .map(|v| {
                let inflow: f64 = g
                    .in_slice(v)
                    .iter()
                    .map(|&i| {
                        let u = g.edges[i as usize].from as usize;
                        rank[u] / (g.out_start[u + 1] - g.out_start[u]) as f64
                    })
                    .sum();
                base + damping * inflow
            })
            .collect();
    }
    rank
}

/// k-core number on the undirected multigraph (bucket algorithm, Batagelj-Zaversnik).
fn kcore(g: &Graph) -> Vec<u32> {
    let n = g.n;
    let degree: Vec<u32> = (0..n)
        .map(|v| (g.out_start[v + 1] - g.out_start[v]) + (g.in_start[v + 1] - g.in_start[v]))
        .collect();
    let max_degree = degree.iter().copied().max().unwrap_or(0) as usize;
    let mut bin = vec![0usize; max_degree + 2];
    for &d in &degree {
        bin[d as usize] += 1;
    }
    let mut start = 0;
    for b in bin.iter_mut() {
        let count = *b;
        *b = start;
        start += count;
    }
    let mut deg = degree.clone();
    let mut pos = vec![0usize; n];
    let mut vert = vec![0usize; n];
    for v in 0..n {
        let d = deg[v] as usize;
        pos[v] = bin[d];
        vert[pos[v]] = v;
        bin[d] += 1;
    }
    for d in (1..bin.len()).rev() {
        bin[d] = bin[d - 1];
    }
    bin[0] = 0;
    for i in 0..n {
        let v = vert[i];
        let mut relax = |u: usize, deg: &mut Vec<u32>| {
            if deg[u] > deg[v] {
                let du = deg[u] as usize;
                let pu = pos[u];
                let pw = bin[du];
                let w = vert[pw];
                if u != w {
                    pos[u] = pw;
                    vert[pu] = w;
                    pos[w] = pu;
                    vert[pw] = u;
                }
                bin[du] += 1;
                deg[u] -= 1;
            }
        };
        for e in g.out_range(v) {
            relax(g.edges[e].to as usize, &mut deg);
        }
        for &i in g.in_slice(v) {
            relax(g.edges[i as usize].from as usize, &mut deg);
        }
    }
    deg
}

/// Undirected hop distance to the nearest exchange/service hub (multi-source BFS).
fn hub_distance(g: &Graph, profiles: &[Profile]) -> Vec<u32> {
    let mut dist = vec![u32::MAX; g.n];
    let mut queue = std::collections::VecDeque::new();
    for (v, p) in profiles.iter().enumerate() {
        if matches!(p.role, Role::Exchange | Role::Service) && v < g.n {
            dist[v] = 0;
            queue.push_back(v);
        }
    }
    while let Some(v) = queue.pop_front() {
        let next = dist[v] + 1;
        let outs = g.out_range(v).map(|e| g.edges[e].to as usize);
        let ins = g
            .in_slice(v)
            .iter()
            .map(|&i| g.edges[i as usize].from as usize);
        for u in outs.chain(ins).collect::<Vec<_>>() {
            if dist[u] == u32::MAX {
                dist[u] = next;
                queue.push_back(u);
            }
        }
    }
    dist
}

/// All per-node aggregates, computed in parallel over nodes (order-independent per node).
pub(crate) fn node_stats(g: &Graph, profiles: &[Profile]) -> Vec<NodeStats> {
    let mut stats: Vec<NodeStats> = (0..g.n)
        .into_par_iter()
        .map(|v| local_stats(g, profiles, v))
        .collect();
    let ranks = pagerank(g, 15);
    let cores = kcore(g);
    let dist = hub_distance(g, profiles);
    let n = g.n as u64;
    let volume: Vec<f64> = stats.iter().map(|s| s.usd_in + s.usd_out).collect();
    let cp: Vec<u64> = stats.iter().map(|s| s.unique_cp as u64).collect();
    let hop2: Vec<(u64, f64)> = (0..g.n)
        .into_par_iter()
        .map(|v| {
            let nb = g.neighbours(v);
            let c = nb.iter().map(|&u| cp[u as usize]).sum::<u64>().min(n);
            let vol = nb.iter().map(|&u| volume[u as usize]).sum::<f64>();
            (c, vol)
        })
        .collect();
    let hop3: Vec<(u64, f64)> = (0..g.n)
        .into_par_iter()
        .map(|v| {
            let nb = g.neighbours(v);
            let c = nb.iter().map(|&u| hop2[u as usize].0).sum::<u64>().min(n);
            let vol = nb
                .iter()
                .map(|&u| hop2[u as usize].1)
                .sum::<f64>()
                .min(1e15);
            (c, vol)
        })
        .collect();
    for (v, s) in stats.iter_mut().enumerate() {
        s.pagerank = ranks[v];
        s.kcore = cores[v];
        s.hub_distance = dist[v];
        s.khop2_count = hop2[v].0;
        s.khop2_volume = hop2[v].1.min(1e15);
        s.khop3_count = hop3[v].0;
        s.khop3_volume = hop3[v].1;
    }
    stats
}
