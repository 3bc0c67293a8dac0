//! Alerts from noisy typology rules, alert clusters, address labels and pattern traps.
//!
//! Benign addresses are alerted when a noisy rule score is among the highest of the day (false
//! positives concentrate on benign look-alikes: bots, merchants, payroll, arbitrage, hubs).
//! A capped share of illicit members is "caught" (the analyzer's recall is imperfect), mostly
//! by the rule matching its community's typology. Severity mixes the rule strength with a weak
//! truth signal. The evidence `rule_score` and the confidence are the analyzer's assessment at
//! alert time: a small share of the (selection-biased) rule strength, a truth signal and fresh
//! noise, so both rise with truth but rank alerts only partly right.
//!
//! Pattern traps are the data owner's known answers: illicit traps (members of the strongest
//! communities, at least high severity) and benign traps (members of the data owner's registry of
//! verified-clean entities, see [`crate::registry`], raised by the anomaly rule at low severity),
//! five alerts each, always labelled without noise. Registry addresses are labelled by the registry
//! (risk low, every day); the other labels follow the noisy rules of [`labels`].

use super::columns::{declared, Col};
use super::features::FeatureRow;
use super::graph::Graph;
use super::rng::{below, normal, rng_for, sigmoid, stream, unit};
use super::world::{Community, Profile, Role};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Typology rule names (alerts.typology_type vocabulary).
const RULES: [&str; 9] = [
    "structuring",
    "layering",
    "rapid_movement",
    "fan_in",
    "fan_out",
    "cycle",
    "peel_chain",
    "mixer_interaction",
    "unsupervised_anomaly",
];
const UNSUPERVISED: usize = 8;

fn pattern_type(rule: &str) -> &'static str {
    match rule {
        "layering" => "layering",
        "cycle" => "cycle",
        "fan_in" | "fan_out" => "motif",
        "peel_chain" => "network",
        "rapid_movement" => "burst",
        "structuring" => "threshold",
        "mixer_interaction" => "proximity",
        _ => "",
    }
}

fn rule_scores(f: &FeatureRow) -> [f64; 9] {
    let din = (1.0 + f.degree_in as f64).ln();
    let dout = (1.0 + f.degree_out as f64).ln();
    [
        5.0 * (f.structuring_score as f64 - 0.45),
        3.0 * (f.velocity_score as f64 - 0.55) + 1.5 * (0.5 - f.counterparty_stability as f64),
        3.0 * (f.flow_burstiness as f64 - 0.6) + 2.0 * (f.velocity_score as f64 - 0.5),
        din - 1.8 * dout - 0.8,
        dout - 1.8 * din - 0.8,
        5.0 * (f.reciprocity_ratio as f64 - 0.3),
        2.5 * (f.velocity_score as f64 - 0.55)
            + if (2..=3).contains(&f.degree_out) {
                0.6
            } else {
                -0.6
            },
        if f.mixer_exposure { 0.6 } else { -6.0 },
        5.0 * (f.global_anomaly_score as f64 - 0.6),
    ]
}

/// One alert row (contract columns) plus the generator's own bookkeeping.
#[derive(Clone, Debug)]
pub(crate) struct AlertRow {
    pub window_days: u16,
    pub processing_date: i32,
    pub alert_id: String,
    pub address: String,
    pub typology_type: String,
    pub pattern_id: String,
    pub pattern_type: String,
    pub severity: String,
    pub suspected_address_type: String,
    pub suspected_address_subtype: String,
    pub alert_confidence_score: f32,
    pub description: String,
    pub volume_usd: f64,
    pub evidence_json: String,
    pub risk_indicators: Vec<String>,
    /// Local node index of the address.
    pub node: usize,
    /// Trap index (0-2 illicit, 3-5 benign) when the alert is one of a trap's alerts.
    pub trap: Option<usize>,
    pub severity_rank: u8,
    pub timestamp_ms: u64,
}

