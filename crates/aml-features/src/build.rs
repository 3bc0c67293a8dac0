//! Applying a [`FeatureSpec`] to a batch: the alert feature matrix, its names and its documentation.

use crate::blocks::{address, alert, cluster, community, context, flow};
use crate::catalog::{contract_address_columns, render_markdown};
use crate::columns::{ColumnSink, FeatureDef};
use crate::error::{FeatureError, FeatureWarning};
use crate::matrix::FeatureMatrix;
use crate::memory::{memory_block, LabelMemory};
use crate::names::{dedupe, Vocab};
use crate::prepared::PreparedBatch;
use crate::spec::{FeatureBuilder, FeatureGroups, FeatureSpec, FEATURE_SPEC_VERSION};
use aml_core::batch::Batch;
use aml_core::date::Date;

/// Runs every alert block against `sink`, in the fixed column order.
fn alert_blocks(
    spec: &FeatureSpec,
    memory: Option<&LabelMemory>,
    sink: &mut ColumnSink<PreparedBatch<'_>>,
) {
    alert::alert_block(spec, sink);
    context::context_block(sink);
    address::address_block(spec, sink);
    cluster::cluster_block(spec, sink);
    flow::flow_block(spec, sink);
    if spec.groups.graph_components {
        community::component_block(sink);
    }
    if spec.groups.graph_communities {
        community::community_block(spec, sink);
    }
    if spec.groups.urgency_score {
        alert::urgency_block(sink);
    }
    if spec.groups.label_memory {
        memory_block(memory, sink);
    }
    for block in &spec.extra_blocks {
        (block.build)(sink);
    }
}

/// Makes names unique across blocks (a category value could mimic another feature's name).
pub(crate) fn unique_defs(mut defs: Vec<FeatureDef>) -> Vec<FeatureDef> {
    let mut names: Vec<String> = defs.iter().map(|d| d.name.clone()).collect();
    dedupe(&mut names);
    for (def, name) in defs.iter_mut().zip(names) {
        def.name = name;
    }
    defs
}

impl FeatureSpec {
    /// Every alert feature with its meaning, in column order.
    pub fn describe(&self) -> Vec<FeatureDef> {
        let mut sink = ColumnSink::new(None);
        alert_blocks(self, None, &mut sink);
        unique_defs(sink.defs)
    }

    /// Alert feature names, in column order.
    pub fn feature_names(&self) -> Vec<String> {
        self.describe().into_iter().map(|d| d.name).collect()
    }

    /// Builds the alert feature matrix (rows = alerts sorted by alert_id). Warnings are logged.
    pub fn transform(&self, batch: &Batch) -> Result<FeatureMatrix, FeatureError> {
        Ok(self.transform_with_report(batch)?.0)
    }

    /// Like [`FeatureSpec::transform`], also returning the warnings.
    pub fn transform_with_report(
        &self,
        batch: &Batch,
    ) -> Result<(FeatureMatrix, Vec<FeatureWarning>), FeatureError> {
        let prepared = PreparedBatch::new(batch);
        self.transform_prepared(&prepared)
    }

    /// Builds the alert matrix from an already prepared batch (share it with
    /// [`FeatureSpec::build_cluster_matrix_prepared`] to build the graph once). No label
    /// memory: with the `label_memory` group on, every alert is unknown to it.
    pub fn transform_prepared(
        &self,
        prepared: &PreparedBatch<'_>,
    ) -> Result<(FeatureMatrix, Vec<FeatureWarning>), FeatureError> {
        self.transform_prepared_with_memory(prepared, None)
    }

    /// [`FeatureSpec::transform`] with a label memory for the `label_memory` group (ignored
    /// when the group is off). The memory must hold only days before the batch's
    /// processing_date: a warning says when it does not.
    pub fn transform_with_memory(
        &self,
        batch: &Batch,
        memory: Option<&LabelMemory>,
    ) -> Result<FeatureMatrix, FeatureError> {
        let prepared = PreparedBatch::new(batch);
        Ok(self.transform_prepared_with_memory(&prepared, memory)?.0)
    }

    /// [`FeatureSpec::transform_prepared`] with a label memory (see
    /// [`FeatureSpec::transform_with_memory`]).
    pub fn transform_prepared_with_memory(
        &self,
        prepared: &PreparedBatch<'_>,
        memory: Option<&LabelMemory>,
    ) -> Result<(FeatureMatrix, Vec<FeatureWarning>), FeatureError> {
        let mut warnings = prepared.warnings.clone();
        if let (true, Some(last)) = (
            self.groups.label_memory,
            memory.and_then(LabelMemory::last_day),
        ) {
            let today = &prepared.batch.meta.processing_date;
            if Date::parse(today).map_or(true, |d| last >= d) {
                warnings.push(FeatureWarning::LabelMemoryNotBefore {
                    last_day: last.to_string(),
                    processing_date: today.clone(),
                });
            }
        }
        for column in &self.address_columns {
            if prepared.batch.features.column(column).is_none() {
                warnings.push(FeatureWarning::MissingAddressColumn {
                    column: column.clone(),
                });
            }
        }
        warnings.sort();
        for w in &warnings {
            tracing::warn!("{w}");
        }
        // Louvain is sequential and the longest block: it starts on its own thread while the
        // blocks run (the community block then waits for it); with one thread it simply runs
        // first. The labels do not depend on which thread computes them.
        let mut sink = ColumnSink::new(Some(prepared));
        rayon::join(
            || {
                if self.groups.graph_communities {
                    prepared.communities(&self.communities);
                }
            },
            || alert_blocks(self, memory, &mut sink),
        );
        let (defs, columns) = sink.finish()?;
        let names = unique_defs(defs).into_iter().map(|d| d.name).collect();
        let matrix = FeatureMatrix::from_columns(&columns, names, prepared.alert_ids())?;
        Ok((matrix, warnings))
    }

