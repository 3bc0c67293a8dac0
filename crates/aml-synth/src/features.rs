//! The wide `features.parquet` table: one row per active address, derived from the day's graph
//! aggregates plus the address's persistent behaviour, with per-row noise.
//!
//! Behavioural columns are noisy readings of latent traits (night activity, regularity,
//! burstiness, structuring, pass-through velocity) that are shifted for illicit members but
//! also for benign look-alikes (bots, arbitrageurs, merchants, payroll), so no single column
//! separates the classes; combinations and graph context do.

use super::columns::{declared, Col};
use super::graph::{NodeStats, NODE_CHUNK};
use super::rng::{hash_path, normal, rng_for, sigmoid, stream, unit};
use super::world::{Profile, ASSETS};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// One row of features.parquet (field names are the contract's column names).
#[derive(Clone, Debug, Default)]
pub(crate) struct FeatureRow {
    pub window_days: u16,
    pub processing_date: i32,
    pub address: String,
    pub degree_in: u32,
    pub degree_out: u32,
    pub degree_total: u32,
    pub unique_counterparties: u32,
    pub total_in_usd: f64,
    pub total_out_usd: f64,
    pub net_flow_usd: f64,
    pub total_volume_usd: f64,
    pub avg_tx_in_usd: f64,
    pub avg_tx_out_usd: f64,
    pub median_tx_in_usd: f64,
    pub median_tx_out_usd: f64,
    pub max_tx_usd: f64,
    pub min_tx_usd: f64,
    pub amount_variance: f64,
    pub amount_skewness: f64,
    pub amount_kurtosis: f64,
    pub volume_std: f64,
    pub volume_cv: f64,
    pub flow_concentration: f64,
    pub tx_in_count: u64,
    pub tx_out_count: u64,
    pub tx_total_count: u64,
    pub activity_days: u32,
    pub activity_span_days: u32,
    pub avg_daily_volume_usd: f64,
    pub peak_hour: u8,
    pub peak_day: u8,
    pub regularity_score: f32,
    pub burst_factor: f32,
    pub reciprocity_ratio: f32,
    pub flow_diversity: f32,
    pub counterparty_concentration: f32,
    pub concentration_ratio: f32,
    pub velocity_score: f32,
    pub structuring_score: f32,
    pub unique_assets_in: u32,
    pub unique_assets_out: u32,
    pub dominant_asset_in: &'static str,
    pub dominant_asset_out: &'static str,
    pub asset_diversity_score: f32,
    pub hourly_activity: [u16; 24],
    pub daily_activity: [u16; 7],
    pub peak_activity_hour: u8,
    pub peak_activity_day: u8,
    pub hourly_entropy: f32,
    pub daily_entropy: f32,
    pub weekend_transaction_ratio: f32,
    pub night_transaction_ratio: f32,
    pub small_transaction_ratio: f32,
    pub consistency_score: f32,
    pub pagerank: f32,
    pub betweenness: f32,
    pub closeness: f32,
    pub clustering_coefficient: f32,
    pub kcore: u32,
    pub community_id: u32,
    pub centrality_score: f32,
    pub khop1_count: u32,
    pub khop2_count: u32,
    pub khop3_count: u32,
    pub khop1_volume_usd: f64,
    pub khop2_volume_usd: f64,
    pub khop3_volume_usd: f64,
    pub flow_reciprocity_entropy: f32,
    pub counterparty_stability: f32,
    pub flow_burstiness: f32,
    pub transaction_regularity: f32,
    pub amount_predictability: f32,
    pub is_new_address: bool,
    pub is_dormant_reactivated: bool,
    pub unique_recipients_count: u32,
    pub unique_senders_count: u32,
    pub first_activity_timestamp: u64,
    pub last_activity_timestamp: u64,
    pub behavioral_anomaly_score: f32,
    pub graph_anomaly_score: f32,
    pub global_anomaly_score: f32,
    pub quality_score: f32,
    /// Not written: whether the address has a mixer among its counterparties (rules use it).
    pub mixer_exposure: bool,
}