/// alerts.parquet columns in contract order.
pub(crate) fn alert_columns() -> Vec<(&'static str, Col<AlertRow>)> {
    declared(
        &aml_core::schema::ALERTS,
        vec![
            Col::U16(|r| r.window_days),
            Col::Date(|r| r.processing_date),
            Col::Str(|r| &r.alert_id),
            Col::Str(|r| &r.address),
            Col::Str(|r| &r.typology_type),
            Col::Str(|r| &r.pattern_id),
            Col::Str(|r| &r.pattern_type),
            Col::Str(|r| &r.severity),
            Col::Str(|r| &r.suspected_address_type),
            Col::Str(|r| &r.suspected_address_subtype),
            Col::F32(|r| r.alert_confidence_score),
            Col::Str(|r| &r.description),
            Col::Dec(|r| r.volume_usd),
            Col::Str(|r| &r.evidence_json),
            Col::ListStr(|r| &r.risk_indicators),
        ],
    )
}

const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// Weight of the rule strength in the evidence `rule_score` and the confidence.
const EVIDENCE_STRENGTH_WEIGHT: f64 = 0.25;
/// Weight of the truth (illicit 1, benign 0) in the evidence `rule_score` and the confidence.
const EVIDENCE_TRUTH_WEIGHT: f64 = 1.5;
/// Noise of the evidence `rule_score` (standard deviation).
const EVIDENCE_NOISE: f64 = 0.8;
/// Further noise of the confidence around the evidence.
const CONFIDENCE_NOISE: f64 = 0.6;
/// Shift of the confidence logit, so most alerts have a middling confidence.
const CONFIDENCE_OFFSET: f64 = 0.4;
/// Traps per kind (illicit, benign) and alerts listed per trap in META.json.
const TRAPS_PER_KIND: usize = 3;
const ALERTS_PER_TRAP: usize = 5;

/// Traps 0-2 expect an illicit answer (1), traps 3-5 a benign one (0).
fn is_illicit_trap(trap: usize) -> bool {
    trap < TRAPS_PER_KIND
}

/// Day-level context for alerting.
pub(crate) struct AlertContext<'a> {
    pub seed: u64,
    pub day: u64,
    pub date_tag: String,
    pub n_alerts: usize,
    pub profiles: &'a [Profile],
    pub features: &'a [FeatureRow],
    pub communities: &'a [Community],
    pub members_local: &'a [Vec<u32>],
    pub graph: &'a Graph,
    pub window_start_ms: u64,
    /// Per local node: whether it is a member of the data owner's registry of clean entities.
    pub registry: &'a [bool],
}

/// Output of alerting: rows (final order, ids assigned) and the traps.
pub(crate) struct AlertSet {
    pub alerts: Vec<AlertRow>,
    pub traps: Vec<(String, Vec<String>, u8)>,
}

struct Pending {
    node: usize,
    rule: usize,
    strength: f64,
    pattern_group: Option<u64>,
    trap: Option<usize>,
    forced_low: bool,
}

impl Pending {
    /// A further alert on an already alerted node: another rule, no group, no trap.
    fn secondary(node: usize, rule: usize, strength: f64) -> Pending {
        Pending {
            node,
            rule,
            strength,
            pattern_group: None,
            trap: None,
            forced_low: false,
        }
    }
}

fn risk_indicators(f: &FeatureRow) -> Vec<String> {
    let checks: [(bool, &str); 8] = [
        (f.structuring_score > 0.45, "structuring_amounts"),
        (f.velocity_score > 0.7, "high_velocity"),
        (f.is_new_address, "new_address"),
        (f.night_transaction_ratio > 0.4, "night_activity"),
        (f.mixer_exposure, "mixer_exposure"),
        (f.flow_burstiness > 0.7, "burst_activity"),
        (f.is_dormant_reactivated, "dormant_reactivated"),
        (f.concentration_ratio > 0.6, "concentrated_flows"),
    ];
    checks
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| name.to_string())
        .collect()
}

