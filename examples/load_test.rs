//! Bounded load generator for the service (run it as a second process on loopback).
//!
//! ```text
//! cargo run --release --example load_test -- --addr 127.0.0.1:8000 [--requests 10000] [--connections 4]
//!     [--body FILE | --batch DIR] [--score-every 100] [--pid SERVER_PID]
//! ```
//! Cycles over the read routes (health, version, dates, stored scores / rankings / cluster scores,
//! metrics, plus 404 / 400 error routes), and POSTs `--body` to `/score/alerts` every `--score-every`
//! requests when given. Prints status counts, latency percentiles and, with `--pid`, the server's RSS
//! before and after. Exit code 1 when any 5xx or transport error occurred.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use aml_miner::service::client::Connection;
use clap::Parser;

#[derive(Parser, Debug)]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    /// Total requests.
    #[arg(long, default_value_t = 10_000)]
    requests: usize,
    /// Concurrent keep-alive connections (one thread each).
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// JSON scoring body for POST /score/alerts.
    #[arg(long)]
    body: Option<PathBuf>,
    /// Batch directory to build the scoring body from (instead of --body).
    #[arg(long)]
    batch: Option<PathBuf>,
    /// POST the body every this many requests.
    #[arg(long, default_value_t = 100)]
    score_every: usize,
    /// Server process id, to report its resident memory.
    #[arg(long)]
    pid: Option<u32>,
}

const PATHS: [&str; 10] = [
    "/health",
    "/version",
    "/dates/available",
    "/dates/latest",
    "/scores/alerts/latest",
    "/rankings/alerts/latest",
    "/scores/clusters/latest",
    "/metrics",
    "/scores/alerts/1999-01-01",
    "/scores/alerts/not-a-date",
];

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn main() -> std::process::ExitCode {
    aml_miner::cli::exit_cleanly_on_closed_stdout();
    let args = Args::parse();
    let body = match (&args.body, &args.batch) {
        (Some(path), _) => Some(std::fs::read(path).expect("readable --body file")),
        (None, Some(dir)) => {
            let (batch, _) = aml_core::Batch::load(dir).expect("loadable --batch");
            let json = aml_miner::service::request::batch_to_json(&batch);
            Some(serde_json::to_vec(&json).expect("serialisable body"))
        }
        (None, None) => None,
    };
    let rss_before = args.pid.and_then(rss_kib);
    let started = Instant::now();
    let per_thread = args.requests.div_ceil(args.connections.max(1));
    let handles: Vec<_> = (0..args.connections.max(1))
        .map(|t| {
            let body = body.clone();
            let (addr, score_every, total) = (args.addr, args.score_every.max(1), args.requests);
            std::thread::spawn(move || {
                let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
                let (mut latencies, mut transport_errors) = (Vec::new(), 0usize);
                let mut conn = Connection::open(addr).ok();
                for i in (t * per_thread)..((t + 1) * per_thread).min(total) {
                    let request_started = Instant::now();
                    let Some(c) = conn.as_mut() else {
                        transport_errors += 1;
                        conn = Connection::open(addr).ok();
                        continue;
                    };
                    let result = match &body {
                        Some(b) if i % score_every == 0 => {
                            c.send("POST", "/score/alerts", Some(b.as_slice()))
                        }
                        _ => c.send("GET", PATHS[i % PATHS.len()], None),
                    };
                    match result {
                        Ok(r) => *statuses.entry(r.status).or_default() += 1,
                        Err(_) => {
                            transport_errors += 1;
                            conn = Connection::open(addr).ok();
                        }
                    }
                    latencies.push(request_started.elapsed().as_secs_f64() * 1000.0);
                }
                (statuses, latencies, transport_errors)
            })
        })
        .collect();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let (mut latencies, mut transport_errors) = (Vec::new(), 0);
    for h in handles {
        let (s, l, e) = h.join().expect("load thread");
        for (k, v) in s {
            *statuses.entry(k).or_default() += v;
        }
        latencies.extend(l);
        transport_errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let server_errors: usize = statuses
        .iter()
        .filter(|(s, _)| **s >= 500)
        .map(|(_, n)| n)
        .sum();
    println!(
        "requests {}  in {seconds:.2} s  ({:.0} req/s)",
        latencies.len(),
        latencies.len() as f64 / seconds
    );
    println!(
        "status counts {statuses:?}  5xx {server_errors}  transport errors {transport_errors}"
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
    if let Some(pid) = args.pid {
        println!(
            "server RSS KiB: before {}  after {}",
            rss_before.map_or("?".into(), |v| v.to_string()),
            rss_kib(pid).map_or("?".into(), |v| v.to_string())
        );
    }
    if server_errors > 0 || transport_errors > 0 {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    }
}
