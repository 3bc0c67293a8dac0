//! Cluster-level features for the cluster scorer: one row per cluster (sorted by cluster_id).
//!
//! Member alerts are the known alerts listed in `related_alert_ids` (plus the primary alert);
//! unknown ids are ignored (and reported). Member-score aggregates are an input the scoring
//! pipeline fills after alert scoring; without scores they are NaN.

use crate::blocks::cluster::{high_share, span_hours};
use crate::blocks::{multi_hot_columns, one_hot_defs};
use crate::build::unique_defs;
use crate::columns::{ColumnSink, FeatureDef};
use crate::error::{FeatureError, FeatureWarning};
use crate::graph::FlowGraph;
use crate::matrix::FeatureMatrix;
use crate::names::normalise_category;
use crate::prepared::PreparedBatch;
use crate::spec::FeatureSpec;
use crate::stats::{signed_log1p, Summary};
use aml_core::batch::Batch;
use aml_core::tables::Severity;
use rayon::prelude::*;
use std::collections::BTreeSet;

/// What the cluster blocks read: the prepared batch and optional alert scores
/// (aligned with the alert matrix rows, i.e. alerts sorted by alert_id).
pub(crate) struct ClusterContext<'p, 'a> {
    prepared: &'p PreparedBatch<'a>,
    scores: Option<&'p [f64]>,
}

/// Address columns aggregated over a cluster's addresses (the seeds' choice: anomaly scores,
/// degree, volume); `true` = aggregate on the signed log scale.
const ADDRESS_AGGREGATES: [(&str, bool); 5] = [
    ("behavioral_anomaly_score", false),
    ("graph_anomaly_score", false),
    ("global_anomaly_score", false),
    ("degree_total", false),
    ("total_volume_usd", true),
];

/// Directed edges and their USD among the distinct graph nodes `members` (sorted), self-loops
/// excluded. Walks whichever side is shorter for each member, so hubs cost O(k log deg).
fn internal_edges(g: &FlowGraph, members: &[u32]) -> (usize, f64) {
    let (mut edges, mut usd) = (0usize, 0.0f64);
    for &u in members {
        let range = g.out.range(u);
        let targets = &g.out.neighbours[range.clone()];
        if targets.len() <= members.len() {
            for (k, &w) in targets.iter().enumerate() {
                if members.binary_search(&w).is_ok() {
                    edges += 1;
                    usd += g.out.usd[range.start + k];
                }
            }
        } else {
            for &w in members {
                if let Ok(k) = targets.binary_search(&w) {
                    edges += 1;
                    usd += g.out.usd[range.start + k];
                }
            }
        }
    }
    (edges, usd)
}

/// The cluster sink every block below writes to.
type ClusterSink<'s, 'p, 'a> = ColumnSink<'s, ClusterContext<'p, 'a>>;

/// Runs every cluster block against `sink`, in the fixed column order.
fn cluster_blocks(spec: &FeatureSpec, sink: &mut ClusterSink<'_, '_, '_>) {
    attribute_block(spec, sink);
    member_alert_block(sink);
    if spec.groups.cluster_confidence_variance {
        confidence_variance_block(sink);
    }
    member_score_block(sink);
    member_address_block(sink);
    member_graph_block(sink);
}

