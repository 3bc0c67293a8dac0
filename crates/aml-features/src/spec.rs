//! The fitted feature specification and the builder that learns it from training batches.
//!
//! A model must be applied with exactly the columns it was trained on, so everything that
//! depends on the training data (category vocabularies, frequent risk indicators, the list of
//! address-feature columns) is frozen into a [`FeatureSpec`] that serialises to JSON and
//! travels with the model.

use crate::columns::ColumnSink;
use crate::error::FeatureError;
use crate::names::{normalise_category, Vocab};
use crate::partition::CommunityParams;
use crate::prepared::PreparedBatch;
use aml_core::batch::Batch;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Version of the feature definitions; bumped whenever a feature's meaning changes,
/// so a model trained with an older spec can be detected.
pub const FEATURE_SPEC_VERSION: u32 = 1;

/// Settings of the deterministic PageRank power iteration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PageRankParams {
    /// Probability of following an edge (the rest teleports uniformly).
    pub damping: f64,
    /// Stop when the L1 change of the rank vector falls below this.
    pub tolerance: f64,
    /// Hard cap on iterations.
    pub max_iterations: usize,
}

impl Default for PageRankParams {
    fn default() -> Self {
        PageRankParams {
            damping: 0.85,
            tolerance: 1e-6,
            max_iterations: 100,
        }
    }
}

/// Optional feature groups. Every switch defaults to off when absent from the JSON, so a spec
/// written before a group existed still builds exactly its old columns; a newly fitted spec
/// takes [`FeatureBuilder::groups`] (the groups the ablation in `docs/features.md` kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FeatureGroups {
    /// Weakly connected component features of the alerted address (`comp_*`).
    pub graph_components: bool,
    /// Louvain community features of the alerted address (`comm_*`).
    pub graph_communities: bool,
    /// The `urgency_score` alert feature.
    pub urgency_score: bool,
    /// The cluster matrix's `confidence_variance`.
    pub cluster_confidence_variance: bool,
    /// What the labels history says about the alerted address (`mem_*`, see
    /// [`crate::memory`]); computed from the [`crate::LabelMemory`] given to
    /// [`FeatureSpec::transform_with_memory`], every alert unknown without one. Written only
    /// when on, so a spec without the group serialises exactly as before it existed (a bundle's
    /// version is the hash of its metadata, spec included).
    #[serde(skip_serializing_if = "is_false")]
    pub label_memory: bool,
}

fn is_false(on: &bool) -> bool {
    !*on
}

impl FeatureGroups {
    /// The groups the ablation in `docs/features.md` kept: the four alert groups;
    /// `confidence_variance` did not help the cluster scorer (mean +0.0000 AUC over two seeds).
    pub fn kept() -> FeatureGroups {
        FeatureGroups {
            cluster_confidence_variance: false,
            ..FeatureGroups::all()
        }
    }

    /// Every optional group on.
    pub fn all() -> FeatureGroups {
        FeatureGroups {
            graph_components: true,
            graph_communities: true,
            urgency_score: true,
            cluster_confidence_variance: true,
            label_memory: true,
        }
    }
}

/// A feature block supplied by the caller: like the built-in blocks, `build` declares each column
/// (name and meaning) on the sink and, when the sink computes, returns its values from the
/// prepared batch (one per alert, in alert_id order). Add it with [`FeatureSpec::with_block`];
/// its columns follow the built-in ones in [`FeatureSpec::describe`], `feature_names` and
/// every matrix the spec builds.
///
/// ```
/// use aml_features::{AlertBlock, ColumnSink, FeatureSpec, PreparedBatch};
/// fn amount_per_indicator(sink: &mut ColumnSink<'_, PreparedBatch<'_>>) {
///     sink.group("custom");
///     sink.add("volume_per_indicator", "volume_usd / (1 + risk indicators)", |p| {
///         let a = &p.batch.alerts;
///         p.alert_rows.iter().map(|&r| a.volume_usd[r] / (1.0 + a.risk_indicators[r].len() as f64)).collect()
///     });
/// }
/// let block = AlertBlock { name: "amount_per_indicator", build: amount_per_indicator };
/// let spec = FeatureSpec::template().with_block(block);
/// assert_eq!(spec.feature_names().last().unwrap(), "volume_per_indicator");
/// ```
#[derive(Clone, Copy)]
pub struct AlertBlock {
    /// The block's name: two blocks are equal when their names are.
    pub name: &'static str,
    /// Declares (and computes) the block's columns.
    pub build: fn(&mut ColumnSink<'_, PreparedBatch<'_>>),
}

