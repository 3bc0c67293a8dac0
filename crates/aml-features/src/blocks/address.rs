//! Features of the alerted address, joined from features.parquet. An address without a row
//! gives NaN (a GBDT learns a direction for missing values), never 0.

use super::{multi_hot_columns, one_hot_defs};
use crate::catalog::address_column_meaning;
use crate::columns::ColumnSink;
use crate::names::{dedupe, sanitize};
use crate::prepared::PreparedBatch;
use crate::spec::FeatureSpec;
use crate::stats::normalised_entropy;

/// Feature names of the spec's address columns: `addr_<column>`, made unique.
pub(crate) fn address_feature_names(spec: &FeatureSpec) -> Vec<String> {
    let mut names: Vec<String> = spec
        .address_columns
        .iter()
        .map(|c| format!("addr_{}", sanitize(c)))
        .collect();
    dedupe(&mut names);
    names
}

/// Hour indices counted as night (UTC 00:00-05:59).
const NIGHT_HOURS: std::ops::Range<usize> = 0..6;
/// Day indices counted as weekend (index 0 = Monday, so 5 and 6 are Saturday and Sunday).
const WEEKEND_DAYS: std::ops::Range<usize> = 5..7;

/// Summary statistics of one activity histogram, NaN when the histogram is missing or all zero.
fn histogram_stats(
    counts: &[u16],
    special: std::ops::Range<usize>,
    expected_len: usize,
) -> [f64; 5] {
    let total: f64 = counts.iter().map(|&c| f64::from(c)).sum();
    if counts.is_empty() || total <= 0.0 {
        let active = if counts.is_empty() { f64::NAN } else { 0.0 };
        let total = if counts.is_empty() { f64::NAN } else { 0.0 };
        return [total, active, f64::NAN, f64::NAN, f64::NAN];
    }
    let active = counts.iter().filter(|&&c| c > 0).count() as f64;
    let peak = counts.iter().copied().max().map_or(0.0, f64::from) / total;
    let special_share = if counts.len() == expected_len {
        counts[special].iter().map(|&c| f64::from(c)).sum::<f64>() / total
    } else {
        f64::NAN
    };
    [
        total,
        active,
        peak,
        special_share,
        normalised_entropy(counts),
    ]
}

/// Declares (and computes) the address block.
pub(crate) fn address_block(spec: &FeatureSpec, sink: &mut ColumnSink<PreparedBatch<'_>>) {
    sink.group("address");
    sink.add(
        "addr_present",
        "1 if the alerted address has a row in features.parquet, else 0 (then every addr_* is NaN)",
        |p| {
            p.feature_row
                .iter()
                .map(|r| if r.is_some() { 1.0 } else { 0.0 })
                .collect()
        },
    );
    for (column, name) in spec.address_columns.iter().zip(address_feature_names(spec)) {
        sink.add(name, address_column_meaning(column), |p| {
            match p.batch.features.column(column) {
                Some(values) => p
                    .feature_row
                    .iter()
                    .map(|r| r.map_or(f64::NAN, |r| values[r]))
                    .collect(),
                None => vec![f64::NAN; p.n_alerts()],
            }
        });
    }

    sink.group("activity");
    let histograms: [(&str, &str, std::ops::Range<usize>, usize, &str); 2] = [
        (
            "hourly",
            "hourly_activity",
            NIGHT_HOURS,
            24,
            "night (hours 0-5)",
        ),
        (
            "daily",
            "daily_activity",
            WEEKEND_DAYS,
            7,
            "weekend (days 5-6, Monday = 0)",
        ),
    ];
    for (prefix, source, special, expected_len, special_what) in histograms {
        let special_name = if prefix == "hourly" {
            "night_share"
        } else {
            "weekend_share"
        };
        let defs = vec![
            (
                format!("{prefix}_total"),
                format!("sum of the address's {source} counts"),
            ),
            (
                format!("{prefix}_active_bins"),
                format!("number of non-zero bins of {source}"),
            ),
            (
                format!("{prefix}_peak_share"),
                format!("largest bin of {source} divided by its total"),
            ),
            (
                format!("{prefix}_{special_name}"),
                format!("share of {source} in the {special_what} bins"),
            ),
            (
                format!("{prefix}_entropy_norm"),
                format!("entropy of {source} over ln(bins): 0 concentrated .. 1 uniform"),
            ),
        ];
        sink.add_group("activity", defs, |p| {
            let table = if prefix == "hourly" {
                &p.batch.features.hourly_activity
            } else {
                &p.batch.features.daily_activity
            };
            let mut cols = (0..5)
                .map(|_| Vec::with_capacity(p.n_alerts()))
                .collect::<Vec<_>>();
            for r in &p.feature_row {
                let stats = match r {
                    Some(r) => histogram_stats(&table[*r], special.clone(), expected_len),
                    None => [f64::NAN; 5],
                };
                for (col, v) in cols.iter_mut().zip(stats) {
                    col.push(v);
                }
            }
            cols
        });
    }

    sink.group("asset");
    let assets = [
        (
            "dominant_asset_in",
            &spec.dominant_asset_in,
            "the address's dominant incoming asset",
        ),
        (
            "dominant_asset_out",
            &spec.dominant_asset_out,
            "the address's dominant outgoing asset",
        ),
    ];
    for (prefix, vocab, what) in assets {
        sink.add_group(prefix, one_hot_defs(prefix, vocab, what), |p| {
            let values = if prefix == "dominant_asset_in" {
                &p.batch.features.dominant_asset_in
            } else {
                &p.batch.features.dominant_asset_out
            };
            multi_hot_columns(
                vocab,
                p.feature_row
                    .iter()
                    .map(|r| r.map(|r| [values[r].as_str()])),
                true,
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_stats_cover_edge_cases() {
        let empty = histogram_stats(&[], NIGHT_HOURS, 24);
        assert!(empty.iter().all(|v| v.is_nan()));
        let zeros = histogram_stats(&[0; 24], NIGHT_HOURS, 24);
        assert_eq!(zeros[0], 0.0);
        assert!(zeros[2].is_nan());
        let mut h = [0u16; 24];
        h[1] = 3;
        h[12] = 1;
        let s = histogram_stats(&h, NIGHT_HOURS, 24);
        assert_eq!(s, [4.0, 2.0, 0.75, 0.75, s[4]]);
        assert!(s[4] > 0.0 && s[4] < 1.0);
        let short = histogram_stats(&[1, 2], WEEKEND_DAYS, 7);
        assert!(short[3].is_nan());
    }
}
