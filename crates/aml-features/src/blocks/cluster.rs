//! Cluster features of an alert: the clusters (from clusters.parquet) that contain it.
//! An alert in no cluster has `cl_count` 0, NaN aggregates and all type indicators 0.

use super::{multi_hot_columns, one_hot_defs};
use crate::columns::ColumnSink;
use crate::prepared::PreparedBatch;
use crate::spec::FeatureSpec;
use crate::stats::{signed_log1p, Summary};
use aml_core::tables::{Clusters, Severity};

/// Time span of cluster row `c` in hours; NaN when the timestamps are inverted.
pub(crate) fn span_hours(clusters: &Clusters, c: usize) -> f64 {
    let (a, b) = (
        clusters.earliest_alert_timestamp[c],
        clusters.latest_alert_timestamp[c],
    );
    if b < a {
        f64::NAN
    } else {
        (b - a) as f64 / 3_600_000.0
    }
}

/// `high / total`, NaN when `total` is 0.
fn share(high: usize, total: usize) -> f64 {
    if total == 0 {
        f64::NAN
    } else {
        high as f64 / total as f64
    }
}

/// Share of high/critical alerts among `members` (output rows), NaN when empty.
pub(crate) fn high_share(p: &PreparedBatch<'_>, members: &[u32]) -> f64 {
    share(
        members.iter().filter(|&&m| p.is_high(m)).count(),
        members.len(),
    )
}

/// Declares (and computes) the cluster block.
pub(crate) fn cluster_block(spec: &FeatureSpec, sink: &mut ColumnSink<PreparedBatch<'_>>) {
    sink.group("cluster");
    let names: [(&str, &str); 13] = [
        ("cl_count", "number of clusters containing the alert"),
        (
            "cl_is_primary",
            "1 if the alert is the primary alert of one of its clusters (NaN if in none)",
        ),
        (
            "cl_max_total_alerts",
            "largest total_alerts among the alert's clusters",
        ),
        (
            "cl_mean_total_alerts",
            "mean total_alerts over the alert's clusters",
        ),
        (
            "cl_max_known_members",
            "largest number of member alerts present in the batch among its clusters",
        ),
        (
            "cl_max_log_volume",
            "largest sign*ln(1+|v|) of total_volume_usd among its clusters",
        ),
        (
            "cl_mean_log_volume",
            "mean sign*ln(1+|v|) of total_volume_usd over its clusters",
        ),
        (
            "cl_max_severity",
            "highest severity_max ordinal among its clusters",
        ),
        (
            "cl_max_confidence_avg",
            "largest confidence_avg among its clusters",
        ),
        (
            "cl_mean_confidence_avg",
            "mean confidence_avg over its clusters",
        ),
        (
            "cl_max_span_hours",
            "longest latest-minus-earliest alert time among its clusters, hours",
        ),
        (
            "cl_max_addresses",
            "largest number of addresses_involved among its clusters",
        ),
        (
            "cl_high_share",
            "share of high/critical alerts among all member alerts of its clusters",
        ),
    ];
    sink.add_group("cluster", names, |p| {
        let clusters = &p.batch.clusters;
        let n = p.n_alerts();
        let mut cols = vec![vec![f64::NAN; n]; 13];
        let unions = p.member_unions();
        for (i, list) in p.alert_clusters.iter().enumerate() {
            cols[0][i] = list.len() as f64;
            if list.is_empty() {
                continue;
            }
            let rows = || list.iter().map(|&pos| p.cluster_rows[pos as usize]);
            let total = Summary::of(rows().map(|c| clusters.total_alerts[c]));
            let known = Summary::of(
                list.iter()
                    .map(|&pos| p.cluster_members[pos as usize].len() as f64),
            );
            let volume = Summary::of(rows().map(|c| signed_log1p(clusters.total_volume_usd[c])));
            let severity = Summary::of(
                rows().map(|c| f64::from(Severity::parse(&clusters.severity_max[c]).ordinal())),
            );
            let confidence = Summary::of(rows().map(|c| clusters.confidence_avg[c]));
            let span = Summary::of(rows().map(|c| span_hours(clusters, c)));
            let addresses =
                Summary::of(rows().map(|c| clusters.addresses_involved[c].len() as f64));
            let my_id = &p.batch.alerts.alert_id[p.alert_rows[i]];
            let primary = rows().any(|c| &clusters.primary_alert_id[c] == my_id);
            let values = [
                if primary { 1.0 } else { 0.0 },
                total.max(),
                total.mean(),
                known.max(),
                volume.max(),
                volume.mean(),
                severity.max(),
                confidence.max(),
                confidence.mean(),
                span.max(),
                addresses.max(),
                share(unions.high[i], unions.size[i]),
            ];
            for (col, v) in cols[1..].iter_mut().zip(values) {
                col[i] = v;
            }
        }
        cols
    });
    let vocab = &spec.cluster_type;
    sink.add_group(
        "cluster_type",
        one_hot_defs("cl_type", vocab, "the type of one of the alert's clusters"),
        |p| {
            let types = &p.batch.clusters.cluster_type;
            multi_hot_columns(
                vocab,
                p.alert_clusters.iter().map(|list| {
                    Some(
                        list.iter()
                            .map(|&pos| types[p.cluster_rows[pos as usize]].as_str()),
                    )
                }),
                false,
            )
        },
    );
}
