//! `money_flows.parquet`: one row per directed address pair of the day's graph, streamed to
//! disk in fixed chunks (each chunk materialised in parallel with its own random stream and
//! written in chunk order), so millions of rows never sit in memory as Arrow arrays at once.

use super::columns::{declared, record_batch, Col, TableWriter};
use super::features::{day_weights, hour_weights, spread};
use super::graph::Graph;
use super::rng::{rng_for, stream, unit};
use super::world::{Profile, ASSETS};
use super::SynthError;
use arrow::record_batch::RecordBatch;
use rayon::prelude::*;
use std::path::Path;

/// Rows per flow chunk (one random stream and one record batch each).
const FLOW_CHUNK: usize = 1 << 17;
/// Chunks materialised concurrently before being written in order.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Rough USD price per unit of each asset (amount_sum is in asset units).
const ASSET_USD: [f64; 8] = [0.5, 1.0, 1.0, 3000.0, 60000.0, 400.0, 1.0, 150.0];

/// One money_flows row; strings borrow the day's address table.
pub(crate) struct FlowRow<'a> {
    pub from_address: &'a str,
    pub to_address: &'a str,
    pub tx_count: u64,
    pub amount_sum: f64,
    pub amount_usd_sum: f64,
    pub first_seen_timestamp: u64,
    pub last_seen_timestamp: u64,
    pub active_days: u32,
    pub avg_tx_size_usd: f64,
    pub unique_assets: u32,
    pub dominant_asset: &'static str,
    pub hourly_pattern: [u16; 24],
    pub weekly_pattern: [u16; 7],
    pub reciprocity_ratio: f32,
    pub is_bidirectional: bool,
}

/// money_flows.parquet columns in contract order.
pub(crate) fn columns<'a>() -> Vec<(&'static str, Col<FlowRow<'a>>)> {
    declared(
        &aml_core::schema::MONEY_FLOWS,
        vec![
            Col::Str(|r| r.from_address),
            Col::Str(|r| r.to_address),
            Col::U64(|r| r.tx_count),
            Col::Dec(|r| r.amount_sum),
            Col::Dec(|r| r.amount_usd_sum),
            Col::U64(|r| r.first_seen_timestamp),
            Col::U64(|r| r.last_seen_timestamp),
            Col::U32(|r| r.active_days),
            Col::Dec(|r| r.avg_tx_size_usd),
            Col::U32(|r| r.unique_assets),
            Col::Str(|r| r.dominant_asset),
            Col::ListU16(|r| &r.hourly_pattern),
            Col::ListU16(|r| &r.weekly_pattern),
            Col::F32(|r| r.reciprocity_ratio),
            Col::Bool(|r| r.is_bidirectional),
        ],
    )
}

/// Day-level context for flow rows.
pub(crate) struct FlowContext<'a> {
    pub seed: u64,
    pub day: u64,
    pub window_days: u16,
    pub window_start_ms: u64,
    pub graph: &'a Graph,
    pub profiles: &'a [Profile],
    pub addresses: &'a [String],
}

fn chunk_batch(ctx: &FlowContext, chunk: usize) -> Result<RecordBatch, SynthError> {
    let g = ctx.graph;
    let mut rng = rng_for(&[ctx.seed, stream::FLOW_ROWS, ctx.day, chunk as u64]);
    let lo = chunk * FLOW_CHUNK;
    let hi = (lo + FLOW_CHUNK).min(g.edges.len());
    let rows: Vec<FlowRow> = g.edges[lo..hi]
        .iter()
        .map(|e| {
            let pf = &ctx.profiles[e.from as usize];
            let reverse = g.edges[g.out_range(e.to as usize)]
                .binary_search_by_key(&e.from, |r| r.to)
                .ok()
                .map(|i| g.edges[g.out_start[e.to as usize] as usize + i].usd);
            let asset = if unit(&mut rng) < 0.85 {
                pf.asset_out
            } else {
                ((pf.asset_out as usize + 1) % ASSETS.len()) as u8
            };
            let span_days = ((e.last - e.first) / 86_400 + 1).min(ctx.window_days as u32);
            FlowRow {
                from_address: &ctx.addresses[e.from as usize],
                to_address: &ctx.addresses[e.to as usize],
                tx_count: e.tx_count as u64,
                amount_sum: e.usd / ASSET_USD[asset as usize],
                amount_usd_sum: e.usd,
                first_seen_timestamp: ctx.window_start_ms + e.first as u64 * 1000,
                last_seen_timestamp: ctx.window_start_ms + e.last as u64 * 1000,
                active_days: span_days.min(e.tx_count).max(1),
                avg_tx_size_usd: e.usd / e.tx_count.max(1) as f64,
                unique_assets: if e.tx_count > 1 && unit(&mut rng) < 0.15 {
                    2
                } else {
                    1
                },
                dominant_asset: ASSETS[asset as usize],
                hourly_pattern: spread(&mut rng, e.tx_count as u64, &hour_weights(pf)),
                weekly_pattern: spread(&mut rng, e.tx_count as u64, &day_weights(pf)),
                reciprocity_ratio: reverse
                    .map_or(0.0, |r| (r.min(e.usd) / r.max(e.usd).max(1e-12)) as f32),
                is_bidirectional: reverse.is_some(),
            }
        })
        .collect();
    record_batch(&columns(), &rows)
}

/// Stream every edge of the day into `path`; returns the sha256 hex.
pub(crate) fn write(path: &Path, ctx: &FlowContext) -> Result<String, SynthError> {
    let n_chunks = ctx.graph.edges.len().div_ceil(FLOW_CHUNK).max(1);
    let schema = record_batch(&columns(), &[])?.schema();
    let mut writer = TableWriter::create(path, schema)?;
    let chunk_ids: Vec<usize> = (0..n_chunks).collect();
    for group in chunk_ids.chunks(CHUNKS_IN_FLIGHT) {
        let batches: Vec<Result<RecordBatch, SynthError>> =
            group.par_iter().map(|&c| chunk_batch(ctx, c)).collect();
        for batch in batches {
            writer.write(&batch?)?;
        }
    }
    writer.finish()
}
