//! Load scenarios of `examples/load_test.rs` (and the service tests), loopback only, every loop bounded:
//! a mixed read/score workload over keep-alive connections, and a storm of concurrent scoring requests
//! while `/health` is polled. Test and example support, not library API: `tests/service_support`
//! declares it, and `examples/load_test.rs` includes it (with `client.rs`) by path.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{Connection, Response};
use aml_miner::service::request::batch_to_json;
use aml_miner::service::{serve, AppState, ServiceLimits, Store};

/// Status counts, latencies and transport errors of a set of requests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Responses per status code.
    pub statuses: BTreeMap<u16, usize>,
    /// Latency of every request, milliseconds, sorted by [`Tally::finish`].
    pub latencies_ms: Vec<f64>,
    /// Requests that got no HTTP response (connection refused, reset, timed out).
    pub transport_errors: usize,
}

impl Tally {
    fn record(&mut self, started: Instant, result: &std::io::Result<Response>) {
        self.latencies_ms
            .push(started.elapsed().as_secs_f64() * 1000.0);
        match result {
            Ok(response) => *self.statuses.entry(response.status).or_default() += 1,
            Err(_) => self.transport_errors += 1,
        }
    }

    fn merge(&mut self, other: Tally) {
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.latencies_ms.extend(other.latencies_ms);
        self.transport_errors += other.transport_errors;
    }

    fn finish(mut self) -> Tally {
        self.latencies_ms.sort_by(f64::total_cmp);
        self
    }

    /// Requests counted.
    pub fn requests(&self) -> usize {
        self.latencies_ms.len()
    }

    /// Responses with `status`.
    pub fn count(&self, status: u16) -> usize {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// 5xx responses other than 503 (the service's only deliberate 5xx under load).
    pub fn server_errors_besides_503(&self) -> usize {
        self.statuses
            .iter()
            .filter(|(s, _)| **s >= 500 && **s != 503)
            .map(|(_, n)| n)
            .sum()
    }

    /// No 5xx other than 503 and no transport error.
    pub fn passed(&self) -> bool {
        self.server_errors_besides_503() == 0 && self.transport_errors == 0
    }

    /// Latency percentile `p` in [0, 1] (NaN when empty).
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let n = self.latencies_ms.len();
        let i = ((n as f64 * p) as usize).min(n.saturating_sub(1));
        self.latencies_ms.get(i).copied().unwrap_or(f64::NAN)
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests, statuses {:?}, transport errors {}, latency ms p50 {:.1} p90 {:.1} p99 {:.1} max {:.1}",
            self.requests(),
            self.statuses,
            self.transport_errors,
            self.percentile_ms(0.5),
            self.percentile_ms(0.9),
            self.percentile_ms(0.99),
            self.percentile_ms(1.0)
        )
    }
}

/// GET routes of the mixed workload (reads, metrics, a 404 and a 400).
pub const READ_PATHS: [&str; 10] = [
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

/// `requests` requests over `connections` keep-alive connections (one thread each), cycling over
/// [`READ_PATHS`] and POSTing `body` to `/score/alerts` every `score_every` requests when given.
pub fn mixed(
    addr: SocketAddr,
    requests: usize,
    connections: usize,
    body: Option<Arc<Vec<u8>>>,
    score_every: usize,
) -> Tally {
    let connections = connections.max(1);
    let per_thread = requests.div_ceil(connections);
    let threads: Vec<_> = (0..connections)
        .map(|t| {
            let body = body.clone();
            std::thread::spawn(move || {
                let mut tally = Tally::default();
                let mut conn = Connection::open(addr).ok();
                for i in (t * per_thread)..((t + 1) * per_thread).min(requests) {
                    let started = Instant::now();
                    let result = match conn.as_mut() {
                        None => Err(std::io::Error::other("not connected")),
                        Some(c) => match &body {
                            Some(b) if i % score_every.max(1) == 0 => {
                                c.send("POST", "/score/alerts", Some(b.as_slice()))
                            }
                            _ => c.send("GET", READ_PATHS[i % READ_PATHS.len()], None),
                        },
                    };
                    tally.record(started, &result);
                    if result.is_err() {
                        conn = Connection::open(addr).ok();
                    }
                }
                tally
            })
        })
        .collect();
    join_tallies(threads)
}

fn join_tallies(threads: Vec<std::thread::JoinHandle<Tally>>) -> Tally {
    let mut total = Tally::default();
    for thread in threads {
        // A panicked load thread counts as nothing sent; the report still prints.
        if let Ok(tally) = thread.join() {
            total.merge(tally);
        }
    }
    total.finish()
}

/// Outcome of [`storm`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StormReport {
    /// The scoring requests (retries included).
    pub scoring: Tally,
    /// 503 answers without a `Retry-After` header.
    pub missing_retry_after: usize,
    /// The `/health` polls made while the storm ran.
    pub health: Tally,
    /// Wall time of the storm, seconds.
    pub seconds: f64,
}

impl StormReport {
    /// The scoring requests [`Tally::passed`], every 503 carried `Retry-After`, and every `/health`
    /// poll was answered 200.
    pub fn passed(&self) -> bool {
        self.scoring.passed()
            && self.missing_retry_after == 0
            && self.health.count(200) == self.health.requests()
    }
}

