// The README is the crate documentation, so its example is compiled and run by `cargo test --doc`.
#![doc = include_str!("../README.md")]
//!
//! # How a day is made
//!
//! A batch is generated from a persistent *world* (addresses with stable behaviour, hubs,
//! illicit communities living in blocks of addresses) and a *day* index: the day picks which
//! addresses are active (a window sliding by 1% per day), which communities transact, and draws
//! the day's money-flow graph, features, alerts, clusters and labels from streams seeded by
//! `(seed, day, purpose, chunk)`. Same config and seed give byte-identical files whatever the
//! thread count. [`write_batch`] runs these stages in order.
//!
//! The world also holds the data owner's registry of verified-clean entities (a fixed set of old,
//! never illicit addresses): every day's labels list all of them as low risk, and the benign
//! pattern traps are drawn from them.
#![forbid(unsafe_code)]

mod alerts;
mod columns;
mod features;
mod flows;
mod graph;
mod registry;
mod rng;
mod world;

use aml_core::batch::files;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Look-back window of every synthetic batch, in days.
pub const WINDOW_DAYS: u16 = 7;
/// META.json schema version written by the generator.
pub const SCHEMA_VERSION: &str = "1";

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthConfig {
    /// Master seed: the world and every day derive from it.
    pub seed: u64,
    /// Alerts per day (exact unless the population is too small).
    pub n_alerts: usize,
    /// Active addresses per day (rows of features.parquet).
    pub n_addresses: usize,
    /// Target money-flow rows per day (actual count is slightly lower after merging duplicate pairs).
    pub n_flows: usize,
    /// Processing date of day 0, `YYYY-MM-DD`.
    pub date: String,
    /// Number of consecutive days written by [`write_days`].
    pub days: usize,
    /// Write `address_labels.parquet` (history / training batches).
    pub with_labels: bool,
    /// Network name for META.json and labels.
    pub network: String,
}

impl SynthConfig {
    /// Full production-size day: 50,000 alerts, 500,000 addresses, 5,000,000 flows.
    pub fn full_day() -> SynthConfig {
        SynthConfig {
            seed: 42,
            n_alerts: 50_000,
            n_addresses: 500_000,
            n_flows: 5_000_000,
            date: "2025-10-30".to_string(),
            days: 1,
            with_labels: false,
            network: "torus".to_string(),
        }
    }

    /// Small day for tests: 500 alerts, 5,000 addresses, 20,000 flows.
    pub fn small() -> SynthConfig {
        SynthConfig {
            n_alerts: 500,
            n_addresses: 5_000,
            n_flows: 20_000,
            ..SynthConfig::full_day()
        }
    }
}

/// Generator failures.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The config cannot produce a batch.
    #[error("invalid synth config: {0}")]
    Config(String),
    /// Filesystem error on a path.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Arrow array construction failed.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Parquet encoding failed.
    #[error("parquet error: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// META.json serialisation failed.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date ([`aml_core::date::Date::parse`]).
pub fn parse_date(date: &str) -> Result<i32, SynthError> {
    aml_core::date::Date::parse(date)
        .map(aml_core::date::Date::days_since_epoch)
        .map_err(|e| SynthError::Config(e.to_string()))
}

/// `YYYY-MM-DD` of a day count since 1970-01-01 (clamped to years 0000-9999).
pub fn format_date(days: i32) -> String {
    aml_core::date::Date::from_days_clamped(i64::from(days)).to_string()
}

/// Processing date of `day_index` (day 0 is `config.date`).
pub fn day_date(config: &SynthConfig, day_index: usize) -> Result<String, SynthError> {
    Ok(format_date(parse_date(&config.date)? + day_index as i32))
}

fn validate(config: &SynthConfig) -> Result<(), SynthError> {
    if config.n_addresses < 64 {
        return Err(SynthError::Config(format!(
            "n_addresses {} < 64",
            config.n_addresses
        )));
    }
    if config.n_alerts == 0 || config.n_alerts > config.n_addresses {
        return Err(SynthError::Config(format!(
            "n_alerts {} must be in 1..=n_addresses ({})",
            config.n_alerts, config.n_addresses
        )));
    }
    if config.n_flows < config.n_addresses {
        return Err(SynthError::Config(format!(
            "n_flows {} < n_addresses {}",
            config.n_flows, config.n_addresses
        )));
    }
    if config.network.is_empty() {
        return Err(SynthError::Config("network is empty".into()));
    }
    parse_date(&config.date).map(|_| ())
}

#[derive(Serialize)]
struct TrapJson {
    trap_id: String,
    alert_ids: Vec<String>,
    expected_result: u8,
}

