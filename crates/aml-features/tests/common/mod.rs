//! Small in-memory batches for tests and benches: deterministic from a seed, covering the
//! edge cases (alert addresses without features, unknown cluster members, self-loops,
//! duplicate edges, NaN/inf feature values, empty arrays) and shufflable row by row.
#![allow(dead_code)]

use aml_core::batch::Batch;
use aml_core::meta::Meta;
use aml_core::tables::{AddressFeatures, Alerts, Clusters, MoneyFlows, NumericColumn};

/// SplitMix64: tiny deterministic generator, enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Raw tables of a batch, before canonical sorting.
#[derive(Clone, Debug)]
pub struct Tables {
    pub alerts: Alerts,
    pub features: AddressFeatures,
    pub clusters: Clusters,
    pub flows: MoneyFlows,
}

const TYPOLOGIES: [&str; 5] = [
    "layering",
    "fan_in",
    "Peel_Chain",
    "mixer_interaction",
    "cycle",
];
const SEVERITIES: [&str; 5] = ["low", "medium", "HIGH", "critical", "weird"];
const INDICATORS: [&str; 4] = [
    "high_velocity",
    "new_address",
    "round_amounts",
    "mixer_link",
];
const ASSETS: [&str; 3] = ["USDT", "ETH", ""];