    /// A spec whose vocabularies are placeholders and whose address columns are the contract's
    /// default ones: the shape every fitted spec has, used to document the feature families.
    pub fn template() -> FeatureSpec {
        let placeholder = |what: &str| Vocab {
            values: vec![format!("<{what}>")],
            names: vec![format!("<{what}>")],
        };
        let builder = FeatureBuilder::default();
        FeatureSpec {
            version: FEATURE_SPEC_VERSION,
            typology_type: placeholder("typology"),
            pattern_type: placeholder("pattern_type"),
            suspected_address_type: placeholder("address_type"),
            risk_indicators: placeholder("indicator"),
            dominant_asset_in: placeholder("asset"),
            dominant_asset_out: placeholder("asset"),
            cluster_type: placeholder("cluster_type"),
            address_columns: contract_address_columns()
                .into_iter()
                .filter(|c| !builder.excluded_address_columns.contains(c))
                .collect(),
            pagerank: builder.pagerank,
            reach_cap: builder.reach_cap,
            groups: FeatureGroups::all(),
            communities: builder.communities,
            extra_blocks: Vec::new(),
        }
    }
}

/// Every feature family of the template spec (alert matrix, then cluster matrix).
pub fn feature_catalog() -> (Vec<FeatureDef>, Vec<FeatureDef>) {
    let spec = FeatureSpec::template();
    (spec.describe(), spec.describe_cluster_features())
}

/// The Markdown of `docs/features.md`, generated from the feature declarations.
pub fn features_markdown() -> String {
    let (alerts, clusters) = feature_catalog();
    let intro = "Generated by `aml_features::features_markdown()` from the feature declarations; \
do not edit by hand (regenerate with `UPDATE_DOCS=1 cargo test -p aml-features --test docs`).\n\n\
Names in angle brackets stand for the values of a fitted vocabulary (`FeatureSpec`), sanitised to \
`[a-z0-9_]`. Address columns are every numeric column of features.parquet seen at fit time except \
identifiers and absolute timestamps; the contract's columns are listed. Missing values are NaN, \
never 0, and no feature is ever infinite. Alert rows are sorted by `alert_id`, cluster rows by `cluster_id`.";
    let mut text = render_markdown(
        "Features",
        intro,
        &[("Alert matrix", &alerts), ("Cluster matrix", &clusters)],
    );
    text.push('\n');
    text.push_str(OPTIONAL_GROUPS);
    text
}

/// The optional groups' documentation and ablation figures (the end of `docs/features.md`).
const OPTIONAL_GROUPS: &str = include_str!("optional_groups.md");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::AlertBlock;

    fn doubled_confidence(sink: &mut ColumnSink<'_, PreparedBatch<'_>>) {
        sink.group("custom");
        sink.add("confidence_x2", "twice alert_confidence_score", |p| {
            let a = &p.batch.alerts;
            p.alert_rows
                .iter()
                .map(|&r| 2.0 * a.alert_confidence_score[r])
                .collect()
        });
    }

    const BLOCK: AlertBlock = AlertBlock {
        name: "doubled_confidence",
        build: doubled_confidence,
    };

    #[test]
    fn an_extra_block_adds_its_columns_last_and_stays_out_of_the_json() {
        let dir = tempfile::tempdir().unwrap();
        let config = aml_synth::SynthConfig {
            n_alerts: 30,
            n_addresses: 150,
            n_flows: 400,
            ..aml_synth::SynthConfig::small()
        };
        let path = aml_synth::write_batch(&dir.path().join("b"), &config, 0).unwrap();
        let (batch, _) = Batch::load(&path).unwrap();
        let plain = FeatureBuilder::new().fit(&[&batch]).unwrap();
        let custom = plain.clone().with_block(BLOCK);
        assert_ne!(custom, plain);
        assert_eq!(custom.to_json(), plain.to_json(), "code is not serialised");
        assert_eq!(FeatureSpec::from_json(&custom.to_json()).unwrap(), plain);

        let defs = custom.describe();
        let last = defs.last().unwrap();
        assert_eq!(
            (last.name.as_str(), last.group.as_str()),
            ("confidence_x2", "custom")
        );
        assert_eq!(defs.len(), plain.describe().len() + 1);

        let base = plain.transform(&batch).unwrap();
        let m = custom.transform(&batch).unwrap();
        assert_eq!(m.feature_names, custom.feature_names());
        assert_eq!(m.values.ncols(), base.values.ncols() + 1);
        let confidence = m.column_index("alert_confidence_score").unwrap();
        for row in 0..m.n_rows() {
            let bits = |v: &f32| v.to_bits();
            let head: Vec<u32> = m
                .values
                .row(row)
                .iter()
                .take(base.n_features())
                .map(bits)
                .collect();
            assert_eq!(
                head,
                base.values.row(row).iter().map(bits).collect::<Vec<_>>()
            );
            assert_eq!(m.values[[row, m.n_features() - 1]], {
                crate::columns::to_matrix_value(2.0 * f64::from(m.values[[row, confidence]]))
            });
        }
    }
}