#[derive(Serialize)]
struct MetaJson {
    batch_id: String,
    network: String,
    processing_date: String,
    window_days: u16,
    schema_version: String,
    n_alerts: u64,
    n_addresses: u64,
    n_clusters: u64,
    n_money_flows: u64,
    sha256: BTreeMap<String, String>,
    pattern_traps: Vec<TrapJson>,
}

/// The calendar of one generated day.
struct Day {
    /// Day index in the world (selects the active window and seeds every stream).
    index: u64,
    /// Processing date, days since 1970-01-01.
    processing_date: i32,
    /// Processing date, `YYYY-MM-DD`.
    date: String,
    /// First millisecond of the look-back window.
    window_start_ms: u64,
}

impl Day {
    fn new(config: &SynthConfig, day_index: usize) -> Result<Day, SynthError> {
        let processing_date = parse_date(&config.date)? + day_index as i32;
        let window_start_day = (processing_date as i64 + 1 - WINDOW_DAYS as i64).max(0) as u64;
        Ok(Day {
            index: day_index as u64,
            processing_date,
            date: format_date(processing_date),
            window_start_ms: window_start_day * 86_400_000,
        })
    }
}

/// Who transacts on a day: the active addresses, their behaviour, and the day's communities.
struct Population {
    communities: Vec<world::Community>,
    /// Today's local index of each community member (parallel to `communities`).
    members_local: Vec<Vec<u32>>,
    profiles: Vec<world::Profile>,
    addresses: Vec<String>,
}

/// The active addresses of `day` with their profiles, and the communities transacting that day.
fn population(world: &world::World, day: u64) -> Population {
    let positions = world.active_positions(day);
    let communities = world.communities_on(day);
    let mut member_of: BTreeMap<u64, u32> = BTreeMap::new();
    for (ci, c) in communities.iter().enumerate() {
        for &p in &c.members {
            member_of.insert(p, ci as u32);
        }
    }
    let profiles: Vec<world::Profile> = positions
        .par_iter()
        .map(|&p| {
            world.profile(
                p,
                member_of.get(&p).map(|&ci| (ci, &communities[ci as usize])),
            )
        })
        .collect();
    let addresses: Vec<String> = positions.par_iter().map(|&p| world.address(p)).collect();
    let members_local: Vec<Vec<u32>> = communities
        .iter()
        .map(|c| {
            c.members
                .iter()
                .filter_map(|&p| world.local_index(day, p))
                .map(|i| i as u32)
                .collect()
        })
        .collect();
    Population {
        communities,
        members_local,
        profiles,
        addresses,
    }
}

/// The day's money-flow graph among the active population.
fn money_graph(
    world: &world::World,
    config: &SynthConfig,
    day: u64,
    population: &Population,
) -> graph::Graph {
    let local_of = |p: u64| world.local_index(day, p);
    graph::build(&graph::GraphInputs {
        seed: config.seed,
        day,
        n_flows: config.n_flows,
        window_secs: WINDOW_DAYS as u32 * 86_400,
        hubs: world.hubs as usize,
        profiles: &population.profiles,
        communities: &population.communities,
        members_local: &population.members_local,
        local_of: &local_of,
    })
}

/// One features row per active address, from its profile and its place in the graph.
fn feature_rows(
    config: &SynthConfig,
    day: &Day,
    population: &Population,
    graph: &graph::Graph,
) -> Vec<features::FeatureRow> {
    let stats = graph::node_stats(graph, &population.profiles);
    features::rows(&features::FeatureContext {
        seed: config.seed,
        day: day.index,
        window_days: WINDOW_DAYS,
        processing_date: day.processing_date,
        window_start_ms: day.window_start_ms,
        addresses: &population.addresses,
        profiles: &population.profiles,
        stats: &stats,
    })
}