fn build_alert(
    ctx: &AlertContext,
    rng: &mut ChaCha8Rng,
    p: &Pending,
    addresses: &[String],
) -> AlertRow {
    let f = &ctx.features[p.node];
    let profile = &ctx.profiles[p.node];
    let truth = if profile.is_illicit() { 1.0 } else { 0.0 };
    let rule = RULES[p.rule];
    let severity_rank = if p.forced_low {
        0
    } else {
        let s =
            0.55 * sigmoid(p.strength) + 0.3 * truth * (0.4 + 0.6 * unit(rng)) + 0.22 * normal(rng);
        match s {
            _ if s < 0.38 => 0,
            _ if s < 0.62 => 1,
            _ if s < 0.85 => 2,
            _ => 3,
        }
    };
    let severity_rank = if p.trap.is_some_and(is_illicit_trap) {
        severity_rank.max(2)
    } else {
        severity_rank
    };
    // The analyzer's assessment: false positives were selected for their high noisy strength,
    // so the strength only gets a small weight here and fresh noise replaces the selection's.
    let assessed = EVIDENCE_STRENGTH_WEIGHT * p.strength
        + EVIDENCE_TRUTH_WEIGHT * truth
        + EVIDENCE_NOISE * normal(rng);
    let confidence = sigmoid(assessed + CONFIDENCE_NOISE * normal(rng) - CONFIDENCE_OFFSET);
    let (stype, subtype) = match profile.role {
        Role::Exchange => ("exchange", "cex"),
        Role::Mixer => ("mixer", "tumbler"),
        Role::Service if unit(rng) < 0.7 => ("defi", "dex"),
        _ if unit(rng) < 0.25 => ("wallet", ""),
        _ => ("unknown", ""),
    };
    let ptype = pattern_type(rule);
    let pattern_id = match (p.pattern_group, ptype) {
        (Some(group), t) if !t.is_empty() => format!("pat-{}-{group:x}", ctx.date_tag),
        _ => String::new(),
    };
    let counterparties: Vec<&str> = {
        let g = ctx.graph;
        g.edges[g.out_range(p.node)]
            .iter()
            .take(3)
            .map(|e| addresses[e.to as usize].as_str())
            .collect()
    };
    let evidence = serde_json::json!({
        "rule": rule,
        "rule_score": (assessed * 1e4).round() / 1e4,
        "tx_count": f.tx_total_count,
        "counterparties": counterparties,
        "window_days": f.window_days,
    });
    let description = format!(
        "{rule} rule fired on {} transfers with {} counterparties ({:.2} USD over {} days)",
        f.tx_total_count, f.unique_counterparties, f.total_volume_usd, f.window_days
    );
    let spread_ms = ctx.features[p.node]
        .last_activity_timestamp
        .saturating_sub(ctx.window_start_ms);
    AlertRow {
        window_days: f.window_days,
        processing_date: f.processing_date,
        alert_id: String::new(),
        address: f.address.clone(),
        typology_type: rule.to_string(),
        pattern_id,
        pattern_type: ptype.to_string(),
        severity: SEVERITIES[severity_rank as usize].to_string(),
        suspected_address_type: stype.to_string(),
        suspected_address_subtype: subtype.to_string(),
        alert_confidence_score: confidence as f32,
        description,
        volume_usd: f.total_volume_usd,
        evidence_json: evidence.to_string(),
        risk_indicators: risk_indicators(f),
        node: p.node,
        trap: p.trap,
        severity_rank,
        timestamp_ms: ctx.window_start_ms + (unit(rng) * spread_ms as f64) as u64,
    }
}