/// The contract's features.parquet columns, in contract order.
pub(crate) fn columns() -> Vec<(&'static str, Col<FeatureRow>)> {
    declared(
        &aml_core::schema::FEATURES,
        vec![
            Col::U16(|r| r.window_days),
            Col::Date(|r| r.processing_date),
            Col::Str(|r| &r.address),
            Col::U32(|r| r.degree_in),
            Col::U32(|r| r.degree_out),
            Col::U32(|r| r.degree_total),
            Col::U32(|r| r.unique_counterparties),
            Col::Dec(|r| r.total_in_usd),
            Col::Dec(|r| r.total_out_usd),
            Col::Dec(|r| r.net_flow_usd),
            Col::Dec(|r| r.total_volume_usd),
            Col::Dec(|r| r.avg_tx_in_usd),
            Col::Dec(|r| r.avg_tx_out_usd),
            Col::Dec(|r| r.median_tx_in_usd),
            Col::Dec(|r| r.median_tx_out_usd),
            Col::Dec(|r| r.max_tx_usd),
            Col::Dec(|r| r.min_tx_usd),
            Col::F64(|r| r.amount_variance),
            Col::F64(|r| r.amount_skewness),
            Col::F64(|r| r.amount_kurtosis),
            Col::F64(|r| r.volume_std),
            Col::F64(|r| r.volume_cv),
            Col::F64(|r| r.flow_concentration),
            Col::U64(|r| r.tx_in_count),
            Col::U64(|r| r.tx_out_count),
            Col::U64(|r| r.tx_total_count),
            Col::U32(|r| r.activity_days),
            Col::U32(|r| r.activity_span_days),
            Col::Dec(|r| r.avg_daily_volume_usd),
            Col::U8(|r| r.peak_hour),
            Col::U8(|r| r.peak_day),
            Col::F32(|r| r.regularity_score),
            Col::F32(|r| r.burst_factor),
            Col::F32(|r| r.reciprocity_ratio),
            Col::F32(|r| r.flow_diversity),
            Col::F32(|r| r.counterparty_concentration),
            Col::F32(|r| r.concentration_ratio),
            Col::F32(|r| r.velocity_score),
            Col::F32(|r| r.structuring_score),
            Col::U32(|r| r.unique_assets_in),
            Col::U32(|r| r.unique_assets_out),
            Col::Str(|r| r.dominant_asset_in),
            Col::Str(|r| r.dominant_asset_out),
            Col::F32(|r| r.asset_diversity_score),
            Col::ListU16(|r| &r.hourly_activity),
            Col::ListU16(|r| &r.daily_activity),
            Col::U8(|r| r.peak_activity_hour),
            Col::U8(|r| r.peak_activity_day),
            Col::F32(|r| r.hourly_entropy),
            Col::F32(|r| r.daily_entropy),
            Col::F32(|r| r.weekend_transaction_ratio),
            Col::F32(|r| r.night_transaction_ratio),
            Col::F32(|r| r.small_transaction_ratio),
            Col::F32(|r| r.consistency_score),
            Col::F32(|r| r.pagerank),
            Col::F32(|r| r.betweenness),
            Col::F32(|r| r.closeness),
            Col::F32(|r| r.clustering_coefficient),
            Col::U32(|r| r.kcore),
            Col::U32(|r| r.community_id),
            Col::F32(|r| r.centrality_score),
            Col::U32(|r| r.khop1_count),
            Col::U32(|r| r.khop2_count),
            Col::U32(|r| r.khop3_count),
            Col::Dec(|r| r.khop1_volume_usd),
            Col::Dec(|r| r.khop2_volume_usd),
            Col::Dec(|r| r.khop3_volume_usd),
            Col::F32(|r| r.flow_reciprocity_entropy),
            Col::F32(|r| r.counterparty_stability),
            Col::F32(|r| r.flow_burstiness),
            Col::F32(|r| r.transaction_regularity),
            Col::F32(|r| r.amount_predictability),
            Col::Bool(|r| r.is_new_address),
            Col::Bool(|r| r.is_dormant_reactivated),
            Col::U32(|r| r.unique_recipients_count),
            Col::U32(|r| r.unique_senders_count),
            Col::U64(|r| r.first_activity_timestamp),
            Col::U64(|r| r.last_activity_timestamp),
            Col::F32(|r| r.behavioral_anomaly_score),
            Col::F32(|r| r.graph_anomaly_score),
            Col::F32(|r| r.global_anomaly_score),
            Col::F32(|r| r.quality_score),
        ],
    )
}

/// Day-level context for feature derivation.
pub(crate) struct FeatureContext<'a> {
    pub seed: u64,
    pub day: u64,
    pub window_days: u16,
    pub processing_date: i32,
    /// Window start in ms since the epoch.
    pub window_start_ms: u64,
    pub addresses: &'a [String],
    pub profiles: &'a [Profile],
    pub stats: &'a [NodeStats],
}

const MS_PER_DAY: u64 = 86_400_000;