/// Writes one table of rows into `dir/name`; returns the file name and its sha256 hex.
fn write_rows<R>(
    dir: &Path,
    name: &'static str,
    cols: &[(&'static str, columns::Col<R>)],
    rows: &[R],
) -> Result<(String, String), SynthError> {
    let hash = columns::write_table(&dir.join(name), cols, rows, 1 << 16)?;
    Ok((name.to_string(), hash))
}

/// Writes `address_labels.parquet` when `config.with_labels` and returns its entry for META.json;
/// otherwise removes a labels file left in `dir` by an earlier run (META.json would not list it).
/// The labels are the day's noisy labels followed by the registry's rows (the same on every day).
fn write_labels(
    dir: &Path,
    config: &SynthConfig,
    alert_ctx: &alerts::AlertContext,
    alert_rows: &[alerts::AlertRow],
    registry_rows: impl FnOnce() -> Vec<alerts::LabelRow>,
) -> Result<Option<(String, String)>, SynthError> {
    let labels_path = dir.join(files::ADDRESS_LABELS);
    if config.with_labels {
        let mut label_rows = alerts::labels(alert_ctx, alert_rows, &config.network);
        label_rows.extend(registry_rows());
        let entry = write_rows(
            dir,
            files::ADDRESS_LABELS,
            &alerts::label_columns(),
            &label_rows,
        )?;
        return Ok(Some(entry));
    }
    if labels_path.exists() {
        std::fs::remove_file(&labels_path).map_err(|e| SynthError::Io {
            path: labels_path.clone(),
            source: e,
        })?;
    }
    Ok(None)
}

/// Row counts of the written tables, for META.json.
struct Counts {
    alerts: usize,
    addresses: usize,
    clusters: usize,
    money_flows: usize,
}

/// Writes META.json (pretty JSON and a final newline) listing the data files' hashes and the traps.
fn write_meta(
    dir: &Path,
    config: &SynthConfig,
    date: String,
    counts: Counts,
    sha256: BTreeMap<String, String>,
    traps: Vec<(String, Vec<String>, u8)>,
) -> Result<(), SynthError> {
    let meta = MetaJson {
        batch_id: format!("{}-{}", config.network, date),
        network: config.network.clone(),
        processing_date: date,
        window_days: WINDOW_DAYS,
        schema_version: SCHEMA_VERSION.to_string(),
        n_alerts: counts.alerts as u64,
        n_addresses: counts.addresses as u64,
        n_clusters: counts.clusters as u64,
        n_money_flows: counts.money_flows as u64,
        sha256,
        pattern_traps: traps
            .into_iter()
            .map(|(trap_id, alert_ids, expected_result)| TrapJson {
                trap_id,
                alert_ids,
                expected_result,
            })
            .collect(),
    };
    let mut json = serde_json::to_vec_pretty(&meta)?;
    json.push(b'\n');
    columns::write_bytes(&dir.join(files::META), &json)?;
    Ok(())
}

/// Everything a day's alerts are raised from: the world, that day's population, money graph,
/// address features and registry flags.
struct DayParts {
    day: Day,
    world: world::World,
    population: Population,
    graph: graph::Graph,
    feature_rows: Vec<features::FeatureRow>,
    registry: registry::Registry,
    registry_flags: Vec<bool>,
}

impl DayParts {
    fn new(config: &SynthConfig, day_index: usize) -> Result<DayParts, SynthError> {
        let day = Day::new(config, day_index)?;
        let world = world::World::new(config);
        let population = population(&world, day.index);
        let graph = money_graph(&world, config, day.index, &population);
        let feature_rows = feature_rows(config, &day, &population, &graph);
        let registry = registry::Registry::of(&world);
        let registry_flags = registry.on_day(&world, day.index, population.profiles.len());
        Ok(DayParts {
            day,
            world,
            population,
            graph,
            feature_rows,
            registry,
            registry_flags,
        })
    }

    fn alert_context<'a>(&'a self, config: &SynthConfig) -> alerts::AlertContext<'a> {
        alerts::AlertContext {
            seed: config.seed,
            day: self.day.index,
            date_tag: self.day.date.replace('-', ""),
            n_alerts: config.n_alerts,
            profiles: &self.population.profiles,
            features: &self.feature_rows,
            communities: &self.population.communities,
            members_local: &self.population.members_local,
            graph: &self.graph,
            window_start_ms: self.day.window_start_ms,
            registry: &self.registry_flags,
        }
    }
}

/// What the generator knows about one alert's address and a scorer does not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertTruth {
    /// The alert's id.
    pub alert_id: String,
    /// Whether its address is illicit that day.
    pub illicit: bool,
    /// Whether its address is labelled without noise (a pattern trap's or a registry
    /// member's); other labels are noisy (see `alerts::labels`).
    pub noise_free: bool,
}

impl AlertTruth {
    /// The order of the chance that the address is labelled high or critical, from the truth
    /// alone: noise-free illicit 3, illicit 2, benign 1, noise-free benign 0. Ranking by it is
    /// the best any scorer can do on average, since label noise is drawn independently of
    /// everything else.
    pub fn bayes_rank(&self) -> u8 {
        match (self.illicit, self.noise_free) {
            (true, true) => 3,
            (true, false) => 2,
            (false, false) => 1,
            (false, true) => 0,
        }
    }
}

