//! Per-batch indexes shared by every feature block: alert order, address joins, cluster
//! membership and the money-flow graph. Built once, reused by the alert and cluster matrices.

use crate::error::FeatureWarning;
use crate::graph::FlowGraph;
use crate::partition::CommunityParams;
use aml_core::batch::Batch;
use aml_core::tables::Severity;
use std::borrow::Cow;
use std::cmp::Reverse;
use std::sync::OnceLock;

/// A batch plus the indexes feature blocks need. Construction is O(n log n) in the table sizes
/// and, apart from the graph, does not depend on the tables' row order.
#[derive(Debug)]
pub struct PreparedBatch<'a> {
    /// The batch.
    pub batch: &'a Batch,
    /// For each output row (alerts sorted by alert_id), the row in `batch.alerts`.
    pub alert_rows: Vec<usize>,
    /// Output rows sorted by alert address (ties: output-row order).
    pub by_address: Vec<usize>,
    /// Severity ordinal (0 low .. 3 critical) per output row.
    pub severity: Vec<u8>,
    /// Row in `batch.features` of each output row's address, if any.
    pub feature_row: Vec<Option<usize>>,
    /// Money-flow node of each output row's address, if any.
    pub node: Vec<Option<u32>>,
    /// The money-flow graph.
    pub graph: FlowGraph,
    /// Per graph node: 1 + highest severity ordinal of the alerts on it, 0 when not alerted.
    pub node_alert_level: Vec<u8>,
    /// Clusters in cluster_id order: row in `batch.clusters`.
    pub cluster_rows: Vec<usize>,
    /// Per cluster (in `cluster_rows` order): output rows of its known member alerts, sorted, distinct.
    pub cluster_members: Vec<Vec<u32>>,
    /// Per output row: positions (in `cluster_rows` order) of the clusters containing the alert, sorted.
    pub alert_clusters: Vec<Vec<u32>>,
    /// Non-fatal findings.
    pub warnings: Vec<FeatureWarning>,
    /// The Louvain labels of the graph, for the parameters they were first asked with.
    communities: OnceLock<(CommunityParams, Vec<u32>)>,
}

/// Clusters with more members than this are "large" in [`PreparedBatch::member_unions`]:
/// united once per distinct set of them instead of once per alert.
pub const LARGE_CLUSTER: usize = 64;

/// Per alert, the union of the member alerts of its clusters: see [`PreparedBatch::member_unions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberUnions {
    /// Per output row: distinct member alerts over all its clusters (0 when in no cluster).
    pub size: Vec<usize>,
    /// Per output row: how many of those have severity high or critical.
    pub high: Vec<usize>,
    /// Cluster-member entries read to compute the unions (the work done).
    pub member_visits: usize,
}

/// For each of `queries` (sorted ascending), its row in `table` (sorted ascending, no repeats),
/// if there. Each search gallops forward from where the previous one ended (probes 1, 2, 4, ...
/// rows ahead, then a binary search inside the last step): the same rows as one binary search
/// per query, but a query whose row is `d` rows further costs O(log d) comparisons of nearby,
/// cached strings instead of O(log table) comparisons spread over the whole table.
pub fn sorted_join(table: &[String], queries: &[&str]) -> Vec<Option<usize>> {
    let mut start = 0;
    queries
        .iter()
        .map(|&q| {
            start = gallop(table, start, q);
            (table.get(start).is_some_and(|s| s == q)).then_some(start)
        })
        .collect()
}

/// The first row at or after `start` whose string is not below `q` (`table.len()` if none),
/// found by exponential then binary search.
fn gallop(table: &[String], start: usize, q: &str) -> usize {
    let below = |i: usize| table[i].as_str() < q;
    if start >= table.len() || !below(start) {
        return start;
    }
    // Invariant: table[lo] < q; the answer lies in lo + 1 ..= hi.
    let (mut lo, mut step) = (start, 1);
    let hi = loop {
        let next = lo + step;
        if next >= table.len() {
            break table.len();
        }
        if !below(next) {
            break next;
        }
        lo = next;
        step *= 2;
    };
    lo + 1 + table[lo + 1..hi].partition_point(|s| s.as_str() < q)
}