/// A batch with `n_alerts` alerts over `n_addresses` addresses and `n_flows` flow rows.
pub fn tables(
    seed: u64,
    n_alerts: usize,
    n_addresses: usize,
    n_flows: usize,
    n_clusters: usize,
) -> Tables {
    let mut rng = Rng::new(seed);
    let address = |i: usize| format!("addr_{i:05}");
    let mut alerts = Alerts::default();
    for i in 0..n_alerts {
        alerts.window_days.push(7);
        alerts.processing_date.push("2025-10-30".into());
        alerts.alert_id.push(format!("alert_{i:05}"));
        // A few alert addresses lie outside the feature table (index >= n_addresses).
        alerts
            .address
            .push(address(rng.below(n_addresses + n_addresses / 10 + 1)));
        alerts.typology_type.push(TYPOLOGIES[rng.below(5)].into());
        let patterned = rng.below(2) == 0;
        alerts.pattern_id.push(if patterned {
            format!("p{}", rng.below(4))
        } else {
            String::new()
        });
        alerts.pattern_type.push(if patterned {
            "cycle".into()
        } else {
            String::new()
        });
        alerts.severity.push(SEVERITIES[rng.below(5)].into());
        alerts
            .suspected_address_type
            .push(["unknown", "exchange", "mixer"][rng.below(3)].into());
        alerts.suspected_address_subtype.push(String::new());
        alerts.alert_confidence_score.push(rng.unit());
        alerts.description.push("d".into());
        alerts.volume_usd.push((rng.unit() * 1e6).floor());
        alerts.evidence_json.push("{}".into());
        let k = rng.below(4);
        alerts.risk_indicators.push(
            (0..k)
                .map(|_| INDICATORS[rng.below(4)].to_string())
                .collect(),
        );
    }
    let mut features = AddressFeatures::default();
    let names = [
        "degree_in",
        "total_in_usd",
        "amount_skewness",
        "behavioral_anomaly_score",
        "zz_extra",
    ];
    let mut columns: Vec<NumericColumn> = names
        .iter()
        .map(|n| NumericColumn {
            name: n.to_string(),
            values: Vec::new(),
        })
        .collect();
    for i in 0..n_addresses {
        features.window_days.push(7);
        features.processing_date.push("2025-10-30".into());
        features.address.push(address(i));
        columns[0].values.push(rng.below(50) as f64);
        columns[1].values.push((rng.unit() * 1e5).floor());
        columns[2].values.push(match rng.below(10) {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            _ => rng.unit() * 4.0 - 2.0,
        });
        columns[3].values.push(rng.unit());
        columns[4].values.push(rng.below(3) as f64);
        let hourly = if rng.below(5) == 0 {
            Vec::new()
        } else {
            (0..24).map(|_| rng.below(4) as u16).collect()
        };
        let daily = if rng.below(5) == 0 {
            Vec::new()
        } else {
            (0..7).map(|_| rng.below(4) as u16).collect()
        };
        features.hourly_activity.push(hourly);
        features.daily_activity.push(daily);
        features.dominant_asset_in.push(ASSETS[rng.below(3)].into());
        features
            .dominant_asset_out
            .push(ASSETS[rng.below(3)].into());
    }
    features.numeric = columns;

    let mut clusters = Clusters::default();
    for c in 0..n_clusters {
        clusters.window_days.push(7);
        clusters.processing_date.push("2025-10-30".into());
        clusters.cluster_id.push(format!("cluster_{c:04}"));
        clusters
            .cluster_type
            .push(["same_entity", "pattern", "network"][rng.below(3)].into());
        clusters.primary_address.push(if rng.below(2) == 0 {
            address(rng.below(n_addresses))
        } else {
            String::new()
        });
        clusters.pattern_id.push(String::new());
        let size = rng.below(5);
        let mut related: Vec<String> = (0..size)
            .map(|_| {
                if rng.below(6) == 0 {
                    format!("ghost_{}", rng.below(100)) // unknown alert id
                } else {
                    format!("alert_{:05}", rng.below(n_alerts.max(1)))
                }
            })
            .collect();
        let primary = related.first().cloned().unwrap_or_default();
        clusters.primary_alert_id.push(primary);
        related.dedup();
        clusters.total_alerts.push(related.len() as f64);
        clusters.related_alert_ids.push(related);
        clusters.addresses_involved.push(
            (0..rng.below(5))
                .map(|_| address(rng.below(n_addresses + 3)))
                .collect(),
        );
        clusters.total_volume_usd.push((rng.unit() * 1e6).floor());
        clusters.severity_max.push(SEVERITIES[rng.below(5)].into());
        clusters.confidence_avg.push(rng.unit());
        let t0 = 1_700_000_000_000u64 + rng.below(1_000_000) as u64;
        clusters.earliest_alert_timestamp.push(t0);
        clusters
            .latest_alert_timestamp
            .push(t0 + rng.below(10_000_000) as u64);
    }

    let mut flows = MoneyFlows::default();
    // Flow addresses: the feature addresses plus a few addresses known only to the flows.
    let n_nodes = n_addresses + 5;
    flows.addresses = (0..n_nodes).map(address).collect();
    for _ in 0..n_flows {
        let from = rng.below(n_nodes) as u32;
        let to = if rng.below(15) == 0 {
            from
        } else {
            rng.below(n_nodes) as u32
        }; // self-loops
        let repeat = if rng.below(8) == 0 { 2 } else { 1 }; // duplicate edges
        for _ in 0..repeat {
            flows.from.push(from);
            flows.to.push(to);
            flows.tx_count.push(1.0 + rng.below(20) as f64);
            flows.amount_sum.push(rng.unit() * 10.0);
            flows.amount_usd_sum.push((rng.unit() * 1e4).floor() / 4.0);
            flows.first_seen_timestamp.push(1_700_000_000_000);
            flows.last_seen_timestamp.push(1_700_000_100_000);
            flows.active_days.push(1.0);
            flows.avg_tx_size_usd.push(1.0);
            flows.unique_assets.push(1.0);
            flows.reciprocity_ratio.push(0.5);
            flows.is_bidirectional.push(false);
        }
    }
    Tables {
        alerts,
        features,
        clusters,
        flows,
    }
}

fn permute<T: Clone>(v: &mut Vec<T>, order: &[usize]) {
    let old = std::mem::take(v);
    *v = order.iter().map(|&i| old[i].clone()).collect();
}

fn order(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut o: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut o);
    o
}