/// The cluster's published attributes and its one-hot `cluster_type`.
fn attribute_block(spec: &FeatureSpec, sink: &mut ClusterSink<'_, '_, '_>) {
    sink.group("cluster attributes");
    let attribute_defs: [(&str, &str); 8] = [
        ("cluster_total_alerts", "total_alerts as published"),
        ("cluster_known_alerts", "member alerts present in the batch"),
        ("cluster_log_volume", "sign*ln(1+|v|) of total_volume_usd"),
        (
            "cluster_severity_max",
            "severity_max ordinal (0 low .. 3 critical)",
        ),
        ("cluster_confidence_avg", "confidence_avg as published"),
        (
            "cluster_span_hours",
            "latest minus earliest alert time, hours (NaN if inverted)",
        ),
        ("cluster_addresses", "distinct addresses_involved"),
        (
            "cluster_has_primary_address",
            "1 if primary_address is set (same_entity clusters)",
        ),
    ];
    sink.add_group("cluster attributes", attribute_defs, |cx| {
        let p = cx.prepared;
        let c = &p.batch.clusters;
        let mut cols = (0..8)
            .map(|_| Vec::with_capacity(p.cluster_rows.len()))
            .collect::<Vec<_>>();
        for (pos, &r) in p.cluster_rows.iter().enumerate() {
            let addresses: BTreeSet<&str> =
                c.addresses_involved[r].iter().map(String::as_str).collect();
            let values = [
                c.total_alerts[r],
                p.cluster_members[pos].len() as f64,
                signed_log1p(c.total_volume_usd[r]),
                f64::from(Severity::parse(&c.severity_max[r]).ordinal()),
                c.confidence_avg[r],
                span_hours(c, r),
                addresses.len() as f64,
                f64::from(u8::from(!c.primary_address[r].trim().is_empty())),
            ];
            for (col, v) in cols.iter_mut().zip(values) {
                col.push(v);
            }
        }
        cols
    });
    let vocab = &spec.cluster_type;
    sink.add_group(
        "cluster_type",
        one_hot_defs("cluster_type", vocab, "the cluster's cluster_type"),
        |cx| {
            let p = cx.prepared;
            let types = &p.batch.clusters.cluster_type;
            multi_hot_columns(
                vocab,
                p.cluster_rows.iter().map(|&r| Some([types[r].as_str()])),
                false,
            )
        },
    );
}

/// Aggregates over the cluster's member alerts.
fn member_alert_block(sink: &mut ClusterSink<'_, '_, '_>) {
    sink.group("member alerts");
    let member_defs: [(&str, &str); 9] = [
        (
            "member_confidence_mean",
            "mean alert_confidence_score of the member alerts",
        ),
        (
            "member_confidence_max",
            "largest alert_confidence_score of the member alerts",
        ),
        (
            "member_severity_mean",
            "mean severity ordinal of the member alerts",
        ),
        (
            "member_severity_max",
            "highest severity ordinal of the member alerts",
        ),
        ("member_high_share", "share of high/critical member alerts"),
        (
            "member_log_volume_mean",
            "mean sign*ln(1+|v|) of the members' volume_usd",
        ),
        (
            "member_log_volume_max",
            "largest sign*ln(1+|v|) of the members' volume_usd",
        ),
        (
            "member_typologies",
            "distinct typologies among the member alerts",
        ),
        (
            "member_addresses",
            "distinct addresses among the member alerts",
        ),
    ];
    sink.add_group("member alerts", member_defs, |cx| {
        let p = cx.prepared;
        let a = &p.batch.alerts;
        let mut cols = (0..9)
            .map(|_| Vec::with_capacity(p.cluster_rows.len()))
            .collect::<Vec<_>>();
        for members in &p.cluster_members {
            let rows = || members.iter().map(|&m| p.alert_rows[m as usize]);
            let confidence = Summary::of(rows().map(|r| a.alert_confidence_score[r]));
            let severity = Summary::of(members.iter().map(|&m| f64::from(p.severity[m as usize])));
            let volume = Summary::of(rows().map(|r| signed_log1p(a.volume_usd[r])));
            let typologies: BTreeSet<String> = rows()
                .map(|r| normalise_category(&a.typology_type[r]))
                .collect();
            let addresses: BTreeSet<&str> = rows().map(|r| a.address[r].as_str()).collect();
            let values = [
                confidence.mean(),
                confidence.max(),
                severity.mean(),
                severity.max(),
                high_share(p, members),
                volume.mean(),
                volume.max(),
                typologies.len() as f64,
                addresses.len() as f64,
            ];
            for (col, v) in cols.iter_mut().zip(values) {
                col.push(v);
            }
        }
        cols
    });
}