/// The joins of [`PreparedBatch::new`] that do not need the graph: alert rows to address
/// features, graph nodes and clusters.
struct Joined {
    feature_row: Vec<Option<usize>>,
    node: Vec<Option<u32>>,
    node_alert_level: Vec<u8>,
    cluster_rows: Vec<usize>,
    cluster_members: Vec<Vec<u32>>,
    alert_clusters: Vec<Vec<u32>>,
    unknown_cluster_alerts: usize,
}

impl Joined {
    fn new(batch: &Batch, alert_rows: &[usize], by_address: &[usize], severity: &[u8]) -> Joined {
        let alerts = &batch.alerts;
        let addresses: Vec<&str> = by_address
            .iter()
            .map(|&i| alerts.address[alert_rows[i]].as_str())
            .collect();
        let join = |table: &[String]| {
            let mut rows = vec![None; addresses.len()];
            for (&i, row) in by_address.iter().zip(sorted_join(table, &addresses)) {
                rows[i] = row;
            }
            rows
        };
        let feature_row: Vec<Option<usize>> = join(&batch.features.address);
        let node: Vec<Option<u32>> = join(&batch.money_flows.addresses)
            .into_iter()
            .map(|r| r.map(|r| r as u32))
            .collect();
        // The graph's nodes are the interned flow addresses.
        let mut node_alert_level = vec![0u8; batch.money_flows.addresses.len()];
        for (i, n) in node.iter().enumerate() {
            if let Some(n) = n {
                let level = &mut node_alert_level[*n as usize];
                *level = (*level).max(severity[i] + 1);
            }
        }

        let clusters = &batch.clusters;
        let mut cluster_rows: Vec<usize> = (0..clusters.len()).collect();
        cluster_rows.sort_by(|&a, &b| {
            clusters.cluster_id[a]
                .cmp(&clusters.cluster_id[b])
                .then(a.cmp(&b))
        });
        let sorted_ids: Vec<&str> = alert_rows
            .iter()
            .map(|&r| alerts.alert_id[r].as_str())
            .collect();
        let lookup = |id: &str| sorted_ids.binary_search(&id).ok().map(|i| i as u32);
        let mut unknown = 0usize;
        let mut cluster_members = Vec::with_capacity(cluster_rows.len());
        let mut alert_clusters: Vec<Vec<u32>> = vec![Vec::new(); alert_rows.len()];
        for (pos, &c) in cluster_rows.iter().enumerate() {
            let mut members: Vec<u32> = Vec::with_capacity(clusters.related_alert_ids[c].len() + 1);
            for id in &clusters.related_alert_ids[c] {
                match lookup(id) {
                    Some(i) => members.push(i),
                    None => unknown += 1,
                }
            }
            // The representative alert belongs to its cluster even if the exporter forgot to list it.
            if !clusters.primary_alert_id[c].is_empty() {
                if let Some(i) = lookup(&clusters.primary_alert_id[c]) {
                    members.push(i);
                }
            }
            members.sort_unstable();
            members.dedup();
            for &m in &members {
                alert_clusters[m as usize].push(pos as u32);
            }
            cluster_members.push(members);
        }
        Joined {
            feature_row,
            node,
            node_alert_level,
            cluster_rows,
            cluster_members,
            alert_clusters,
            unknown_cluster_alerts: unknown,
        }
    }
}