impl std::fmt::Display for StormReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "scoring: {}", self.scoring)?;
        writeln!(f, "health:  {}", self.health)?;
        write!(
            f,
            "storm took {:.1} s; 503 without Retry-After: {}",
            self.seconds, self.missing_retry_after
        )
    }
}

/// `clients` threads each POST `body` to `path` at once (`Expect: 100-continue`, so refused requests
/// upload nothing); a client answered 503 waits `Retry-After` seconds and tries again, at most
/// `retries` times. Meanwhile `/health` is requested every `health_every` on a fresh connection.
pub fn storm(
    addr: SocketAddr,
    path: &'static str,
    body: Arc<Vec<u8>>,
    clients: usize,
    retries: usize,
    health_every: Duration,
) -> StormReport {
    let started = Instant::now();
    let storming = Arc::new(AtomicBool::new(true));
    let health = {
        let storming = storming.clone();
        std::thread::spawn(move || {
            let mut tally = Tally::default();
            while storming.load(Ordering::Relaxed) {
                let polled = Instant::now();
                let result =
                    Connection::open(addr).and_then(|mut c| c.send("GET", "/health", None));
                tally.record(polled, &result);
                std::thread::sleep(health_every);
            }
            tally.finish()
        })
    };
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let body = body.clone();
            std::thread::spawn(move || {
                let (mut tally, mut missing_retry_after) = (Tally::default(), 0);
                for attempt in 0..=retries {
                    let sent = Instant::now();
                    let result = Connection::open(addr)
                        .and_then(|mut c| c.send_expecting_continue("POST", path, &body));
                    tally.record(sent, &result);
                    let Ok(response) = result else { break };
                    if response.status != 503 {
                        break;
                    }
                    let retry_after = response.header("retry-after").and_then(|v| v.parse().ok());
                    missing_retry_after += usize::from(retry_after.is_none());
                    if attempt < retries {
                        std::thread::sleep(Duration::from_secs(retry_after.unwrap_or(1)));
                    }
                }
                (tally, missing_retry_after)
            })
        })
        .collect();
    let mut report = StormReport::default();
    let mut scoring = Tally::default();
    for thread in threads {
        if let Ok((tally, missing)) = thread.join() {
            scoring.merge(tally);
            report.missing_retry_after += missing;
        }
    }
    storming.store(false, Ordering::Relaxed);
    report.scoring = scoring.finish();
    report.health = health.join().unwrap_or_default();
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// A `kB` field of `/proc/<pid>/status` (`VmHWM` = peak resident set, `VmRSS` = current), in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The scoring body of the batch in `dir`.
pub fn batch_body(dir: &std::path::Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let (batch, _) = aml_core::Batch::load(dir)?;
    Ok(serde_json::to_vec(&batch_to_json(&batch))?)
}

/// The scoring body of a synthetic day with `alerts` alerts, `addresses_per_alert` addresses per alert
/// and 5 money flows per address (the demo world has 5,000 alerts, 10 addresses per alert, 5 flows per
/// address: a 227 MB body).
pub fn synthetic_body(
    alerts: usize,
    addresses_per_alert: usize,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let config = aml_synth::SynthConfig {
        n_alerts: alerts,
        n_addresses: alerts * addresses_per_alert,
        n_flows: alerts * addresses_per_alert * 5,
        ..aml_synth::SynthConfig::full_day()
    };
    let scratch = std::env::temp_dir().join(format!("aml-load-body-{}", std::process::id()));
    let day = aml_synth::write_batch(&scratch, &config, 0);
    let body = day.map_err(Into::into).and_then(|dir| batch_body(&dir));
    // The generated batch is scratch data: removed whether or not it loaded.
    let _ = std::fs::remove_dir_all(&scratch);
    body
}

/// Runs the service with `limits`, the bundle in `models` and an empty store on a free loopback port,
/// prints the port's address as the first line of stdout, and stops when stdin closes: the child side
/// of [`ChildServer`].
pub fn serve_until_stdin_closes(
    models: &std::path::Path,
    limits: ServiceLimits,
) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::{Read, Write};
    let bundle = aml_models::Bundle::load(models)?;
    let store = Store::new(std::env::temp_dir().join("aml-load-test-empty-store"));
    let state = Arc::new(AppState::with_limits(bundle, store, limits));
    tokio::runtime::Runtime::new()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{}", listener.local_addr()?)?;
        stdout.flush()?;
        let stdin_closed = async {
            let read = || std::io::stdin().read_to_end(&mut Vec::new());
            let _ = tokio::task::spawn_blocking(read).await;
        };
        serve(listener, state, stdin_closed).await
    })?;
    Ok(())
}

/// A server running in a child process that printed its address as its first stdout line and stops
/// when its stdin closes (on [`ChildServer::stop`] or drop).
pub struct ChildServer {
    child: std::process::Child,
    /// The address it listens on.
    pub addr: SocketAddr,
}

impl ChildServer {
    /// Runs `program args`.
    pub fn spawn(
        program: &std::path::Path,
        args: &[&std::ffi::OsStr],
    ) -> Result<ChildServer, Box<dyn std::error::Error>> {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = std::process::Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let addr = line.trim().parse();
        let mut server = ChildServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        server.addr = addr.map_err(|_| format!("the server printed {line:?}, not an address"))?;
        Ok(server)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes its stdin and waits for it to exit.
    pub fn stop(mut self) -> std::io::Result<std::process::ExitStatus> {
        drop(self.child.stdin.take());
        self.child.wait()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}