/// Rules firing for an address, best first, with noise.
fn noisy_rules(rng: &mut ChaCha8Rng, f: &FeatureRow) -> Vec<(usize, f64)> {
    let mut scored: Vec<(usize, f64)> = rule_scores(f)
        .iter()
        .enumerate()
        .map(|(k, &s)| (k, s + 0.8 * normal(rng)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored
}

fn extra_alerts(rng: &mut ChaCha8Rng) -> usize {
    let u = unit(rng);
    if u < 0.06 {
        2
    } else if u < 0.24 {
        1
    } else {
        0
    }
}

/// Raise the day's alerts (exactly `n_alerts` when the population allows).
///
/// Stages, all drawing from one alerts stream in this order: illicit members (trap communities
/// first), benign traps, benign false positives up to the budget; then the rows are built,
/// shuffled and numbered.
pub(crate) fn raise(ctx: &AlertContext, addresses: &[String]) -> AlertSet {
    let mut rng = rng_for(&[ctx.seed, stream::ALERTS, ctx.day]);
    let mut plan = Plan {
        pending: Vec::new(),
        alerted: vec![false; ctx.features.len()],
    };
    let trap_communities = trap_communities(ctx);
    plan.illicit(ctx, &mut rng, &trap_communities);
    plan.benign_traps(ctx, &mut rng);
    plan.false_positives(ctx, &mut rng);
    plan.pending.truncate(ctx.n_alerts);
    number(ctx, &mut rng, &plan.pending, addresses)
}

/// The three strongest live communities: trap communities, always caught.
fn trap_communities(ctx: &AlertContext) -> Vec<usize> {
    let mut by_strength: Vec<usize> = (0..ctx.communities.len()).collect();
    by_strength.sort_by(|&a, &b| {
        ctx.communities[b]
            .strength
            .total_cmp(&ctx.communities[a].strength)
            .then(a.cmp(&b))
    });
    by_strength.into_iter().take(3).collect()
}

/// Alerts decided so far, and which nodes have one.
struct Plan {
    pending: Vec<Pending>,
    alerted: Vec<bool>,
}

impl Plan {
    /// Illicit members in catch order: traps first, then stronger communities more likely early,
    /// up to 7-12% of the budget.
    fn illicit(&mut self, ctx: &AlertContext, rng: &mut ChaCha8Rng, trap_communities: &[usize]) {
        let mut illicit: Vec<(f64, usize, usize)> = Vec::new();
        for (ci, members) in ctx.members_local.iter().enumerate() {
            let trap_bonus = if trap_communities.contains(&ci) {
                10.0
            } else {
                0.0
            };
            for &m in members {
                let key = trap_bonus + unit(rng) + 0.5 * ctx.communities[ci].strength;
                illicit.push((key, ci, m as usize));
            }
        }
        illicit.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)));
        let illicit_target = (ctx.n_alerts as f64 * (0.07 + 0.05 * unit(rng))).round() as usize;
        let mut illicit_alerts = 0;
        for &(_, ci, v) in &illicit {
            if illicit_alerts >= illicit_target {
                break;
            }
            let trap = trap_communities.iter().position(|&t| t == ci);
            let ranked = noisy_rules(rng, &ctx.features[v]);
            let own = RULES
                .iter()
                .position(|&r| r == ctx.communities[ci].typology.name())
                .unwrap_or(UNSUPERVISED);
            let primary = if trap.is_some() || unit(rng) < 0.6 {
                own
            } else {
                ranked[0].0
            };
            let strength = ranked.iter().find(|r| r.0 == primary).map_or(0.0, |r| r.1);
            let group = Some(((ci as u64) << 20) | ctx.communities[ci].block);
            let grouped = unit(rng) < 0.7;
            self.pending.push(Pending {
                node: v,
                rule: primary,
                strength,
                pattern_group: group.filter(|_| grouped),
                trap,
                forced_low: false,
            });
            illicit_alerts += 1;
            for &(rule, s) in ranked
                .iter()
                .filter(|r| r.0 != primary)
                .take(extra_alerts(rng))
            {
                self.pending.push(Pending::secondary(v, rule, s));
                illicit_alerts += 1;
            }
            self.alerted[v] = true;
        }
    }

    /// Benign traps: registry members (verified-clean entities) not alerted so far, drawn
    /// uniformly, raised by the anomaly rule at low severity with its own (noisy) score, one alert
    /// per address and five addresses per trap.
    fn benign_traps(&mut self, ctx: &AlertContext, rng: &mut ChaCha8Rng) {
        let mut candidates: Vec<usize> = (0..ctx.features.len())
            .filter(|&v| ctx.registry[v] && !self.alerted[v])
            .collect();
        let wanted = (TRAPS_PER_KIND * ALERTS_PER_TRAP).min(candidates.len());
        for k in 0..wanted {
            let pick = k + below(rng, candidates.len() - k);
            candidates.swap(k, pick);
            let v = candidates[k];
            self.alerted[v] = true;
            let strength = noisy_rules(rng, &ctx.features[v])
                .into_iter()
                .find(|r| r.0 == UNSUPERVISED)
                .map_or(0.0, |r| r.1);
            self.pending.push(Pending {
                node: v,
                rule: UNSUPERVISED,
                strength,
                pattern_group: None,
                trap: Some(TRAPS_PER_KIND + k / ALERTS_PER_TRAP),
                forced_low: true,
            });
        }
    }

    /// Benign false positives: highest noisy rule scores, until the budget is spent.
    fn false_positives(&mut self, ctx: &AlertContext, rng: &mut ChaCha8Rng) {
        let budget = ctx.n_alerts;
        let mut candidates: Vec<RankedCandidate> = (0..ctx.features.len())
            .filter(|&v| !self.alerted[v] && !ctx.profiles[v].is_illicit())
            .map(|v| {
                let ranked = noisy_rules(rng, &ctx.features[v]);
                let role_bias = match ctx.profiles[v].role {
                    Role::Regular => 0.0,
                    _ => 0.4,
                };
                (ranked[0].1 + role_bias, v, ranked)
            })
            .collect();
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, v, ranked) in candidates {
            if self.pending.len() >= budget {
                break;
            }
            let p = &ctx.profiles[v];
            let group = Some((1u64 << 40) | (p.position / 256) << 4 | ranked[0].0 as u64)
                .filter(|_| unit(rng) < 0.5);
            self.pending.push(Pending {
                node: v,
                rule: ranked[0].0,
                strength: ranked[0].1,
                pattern_group: group,
                trap: None,
                forced_low: false,
            });
            for &(rule, s) in ranked.iter().skip(1).take(extra_alerts(rng)) {
                if self.pending.len() >= budget {
                    break;
                }
                self.pending.push(Pending::secondary(v, rule, s));
            }
        }
    }
}