impl<'a> PreparedBatch<'a> {
    /// Builds every index, including the CSR money-flow graph.
    pub fn new(batch: &'a Batch) -> PreparedBatch<'a> {
        let alerts = &batch.alerts;
        let mut alert_rows: Vec<usize> = (0..alerts.len()).collect();
        if !alerts.alert_id.windows(2).all(|w| w[0] < w[1]) {
            alert_rows
                .sort_by(|&a, &b| alerts.alert_id[a].cmp(&alerts.alert_id[b]).then(a.cmp(&b)));
        }
        let severity: Vec<u8> = alert_rows
            .iter()
            .map(|&r| Severity::parse(&alerts.severity[r]).ordinal())
            .collect();
        // Output rows by address (ties: row order): the address joins walk the sorted address
        // tables once in this order, and the context block groups alerts by it.
        let mut by_address: Vec<usize> = (0..alert_rows.len()).collect();
        by_address.sort_by(|&a, &b| {
            alerts.address[alert_rows[a]]
                .cmp(&alerts.address[alert_rows[b]])
                .then(a.cmp(&b))
        });
        // The CSR graph (the longest part) builds on one thread while the other joins the
        // alerts to the address tables and to the clusters.
        let (joined, graph) = rayon::join(
            || Joined::new(batch, &alert_rows, &by_address, &severity),
            || FlowGraph::build(&batch.money_flows),
        );
        let mut warnings = Vec::new();
        let missing = joined.feature_row.iter().filter(|r| r.is_none()).count();
        if missing > 0 {
            warnings.push(FeatureWarning::AlertsWithoutAddressFeatures { count: missing });
        }
        if graph.self_loops > 0 {
            warnings.push(FeatureWarning::SelfLoops {
                count: graph.self_loops,
            });
        }
        if graph.duplicates > 0 {
            warnings.push(FeatureWarning::DuplicateEdges {
                count: graph.duplicates,
            });
        }
        if joined.unknown_cluster_alerts > 0 {
            warnings.push(FeatureWarning::UnknownClusterAlerts {
                count: joined.unknown_cluster_alerts,
            });
        }
        PreparedBatch {
            batch,
            alert_rows,
            by_address,
            severity,
            feature_row: joined.feature_row,
            node: joined.node,
            graph,
            node_alert_level: joined.node_alert_level,
            cluster_rows: joined.cluster_rows,
            cluster_members: joined.cluster_members,
            alert_clusters: joined.alert_clusters,
            warnings,
            communities: OnceLock::new(),
        }
    }

    /// [`FlowGraph::communities`] of the graph, computed once: the first parameters asked for
    /// are kept (other parameters are computed afresh). A caller that asks while another
    /// thread computes them waits for that result, so the alert matrix can start the
    /// sequential Louvain on one thread while the other blocks run beside it.
    pub fn communities(&self, params: &CommunityParams) -> Cow<'_, [u32]> {
        let (kept, labels) = self
            .communities
            .get_or_init(|| (*params, self.graph.communities(params)));
        if kept == params {
            Cow::Borrowed(labels)
        } else {
            Cow::Owned(self.graph.communities(params))
        }
    }

    /// Number of alert rows.
    pub fn n_alerts(&self) -> usize {
        self.alert_rows.len()
    }

    /// Alert ids in output-row order.
    pub fn alert_ids(&self) -> Vec<String> {
        self.alert_rows
            .iter()
            .map(|&r| self.batch.alerts.alert_id[r].clone())
            .collect()
    }

    /// True when output row `row` has severity high or critical.
    pub fn is_high(&self, row: u32) -> bool {
        self.severity[row as usize] >= Severity::High.ordinal()
    }