/// The same tables with every table's rows (and the flow address dictionary and the numeric
/// column order) shuffled.
pub fn shuffled(t: &Tables, seed: u64) -> Tables {
    let mut rng = Rng::new(seed);
    let mut t = t.clone();
    let a = &mut t.alerts;
    let o = order(&mut rng, a.len());
    permute(&mut a.window_days, &o);
    permute(&mut a.processing_date, &o);
    permute(&mut a.alert_id, &o);
    permute(&mut a.address, &o);
    permute(&mut a.typology_type, &o);
    permute(&mut a.pattern_id, &o);
    permute(&mut a.pattern_type, &o);
    permute(&mut a.severity, &o);
    permute(&mut a.suspected_address_type, &o);
    permute(&mut a.suspected_address_subtype, &o);
    permute(&mut a.alert_confidence_score, &o);
    permute(&mut a.description, &o);
    permute(&mut a.volume_usd, &o);
    permute(&mut a.evidence_json, &o);
    permute(&mut a.risk_indicators, &o);
    for list in a.risk_indicators.iter_mut() {
        rng.shuffle(list);
    }
    let f = &mut t.features;
    let o = order(&mut rng, f.len());
    permute(&mut f.window_days, &o);
    permute(&mut f.processing_date, &o);
    permute(&mut f.address, &o);
    permute(&mut f.hourly_activity, &o);
    permute(&mut f.daily_activity, &o);
    permute(&mut f.dominant_asset_in, &o);
    permute(&mut f.dominant_asset_out, &o);
    for c in f.numeric.iter_mut() {
        permute(&mut c.values, &o);
    }
    rng.shuffle(&mut f.numeric);
    let c = &mut t.clusters;
    let o = order(&mut rng, c.len());
    permute(&mut c.window_days, &o);
    permute(&mut c.processing_date, &o);
    permute(&mut c.cluster_id, &o);
    permute(&mut c.cluster_type, &o);
    permute(&mut c.primary_address, &o);
    permute(&mut c.pattern_id, &o);
    permute(&mut c.primary_alert_id, &o);
    permute(&mut c.related_alert_ids, &o);
    permute(&mut c.addresses_involved, &o);
    permute(&mut c.total_alerts, &o);
    permute(&mut c.total_volume_usd, &o);
    permute(&mut c.severity_max, &o);
    permute(&mut c.confidence_avg, &o);
    permute(&mut c.earliest_alert_timestamp, &o);
    permute(&mut c.latest_alert_timestamp, &o);
    for list in c
        .related_alert_ids
        .iter_mut()
        .chain(c.addresses_involved.iter_mut())
    {
        rng.shuffle(list);
    }
    let fl = &mut t.flows;
    // Re-intern under a shuffled dictionary.
    let dict = order(&mut rng, fl.addresses.len());
    let mut new_id = vec![0u32; dict.len()];
    for (new, &old) in dict.iter().enumerate() {
        new_id[old] = new as u32;
    }
    permute(&mut fl.addresses, &dict);
    fl.from.iter_mut().for_each(|x| *x = new_id[*x as usize]);
    fl.to.iter_mut().for_each(|x| *x = new_id[*x as usize]);
    let o = order(&mut rng, fl.len());
    permute(&mut fl.from, &o);
    permute(&mut fl.to, &o);
    permute(&mut fl.tx_count, &o);
    permute(&mut fl.amount_sum, &o);
    permute(&mut fl.amount_usd_sum, &o);
    permute(&mut fl.first_seen_timestamp, &o);
    permute(&mut fl.last_seen_timestamp, &o);
    permute(&mut fl.active_days, &o);
    permute(&mut fl.avg_tx_size_usd, &o);
    permute(&mut fl.unique_assets, &o);
    permute(&mut fl.reciprocity_ratio, &o);
    permute(&mut fl.is_bidirectional, &o);
    t
}

/// Validates and canonically sorts the tables.
pub fn batch(t: Tables) -> Batch {
    let meta = Meta {
        batch_id: "test".into(),
        network: "torus".into(),
        processing_date: "2025-10-30".into(),
        window_days: 7,
        schema_version: "1".into(),
        n_alerts: t.alerts.len() as u64,
        n_addresses: t.features.len() as u64,
        n_clusters: t.clusters.len() as u64,
        n_money_flows: t.flows.len() as u64,
        ..Meta::default()
    };
    match Batch::from_tables(meta, t.alerts, t.features, t.clusters, t.flows, None) {
        Ok((batch, _report)) => batch,
        Err(e) => panic!("test tables must be valid: {e}"),
    }
}