/// The generator's ground truth for day `day_index` of `config`'s world, one entry per alert in
/// the alerts file's order. It is never part of a batch: it measures what label noise leaves
/// to any scorer (`examples/label_noise_ceiling.rs`).
pub fn alert_truth(config: &SynthConfig, day_index: usize) -> Result<Vec<AlertTruth>, SynthError> {
    validate(config)?;
    let parts = DayParts::new(config, day_index)?;
    let ctx = parts.alert_context(config);
    let alert_set = alerts::raise(&ctx, &parts.population.addresses);
    let mut trap_node = vec![false; parts.population.profiles.len()];
    for a in &alert_set.alerts {
        trap_node[a.node] |= a.trap.is_some();
    }
    Ok(alert_set
        .alerts
        .iter()
        .map(|a| AlertTruth {
            alert_id: a.alert_id.clone(),
            illicit: parts.population.profiles[a.node].is_illicit(),
            noise_free: trap_node[a.node] || parts.registry_flags[a.node],
        })
        .collect())
}

/// Generate day `day_index` of `config` and write it into `dir` (created if needed).
///
/// Files are written atomically one by one (temp file + rename), META.json last, so a reader
/// that checks META.json never sees a half-written batch. Returns `dir`.
pub fn write_batch(
    dir: &Path,
    config: &SynthConfig,
    day_index: usize,
) -> Result<PathBuf, SynthError> {
    validate(config)?;
    std::fs::create_dir_all(dir).map_err(|e| SynthError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let parts = DayParts::new(config, day_index)?;
    let DayParts {
        day,
        world,
        population,
        graph,
        feature_rows,
        registry,
        ..
    } = &parts;
    let alert_ctx = parts.alert_context(config);
    let alert_set = alerts::raise(&alert_ctx, &population.addresses);
    let cluster_rows = alerts::clusters(&alert_ctx, &alert_set.alerts);

    let mut sha256: BTreeMap<String, String> = [
        write_rows(dir, files::FEATURES, &features::columns(), feature_rows)?,
        write_rows(
            dir,
            files::ALERTS,
            &alerts::alert_columns(),
            &alert_set.alerts,
        )?,
        write_rows(
            dir,
            files::CLUSTERS,
            &alerts::cluster_columns(),
            &cluster_rows,
        )?,
    ]
    .into_iter()
    .collect();
    let flow_ctx = flows::FlowContext {
        seed: config.seed,
        day: day.index,
        window_days: WINDOW_DAYS,
        window_start_ms: day.window_start_ms,
        graph,
        profiles: &population.profiles,
        addresses: &population.addresses,
    };
    let flows_hash = flows::write(&dir.join(files::MONEY_FLOWS), &flow_ctx)?;
    sha256.insert(files::MONEY_FLOWS.to_string(), flows_hash);
    let epoch_ms = Day::new(config, 0)?.window_start_ms;
    let registry_rows = || registry.label_rows(world, &config.network, epoch_ms);
    sha256.extend(write_labels(
        dir,
        config,
        &alert_ctx,
        &alert_set.alerts,
        registry_rows,
    )?);
    let counts = Counts {
        alerts: alert_set.alerts.len(),
        addresses: feature_rows.len(),
        clusters: cluster_rows.len(),
        money_flows: graph.edges.len(),
    };
    write_meta(
        dir,
        config,
        day.date.clone(),
        counts,
        sha256,
        alert_set.traps,
    )?;
    Ok(dir.to_path_buf())
}

/// Write `config.days` consecutive daily batches into `out_dir/<YYYY-MM-DD>/`.
///
/// Days share one persistent world (same addresses, communities that live across days), so
/// training on days `0..k` and scoring day `k` is meaningful.
pub fn write_days(out_dir: &Path, config: &SynthConfig) -> Result<Vec<PathBuf>, SynthError> {
    validate(config)?;
    (0..config.days.max(1))
        .map(|d| write_batch(&out_dir.join(day_date(config, d)?), config, d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("1970-01-01").unwrap(), 0);
        assert_eq!(parse_date("2025-10-30").unwrap(), 20_391);
        for d in [-1000, 0, 59, 20_391, 30_000] {
            assert_eq!(parse_date(&format_date(d)).unwrap(), d);
        }
        assert!(parse_date("2025-02-29").is_err());
        assert!(parse_date("2025-13-01").is_err());
        assert!(parse_date("20251030").is_err());
    }

    #[test]
    fn bad_configs_are_rejected() {
        let c = SynthConfig {
            n_alerts: 0,
            ..SynthConfig::small()
        };
        assert!(matches!(validate(&c), Err(SynthError::Config(_))));
        let c = SynthConfig {
            date: "yesterday".into(),
            ..SynthConfig::small()
        };
        assert!(matches!(validate(&c), Err(SynthError::Config(_))));
    }
}
