//! Bounded load generator for the service, loopback only (logic in `tests/service_support/load.rs`).
//!
//! ```text
//! cargo run --release --example load_test -- [--addr 127.0.0.1:8000 | --spawn-server MODELS_DIR]
//!     [--requests 10000] [--connections 4] [--body FILE | --batch DIR | --synth ALERTS]
//!     [--score-every 100] [--storm CLIENTS [--retries N]] [--pid SERVER_PID]
//! ```
//! Without `--storm`: cycles over the read routes and POSTs the body to `/score/alerts` every
//! `--score-every` requests. With `--storm N`: N clients POST the body at once (each retrying a 503
//! after `Retry-After`, at most `--retries` times) while `/health` is polled every 100 ms.
//! `--spawn-server` runs the service (default limits but `--server-max-body`) in a child process and
//! reports its peak RSS (VmHWM); `--pid` does the same for a server already running. Exit code 1 on any 5xx other than 503,
//! on a transport error, or on a 503 without `Retry-After`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use aml_miner::service::ServiceLimits;
use clap::Parser;
use load::ChildServer;

// The load scenarios and their HTTP client are test support, not library API: shared with the
// service tests by path.
#[allow(dead_code)]
#[path = "../tests/service_support/client.rs"]
mod client;
#[allow(dead_code)]
#[path = "../tests/service_support/load.rs"]
mod load;

#[derive(Parser, Debug)]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    /// Start the service on a free loopback port in a child process, with the bundle in this directory.
    #[arg(long)]
    spawn_server: Option<PathBuf>,
    /// Total requests (mixed workload).
    #[arg(long, default_value_t = 10_000)]
    requests: usize,
    /// Concurrent keep-alive connections, one thread each (mixed workload).
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// JSON scoring body.
    #[arg(long)]
    body: Option<PathBuf>,
    /// Batch directory to build the scoring body from.
    #[arg(long)]
    batch: Option<PathBuf>,
    /// Generate the scoring body: a synthetic day with this many alerts.
    #[arg(long)]
    synth: Option<usize>,
    /// Addresses per alert of --synth (5 flows per address); 10 is the demo world.
    #[arg(long, default_value_t = 10)]
    addresses_per_alert: usize,
    /// Body limit of the --spawn-server service, bytes [default: 64 MiB].
    #[arg(long)]
    server_max_body: Option<usize>,
    /// POST the body every this many requests (mixed workload).
    #[arg(long, default_value_t = 100)]
    score_every: usize,
    /// Storm: this many concurrent scoring requests.
    #[arg(long)]
    storm: Option<usize>,
    /// Storm: retries of a request answered 503.
    #[arg(long, default_value_t = 0)]
    retries: usize,
    /// Server process id, to report its peak resident memory.
    #[arg(long)]
    pid: Option<u32>,
    /// (internal) Run as the child server of --spawn-server, with this bundle.
    #[arg(long, hide = true)]
    serve_child: Option<PathBuf>,
}

fn body(args: &Args) -> Result<Option<Vec<u8>>, Box<dyn std::error::Error>> {
    Ok(match (&args.body, &args.batch, args.synth) {
        (Some(path), _, _) => Some(std::fs::read(path)?),
        (None, Some(dir), _) => Some(load::batch_body(dir)?),
        (None, None, Some(alerts)) => Some(load::synthetic_body(alerts, args.addresses_per_alert)?),
        (None, None, None) => None,
    })
}

fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let body = body(args)?.map(Arc::new);
    let child = match &args.spawn_server {
        Some(models) => {
            let limit = args
                .server_max_body
                .unwrap_or(ServiceLimits::default().max_body_bytes);
            let limit = format!("--server-max-body={limit}");
            let child_args = ["--serve-child".as_ref(), models.as_os_str(), limit.as_ref()];
            Some(ChildServer::spawn(&std::env::current_exe()?, &child_args)?)
        }
        None => None,
    };
    let addr = child.as_ref().map_or(args.addr, |c| c.addr);
    let ok = if let Some(clients) = args.storm {
        let body = body.ok_or("--storm needs --body, --batch or --synth")?;
        println!(
            "storm: {clients} concurrent POST /score/alerts of {} bytes",
            body.len()
        );
        let every = Duration::from_millis(100);
        let report = load::storm(addr, "/score/alerts", body, clients, args.retries, every);
        println!("{report}");
        report.passed()
    } else {
        let tally = load::mixed(
            addr,
            args.requests,
            args.connections,
            body,
            args.score_every,
        );
        println!("{tally}");
        tally.passed()
    };
    if let Some(pid) = child.as_ref().map(ChildServer::pid).or(args.pid) {
        let kib = |field| load::proc_status_kib(pid, field).map_or("?".into(), |v| v.to_string());
        println!(
            "server RSS KiB: now {}  peak (VmHWM) {}",
            kib("VmRSS"),
            kib("VmHWM")
        );
    }
    if let Some(child) = child {
        child.stop()?;
    }
    Ok(ok)
}

fn main() -> ExitCode {
    aml_miner::cli::exit_cleanly_on_closed_stdout();
    let args = Args::parse();
    let result = match &args.serve_child {
        Some(models) => {
            let mut limits = ServiceLimits::default();
            limits.max_body_bytes = args.server_max_body.unwrap_or(limits.max_body_bytes);
            load::serve_until_stdin_closes(models, limits).map(|()| true)
        }
        None => run(&args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("load_test: {e}");
            ExitCode::from(2)
        }
    }
}
