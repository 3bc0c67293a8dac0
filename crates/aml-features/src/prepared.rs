//! Per-batch indexes shared by every feature block: alert order, address joins, cluster
//! membership and the money-flow graph. Built once, reused by the alert and cluster matrices.

use crate::error::FeatureWarning;
use crate::graph::FlowGraph;
use aml_core::batch::Batch;
use aml_core::tables::Severity;

/// A batch plus the indexes feature blocks need. Construction is O(n log n) in the table sizes
/// and, apart from the graph, does not depend on the tables' row order.
#[derive(Debug)]
pub struct PreparedBatch<'a> {
    /// The batch.
    pub batch: &'a Batch,
    /// For each output row (alerts sorted by alert_id), the row in `batch.alerts`.
    pub alert_rows: Vec<usize>,
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
        let feature_row: Vec<Option<usize>> = alert_rows
            .iter()
            .map(|&r| batch.features.row_of(&alerts.address[r]))
            .collect();
        let node: Vec<Option<u32>> = alert_rows
            .iter()
            .map(|&r| batch.money_flows.address_id(&alerts.address[r]))
            .collect();
        let graph = FlowGraph::build(&batch.money_flows);
        let mut node_alert_level = vec![0u8; graph.n_nodes];
        for (i, n) in node.iter().enumerate() {
            if let Some(n) = n {
                let level = &mut node_alert_level[*n as usize];
                *level = (*level).max(severity[i] + 1);
            }
        }

        let mut warnings = Vec::new();
        let missing = feature_row.iter().filter(|r| r.is_none()).count();
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
        if unknown > 0 {
            warnings.push(FeatureWarning::UnknownClusterAlerts { count: unknown });
        }
        PreparedBatch {
            batch,
            alert_rows,
            severity,
            feature_row,
            node,
            graph,
            node_alert_level,
            cluster_rows,
            cluster_members,
            alert_clusters,
            warnings,
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

    /// Cluster ids in cluster-matrix row order.
    pub fn cluster_ids(&self) -> Vec<String> {
        self.cluster_rows
            .iter()
            .map(|&r| self.batch.clusters.cluster_id[r].clone())
            .collect()
    }
}
