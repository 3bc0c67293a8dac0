//! Component and community features of the alerted address (optional groups, see
//! [`crate::FeatureGroups`]). The partitions come from [`crate::partition`]; "alerted" means the
//! address has an alert in the batch (alerts are inputs, never labels). An address absent from
//! money_flows.parquet is in no component or community: every column is NaN.

use crate::columns::ColumnSink;
use crate::partition::merge_sorted;
use crate::prepared::PreparedBatch;
use crate::spec::FeatureSpec;
use aml_core::tables::Severity;

/// Per partition part (labels `0..parts`, or any labels below `n`): node count, alerted nodes,
/// nodes with a high or critical alert.
fn part_counts(labels: &[u32], level: &[u8]) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let n = labels.len();
    let high_level = Severity::High.ordinal() + 1;
    let (mut size, mut alerted, mut high) = (vec![0u32; n], vec![0u32; n], vec![0u32; n]);
    for (&l, &lv) in labels.iter().zip(level) {
        size[l as usize] += 1;
        alerted[l as usize] += u32::from(lv > 0);
        high[l as usize] += u32::from(lv >= high_level);
    }
    (size, alerted, high)
}

/// Declares (and computes) the weakly-connected-component block.
pub(crate) fn component_block(sink: &mut ColumnSink<PreparedBatch<'_>>) {
    sink.group("graph components");
    let defs = [
        (
            "comp_size",
            "addresses in the address's weakly connected component of the flow graph",
        ),
        (
            "comp_alerted_nodes",
            "addresses with an alert in the batch in that component (including this one)",
        ),
        ("comp_alerted_share", "comp_alerted_nodes / comp_size"),
        (
            "comp_is_largest",
            "1 if the component is the batch's largest (ties: smallest address), else 0",
        ),
    ];
    sink.add_group("graph components", defs, |p| {
        let labels = p.graph.components();
        let (size, alerted, _) = part_counts(&labels, &p.node_alert_level);
        // The largest component; ties go to the smallest root (= smallest address).
        let largest = size
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
            .map(|(c, _)| c);
        let mut cols = vec![vec![f64::NAN; p.n_alerts()]; 4];
        for (i, node) in p.node.iter().enumerate() {
            if let Some(v) = node {
                let c = labels[*v as usize] as usize;
                let (s, a) = (f64::from(size[c]), f64::from(alerted[c]));
                cols[0][i] = s;
                cols[1][i] = a;
                cols[2][i] = a / s;
                cols[3][i] = f64::from(u8::from(Some(c) == largest));
            }
        }
        cols
    });
}

/// Declares (and computes) the Louvain community block.
pub(crate) fn community_block(spec: &FeatureSpec, sink: &mut ColumnSink<PreparedBatch<'_>>) {
    sink.group("graph communities");
    let defs = [
        (
            "comm_size",
            "addresses in the address's Louvain community (undirected, unweighted flow graph)",
        ),
        (
            "comm_alerted_share",
            "share of the community's addresses with an alert in the batch",
        ),
        (
            "comm_high_severity_share",
            "share of the community's addresses with a high or critical alert in the batch",
        ),
        (
            "comm_internal_share",
            "share of the address's counterparties in its own community (NaN without any)",
        ),
        (
            "comm_counterparty_communities",
            "distinct communities among the address's counterparties",
        ),
    ];
    sink.add_group("graph communities", defs, |p| {
        let g = &p.graph;
        let labels = p.communities(&spec.communities);
        let (size, alerted, high) = part_counts(&labels, &p.node_alert_level);
        let mut cols = vec![vec![f64::NAN; p.n_alerts()]; 5];
        // Marks the communities already counted for the current alert.
        let mut seen = vec![usize::MAX; g.n_nodes];
        for (i, node) in p.node.iter().enumerate() {
            let Some(v) = *node else { continue };
            let c = labels[v as usize] as usize;
            let s = f64::from(size[c]);
            cols[0][i] = s;
            cols[1][i] = f64::from(alerted[c]) / s;
            cols[2][i] = f64::from(high[c]) / s;
            let (mut counterparties, mut internal, mut distinct) = (0usize, 0usize, 0usize);
            merge_sorted(g.out.of(v), g.inc.of(v), |u| {
                counterparties += 1;
                let cu = labels[u as usize] as usize;
                internal += usize::from(cu == c);
                if seen[cu] != i {
                    seen[cu] = i;
                    distinct += 1;
                }
            });
            cols[3][i] = if counterparties == 0 {
                f64::NAN
            } else {
                internal as f64 / counterparties as f64
            };
            cols[4][i] = distinct as f64;
        }
        cols
    });
}