/// Builds the alert rows, shuffles them so ids carry no information, numbers them, and lists
/// up to five alert ids per trap.
fn number(
    ctx: &AlertContext,
    rng: &mut ChaCha8Rng,
    pending: &[Pending],
    addresses: &[String],
) -> AlertSet {
    let mut alerts: Vec<(Option<usize>, AlertRow)> = pending
        .iter()
        .map(|p| (p.trap, build_alert(ctx, rng, p, addresses)))
        .collect();
    let mut shuffle = rng_for(&[ctx.seed, stream::SHUFFLE, ctx.day]);
    for i in (1..alerts.len()).rev() {
        let j = below(&mut shuffle, i + 1);
        alerts.swap(i, j);
    }
    let width = alerts.len().to_string().len().max(6);
    for (i, (_, a)) in alerts.iter_mut().enumerate() {
        a.alert_id = format!("alert-{}-{:0width$}", ctx.date_tag, i + 1);
    }
    let mut trap_ids: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (trap, a) in &alerts {
        if let Some(t) = trap {
            let ids = trap_ids.entry(*t).or_default();
            if ids.len() < ALERTS_PER_TRAP {
                ids.push(a.alert_id.clone());
            }
        }
    }
    let traps = trap_ids
        .into_iter()
        .map(|(t, mut ids)| {
            ids.sort();
            (format!("t{}", t + 1), ids, u8::from(is_illicit_trap(t)))
        })
        .collect();
    AlertSet {
        alerts: alerts.into_iter().map(|(_, a)| a).collect(),
        traps,
    }
}

