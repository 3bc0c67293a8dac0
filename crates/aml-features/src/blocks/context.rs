//! Alert-context features: what else the batch says about the same address.

use crate::columns::ColumnSink;
use crate::names::normalise_category;
use crate::prepared::PreparedBatch;
use crate::stats::signed_log1p;
use std::collections::BTreeSet;

/// Declares (and computes) the context block.
pub(crate) fn context_block(sink: &mut ColumnSink<PreparedBatch<'_>>) {
    sink.group("context");
    let defs = vec![
        (
            "ctx_alerts_on_address".to_string(),
            "number of alerts in the batch on the same address (including this one)".to_string(),
        ),
        (
            "ctx_max_severity_on_address".to_string(),
            "highest severity ordinal among the alerts on the same address".to_string(),
        ),
        (
            "ctx_typologies_on_address".to_string(),
            "number of distinct typologies among the alerts on the same address".to_string(),
        ),
        (
            "ctx_log_volume_on_address".to_string(),
            "sign*ln(1+|v|) of the summed volume_usd of the alerts on the same address".to_string(),
        ),
    ];
    sink.add_group("context", defs, |p| {
        let alerts = &p.batch.alerts;
        let n = p.n_alerts();
        // Output rows grouped by address; ties keep output-row order, so sums run in alert_id order.
        let order = &p.by_address;
        let mut cols = vec![vec![0.0f64; n]; 4];
        let mut start = 0;
        while start < n {
            let address = &alerts.address[p.alert_rows[order[start]]];
            let mut end = start;
            while end < n && &alerts.address[p.alert_rows[order[end]]] == address {
                end += 1;
            }
            let group = &order[start..end];
            let max_severity = group.iter().map(|&i| p.severity[i]).max().unwrap_or(0);
            let typologies: BTreeSet<String> = group
                .iter()
                .map(|&i| normalise_category(&alerts.typology_type[p.alert_rows[i]]))
                .collect();
            let volume: f64 = group
                .iter()
                .map(|&i| alerts.volume_usd[p.alert_rows[i]])
                .filter(|v| v.is_finite())
                .sum();
            for &i in group {
                cols[0][i] = group.len() as f64;
                cols[1][i] = f64::from(max_severity);
                cols[2][i] = typologies.len() as f64;
                cols[3][i] = signed_log1p(volume);
            }
            start = end;
        }
        cols
    });
}