/// Population variance of the finite values (two passes, summed in the given order); NaN when
/// there are none.
pub(crate) fn population_variance(values: &[f64]) -> f64 {
    let finite = || values.iter().copied().filter(|v| v.is_finite());
    let n = finite().count();
    if n == 0 {
        return f64::NAN;
    }
    let mean = finite().sum::<f64>() / n as f64;
    finite().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64
}

/// The optional `confidence_variance` (how much the member alerts disagree).
fn confidence_variance_block(sink: &mut ClusterSink<'_, '_, '_>) {
    sink.group("member alerts");
    sink.add(
        "confidence_variance",
        "population variance of the member alerts' alert_confidence_score (NaN without members)",
        |cx| {
            let p = cx.prepared;
            let a = &p.batch.alerts;
            p.cluster_members
                .iter()
                .map(|members| {
                    let values: Vec<f64> = members
                        .iter()
                        .map(|&m| a.alert_confidence_score[p.alert_rows[m as usize]])
                        .collect();
                    population_variance(&values)
                })
                .collect()
        },
    );
}

/// Aggregates of the member alerts' scores (NaN until the pipeline provides scores).
fn member_score_block(sink: &mut ClusterSink<'_, '_, '_>) {
    sink.group("member scores");
    let score_defs: [(&str, &str); 3] = [
        (
            "member_score_mean",
            "mean alert score of the member alerts (NaN until the pipeline provides scores)",
        ),
        (
            "member_score_max",
            "largest alert score of the member alerts (NaN without scores)",
        ),
        (
            "member_score_std",
            "population std of the member alerts' scores (NaN without scores)",
        ),
    ];
    sink.add_group("member scores", score_defs, |cx| {
        let p = cx.prepared;
        let mut cols = (0..3)
            .map(|_| Vec::with_capacity(p.cluster_rows.len()))
            .collect::<Vec<_>>();
        for members in &p.cluster_members {
            let s = match cx.scores {
                Some(scores) => Summary::of(members.iter().map(|&m| scores[m as usize])),
                None => Summary::default(),
            };
            for (col, v) in cols.iter_mut().zip([s.mean(), s.max(), s.std()]) {
                col.push(v);
            }
        }
        cols
    });
}

/// Address coverage and aggregates of [`ADDRESS_AGGREGATES`] over the cluster's addresses.
fn member_address_block(sink: &mut ClusterSink<'_, '_, '_>) {
    sink.group("member addresses");
    let mut address_defs = vec![(
        "address_coverage".to_string(),
        "share of addresses_involved that have a row in features.parquet".to_string(),
    )];
    for (column, log) in ADDRESS_AGGREGATES {
        let scale = if log { "sign*ln(1+|v|) of " } else { "" };
        for stat in ["mean", "max"] {
            address_defs.push((
                format!("address_{column}_{stat}"),
                format!("{stat} of {scale}`{column}` over the cluster's addresses"),
            ));
        }
    }
    sink.add_group("member addresses", address_defs, |cx| {
        let p = cx.prepared;
        let f = &p.batch.features;
        let c = &p.batch.clusters;
        let columns: Vec<(Option<&[f64]>, bool)> = ADDRESS_AGGREGATES
            .iter()
            .map(|(name, log)| (f.column(name), *log))
            .collect();
        // Each cluster is independent (binary searches over the whole features table): rows
        // are computed in parallel and transposed in cluster order.
        let rows: Vec<Vec<f64>> = p
            .cluster_rows
            .par_iter()
            .map(|&r| {
                let addresses: BTreeSet<&str> =
                    c.addresses_involved[r].iter().map(String::as_str).collect();
                let rows: Vec<usize> = addresses.iter().filter_map(|a| f.row_of(a)).collect();
                let mut row = Vec::with_capacity(1 + 2 * columns.len());
                row.push(if addresses.is_empty() {
                    f64::NAN
                } else {
                    rows.len() as f64 / addresses.len() as f64
                });
                for (values, log) in &columns {
                    let s = match values {
                        Some(v) => Summary::of(rows.iter().map(|&i| {
                            if *log {
                                signed_log1p(v[i])
                            } else {
                                v[i]
                            }
                        })),
                        None => Summary::default(),
                    };
                    row.push(s.mean());
                    row.push(s.max());
                }
                row
            })
            .collect();
        (0..1 + 2 * columns.len())
            .map(|j| rows.iter().map(|row| row[j]).collect())
            .collect()
    });
}