/// One cluster row (contract columns).
#[derive(Clone, Debug)]
pub(crate) struct ClusterRow {
    pub window_days: u16,
    pub processing_date: i32,
    pub cluster_id: String,
    pub cluster_type: String,
    pub primary_address: String,
    pub pattern_id: String,
    pub primary_alert_id: String,
    pub related_alert_ids: Vec<String>,
    pub addresses_involved: Vec<String>,
    pub total_alerts: u32,
    pub total_volume_usd: f64,
    pub severity_max: String,
    pub confidence_avg: f32,
    pub earliest_alert_timestamp: u64,
    pub latest_alert_timestamp: u64,
}

/// clusters.parquet columns in contract order.
pub(crate) fn cluster_columns() -> Vec<(&'static str, Col<ClusterRow>)> {
    declared(
        &aml_core::schema::CLUSTERS,
        vec![
            Col::U16(|r| r.window_days),
            Col::Date(|r| r.processing_date),
            Col::Str(|r| &r.cluster_id),
            Col::Str(|r| &r.cluster_type),
            Col::Str(|r| &r.primary_address),
            Col::Str(|r| &r.pattern_id),
            Col::Str(|r| &r.primary_alert_id),
            Col::ListStr(|r| &r.related_alert_ids),
            Col::ListStr(|r| &r.addresses_involved),
            Col::U32(|r| r.total_alerts),
            Col::Dec(|r| r.total_volume_usd),
            Col::Str(|r| &r.severity_max),
            Col::F32(|r| r.confidence_avg),
            Col::U64(|r| r.earliest_alert_timestamp),
            Col::U64(|r| r.latest_alert_timestamp),
        ],
    )
}

fn cluster_of(
    alerts: &[AlertRow],
    members: &[usize],
    kind: &str,
    primary_address: &str,
    pattern_id: &str,
) -> ClusterRow {
    let primary = members
        .iter()
        .copied()
        .max_by(|&a, &b| {
            let (x, y) = (&alerts[a], &alerts[b]);
            x.severity_rank
                .cmp(&y.severity_rank)
                .then(
                    x.alert_confidence_score
                        .total_cmp(&y.alert_confidence_score),
                )
                .then(y.alert_id.cmp(&x.alert_id))
        })
        .unwrap_or(members[0]);
    let mut related: Vec<String> = members
        .iter()
        .map(|&i| alerts[i].alert_id.clone())
        .collect();
    related.sort();
    let mut addresses: Vec<String> = members.iter().map(|&i| alerts[i].address.clone()).collect();
    addresses.sort();
    addresses.dedup();
    let first = &alerts[members[0]];
    ClusterRow {
        window_days: first.window_days,
        processing_date: first.processing_date,
        cluster_id: String::new(),
        cluster_type: kind.to_string(),
        primary_address: primary_address.to_string(),
        pattern_id: pattern_id.to_string(),
        primary_alert_id: alerts[primary].alert_id.clone(),
        total_alerts: members.len() as u32,
        total_volume_usd: members.iter().map(|&i| alerts[i].volume_usd).sum(),
        severity_max: SEVERITIES[members
            .iter()
            .map(|&i| alerts[i].severity_rank)
            .max()
            .unwrap_or(1) as usize]
            .to_string(),
        confidence_avg: (members
            .iter()
            .map(|&i| alerts[i].alert_confidence_score as f64)
            .sum::<f64>()
            / members.len() as f64) as f32,
        earliest_alert_timestamp: members
            .iter()
            .map(|&i| alerts[i].timestamp_ms)
            .min()
            .unwrap_or(0),
        latest_alert_timestamp: members
            .iter()
            .map(|&i| alerts[i].timestamp_ms)
            .max()
            .unwrap_or(0),
        related_alert_ids: related,
        addresses_involved: addresses,
    }
}

