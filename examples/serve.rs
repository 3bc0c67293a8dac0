//! Serve scores over HTTP.
//!
//! ```text
//! cargo run --release --example serve -- --models DIR --store DIR [--addr 127.0.0.1:8000] [--max-body BYTES]
//!     [--max-upload BYTES] [--header-timeout SECS] [--request-timeout SECS] [--scoring-jobs N]
//!     [--scoring-queue N] [--retry-after SECS] [--max-connections N] [--shutdown-grace SECS]
//!     [--cors-origin ORIGIN ...]
//! ```
//! The default address listens on the loopback interface only; `--addr 0.0.0.0:8000` (IPv4) or
//! `--addr [::]:8000` binds every interface, as a validator on another machine needs. CORS is off
//! unless `--cors-origin` is given (`*` for any origin, or repeat the flag per origin).
//! Models are loaded once. On SIGINT / SIGTERM it stops accepting, lets in-flight requests finish for
//! `--shutdown-grace` seconds, then closes the remaining connections. Every limit's default is the
//! one of `ServiceLimits::default()` (see docs/api.md and docs/security.md).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aml_miner::service::{serve, shutdown_signal, AppState, ServiceLimits, Store};
use aml_models::Bundle;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    about = "aml-miner HTTP service: scoring routes, the daily store, health, metrics, OpenAPI"
)]
struct Args {
    /// Model bundle directory.
    #[arg(long, default_value = "trained_models")]
    models: PathBuf,
    /// Store root: one submission directory per processing date.
    #[arg(long)]
    store: PathBuf,
    /// Listen address; `0.0.0.0:8000` or `[::]:8000` binds every interface (loopback only by default).
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: String,
    /// JSON body limit in bytes, received and decompressed (larger bodies get 413) [default: 64 MiB].
    #[arg(long)]
    max_body: Option<usize>,
    /// Multipart batch upload limit in bytes (`POST /score/batch`; 413 above) [default: 1 GiB].
    #[arg(long)]
    max_upload: Option<usize>,
    /// Seconds a client has to send a request head; also the idle keep-alive limit [default: 10].
    #[arg(long)]
    header_timeout: Option<f64>,
    /// Whole-request deadline in seconds, upload and scoring included (408 after) [default: 120].
    #[arg(long)]
    request_timeout: Option<f64>,
    /// Scoring jobs running at once [default: number of CPUs].
    #[arg(long)]
    scoring_jobs: Option<usize>,
    /// Scoring requests waiting beyond the running ones; more get 503 [default: --scoring-jobs].
    #[arg(long)]
    scoring_queue: Option<usize>,
    /// `Retry-After` seconds of a 503 [default: 1].
    #[arg(long)]
    retry_after: Option<u32>,
    /// Open connections at most [default: 512].
    #[arg(long)]
    max_connections: Option<usize>,
    /// Seconds in-flight requests get after SIGTERM before connections are closed [default: 5].
    #[arg(long)]
    shutdown_grace: Option<f64>,
    /// Origin allowed by CORS (repeatable; `*` allows any) [default: none, CORS off].
    #[arg(long = "cors-origin")]
    cors_origins: Vec<String>,
}

impl Args {
    fn limits(&self) -> Result<ServiceLimits, Box<dyn std::error::Error>> {
        let seconds = |flag: &str, value: Option<f64>, default: Duration| match value {
            None => Ok(default),
            Some(s) => Duration::try_from_secs_f64(s).map_err(|e| format!("--{flag} {s}: {e}")),
        };
        let d = ServiceLimits::default();
        Ok(ServiceLimits {
            max_body_bytes: self.max_body.unwrap_or(d.max_body_bytes),
            max_upload_bytes: self.max_upload.unwrap_or(d.max_upload_bytes),
            header_read_timeout: seconds(
                "header-timeout",
                self.header_timeout,
                d.header_read_timeout,
            )?,
            request_timeout: seconds("request-timeout", self.request_timeout, d.request_timeout)?,
            max_scoring_jobs: self.scoring_jobs.unwrap_or(d.max_scoring_jobs),
            max_scoring_queue: self
                .scoring_queue
                .or(self.scoring_jobs)
                .unwrap_or(d.max_scoring_queue),
            retry_after_seconds: self.retry_after.unwrap_or(d.retry_after_seconds),
            max_connections: self.max_connections.unwrap_or(d.max_connections),
            shutdown_grace: seconds("shutdown-grace", self.shutdown_grace, d.shutdown_grace)?,
            cors_allowed_origins: self.cors_origins.clone(),
        })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    aml_miner::init_logging();
    let args = Args::parse();
    let limits = args.limits()?;
    let bundle = Bundle::load(&args.models)?;
    let state = AppState::with_limits(bundle, Store::new(&args.store), limits);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.addr).await?;
        eprintln!(
            "aml-miner service on http://{} (models {}, store {}, {:?})",
            listener.local_addr()?,
            args.models.display(),
            args.store.display(),
            state.limits()
        );
        serve(listener, Arc::new(state), shutdown_signal()).await?;
        eprintln!("shut down");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