/// Money-flow structure among the cluster's addresses.
fn member_graph_block(sink: &mut ClusterSink<'_, '_, '_>) {
    sink.group("member graph");
    let graph_defs: [(&str, &str); 4] = [
        (
            "graph_members_in_flows",
            "cluster addresses present in money_flows.parquet",
        ),
        (
            "graph_internal_edges",
            "directed money-flow edges among the cluster's addresses (self-loops ignored)",
        ),
        (
            "graph_density",
            "internal edges / (k*(k-1)) over the k addresses in the flows (NaN if k < 2)",
        ),
        (
            "graph_log_internal_usd",
            "sign*ln(1+|v|) of USD moved among the cluster's addresses",
        ),
    ];
    sink.add_group("member graph", graph_defs, |cx| {
        let p = cx.prepared;
        let c = &p.batch.clusters;
        let rows: Vec<[f64; 4]> = p
            .cluster_rows
            .par_iter()
            .map(|&r| {
                let mut nodes: Vec<u32> = c.addresses_involved[r]
                    .iter()
                    .filter_map(|a| p.batch.money_flows.address_id(a))
                    .collect();
                nodes.sort_unstable();
                nodes.dedup();
                let k = nodes.len();
                let (edges, usd) = internal_edges(&p.graph, &nodes);
                let density = if k < 2 {
                    f64::NAN
                } else {
                    edges as f64 / (k as f64 * (k as f64 - 1.0))
                };
                [k as f64, edges as f64, density, signed_log1p(usd)]
            })
            .collect();
        (0..4)
            .map(|j| rows.iter().map(|row| row[j]).collect())
            .collect()
    });
}

impl FeatureSpec {
    /// Every cluster feature with its meaning, in column order.
    pub fn describe_cluster_features(&self) -> Vec<FeatureDef> {
        let mut sink = ColumnSink::new(None);
        cluster_blocks(self, &mut sink);
        unique_defs(sink.defs)
    }

    /// Builds the cluster matrix; `alert_scores` (one per alert, in alert_id order) fill the
    /// member-score aggregates, which are NaN when `None`.
    pub fn build_cluster_matrix(
        &self,
        batch: &Batch,
        alert_scores: Option<&[f64]>,
    ) -> Result<(FeatureMatrix, Vec<FeatureWarning>), FeatureError> {
        let prepared = PreparedBatch::new(batch);
        self.build_cluster_matrix_prepared(&prepared, alert_scores)
    }

    /// [`FeatureSpec::build_cluster_matrix`] on an already prepared batch.
    pub fn build_cluster_matrix_prepared(
        &self,
        prepared: &PreparedBatch<'_>,
        alert_scores: Option<&[f64]>,
    ) -> Result<(FeatureMatrix, Vec<FeatureWarning>), FeatureError> {
        if let Some(scores) = alert_scores {
            if scores.len() != prepared.n_alerts() {
                return Err(FeatureError::ScoreLengthMismatch {
                    expected: prepared.n_alerts(),
                    got: scores.len(),
                });
            }
        }
        let context = ClusterContext {
            prepared,
            scores: alert_scores,
        };
        let mut sink = ColumnSink::new(Some(&context));
        cluster_blocks(self, &mut sink);
        let (defs, columns) = sink.finish()?;
        let names = unique_defs(defs).into_iter().map(|d| d.name).collect();
        let matrix = FeatureMatrix::from_columns(&columns, names, prepared.cluster_ids())?;
        Ok((matrix, prepared.warnings.clone()))
    }
}

/// Free-function form of [`FeatureSpec::build_cluster_matrix`].
pub fn build_cluster_matrix(
    batch: &Batch,
    spec: &FeatureSpec,
    alert_scores: Option<&[f64]>,
) -> Result<FeatureMatrix, FeatureError> {
    Ok(spec.build_cluster_matrix(batch, alert_scores)?.0)
}