/// Group alerts into same_entity, pattern, network and proximity clusters.
pub(crate) fn clusters(ctx: &AlertContext, alerts: &[AlertRow]) -> Vec<ClusterRow> {
    let mut rng = rng_for(&[ctx.seed, stream::CLUSTERS, ctx.day]);
    let mut out = Vec::new();
    let mut by_node: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut by_pattern: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, a) in alerts.iter().enumerate() {
        by_node.entry(a.node).or_default().push(i);
        if !a.pattern_id.is_empty() {
            by_pattern.entry(&a.pattern_id).or_default().push(i);
        }
    }
    for members in by_node.values() {
        if members.len() >= 2 && unit(&mut rng) < 0.35 {
            out.push(cluster_of(
                alerts,
                members,
                "same_entity",
                &alerts[members[0]].address,
                "",
            ));
        }
    }
    for (pattern, members) in &by_pattern {
        if members.len() >= 2 {
            out.push(cluster_of(alerts, members, "pattern", "", pattern));
        }
    }
    // Network: an alerted non-hub address with >= 2 alerted non-hub neighbours, greedily.
    let g = ctx.graph;
    let mut used = vec![false; g.n];
    for (&v, _) in by_node.iter() {
        if used[v] || ctx.profiles[v].role.is_hub() {
            continue;
        }
        let group: Vec<usize> = g
            .neighbours(v)
            .into_iter()
            .map(|u| u as usize)
            .filter(|&u| !used[u] && by_node.contains_key(&u) && !ctx.profiles[u].role.is_hub())
            .take(30)
            .collect();
        if group.len() >= 2 {
            used[v] = true;
            let mut members: Vec<usize> = by_node[&v].clone();
            for u in group {
                used[u] = true;
                members.extend(&by_node[&u]);
            }
            out.push(cluster_of(alerts, &members, "network", "", ""));
        }
    }
    // Proximity: critical alerts with alerted addresses within two hops.
    for (i, a) in alerts.iter().enumerate() {
        if a.severity_rank < 3 || unit(&mut rng) > 0.3 || ctx.profiles[a.node].role.is_hub() {
            continue;
        }
        let mut near: Vec<usize> = Vec::new();
        for u in g.neighbours(a.node) {
            let u = u as usize;
            if ctx.profiles[u].role.is_hub() {
                continue;
            }
            near.push(u);
            near.extend(
                g.neighbours(u)
                    .into_iter()
                    .map(|w| w as usize)
                    .filter(|&w| !ctx.profiles[w].role.is_hub())
                    .take(20),
            );
        }
        near.sort_unstable();
        near.dedup();
        let mut members = vec![i];
        for u in near {
            if u != a.node {
                if let Some(list) = by_node.get(&u) {
                    members.extend(list);
                }
            }
            if members.len() >= 20 {
                break;
            }
        }
        if members.len() >= 2 {
            out.push(cluster_of(alerts, &members, "proximity", "", ""));
        }
    }
    let width = out.len().to_string().len().max(5);
    for (i, c) in out.iter_mut().enumerate() {
        c.cluster_id = format!("cluster-{}-{:0width$}", ctx.date_tag, i + 1);
    }
    out
}

/// One address_labels row.
#[derive(Clone, Debug)]
pub(crate) struct LabelRow {
    pub network: String,
    pub address: String,
    pub label: String,
    pub address_type: String,
    pub address_subtype: String,
    pub trust_level: String,
    pub source: String,
    pub risk_level: String,
    pub confidence_score: f32,
    pub created_timestamp: u64,
    pub updated_timestamp: u64,
}

