//! What a validator does with many miners' scores for the same batch: a weighted ensemble per alert, how
//! confident it is (`1 - std / mean`), how much the miners agree (share within 0.1 of the mean), and
//! which miners drove it.

use std::collections::BTreeMap;

use serde::Serialize;

/// A miner's answer within [`AGREEMENT_BAND`] of the ensemble mean counts as agreeing.
pub const AGREEMENT_BAND: f64 = 0.1;
/// How many top contributors are reported per alert.
pub const TOP_CONTRIBUTORS: usize = 3;

/// One miner's scores and its weight (e.g. its past tau score).
#[derive(Debug, Clone, PartialEq)]
pub struct MinerScores {
    /// Miner identity (hotkey, name ...).
    pub miner: String,
    /// Non-negative weight; a miner with weight 0 is ignored.
    pub weight: f64,
    /// alert_id -> score in `[0, 1]`.
    pub scores: BTreeMap<String, f64>,
}

/// One miner's share of an alert's ensemble score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// Miner identity.
    pub miner: String,
    /// `weight * score / total weight` for this alert.
    pub contribution: f64,
}

/// Ensemble result for one alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnsembleScore {
    /// The alert.
    pub alert_id: String,
    /// Weighted mean of the miners' scores.
    pub score: f64,
    /// Weighted standard deviation of the miners' scores.
    pub std: f64,
    /// `1 - std / mean`, clamped to `[0, 1]` (1 when every miner gave 0).
    pub confidence: f64,
    /// Share of the miners scoring this alert whose score is within 0.1 of the mean.
    pub agreement: f64,
    /// Miners that scored this alert.
    pub n_miners: usize,
    /// The largest contributions, largest first (ties by miner name).
    pub top_contributors: Vec<Contribution>,
}

/// Ensembles every alert scored by at least one miner with positive weight, in alert id order. Non-finite
/// scores and non-positive or non-finite weights are ignored. Deterministic: no map order leaks out.
pub fn ensemble(miners: &[MinerScores]) -> Vec<EnsembleScore> {
    let mut per_alert: BTreeMap<&str, Vec<(&str, f64, f64)>> = BTreeMap::new();
    for miner in miners
        .iter()
        .filter(|m| m.weight.is_finite() && m.weight > 0.0)
    {
        for (alert_id, &score) in miner.scores.iter().filter(|(_, s)| s.is_finite()) {
            per_alert.entry(alert_id.as_str()).or_default().push((
                miner.miner.as_str(),
                miner.weight,
                score,
            ));
        }
    }
    per_alert
        .into_iter()
        .map(|(alert_id, entries)| {
            let total_weight: f64 = entries.iter().map(|e| e.1).sum();
            let mean = entries.iter().map(|e| e.1 * e.2).sum::<f64>() / total_weight;
            let var = entries
                .iter()
                .map(|e| e.1 * (e.2 - mean) * (e.2 - mean))
                .sum::<f64>()
                / total_weight;
            let std = var.max(0.0).sqrt();
            let confidence = if mean > 0.0 {
                (1.0 - std / mean).clamp(0.0, 1.0)
            } else if std == 0.0 {
                1.0
            } else {
                0.0
            };
            let agreeing = entries
                .iter()
                .filter(|e| (e.2 - mean).abs() <= AGREEMENT_BAND)
                .count();
            let mut contributions: Vec<Contribution> = entries
                .iter()
                .map(|e| Contribution {
                    miner: e.0.to_string(),
                    contribution: e.1 * e.2 / total_weight,
                })
                .collect();
            contributions.sort_by(|a, b| {
                b.contribution
                    .total_cmp(&a.contribution)
                    .then_with(|| a.miner.cmp(&b.miner))
            });
            contributions.truncate(TOP_CONTRIBUTORS);
            EnsembleScore {
                alert_id: alert_id.to_string(),
                score: mean,
                std,
                confidence,
                agreement: agreeing as f64 / entries.len() as f64,
                n_miners: entries.len(),
                top_contributors: contributions,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn miner(name: &str, weight: f64, scores: &[(&str, f64)]) -> MinerScores {
        MinerScores {
            miner: name.into(),
            weight,
            scores: scores.iter().map(|(a, s)| (a.to_string(), *s)).collect(),
        }
    }

    #[test]
    fn weighted_mean_confidence_agreement() {
        let result = ensemble(&[
            miner("m1", 1.0, &[("a", 0.8), ("b", 0.0)]),
            miner("m2", 3.0, &[("a", 0.4), ("b", 0.0)]),
            miner("m3", 0.0, &[("a", 1.0)]),
        ]);
        assert_eq!(result.len(), 2);
        let a = &result[0];
        assert!((a.score - 0.5).abs() < 1e-12); // (0.8 + 1.2) / 4
        let std = (0.25f64 * 0.09 + 0.75 * 0.01).sqrt();
        assert!((a.std - std).abs() < 1e-12);
        assert!((a.confidence - (1.0 - std / 0.5)).abs() < 1e-12);
        assert_eq!(a.agreement, 0.5); // m2 (0.4) within 0.1, m1 (0.8) not
        assert_eq!(a.n_miners, 2);
        assert_eq!(a.top_contributors[0].miner, "m2");
        assert!((a.top_contributors[0].contribution - 0.3).abs() < 1e-12);
        let b = &result[1];
        assert_eq!((b.score, b.confidence, b.agreement), (0.0, 1.0, 1.0));
    }
}