/// Appends cluster `id` holding the alerts `related` (listed in shuffled order, every seventh
/// one twice) and their addresses: with every alert id, the quadratic case for per-alert
/// member unions.
pub fn with_cluster(mut t: Tables, id: &str, mut related: Vec<String>, seed: u64) -> Tables {
    let mut rng = Rng::new(seed);
    let address_of: std::collections::HashMap<&str, &str> = t
        .alerts
        .alert_id
        .iter()
        .zip(&t.alerts.address)
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let addresses: Vec<String> = related
        .iter()
        .filter_map(|a| address_of.get(a.as_str()).map(|s| s.to_string()))
        .collect();
    let repeats: Vec<String> = related.iter().step_by(7).cloned().collect();
    related.extend(repeats);
    rng.shuffle(&mut related);
    let c = &mut t.clusters;
    c.window_days.push(7);
    c.processing_date.push("2025-10-30".into());
    c.cluster_id.push(id.into());
    c.cluster_type.push("network".into());
    c.primary_address.push(String::new());
    c.pattern_id.push(String::new());
    c.primary_alert_id
        .push(related.first().cloned().unwrap_or_default());
    c.total_alerts.push(related.len() as f64);
    c.related_alert_ids.push(related);
    c.addresses_involved.push(addresses);
    c.total_volume_usd.push(1e6);
    c.severity_max.push("critical".into());
    c.confidence_avg.push(0.5);
    c.earliest_alert_timestamp.push(1_700_000_000_000);
    c.latest_alert_timestamp.push(1_700_003_600_000);
    t
}

/// Replaces the flows of `t` by `flows` (addresses `addr_00000`, ... and the given from/to/USD/tx
/// columns), filling every other flow column with zeros.
pub fn with_flows(mut t: Tables, mut flows: MoneyFlows) -> Tables {
    flows.addresses = (0..flows.addresses.len())
        .map(|i| format!("addr_{i:05}"))
        .collect();
    let n = flows.from.len();
    flows.amount_sum = vec![0.0; n];
    flows.first_seen_timestamp = vec![0; n];
    flows.last_seen_timestamp = vec![0; n];
    flows.active_days = vec![0.0; n];
    flows.avg_tx_size_usd = vec![0.0; n];
    flows.unique_assets = vec![0.0; n];
    flows.reciprocity_ratio = vec![0.0; n];
    flows.is_bidirectional = vec![false; n];
    t.flows = flows;
    t
}

/// The value of `feature` in row `row` of `m` (panics naming what is missing).
pub fn value(m: &aml_features::FeatureMatrix, row: &str, feature: &str) -> f32 {
    let i = m.row_of(row).unwrap_or_else(|| panic!("row {row}"));
    let j = m
        .column_index(feature)
        .unwrap_or_else(|| panic!("feature {feature}"));
    m.values[[i, j]]
}

/// Every value's bits, row by row.
pub fn bits(m: &aml_features::FeatureMatrix) -> Vec<u32> {
    m.values.iter().map(|v| v.to_bits()).collect()
}

/// The alert matrix of `b` under a spec fitted on `b` itself.
pub fn self_fitted_matrix(b: &Batch) -> aml_features::FeatureMatrix {
    let spec = aml_features::FeatureBuilder::new()
        .fit(&[b])
        .unwrap_or_else(|e| panic!("fit: {e}"));
    spec.transform(b)
        .unwrap_or_else(|e| panic!("transform: {e}"))
}

/// Runs `f` on a rayon pool of `threads` threads.
pub fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap_or_else(|e| panic!("thread pool: {e}"));
    pool.install(f)
}

/// Money flows over `n` nodes (addresses ordered like their ids) with one row of USD 1 and one
/// transaction per `(from, to)` edge.
pub fn unit_flows(edges: &[(u32, u32)], n: usize) -> MoneyFlows {
    let mut f = MoneyFlows {
        addresses: (0..n).map(|i| format!("n{i:06}")).collect(),
        ..MoneyFlows::default()
    };
    for &(a, b) in edges {
        f.from.push(a);
        f.to.push(b);
        f.amount_usd_sum.push(1.0);
        f.tx_count.push(1.0);
    }
    f
}