impl PartialEq for AlertBlock {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl std::fmt::Debug for AlertBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlertBlock({:?})", self.name)
    }
}

/// Everything learned at fit time; apply it with [`FeatureSpec::transform`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// [`FEATURE_SPEC_VERSION`] at fit time.
    pub version: u32,
    /// Vocabulary of `typology_type`.
    pub typology_type: Vocab,
    /// Vocabulary of `pattern_type` (the empty value means "not pattern based").
    pub pattern_type: Vocab,
    /// Vocabulary of `suspected_address_type`.
    pub suspected_address_type: Vocab,
    /// The most frequent risk indicators, each getting a 0/1 column.
    pub risk_indicators: Vocab,
    /// Vocabulary of the address's `dominant_asset_in`.
    pub dominant_asset_in: Vocab,
    /// Vocabulary of the address's `dominant_asset_out`.
    pub dominant_asset_out: Vocab,
    /// Vocabulary of cluster `cluster_type`.
    pub cluster_type: Vocab,
    /// Numeric columns of features.parquet used as `addr_<column>` features, in column order.
    pub address_columns: Vec<String>,
    /// PageRank settings for the money-flow graph.
    pub pagerank: PageRankParams,
    /// Cap on the 2-hop reach count (bounds the work spent on hub neighbourhoods).
    pub reach_cap: u32,
    /// Optional feature groups (all off in specs written before they existed).
    #[serde(default)]
    pub groups: FeatureGroups,
    /// Louvain bounds for the community features.
    #[serde(default)]
    pub communities: CommunityParams,
    /// Caller-supplied blocks run after the built-in ones ([`FeatureSpec::with_block`]). They
    /// are code, not data: not part of the JSON, so a spec read back (e.g. from a bundle) has
    /// none until the caller adds them again, and a model trained with them then fails the
    /// bundle's feature-name check instead of scoring shifted columns.
    #[serde(skip)]
    pub extra_blocks: Vec<AlertBlock>,
}

impl FeatureSpec {
    /// Serialises the spec as pretty JSON (stable key order: struct field order).
    pub fn to_json(&self) -> String {
        // Serialising plain data structs cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The spec with `block` appended to its [`FeatureSpec::extra_blocks`].
    pub fn with_block(mut self, block: AlertBlock) -> FeatureSpec {
        self.extra_blocks.push(block);
        self
    }

    /// Parses a spec written by [`FeatureSpec::to_json`].
    pub fn from_json(text: &str) -> Result<FeatureSpec, FeatureError> {
        Ok(serde_json::from_str(text)?)
    }
}

/// Learns a [`FeatureSpec`] from training batches. The fields are the fitting knobs.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureBuilder {
    /// Maximum kept values per categorical vocabulary (the rest go to `other`).
    pub max_categories: usize,
    /// A category value must occur at least this often in the training batches.
    pub min_category_count: usize,
    /// Number of most frequent risk indicators that get their own column.
    pub max_risk_indicators: usize,
    /// Maximum kept dominant assets per direction.
    pub max_assets: usize,
    /// Numeric address columns never used as features: identifiers and absolute timestamps,
    /// which carry no meaning that transfers from one day to the next.
    pub excluded_address_columns: Vec<String>,
    /// PageRank settings copied into the spec.
    pub pagerank: PageRankParams,
    /// 2-hop reach cap copied into the spec.
    pub reach_cap: u32,
    /// Optional feature groups copied into the spec.
    pub groups: FeatureGroups,
    /// Louvain bounds copied into the spec.
    pub communities: CommunityParams,
}

impl Default for FeatureBuilder {
    fn default() -> Self {
        FeatureBuilder {
            max_categories: 24,
            min_category_count: 1,
            max_risk_indicators: 24,
            max_assets: 12,
            excluded_address_columns: vec![
                "community_id".into(),
                "first_activity_timestamp".into(),
                "last_activity_timestamp".into(),
                "window_days".into(),
            ],
            pagerank: PageRankParams::default(),
            reach_cap: 10_000,
            groups: FeatureGroups::kept(),
            communities: CommunityParams::default(),
        }
    }
}