/// Normalised Shannon entropy of a count vector (0 = one bucket, 1 = uniform).
fn entropy(counts: &[u16]) -> f32 {
    let total: f64 = counts.iter().map(|&c| c as f64).sum();
    if total <= 0.0 || counts.len() < 2 {
        return 0.0;
    }
    let h: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / total;
            -p * p.ln()
        })
        .sum();
    (h / (counts.len() as f64).ln()) as f32
}

fn argmax(counts: &[u16]) -> u8 {
    let mut best = 0;
    for (i, &c) in counts.iter().enumerate() {
        if c > counts[best] {
            best = i;
        }
    }
    best as u8
}

/// Spread `total` events over buckets proportionally to `weights`, remainder drawn at random.
pub(crate) fn spread<const N: usize>(
    rng: &mut ChaCha8Rng,
    total: u64,
    weights: &[f64; N],
) -> [u16; N] {
    let sum: f64 = weights.iter().sum();
    let mut counts = [0u16; N];
    let capped = total.min(u16::MAX as u64 * N as u64 / 2);
    let mut assigned = 0u64;
    for (c, w) in counts.iter_mut().zip(weights) {
        let share = (capped as f64 * w / sum).floor() as u64;
        *c = share.min(u16::MAX as u64) as u16;
        assigned += *c as u64;
    }
    let mut cumulative = [0.0; N];
    let mut acc = 0.0;
    for (slot, w) in cumulative.iter_mut().zip(weights) {
        acc += w;
        *slot = acc;
    }
    for _ in assigned..capped.min(assigned + N as u64) {
        let i = super::rng::pick_cumulative(rng, &cumulative);
        counts[i] = counts[i].saturating_add(1);
    }
    counts
}

/// Relative activity per hour of day for an address (peak hour, spread, night preference).
pub(crate) fn hour_weights(p: &Profile) -> [f64; 24] {
    let night_boost = 3.0 * sigmoid(1.5 * p.night - 1.0);
    let mut hour_w = [0.0f64; 24];
    for (h, w) in hour_w.iter_mut().enumerate() {
        let d = (h as f64 - p.peak_hour).abs();
        let d = d.min(24.0 - d);
        *w = (-d * d / (2.0 * p.hour_spread * p.hour_spread)).exp() + 0.02;
        if h < 6 {
            *w *= 1.0 + night_boost;
        }
    }
    hour_w
}

/// Relative activity per weekday (Monday first) for an address.
pub(crate) fn day_weights(p: &Profile) -> [f64; 7] {
    let mut day_w = [1.0f64; 7];
    day_w[5] = p.weekend_pref * 2.5;
    day_w[6] = p.weekend_pref * 2.5;
    day_w
}

fn binary_entropy(p: f64) -> f64 {
    if p <= 0.0 || p >= 1.0 {
        0.0
    } else {
        -(p * p.log2() + (1.0 - p) * (1.0 - p).log2())
    }
}

/// When an address was active in the window: transactions per hour of day and per weekday,
/// active days, first and last activity (first draws of the row's stream).
struct Activity {
    hourly: [u16; 24],
    daily: [u16; 7],
    hour_sum: f64,
    day_sum: f64,
    window_span_days: u64,
    activity_days: u32,
    is_new: bool,
    first_ms: u64,
    last_ms: u64,
}

impl Activity {
    fn draw(ctx: &FeatureContext, rng: &mut ChaCha8Rng, p: &Profile, s: &NodeStats) -> Activity {
        let window_ms = ctx.window_days as u64 * MS_PER_DAY;
        let tx_total = s.tx_in + s.tx_out;
        let hourly = spread(rng, tx_total, &hour_weights(p));
        let daily = spread(rng, tx_total, &day_weights(p));
        let hour_sum: f64 = hourly.iter().map(|&c| c as f64).sum::<f64>().max(1.0);
        let day_sum: f64 = daily.iter().map(|&c| c as f64).sum::<f64>().max(1.0);
        let window_span_days =
            ((s.last.saturating_sub(s.first)) as u64 / 86_400 + 1).min(ctx.window_days as u64);
        let activity_days = ((window_span_days as f64)
            * (0.4 + 0.6 * sigmoid(p.regularity + 0.5 * normal(rng))))
        .round()
        .clamp(1.0, ctx.window_days as f64)
        .min(tx_total.max(1) as f64) as u32;
        let is_new = p.age_days < ctx.window_days as f64;
        let last_ms = ctx.window_start_ms + s.last as u64 * 1000;
        let first_ms = if is_new {
            ctx.window_start_ms + s.first as u64 * 1000
        } else {
            (ctx.window_start_ms + window_ms)
                .saturating_sub((p.age_days * MS_PER_DAY as f64) as u64)
        };
        Activity {
            hourly,
            daily,
            hour_sum,
            day_sum,
            window_span_days,
            activity_days,
            is_new,
            first_ms,
            last_ms,
        }
    }
}