/// address_labels.parquet columns in contract order.
pub(crate) fn label_columns() -> Vec<(&'static str, Col<LabelRow>)> {
    declared(
        &aml_core::schema::ADDRESS_LABELS,
        vec![
            Col::Str(|r| &r.network),
            Col::Str(|r| &r.address),
            Col::Str(|r| &r.label),
            Col::Str(|r| &r.address_type),
            Col::Str(|r| &r.address_subtype),
            Col::Str(|r| &r.trust_level),
            Col::Str(|r| &r.source),
            Col::Str(|r| &r.risk_level),
            Col::F32(|r| r.confidence_score),
            Col::U64(|r| r.created_timestamp),
            Col::U64(|r| r.updated_timestamp),
        ],
    )
}

/// A benign false-positive candidate: (score, node, noisy rule ranking).
type RankedCandidate = (f64, usize, Vec<(usize, f64)>);

/// Ground-truth labels of the addresses outside the registry: most alerted addresses plus a small
/// sample of the rest, with label noise. Illicit trap addresses are the data owner's known answers:
/// always labelled high or critical, without noise. Registry members (benign traps among them) are
/// skipped here: the registry labels them, once, on every day.
pub(crate) fn labels(ctx: &AlertContext, alerts: &[AlertRow], network: &str) -> Vec<LabelRow> {
    let mut rng = rng_for(&[ctx.seed, stream::LABELS, ctx.day]);
    let n = ctx.features.len();
    let mut alerted = vec![false; n];
    let mut trap_node = vec![false; n];
    for a in alerts {
        alerted[a.node] = true;
        trap_node[a.node] |= a.trap.is_some();
    }
    let day_ms = 86_400_000u64;
    let now = ctx.window_start_ms + 7 * day_ms;
    let mut out = Vec::new();
    for (v, &is_alerted) in alerted.iter().enumerate() {
        if ctx.registry[v] {
            continue;
        }
        let keep = if trap_node[v] {
            true
        } else if is_alerted {
            unit(&mut rng) < 0.88
        } else {
            unit(&mut rng) < 0.01
        };
        if !keep {
            continue;
        }
        let p = &ctx.profiles[v];
        let u = unit(&mut rng);
        let risk = if trap_node[v] {
            if u < 0.62 {
                2
            } else {
                3
            }
        } else if p.is_illicit() {
            if u < 0.04 {
                1
            } else if u < 0.66 {
                2
            } else {
                3
            }
        } else if u < 0.03 {
            2
        } else if u < 0.72 {
            0
        } else {
            1
        };
        let label = match risk {
            3 => ["sanctioned", "money_laundering"][below(&mut rng, 2)],
            2 => ["money_laundering", "scam", "fraud"][below(&mut rng, 3)],
            1 => ["suspicious_unconfirmed", "high_risk_counterparty"][below(&mut rng, 2)],
            _ => ["clean", "exchange_user", "verified_entity"][below(&mut rng, 3)],
        };
        let created = now.saturating_sub((1.0 + 300.0 * unit(&mut rng)) as u64 * day_ms);
        out.push(LabelRow {
            network: network.to_string(),
            address: ctx.features[v].address.clone(),
            label: label.to_string(),
            address_type: p.role.address_type().to_string(),
            address_subtype: String::new(),
            trust_level: ["verified", "high", "medium"][below(&mut rng, 3)].to_string(),
            source: ["sot_investigation", "chain_analysis", "community_report"][below(&mut rng, 3)]
                .to_string(),
            risk_level: SEVERITIES[risk].to_string(),
            confidence_score: (0.5 + 0.5 * unit(&mut rng)) as f32,
            created_timestamp: created,
            updated_timestamp: created + ((now - created) as f64 * unit(&mut rng)) as u64,
        });
    }
    out
}
