//! The feature catalogue: one-line meanings of address columns and the generated
//! `docs/features.md`.

use crate::columns::FeatureDef;

/// One-line meanings of the contract's numeric address columns (SOT `analyzers_features`).
const ADDRESS_COLUMN_MEANINGS: &[(&str, &str)] = &[
    ("degree_in", "distinct senders to the address"),
    ("degree_out", "distinct receivers from the address"),
    ("degree_total", "distinct counterparties, both directions"),
    ("unique_counterparties", "distinct counterparties"),
    ("total_in_usd", "USD received"),
    ("total_out_usd", "USD sent"),
    ("net_flow_usd", "USD received minus sent"),
    ("total_volume_usd", "USD received plus sent"),
    ("avg_tx_in_usd", "mean incoming transaction, USD"),
    ("avg_tx_out_usd", "mean outgoing transaction, USD"),
    ("median_tx_in_usd", "median incoming transaction, USD"),
    ("median_tx_out_usd", "median outgoing transaction, USD"),
    ("max_tx_usd", "largest transaction, USD"),
    ("min_tx_usd", "smallest transaction, USD"),
    ("amount_variance", "variance of transaction amounts"),
    ("amount_skewness", "skewness of transaction amounts"),
    ("amount_kurtosis", "kurtosis of transaction amounts"),
    ("volume_std", "standard deviation of volume"),
    ("volume_cv", "coefficient of variation of volume"),
    (
        "flow_concentration",
        "concentration of flows on few counterparties",
    ),
    ("tx_in_count", "incoming transactions"),
    ("tx_out_count", "outgoing transactions"),
    ("tx_total_count", "all transactions"),
    ("activity_days", "days with activity"),
    ("activity_span_days", "days between first and last activity"),
    ("avg_daily_volume_usd", "mean USD volume per active day"),
    ("peak_hour", "hour of day with most activity"),
    ("peak_day", "day of week with most activity"),
    ("regularity_score", "regularity of activity over time"),
    ("burst_factor", "burstiness of activity"),
    (
        "reciprocity_ratio",
        "share of counterparties with flows both ways",
    ),
    ("flow_diversity", "diversity of flows across counterparties"),
    (
        "counterparty_concentration",
        "concentration of volume on top counterparties",
    ),
    (
        "concentration_ratio",
        "share of volume with the largest counterparties",
    ),
    ("velocity_score", "how fast received funds move on"),
    (
        "structuring_score",
        "evidence of amounts split below thresholds",
    ),
    ("unique_assets_in", "distinct assets received"),
    ("unique_assets_out", "distinct assets sent"),
    ("asset_diversity_score", "diversity of assets moved"),
    ("peak_activity_hour", "hour of day with most transactions"),
    ("peak_activity_day", "day of week with most transactions"),
    ("hourly_entropy", "entropy of the hourly activity profile"),
    ("daily_entropy", "entropy of the daily activity profile"),
    (
        "weekend_transaction_ratio",
        "share of transactions on weekends",
    ),
    ("night_transaction_ratio", "share of transactions at night"),
    ("small_transaction_ratio", "share of small transactions"),
    (
        "consistency_score",
        "consistency of behaviour over the window",
    ),
    ("pagerank", "analyzer's PageRank of the address"),
    ("betweenness", "analyzer's betweenness centrality"),
    ("closeness", "analyzer's closeness centrality"),
    ("clustering_coefficient", "local clustering coefficient"),
    ("kcore", "k-core number"),
    (
        "community_id",
        "community identifier (excluded by default: an id, not a magnitude)",
    ),
    ("centrality_score", "combined centrality score"),
    ("khop1_count", "addresses within 1 hop"),
    ("khop2_count", "addresses within 2 hops"),
    ("khop3_count", "addresses within 3 hops"),
    ("khop1_volume_usd", "USD volume within 1 hop"),
    ("khop2_volume_usd", "USD volume within 2 hops"),
    ("khop3_volume_usd", "USD volume within 3 hops"),
    ("flow_reciprocity_entropy", "entropy of flow reciprocity"),
    (
        "counterparty_stability",
        "stability of the counterparty set",
    ),
    ("flow_burstiness", "burstiness of flows"),
    ("transaction_regularity", "regularity of transactions"),
    ("amount_predictability", "predictability of amounts"),
    ("is_new_address", "1 if the address is new in the window"),
    (
        "is_dormant_reactivated",
        "1 if a dormant address became active again",
    ),
    ("unique_recipients_count", "distinct recipients"),
    ("unique_senders_count", "distinct senders"),
    (
        "first_activity_timestamp",
        "first activity, ms epoch (excluded by default: absolute time)",
    ),
    (
        "last_activity_timestamp",
        "last activity, ms epoch (excluded by default: absolute time)",
    ),
    (
        "behavioral_anomaly_score",
        "analyzer's behavioural anomaly score",
    ),
    ("graph_anomaly_score", "analyzer's graph anomaly score"),
    ("global_anomaly_score", "analyzer's global anomaly score"),
    ("quality_score", "analyzer's data quality score"),
];

/// Meaning of the `addr_<column>` feature for address column `column`.
pub fn address_column_meaning(column: &str) -> String {
    match ADDRESS_COLUMN_MEANINGS.iter().find(|(c, _)| *c == column) {
        Some((_, meaning)) => {
            format!("address feature `{column}`: {meaning} (NaN if the address has no row)")
        }
        None => {
            format!("extra numeric address column `{column}` of features.parquet (NaN if absent)")
        }
    }
}

/// The contract's address columns, in contract order (used by the template catalogue).
pub(crate) fn contract_address_columns() -> Vec<String> {
    ADDRESS_COLUMN_MEANINGS
        .iter()
        .map(|(c, _)| c.to_string())
        .collect()
}

/// Renders feature definitions as the Markdown of `docs/features.md`.
pub fn render_markdown(title: &str, intro: &str, sections: &[(&str, &[FeatureDef])]) -> String {
    let mut out = format!("# {title}\n\n{intro}\n");
    for (heading, defs) in sections {
        out.push_str(&format!("\n## {heading}\n"));
        let mut group = "";
        for def in defs.iter() {
            if def.group != group {
                group = &def.group;
                out.push_str(&format!(
                    "\n### {group}\n\n| feature | meaning |\n|---|---|\n"
                ));
            }
            let meaning = def.meaning.replace('|', "\\|");
            out.push_str(&format!("| `{}` | {} |\n", def.name, meaning));
        }
    }
    out
}