    /// Per output row, the member alerts of all its clusters taken together (each alert once).
    ///
    /// Cost: every membership is read once; an alert in one cluster takes that cluster's
    /// totals. Alerts in several clusters are grouped by their set of large clusters (more than
    /// [`LARGE_CLUSTER`] members): each distinct set is united once, its largest cluster taken
    /// from its totals without reading its members. Then each distinct full cluster list adds
    /// the members of its small clusters. So `member_visits` is at most
    /// `(1 + LARGE_CLUSTER) * memberships` plus, per distinct set of two or more large
    /// clusters, the sizes of all but the largest: one cluster holding every alert costs one
    /// pass, not one pass per alert.
    pub fn member_unions(&self) -> MemberUnions {
        let n = self.n_alerts();
        let members = &self.cluster_members;
        let mut member_visits = 0usize;
        let cluster_high: Vec<usize> = members
            .iter()
            .map(|list| {
                member_visits += list.len();
                list.iter().filter(|&&m| self.is_high(m)).count()
            })
            .collect();
        let is_large = |c: u32| members[c as usize].len() > LARGE_CLUSTER;
        let mut size = vec![0usize; n];
        let mut high = vec![0usize; n];
        // Alerts in several clusters, keyed by (their large clusters, all their clusters).
        let mut shared: Vec<(Vec<u32>, usize)> = Vec::new();
        for (i, list) in self.alert_clusters.iter().enumerate() {
            match list.as_slice() {
                [] => {}
                [c] => {
                    size[i] = members[*c as usize].len();
                    high[i] = cluster_high[*c as usize];
                }
                _ => shared.push((list.iter().copied().filter(|&c| is_large(c)).collect(), i)),
            }
        }
        shared.sort_unstable_by(|(la, a), (lb, b)| {
            la.cmp(lb)
                .then_with(|| self.alert_clusters[*a].cmp(&self.alert_clusters[*b]))
        });
        // Per alert: the large-set group / the list group that last counted it.
        let mut in_large_union = vec![usize::MAX; n];
        let mut counted = vec![usize::MAX; n];
        let mut list_group = 0usize;
        for (g, group) in shared.chunk_by(|a, b| a.0 == b.0).enumerate() {
            let large = &group[0].0;
            let largest = large
                .iter()
                .copied()
                .max_by_key(|&c| (members[c as usize].len(), Reverse(c)));
            let in_largest = |m: u32| {
                largest.is_some_and(|c| self.alert_clusters[m as usize].binary_search(&c).is_ok())
            };
            let (mut large_size, mut large_high) = match largest {
                Some(c) => (members[c as usize].len(), cluster_high[c as usize]),
                None => (0, 0),
            };
            for &c in large.iter().filter(|&&c| Some(c) != largest) {
                for &m in &members[c as usize] {
                    member_visits += 1;
                    if in_largest(m) || in_large_union[m as usize] == g {
                        continue;
                    }
                    in_large_union[m as usize] = g;
                    large_size += 1;
                    large_high += usize::from(self.is_high(m));
                }
            }
            let same_list = |a: &(Vec<u32>, usize), b: &(Vec<u32>, usize)| {
                self.alert_clusters[a.1] == self.alert_clusters[b.1]
            };
            for alerts in group.chunk_by(same_list) {
                list_group += 1;
                let (mut union_size, mut union_high) = (large_size, large_high);
                let small = self.alert_clusters[alerts[0].1]
                    .iter()
                    .filter(|&&c| !is_large(c));
                for &c in small {
                    for &m in &members[c as usize] {
                        member_visits += 1;
                        if in_largest(m)
                            || in_large_union[m as usize] == g
                            || counted[m as usize] == list_group
                        {
                            continue;
                        }
                        counted[m as usize] = list_group;
                        union_size += 1;
                        union_high += usize::from(self.is_high(m));
                    }
                }
                for &(_, i) in alerts {
                    size[i] = union_size;
                    high[i] = union_high;
                }
            }
        }
        MemberUnions {
            size,
            high,
            member_visits,
        }
    }

    /// Cluster ids in cluster-matrix row order.
    pub fn cluster_ids(&self) -> Vec<String> {
        self.cluster_rows
            .iter()
            .map(|&r| self.batch.clusters.cluster_id[r].clone())
            .collect()
    }
}