impl FeatureBuilder {
    /// Default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fits vocabularies and the address column list on `batches` (in the given order).
    ///
    /// ```
    /// # fn demo(batch: &aml_core::batch::Batch) -> Result<(), aml_features::FeatureError> {
    /// let spec = aml_features::FeatureBuilder::new().fit(&[batch])?;
    /// let matrix = spec.transform(batch)?;
    /// assert_eq!(matrix.feature_names.len(), matrix.values.ncols());
    /// # Ok(()) }
    /// ```
    pub fn fit(&self, batches: &[&Batch]) -> Result<FeatureSpec, FeatureError> {
        if batches.is_empty() {
            return Err(FeatureError::NoTrainingBatches);
        }
        let mut typology = BTreeMap::new();
        let mut pattern = BTreeMap::new();
        let mut addr_type = BTreeMap::new();
        let mut indicators = BTreeMap::new();
        let mut asset_in = BTreeMap::new();
        let mut asset_out = BTreeMap::new();
        let mut cluster_type = BTreeMap::new();
        let mut columns: Vec<String> = Vec::new();
        let mut seen_columns: BTreeSet<String> = BTreeSet::new();
        let excluded: BTreeSet<&str> = self
            .excluded_address_columns
            .iter()
            .map(String::as_str)
            .collect();
        for batch in batches {
            let a = &batch.alerts;
            count_all(&mut typology, &a.typology_type);
            count_all(&mut pattern, &a.pattern_type);
            count_all(&mut addr_type, &a.suspected_address_type);
            for list in &a.risk_indicators {
                // An indicator counts once per alert, however often it is repeated in the list.
                let distinct: BTreeSet<String> =
                    list.iter().map(|s| normalise_category(s)).collect();
                for ind in distinct {
                    *indicators.entry(ind).or_insert(0usize) += 1;
                }
            }
            let f = &batch.features;
            count_all(&mut asset_in, &f.dominant_asset_in);
            count_all(&mut asset_out, &f.dominant_asset_out);
            count_all(&mut cluster_type, &batch.clusters.cluster_type);
            let mut new_columns: Vec<String> = Vec::new();
            for col in &f.numeric {
                if !excluded.contains(col.name.as_str()) && !seen_columns.contains(&col.name) {
                    new_columns.push(col.name.clone());
                }
            }
            if !columns.is_empty() {
                // Columns first seen in a later batch go last, by name, so batch order barely matters.
                new_columns.sort();
            }
            for c in new_columns {
                seen_columns.insert(c.clone());
                columns.push(c);
            }
        }
        let min = self.min_category_count;
        Ok(FeatureSpec {
            version: FEATURE_SPEC_VERSION,
            typology_type: Vocab::from_counts(&typology, self.max_categories, min),
            pattern_type: Vocab::from_counts(&pattern, self.max_categories, min),
            suspected_address_type: Vocab::from_counts(&addr_type, self.max_categories, min),
            risk_indicators: Vocab::from_counts(&indicators, self.max_risk_indicators, min),
            dominant_asset_in: Vocab::from_counts(&without_empty(asset_in), self.max_assets, min),
            dominant_asset_out: Vocab::from_counts(&without_empty(asset_out), self.max_assets, min),
            cluster_type: Vocab::from_counts(&cluster_type, self.max_categories, min),
            address_columns: columns,
            pagerank: self.pagerank,
            reach_cap: self.reach_cap.max(1),
            groups: self.groups,
            communities: self.communities,
            extra_blocks: Vec::new(),
        })
    }
}

/// Adds each value's normalised form to `counts`. Values repeat a lot (an asset column has
/// 500,000 rows and a dozen distinct values), so the raw values are counted first and each
/// distinct one is normalised once; the counts are the same whatever the order.
fn count_all(counts: &mut BTreeMap<String, usize>, values: &[String]) {
    let mut raw: HashMap<&str, usize> = HashMap::new();
    for v in values {
        *raw.entry(v.as_str()).or_insert(0) += 1;
    }
    for (v, n) in raw {
        *counts.entry(normalise_category(v)).or_insert(0) += n;
    }
}

/// An empty dominant asset means the address moved no asset in that direction: it gets no
/// indicator of its own (all asset columns of the direction are 0).
fn without_empty(mut counts: BTreeMap<String, usize>) -> BTreeMap<String, usize> {
    counts.remove("");
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_all_counts_each_normalised_value_like_one_entry_per_row() {
        let values: Vec<String> = ["USDT", " usdt", "ETH", "", "eth ", "USDT", "Btc", ""]
            .map(String::from)
            .to_vec();
        let mut counts = BTreeMap::from([("usdt".to_string(), 2), ("sol".to_string(), 1)]);
        count_all(&mut counts, &values);
        let mut want = BTreeMap::from([("usdt".to_string(), 2), ("sol".to_string(), 1)]);
        for v in &values {
            *want.entry(normalise_category(v)).or_insert(0) += 1;
        }
        assert_eq!(counts, want);
        assert_eq!(counts["usdt"], 5);
        assert_eq!(counts[""], 2);
    }
}