/// Behaviour scores from the profile's traits and the address's flows (next draws of the row's
/// stream, after [`Activity`]).
struct Behaviour {
    velocity: f64,
    structuring: f64,
    regularity: f64,
    burst: f64,
    behavioural: f64,
    graph_anomaly: f64,
}

impl Behaviour {
    fn draw(rng: &mut ChaCha8Rng, p: &Profile, s: &NodeStats) -> Behaviour {
        let mut noise = |scale: f64| scale * normal(rng);
        let passthrough = passthrough(s);
        let velocity = 0.5 * passthrough + 0.5 * sigmoid(p.velocity + noise(0.6));
        let structuring =
            0.6 * s.structured_share + 0.4 * sigmoid(p.structuring - 1.0 + noise(0.6));
        let regularity = sigmoid(p.regularity + noise(0.5));
        let burst = sigmoid(p.burst + noise(0.6));
        let behavioural = sigmoid(
            0.8 * p.night + 0.7 * p.burst - 0.6 * p.regularity + 0.5 * p.structuring - 1.6
                + noise(0.8),
        );
        let graph_anomaly = sigmoid(
            1.5 * s.reciprocity - 2.0 * s.favourite_share
                + 1.2 * f64::from(s.mixer_exposure)
                + 1.5 * passthrough
                - 1.0
                + noise(0.8),
        );
        Behaviour {
            velocity,
            structuring,
            regularity,
            burst,
            behavioural,
            graph_anomaly,
        }
    }
}

/// Share of a node's larger flow direction that flows back out the other way.
fn passthrough(s: &NodeStats) -> f64 {
    if s.usd_in.max(s.usd_out) > 0.0 {
        s.usd_in.min(s.usd_out) / s.usd_in.max(s.usd_out)
    } else {
        0.0
    }
}

/// Bridge score of a node (its betweenness before normalising by the day's maximum).
fn bridge(s: &NodeStats) -> f64 {
    passthrough(s) * ((1.0 + s.deg_in as f64) * (1.0 + s.deg_out as f64)).ln()
}

