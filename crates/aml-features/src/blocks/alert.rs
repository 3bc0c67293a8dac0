//! Features of the alert row itself.

use super::{multi_hot_columns, one_hot_defs};
use crate::columns::ColumnSink;
use crate::names::normalise_category;
use crate::prepared::PreparedBatch;
use crate::spec::FeatureSpec;
use crate::stats::signed_log1p;
use std::collections::BTreeSet;

/// A one-hot encoded alert column: feature prefix, fitted vocabulary, what it describes and
/// how to read it from the alerts table.
type CategoricalColumn<'a> = (
    &'static str,
    &'a crate::names::Vocab,
    &'static str,
    fn(&aml_core::tables::Alerts) -> &[String],
);

/// Declares (and computes) the alert block.
pub(crate) fn alert_block(spec: &FeatureSpec, sink: &mut ColumnSink<PreparedBatch<'_>>) {
    sink.group("alert");
    sink.add(
        "alert_confidence_score",
        "the analyzer's own confidence in the alert (0..1)",
        |p| {
            p.alert_rows
                .iter()
                .map(|&r| p.batch.alerts.alert_confidence_score[r])
                .collect()
        },
    );
    sink.add(
        "severity_ordinal",
        "alert severity: 0 low, 1 medium (also unknown), 2 high, 3 critical",
        |p| p.severity.iter().map(|&s| f64::from(s)).collect(),
    );
    sink.add(
        "log_volume_usd",
        "sign(v)*ln(1+|v|) of the USD volume behind the alert",
        |p| {
            p.alert_rows
                .iter()
                .map(|&r| signed_log1p(p.batch.alerts.volume_usd[r]))
                .collect()
        },
    );
    sink.add(
        "has_pattern",
        "1 if the alert is pattern based (non-empty pattern_id), else 0",
        |p| {
            p.alert_rows
                .iter()
                .map(|&r| f64::from(u8::from(!p.batch.alerts.pattern_id[r].trim().is_empty())))
                .collect()
        },
    );
    sink.add(
        "risk_indicator_count",
        "number of distinct risk indicators the alert triggered",
        |p| {
            p.alert_rows
                .iter()
                .map(|&r| {
                    let distinct: BTreeSet<String> = p.batch.alerts.risk_indicators[r]
                        .iter()
                        .map(|s| normalise_category(s))
                        .collect();
                    distinct.len() as f64
                })
                .collect()
        },
    );
    let categorical: [CategoricalColumn<'_>; 3] = [
        (
            "typology_type",
            &spec.typology_type,
            "the alert's typology_type",
            |a| &a.typology_type,
        ),
        (
            "pattern_type",
            &spec.pattern_type,
            "the alert's pattern_type (`` = not pattern based)",
            |a| &a.pattern_type,
        ),
        (
            "suspected_address_type",
            &spec.suspected_address_type,
            "the alert's suspected_address_type",
            |a| &a.suspected_address_type,
        ),
    ];
    for (prefix, vocab, what, column) in categorical {
        sink.add_group(prefix, one_hot_defs(prefix, vocab, what), |p| {
            let values = column(&p.batch.alerts);
            multi_hot_columns(
                vocab,
                p.alert_rows.iter().map(|&r| Some([values[r].as_str()])),
                false,
            )
        });
    }
    let mut defs: Vec<(String, String)> = spec
        .risk_indicators
        .values
        .iter()
        .zip(&spec.risk_indicators.names)
        .map(|(value, name)| {
            (
                format!("risk_indicator_{name}"),
                format!("1 if the alert triggered risk indicator `{value}`, else 0"),
            )
        })
        .collect();
    defs.push((
        "risk_indicator_other".to_string(),
        "1 if the alert triggered an indicator outside the fitted frequent list, else 0"
            .to_string(),
    ));
    sink.add_group("risk_indicators", defs, |p| {
        multi_hot_columns(
            &spec.risk_indicators,
            p.alert_rows
                .iter()
                .map(|&r| Some(p.batch.alerts.risk_indicators[r].iter().map(String::as_str))),
            true,
        )
    });
}

/// `urgency_score` of one alert: `(severity_ordinal + 1) / 4 x alert_confidence_score x
/// ln(1 + max(volume_usd, 0))`. NaN when the confidence or the volume is missing.
pub(crate) fn urgency(severity: u8, confidence: f64, volume_usd: f64) -> f64 {
    if volume_usd.is_nan() {
        return f64::NAN;
    }
    let weight = (f64::from(severity) + 1.0) / 4.0;
    weight * confidence * volume_usd.max(0.0).ln_1p()
}

/// Declares (and computes) the optional `urgency_score` column.
pub(crate) fn urgency_block(sink: &mut ColumnSink<PreparedBatch<'_>>) {
    sink.group("urgency");
    sink.add(
        "urgency_score",
        "(severity_ordinal + 1) / 4 x alert_confidence_score x ln(1 + max(volume_usd, 0)): \
         how much a reviewer loses by looking at the alert late (NaN if an input is missing)",
        |p| {
            let a = &p.batch.alerts;
            p.alert_rows
                .iter()
                .zip(&p.severity)
                .map(|(&r, &s)| urgency(s, a.alert_confidence_score[r], a.volume_usd[r]))
                .collect()
        },
    );
}
