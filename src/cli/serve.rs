//! `aml-miner serve`: serve scores over HTTP.
//!
//! The default address listens on the loopback interface only; `--addr 0.0.0.0:8000` (IPv4) or
//! `--addr [::]:8000` binds every interface, as a validator on another machine needs. CORS is off
//! unless `--cors-origin` is given (`*` for any origin, or repeat the flag per origin). Models are
//! loaded once. On SIGINT / SIGTERM it stops accepting, lets in-flight requests finish for
//! `--shutdown-grace` seconds, then closes the remaining connections. Every limit's default is the
//! one of `ServiceLimits::default()` (see docs/api.md and docs/security.md).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aml_models::Bundle;

use super::CliError;
use crate::config::MinerConfig;
use crate::service::{serve, shutdown_signal, AppState, ServiceLimits, Store};

/// Options of `serve`.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    about = "aml-miner HTTP service: scoring routes, the daily store, health, metrics, OpenAPI"
)]
pub struct Args {
    /// Model bundle directory [default: `models` of the config, else trained_models].
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Store root: one submission directory per processing date [default: `store` of the config;
    /// one of the two is required].
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Listen address; `0.0.0.0:8000` or `[::]:8000` binds every interface [default:
    /// `server.addr` of the config, else 127.0.0.1:8000, loopback only].
    #[arg(long)]
    pub addr: Option<String>,
    /// JSON body limit in bytes, received and decompressed (larger bodies get 413) [default: 64 MiB].
    #[arg(long)]
    pub max_body: Option<usize>,
    /// Multipart batch upload limit in bytes (`POST /score/batch`; 413 above) [default: 1 GiB].
    #[arg(long)]
    pub max_upload: Option<usize>,
    /// Seconds a client has to send a request head; also the idle keep-alive limit [default: 10].
    #[arg(long)]
    pub header_timeout: Option<f64>,
    /// Whole-request deadline in seconds, upload and scoring included (408 after) [default: 120].
    #[arg(long)]
    pub request_timeout: Option<f64>,
    /// Scoring jobs running at once [default: number of CPUs].
    #[arg(long)]
    pub scoring_jobs: Option<usize>,
    /// Scoring requests waiting beyond the running ones; more get 503 [default: --scoring-jobs].
    #[arg(long)]
    pub scoring_queue: Option<usize>,
    /// `Retry-After` seconds of a 503 [default: 1].
    #[arg(long)]
    pub retry_after: Option<u32>,
    /// Open connections at most [default: 512].
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Seconds in-flight requests get after SIGTERM before connections are closed [default: 5].
    #[arg(long)]
    pub shutdown_grace: Option<f64>,
    /// Origin allowed by CORS (repeatable; `*` allows any) [default: none, CORS off].
    #[arg(long = "cors-origin")]
    pub cors_origins: Vec<String>,
}

impl Args {
    /// The service limits these flags ask for (each unset one from `ServiceLimits::default()`).
    pub fn limits(&self) -> Result<ServiceLimits, CliError> {
        self.limits_over(ServiceLimits::default())
    }

    /// The service limits these flags ask for, each unset one from `base` (the config's
    /// `[server]` limits for the `aml-miner` binary).
    pub fn limits_over(&self, base: ServiceLimits) -> Result<ServiceLimits, CliError> {
        let seconds = |flag: &str, value: Option<f64>, default: Duration| match value {
            None => Ok(default),
            Some(s) => Duration::try_from_secs_f64(s)
                .map_err(|e| CliError::Usage(format!("--{flag} {s}: {e}"))),
        };
        let d = base;
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
            cors_allowed_origins: if self.cors_origins.is_empty() {
                d.cors_allowed_origins
            } else {
                self.cors_origins.clone()
            },
        })
    }
}

/// Loads the bundle and serves until SIGINT / SIGTERM, with the built-in defaults for every
/// unset flag.
pub fn run(args: &Args) -> Result<(), CliError> {
    run_with_config(args, &MinerConfig::default())
}

/// [`run`] with every unset flag taken from `config` (`models`, `store`, `[server]`).
pub fn run_with_config(args: &Args, config: &MinerConfig) -> Result<(), CliError> {
    let limits = args.limits_over(config.limits())?;
    let models = args.models.clone().unwrap_or_else(|| config.models.clone());
    let store = args
        .store
        .clone()
        .or_else(|| config.store.clone())
        .ok_or_else(|| {
            CliError::Usage("no store: pass --store DIR or set `store` in the config".into())
        })?;
    let addr = args
        .addr
        .clone()
        .unwrap_or_else(|| config.server.addr.clone());
    let bundle = Bundle::load(&models)?;
    let state = AppState::with_limits(bundle, Store::new(&store), limits);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| CliError::Usage(format!("cannot listen on {addr}: {e}")))?;
        eprintln!(
            "aml-miner service on http://{} (models {}, store {}, {:?})",
            listener.local_addr()?,
            models.display(),
            store.display(),
            state.limits()
        );
        serve(listener, Arc::new(state), shutdown_signal()).await?;
        eprintln!("shut down");
        Ok(())
    })
}