fn row(ctx: &FeatureContext, rng: &mut ChaCha8Rng, v: usize, max_bridge: f64) -> FeatureRow {
    let p = &ctx.profiles[v];
    let s = &ctx.stats[v];
    let tx_total = s.tx_in + s.tx_out;
    let volume = s.usd_in + s.usd_out;
    let activity = Activity::draw(ctx, rng, p, s);
    let behaviour = Behaviour::draw(rng, p, s);
    let mut noise = |scale: f64| scale * normal(rng);
    let n = ctx.profiles.len() as f64;
    let closeness = if s.hub_distance == u32::MAX {
        0.0
    } else {
        1.0 / (1.0 + s.hub_distance as f64)
    };
    let night_ratio =
        activity.hourly[..6].iter().map(|&c| c as f64).sum::<f64>() / activity.hour_sum;
    let community_id = (hash_path(&[ctx.seed, 0xC0, p.position / 512]) & 0xFFFF_FFFF) as u32;
    let n_assets = p.n_assets;
    FeatureRow {
        window_days: ctx.window_days,
        processing_date: ctx.processing_date,
        address: ctx.addresses[v].clone(),
        degree_in: s.deg_in,
        degree_out: s.deg_out,
        degree_total: s.deg_in + s.deg_out,
        unique_counterparties: s.unique_cp,
        total_in_usd: s.usd_in,
        total_out_usd: s.usd_out,
        net_flow_usd: s.usd_in - s.usd_out,
        total_volume_usd: volume,
        avg_tx_in_usd: if s.tx_in > 0 {
            s.usd_in / s.tx_in as f64
        } else {
            0.0
        },
        avg_tx_out_usd: if s.tx_out > 0 {
            s.usd_out / s.tx_out as f64
        } else {
            0.0
        },
        median_tx_in_usd: s.median_in,
        median_tx_out_usd: s.median_out,
        max_tx_usd: s.max_tx,
        min_tx_usd: s.min_tx,
        amount_variance: s.size_variance,
        amount_skewness: s.size_skewness,
        amount_kurtosis: s.size_kurtosis,
        volume_std: s.volume_std,
        volume_cv: s.volume_cv,
        flow_concentration: s.hhi,
        tx_in_count: s.tx_in,
        tx_out_count: s.tx_out,
        tx_total_count: tx_total,
        activity_days: activity.activity_days,
        activity_span_days: p.age_days.max(activity.window_span_days as f64).round() as u32,
        avg_daily_volume_usd: volume / activity.activity_days.max(1) as f64,
        peak_hour: argmax(&activity.hourly),
        peak_day: argmax(&activity.daily),
        regularity_score: behaviour.regularity as f32,
        burst_factor: (1.0 + 4.0 * behaviour.burst) as f32,
        reciprocity_ratio: s.reciprocity as f32,
        flow_diversity: (1.0 - s.hhi) as f32,
        counterparty_concentration: s.hhi as f32,
        concentration_ratio: s.top_share as f32,
        velocity_score: behaviour.velocity as f32,
        structuring_score: behaviour.structuring as f32,
        unique_assets_in: n_assets.min(s.deg_in.max(1)),
        unique_assets_out: n_assets.min(s.deg_out.max(1)),
        dominant_asset_in: ASSETS[p.asset_in as usize],
        dominant_asset_out: ASSETS[p.asset_out as usize],
        asset_diversity_score: ((n_assets as f64 - 1.0) / 7.0 + noise(0.05)).clamp(0.0, 1.0) as f32,
        hourly_activity: activity.hourly,
        daily_activity: activity.daily,
        peak_activity_hour: p.peak_hour.floor() as u8 % 24,
        peak_activity_day: argmax(&activity.daily),
        hourly_entropy: entropy(&activity.hourly),
        daily_entropy: entropy(&activity.daily),
        weekend_transaction_ratio: ((activity.daily[5] as f64 + activity.daily[6] as f64)
            / activity.day_sum) as f32,
        night_transaction_ratio: night_ratio as f32,
        small_transaction_ratio: s.small_share as f32,
        consistency_score: sigmoid(0.8 * p.regularity + noise(0.7)) as f32,
        pagerank: s.pagerank as f32,
        betweenness: (bridge(s) / max_bridge.max(1e-9)) as f32,
        closeness: closeness as f32,
        clustering_coefficient: s.clustering as f32,
        kcore: s.kcore,
        community_id,
        centrality_score: (sigmoid((s.pagerank * n).ln()) * (0.5 + 0.5 * closeness)) as f32,
        khop1_count: s.unique_cp,
        khop2_count: s.khop2_count.min(u32::MAX as u64) as u32,
        khop3_count: s.khop3_count.min(u32::MAX as u64) as u32,
        khop1_volume_usd: volume,
        khop2_volume_usd: s.khop2_volume,
        khop3_volume_usd: s.khop3_volume,
        flow_reciprocity_entropy: binary_entropy(s.reciprocity) as f32,
        counterparty_stability: s.favourite_share as f32,
        flow_burstiness: sigmoid(p.burst + noise(0.8)) as f32,
        transaction_regularity: sigmoid(p.regularity + noise(0.8)) as f32,
        amount_predictability: (0.5 / (1.0 + s.volume_cv)
            + 0.5 * sigmoid(p.regularity + noise(0.8))) as f32,
        is_new_address: activity.is_new,
        is_dormant_reactivated: p.dormant_reactivated,
        unique_recipients_count: s.deg_out,
        unique_senders_count: s.deg_in,
        first_activity_timestamp: activity.first_ms.min(activity.last_ms),
        last_activity_timestamp: activity.last_ms,
        behavioral_anomaly_score: behaviour.behavioural as f32,
        graph_anomaly_score: behaviour.graph_anomaly as f32,
        global_anomaly_score: (0.5 * behaviour.behavioural
            + 0.5 * behaviour.graph_anomaly
            + noise(0.05))
        .clamp(0.0, 1.0) as f32,
        quality_score: (0.7 + 0.3 * unit(rng)) as f32,
        mixer_exposure: s.mixer_exposure,
    }
}

/// All feature rows in local-index order, generated in parallel chunks with their own streams.
pub(crate) fn rows(ctx: &FeatureContext) -> Vec<FeatureRow> {
    let n = ctx.profiles.len();
    let max_bridge = ctx.stats.iter().map(bridge).fold(0.0, f64::max);
    let chunks: Vec<Vec<FeatureRow>> = (0..n.div_ceil(NODE_CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut rng = rng_for(&[ctx.seed, stream::NODE_DAY, ctx.day, c as u64]);
            let lo = c * NODE_CHUNK;
            (lo..(lo + NODE_CHUNK).min(n))
                .map(|v| row(ctx, &mut rng, v, max_bridge))
                .collect()
        })
        .collect();
    chunks.into_iter().flatten().collect()
}
