//! The axum application: state and limits, the route table (which also generates `/openapi.json`, so the
//! document cannot drift from the router), handlers, JSON errors, metrics, and the connection loop with
//! its timeouts, connection cap and graceful shutdown with a deadline.
//!
//! Every limit lives in [`ServiceLimits`] (defaults in its `Default`, flags in `examples/serve.rs`):
//! the JSON body size, checked on the bytes received and again on the decompressed bytes of a
//! `Content-Encoding: gzip` / `zstd` body (tower-http `RequestBodyLimitLayer` on both sides of
//! `RequestDecompressionLayer`, 413), the multipart batch upload size (413), a whole-request timeout
//! (tower-http `TimeoutLayer`, 408), the scoring admission (tower `GlobalConcurrencyLimitLayer` behind
//! `LoadShedLayer`, 503 with `Retry-After`), the number of scoring jobs running at once (a semaphore
//! whose permit travels into the blocking job, so abandoned jobs cannot pile up), the header-read /
//! idle-connection timeout and the connection cap (hyper's HTTP/1 builder and the accept loop), and the
//! shutdown grace period. CORS (tower-http `CorsLayer`) is off unless origins are configured.
//!
//! The wire format of every route is documented in `docs/api.md`.

use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use aml_core::submission::{ClusterScoreRow, RankingRow, ScoreRow};
use aml_core::Batch;
use aml_models::Bundle;
use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Multipart, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{BoxError, Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::metrics::{Metrics, UNMATCHED_ROUTE};
use super::request::{batch_from_json, BodyError};
use super::store::{Store, StoreError};
use crate::pipeline::{self, ScoreOptions};

/// Version of the HTTP API (bumped on incompatible changes).
pub const API_VERSION: &str = "1.0.0";
/// Default request body limit: 64 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Default multipart batch upload limit: 1 GiB (a full-size day is about 700 MB of Parquet).
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 1024 * 1024 * 1024;

/// The service's resource limits. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLimits {
    /// Request body limit in bytes; larger bodies get 413 (default 64 MiB). On the JSON scoring
    /// routes it bounds both the bytes received and, for a `Content-Encoding: gzip` or `zstd` body,
    /// the decompressed bytes: a decompression bomb is cut off at the limit with 413.
    pub max_body_bytes: usize,
    /// Limit in bytes of a multipart batch upload (`POST /score/batch`, the whole multipart body);
    /// larger uploads get 413 (default 1 GiB). The upload is streamed to a temporary directory,
    /// never held in memory.
    pub max_upload_bytes: usize,
    /// Time a client has to send a complete request head, and the longest a keep-alive connection may
    /// sit idle between requests; the connection is then closed (default 10 s).
    pub header_read_timeout: Duration,
    /// Whole-request deadline, body upload and scoring included; answered with 408 (default 120 s).
    pub request_timeout: Duration,
    /// Scoring jobs running at once (default: the number of CPUs).
    pub max_scoring_jobs: usize,
    /// Scoring requests admitted beyond the running ones, waiting for a job; any further scoring
    /// request is refused at once with 503 and `Retry-After` (default: equal to `max_scoring_jobs`).
    pub max_scoring_queue: usize,
    /// `Retry-After` seconds of a refused scoring request (default 1).
    pub retry_after_seconds: u32,
    /// Open connections at most; further clients wait in the listen backlog (default 512).
    pub max_connections: usize,
    /// After the shutdown signal: time given to in-flight requests before the remaining connections
    /// are closed (default 5 s).
    pub shutdown_grace: Duration,
    /// Origins allowed by CORS (tower-http `CorsLayer`): empty (the default) sends no CORS
    /// headers at all; `*` allows any origin; otherwise exact origins such as
    /// `https://dashboard.example`. Allowed methods: GET, POST; allowed headers: `Content-Type`,
    /// `Content-Encoding`.
    pub cors_allowed_origins: Vec<String>,
}

impl Default for ServiceLimits {
    fn default() -> ServiceLimits {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        ServiceLimits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            max_scoring_jobs: cpus,
            max_scoring_queue: cpus,
            retry_after_seconds: 1,
            max_connections: 512,
            shutdown_grace: Duration::from_secs(5),
            cors_allowed_origins: Vec::new(),
        }
    }
}

/// Everything a handler needs; built once at start.
pub struct AppState {
    /// The served models: replaced in place by [`AppState::swap_bundle`] (`run-daily` after a
    /// switch); a request takes one snapshot ([`AppState::bundle`]) and keeps it to its end.
    bundle: RwLock<Arc<Bundle>>,
    /// The daily store.
    pub store: Store,
    /// Request metrics.
    pub metrics: Metrics,
    /// Start time, for `/health`.
    pub started: Instant,
    limits: ServiceLimits,
    scoring_jobs: Arc<Semaphore>,
}

impl AppState {
    /// State with the given models and store and the default limits.
    pub fn new(bundle: Bundle, store: Store) -> AppState {
        AppState::with_limits(bundle, store, ServiceLimits::default())
    }

    /// State with the given models, store and limits (counts below 1 are raised to 1).
    pub fn with_limits(bundle: Bundle, store: Store, mut limits: ServiceLimits) -> AppState {
        limits.max_scoring_jobs = limits.max_scoring_jobs.max(1);
        limits.max_connections = limits.max_connections.max(1);
        AppState {
            bundle: RwLock::new(Arc::new(bundle)),
            store,
            metrics: Metrics::default(),
            started: Instant::now(),
            scoring_jobs: Arc::new(Semaphore::new(limits.max_scoring_jobs)),
            limits,
        }
    }

    /// The bundle served now (a snapshot: a later [`AppState::swap_bundle`] does not change it).
    pub fn bundle(&self) -> Arc<Bundle> {
        Arc::clone(&self.bundle.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Serves `bundle` from now on, without a restart; requests already running keep the bundle
    /// they started with. Returns the bundle served until now.
    pub fn swap_bundle(&self, bundle: Bundle) -> Arc<Bundle> {
        let mut served = self.bundle.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *served, Arc::new(bundle))
    }

    /// The limits this state was built with.
    pub fn limits(&self) -> &ServiceLimits {
        &self.limits
    }

    /// The scoring job slots (`max_scoring_jobs` permits). A job holds its permit until its blocking
    /// work ends, even when its client has gone.
    pub fn scoring_jobs(&self) -> &Arc<Semaphore> {
        &self.scoring_jobs
    }
}

type Shared = Arc<AppState>;

/// A JSON error response `{error, detail}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Short machine-readable kind, e.g. `schema_error`.
    pub error: &'static str,
    /// Human explanation (names the field for schema errors).
    pub detail: String,
}

impl ApiError {
    fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error,
            detail: detail.into(),
        }
    }

    /// A 500 whose cause is logged, never sent: causes may name the server's files.
    fn internal(cause: &dyn std::fmt::Display, detail: &str) -> ApiError {
        tracing::error!(cause = %cause, "{detail}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            format!("{detail} (details in the server log)"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.error, "detail": self.detail})),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match &e {
            StoreError::NotADate(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_date", e.to_string())
            }
            StoreError::UnknownDate(_) | StoreError::Empty => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            StoreError::Io { .. } | StoreError::Submission(_) => {
                ApiError::internal(&e, "the store could not be read")
            }
        }
    }
}

/// The raw body: over the size limit -> 413, unreadable -> 400.
fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "payload_too_large", rejection.body_text())
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                rejection.body_text(),
            )
        }
    })
}

/// Parses a scoring body: not JSON -> 400, not the contract -> 422. `features` keys outside the
/// contract and `extra_feature_columns` are ignored.
fn parse_batch(bytes: &[u8], extra_feature_columns: &[String]) -> Result<Batch, ApiError> {
    batch_from_json(bytes, extra_feature_columns).map_err(|e| match e {
        BodyError::Malformed(e) => {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string())
        }
        BodyError::Schema(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "schema_error",
            e.to_string(),
        ),
    })
}

/// Runs CPU-bound work off the async workers; a panic inside becomes a 500, never a dropped connection.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(&e, "the request's work failed"))?
}

/// One scoring request between reading its body and answering. Dropping it unfinished (the client
/// went away, or the request timeout fired) raises the cancellation flag its blocking job checks.
struct ScoringRequest {
    state: Shared,
    cancelled: Arc<AtomicBool>,
    finished: bool,
}

impl ScoringRequest {
    fn start(state: &Shared) -> ScoringRequest {
        state.metrics.scoring_started();
        ScoringRequest {
            state: state.clone(),
            cancelled: Arc::new(AtomicBool::new(false)),
            finished: false,
        }
    }
}

impl Drop for ScoringRequest {
    fn drop(&mut self) {
        if !self.finished {
            self.cancelled.store(true, Ordering::Relaxed);
        }
        self.state.metrics.scoring_ended(!self.finished);
    }
}

/// A cancellation checkpoint of a blocking scoring job: `Err` once its request is cancelled.
type Checkpoint<'a> = &'a dyn Fn() -> Result<(), ApiError>;

/// Runs `work` in a blocking job of `request`. The job waits for a slot of
/// [`AppState::scoring_jobs`] and keeps it until its blocking work ends, so the work of abandoned
/// requests cannot pile up; `work` stops at its next checkpoint once the request is cancelled.
async fn scoring_job<T: Send + 'static>(
    state: &Shared,
    request: &mut ScoringRequest,
    work: impl FnOnce(&AppState, Checkpoint<'_>) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let slot = state
        .scoring_jobs
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::internal(&e, "the scoring slots are closed"))?;
    let (worker, cancelled) = (state.clone(), request.cancelled.clone());
    let result = blocking(move || {
        let _slot = slot;
        let checkpoint = move || {
            if cancelled.load(Ordering::Relaxed) {
                Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "cancelled",
                    "the request was cancelled",
                ))
            } else {
                Ok(())
            }
        };
        checkpoint()?;
        work(&worker, &checkpoint)
    })
    .await;
    request.finished = true;
    result
}

/// Parses and scores one JSON body (already decompressed by the tower-http layer) in a blocking
/// [`scoring_job`].
async fn json_scoring_job<T: Send + 'static>(
    state: &Shared,
    body: Result<Bytes, BytesRejection>,
    score: impl FnOnce(&Bundle, &Batch) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let bytes = body_bytes(body)?;
    let mut request = ScoringRequest::start(state);
    let bundle = state.bundle();
    scoring_job(state, &mut request, move |_, checkpoint| {
        let batch = parse_batch(&bytes, &bundle.feature_spec().address_columns)?;
        drop(bytes);
        checkpoint()?;
        score(&bundle, &batch)
    })
    .await
}

fn scoring_error(e: pipeline::MinerError) -> ApiError {
    match e {
        pipeline::MinerError::Io { .. }
        | pipeline::MinerError::Submission(_)
        | pipeline::MinerError::Key(_) => ApiError::internal(&e, "scoring failed"),
        _ => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "scoring_error",
            e.to_string(),
        ),
    }
}

fn score_json(rows: &[ScoreRow]) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            json!({"alert_id": r.alert_id, "score": r.score, "model_version": r.model_version,
                   "latency_ms": r.latency_ms, "explain_json": r.explain_json})
        })
        .collect()
}

/// Rankings in rank order, rank 1 first (ties by alert_id): consumers take the first N rows as the
/// top N alerts. `model_version` is added to every row when given.
fn ranking_json(rows: &[RankingRow], model_version: Option<&str>) -> Vec<Value> {
    let mut ordered: Vec<&RankingRow> = rows.iter().collect();
    ordered.sort_by(|a, b| {
        a.rank
            .cmp(&b.rank)
            .then_with(|| a.alert_id.cmp(&b.alert_id))
    });
    ordered
        .into_iter()
        .map(|r| {
            let mut row =
                json!({"alert_id": r.alert_id, "ranking_score": r.ranking_score, "rank": r.rank});
            if let Some(version) = model_version {
                row["model_version"] = Value::from(version);
            }
            row
        })
        .collect()
}

fn cluster_json(rows: &[ClusterScoreRow]) -> Vec<Value> {
    rows.iter()
        .map(|r| json!({"cluster_id": r.cluster_id, "score": r.score, "model_version": r.model_version}))
        .collect()
}

async fn health(State(state): State<Shared>) -> Response {
    let store_ok = state.store.readable();
    // A bundle is only built with all three models loaded and checked against its metadata.
    let versions = state.bundle().model_versions();
    let models_loaded: serde_json::Map<String, Value> = aml_models::bundle::files::MODELS
        .iter()
        .map(|(name, _)| (name.to_string(), Value::from(versions.contains_key(*name))))
        .collect();
    let healthy = store_ok && models_loaded.values().all(|v| v == &Value::Bool(true));
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if healthy { "healthy" } else { "degraded" },
            "models_loaded": models_loaded,
            "store_readable": store_ok,
            "uptime_seconds": state.started.elapsed().as_secs_f64(),
        })),
    )
        .into_response()
}

async fn version(State(state): State<Shared>) -> Json<Value> {
    let bundle = state.bundle();
    let versions = bundle.model_versions();
    let model = |name: &str| versions.get(name).cloned().unwrap_or_default();
    Json(json!({
        "api_version": API_VERSION,
        "alert_scorer_version": model("alert_scorer"),
        "alert_ranker_version": model("alert_ranker"),
        "cluster_scorer_version": model("cluster_scorer"),
        "miner_version": env!("CARGO_PKG_VERSION"),
        "bundle_version": bundle.version(),
        "models": versions,
    }))
}

async fn metrics(State(state): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn score_alerts(
    State(state): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let rows = json_scoring_job(&state, body, |bundle, batch| {
        let started = Instant::now();
        let mut rows = pipeline::score_alerts(batch, bundle).map_err(scoring_error)?;
        let per_alert = started.elapsed().as_secs_f64() * 1000.0 / rows.len().max(1) as f64;
        rows.iter_mut().for_each(|r| r.latency_ms = per_alert);
        Ok(rows)
    })
    .await?;
    state.metrics.add_alerts_scored(rows.len());
    Ok(Json(score_json(&rows)))
}

async fn score_everything(
    state: &Shared,
    body: Result<Bytes, BytesRejection>,
) -> Result<(pipeline::ScoredBatch, String), ApiError> {
    let (scored, version) = json_scoring_job(state, body, |bundle, batch| {
        let options = ScoreOptions {
            record_latency: true,
            timestamp: None,
        };
        let scored = pipeline::score_rows(batch, bundle, &options, &mut |_| {});
        Ok((scored.map_err(scoring_error)?, bundle.version().to_string()))
    })
    .await?;
    state.metrics.add_alerts_scored(scored.scores.len());
    Ok((scored, version))
}

async fn rank_alerts(
    State(state): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let (scored, version) = score_everything(&state, body).await?;
    Ok(Json(ranking_json(&scored.rankings, Some(&version))))
}

async fn score_clusters(
    State(state): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let (scored, _) = score_everything(&state, body).await?;
    state
        .metrics
        .add_clusters_scored(scored.cluster_scores.len());
    Ok(Json(cluster_json(&scored.cluster_scores)))
}

/// The parts a batch upload may hold: the batch directory's files, by their names.
pub const UPLOAD_FILES: [&str; 5] = [
    aml_core::batch::files::META,
    aml_core::batch::files::ALERTS,
    aml_core::batch::files::FEATURES,
    aml_core::batch::files::CLUSTERS,
    aml_core::batch::files::MONEY_FLOWS,
];

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(e.status(), "payload_too_large", e.body_text())
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_multipart", e.body_text())
    }
}

/// The batch file a part carries: its form name, else its file name, when that is one of
/// [`UPLOAD_FILES`]. Only these constants ever become paths.
fn upload_file(name: Option<&str>, file_name: Option<&str>) -> Option<&'static str> {
    let known = |text: Option<&str>| UPLOAD_FILES.iter().copied().find(|f| Some(*f) == text);
    known(name).or_else(|| known(file_name))
}

/// Streams every part of a batch upload into `dir`, one chunk at a time.
async fn receive_batch(multipart: &mut Multipart, dir: &std::path::Path) -> Result<(), ApiError> {
    let mut received: Vec<&'static str> = Vec::new();
    while let Some(mut part) = multipart.next_field().await.map_err(multipart_error)? {
        let file = upload_file(part.name(), part.file_name()).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "schema_error",
                format!(
                    "part {:?} (file name {:?}) is not one of {}",
                    part.name().unwrap_or(""),
                    part.file_name().unwrap_or(""),
                    UPLOAD_FILES.join(", ")
                ),
            )
        })?;
        if received.contains(&file) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "schema_error",
                format!("{file}: sent twice"),
            ));
        }
        received.push(file);
        let stored = |e: std::io::Error| ApiError::internal(&e, "the upload could not be stored");
        let mut out = tokio::fs::File::create(dir.join(file))
            .await
            .map_err(stored)?;
        while let Some(chunk) = part.chunk().await.map_err(multipart_error)? {
            out.write_all(&chunk).await.map_err(stored)?;
        }
        out.flush().await.map_err(stored)?;
    }
    let missing: Vec<&str> = UPLOAD_FILES
        .iter()
        .copied()
        .filter(|f| !received.contains(f))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "schema_error",
            format!("missing part(s): {}", missing.join(", ")),
        ))
    }
}

/// A batch directory error as the client sees it: the temporary directory's path removed.
fn upload_error(dir: &std::path::Path, e: &dyn std::fmt::Display) -> ApiError {
    let prefix = format!("{}{}", dir.display(), std::path::MAIN_SEPARATOR);
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "batch_error",
        e.to_string()
            .replace(&prefix, "")
            .replace(&*dir.to_string_lossy(), "batch"),
    )
}

/// Loads an uploaded batch directory exactly as `score_batch` does (META and hashes verified,
/// scoring columns only) and scores it with the same options (`latency_ms` 0.0).
fn score_uploaded(
    state: &AppState,
    bundle: &Bundle,
    dir: &std::path::Path,
    checkpoint: Checkpoint<'_>,
) -> Result<Value, ApiError> {
    let (batch, report) =
        Batch::load_with(dir, aml_core::FlowColumns::Scoring).map_err(|e| upload_error(dir, &e))?;
    if batch.alerts.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "batch_error",
            "alerts.parquet: no alerts to score",
        ));
    }
    let hashed = |e: std::io::Error| ApiError::internal(&e, "the upload could not be hashed");
    let input_hash =
        aml_core::io::sha256_file(&dir.join(aml_core::batch::files::ALERTS)).map_err(hashed)?;
    let batch_hash = aml_core::io::input_hash(dir).map_err(hashed)?;
    checkpoint()?;
    let scored = pipeline::score_rows(&batch, bundle, &ScoreOptions::default(), &mut |_| {})
        .map_err(scoring_error)?;
    let warnings: Vec<String> = report
        .warnings
        .iter()
        .map(ToString::to_string)
        .chain(scored.warnings.iter().map(ToString::to_string))
        .map(|w| upload_error(dir, &w).detail)
        .collect();
    state.metrics.add_alerts_scored(scored.scores.len());
    state
        .metrics
        .add_clusters_scored(scored.cluster_scores.len());
    Ok(json!({
        "batch_id": batch.meta.batch_id,
        "processing_date": batch.meta.processing_date,
        "model_version": bundle.version(),
        "input_hash": input_hash,
        "batch_hash": batch_hash,
        "scores": score_json(&scored.scores),
        "rankings": ranking_json(&scored.rankings, Some(bundle.version())),
        "cluster_scores": cluster_json(&scored.cluster_scores),
        "warnings": warnings,
    }))
}

/// `POST /score/batch`: a batch directory as `multipart/form-data` (the four Parquet files and
/// META.json), streamed to a temporary directory, then loaded, verified and scored like
/// `score_batch` does.
async fn score_batch_upload(
    State(state): State<Shared>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let mut multipart = multipart
        .map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, "bad_multipart", r.body_text()))?;
    let mut request = ScoringRequest::start(&state);
    let dir = tempfile::Builder::new()
        .prefix("aml-upload-")
        .tempdir()
        .map_err(|e| ApiError::internal(&e, "no temporary directory for the upload"))?;
    receive_batch(&mut multipart, dir.path()).await?;
    drop(multipart);
    let bundle = state.bundle();
    let body = scoring_job(&state, &mut request, move |worker, checkpoint| {
        let result = score_uploaded(worker, &bundle, dir.path(), checkpoint);
        drop(dir);
        result
    })
    .await?;
    Ok(Json(body))
}

async fn dates_available(State(state): State<Shared>) -> Result<Json<Value>, ApiError> {
    let mut dates = state.store.dates()?;
    dates.reverse(); // newest first
    Ok(Json(json!({"dates": dates, "count": dates.len()})))
}

async fn dates_latest(State(state): State<Shared>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"processing_date": state.store.latest()?})))
}

/// `metadata` of a stored-date response: `total` (`total_alerts` or `total_clusters`) and `count`
/// (the rows served), the model version, `processed_at` (when the submission was written), and the
/// stored manifest and receipt as written (every key they hold).
fn stored_metadata(state: &AppState, date: aml_core::date::Date, total: &str, n: usize) -> Value {
    let receipt = state.store.receipt_json(date);
    let manifest = state.store.manifest_json(date);
    let text = |value: &Option<Value>, key: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let model_version = text(&receipt, "model_version")
        .or_else(|| text(&manifest, "model_version"))
        .unwrap_or_default();
    let mut metadata = json!({
        "count": n,
        "model_version": model_version,
        "processed_at": state.store.processed_at(date),
        "receipt": receipt,
        "manifest": manifest,
    });
    metadata[total] = Value::from(n);
    metadata
}

/// Reads one kind of stored rows for `{date|latest}` off the async workers.
async fn stored<T: Send + 'static>(
    state: Shared,
    date: String,
    key: &'static str,
    total: &'static str,
    read: fn(&Store, aml_core::date::Date) -> Result<Vec<T>, StoreError>,
    to_json: fn(&[T]) -> Vec<Value>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let date = state.store.resolve(&date)?;
        let rows = read(&state.store, date)?;
        let mut body =
            json!({"processing_date": date, "metadata": stored_metadata(&state, date, total, rows.len())});
        body[key] = Value::Array(to_json(&rows));
        Ok(Json(body))
    })
    .await
}

async fn stored_scores(
    State(state): State<Shared>,
    Path(date): Path<String>,
) -> Result<Json<Value>, ApiError> {
    stored(
        state,
        date,
        "scores",
        "total_alerts",
        Store::scores,
        score_json,
    )
    .await
}

async fn stored_rankings(
    State(state): State<Shared>,
    Path(date): Path<String>,
) -> Result<Json<Value>, ApiError> {
    stored(
        state,
        date,
        "rankings",
        "total_alerts",
        Store::rankings,
        |rows: &[RankingRow]| ranking_json(rows, None),
    )
    .await
}

async fn stored_clusters(
    State(state): State<Shared>,
    Path(date): Path<String>,
) -> Result<Json<Value>, ApiError> {
    stored(
        state,
        date,
        "cluster_scores",
        "total_clusters",
        Store::cluster_scores,
        cluster_json,
    )
    .await
}

async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

/// The request body of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteBody {
    /// No body is read.
    None,
    /// The scoring JSON body (`ScoringRequest`), optionally `Content-Encoding: gzip` or `zstd`;
    /// `max_body_bytes` bounds it before and after decompression.
    Json,
    /// A batch as `multipart/form-data`, bounded by `max_upload_bytes`.
    Multipart,
}

/// One route of the API: the router and `/openapi.json` are both built from [`ROUTES`].
pub struct RouteSpec {
    /// HTTP method (upper case).
    pub method: &'static str,
    /// axum path, `{name}` for parameters.
    pub path: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// The request body the route reads.
    pub body: RouteBody,
    /// Response statuses besides 200, with meaning.
    pub errors: &'static [(u16, &'static str)],
    handler: fn() -> MethodRouter<Shared>,
}

const SCORING_ERRORS: &[(u16, &str)] = &[
    (
        400,
        "malformed JSON, or a compressed body that does not decompress",
    ),
    (408, "the request took longer than the request timeout"),
    (413, "body over `max_body_bytes`, received or decompressed"),
    (415, "a Content-Encoding other than gzip, zstd or identity"),
    (422, "schema error naming the field"),
    (503, "scoring queue full: retry after `Retry-After` seconds"),
];
const UPLOAD_ERRORS: &[(u16, &str)] = &[
    (400, "not multipart/form-data, or a malformed multipart body"),
    (408, "the request took longer than the request timeout"),
    (413, "upload over `max_upload_bytes`"),
    (422, "an unknown, repeated or missing part, or a batch the reader refuses (hash mismatch, missing column ...), naming the file"),
    (503, "scoring queue full: retry after `Retry-After` seconds"),
];
const DATE_ERRORS: &[(u16, &str)] = &[
    (400, "not a YYYY-MM-DD date"),
    (404, "no scores stored for that date"),
];

/// Every route of the service.
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec { method: "GET", path: "/health", summary: "{status: healthy|degraded, models_loaded: {alert_scorer, alert_ranker, cluster_scorer}, store_readable, uptime_seconds}", body: RouteBody::None, errors: &[(503, "degraded: a model or the store is unusable (same body)")], handler: || get(health) },
    RouteSpec { method: "GET", path: "/version", summary: "{api_version, alert_scorer_version, alert_ranker_version, cluster_scorer_version, miner_version, bundle_version, models}", body: RouteBody::None, errors: &[], handler: || get(version) },
    RouteSpec { method: "GET", path: "/metrics", summary: "Prometheus metrics (text)", body: RouteBody::None, errors: &[], handler: || get(metrics) },
    RouteSpec { method: "GET", path: "/openapi.json", summary: "This document", body: RouteBody::None, errors: &[], handler: || get(openapi) },
    RouteSpec { method: "POST", path: "/score/alerts", summary: "Score alerts: list of {alert_id, score, model_version, latency_ms, explain_json}", body: RouteBody::Json, errors: SCORING_ERRORS, handler: || post(score_alerts) },
    RouteSpec { method: "POST", path: "/rank/alerts", summary: "Rank alerts: list of {alert_id, ranking_score, rank, model_version}, rank 1 first", body: RouteBody::Json, errors: SCORING_ERRORS, handler: || post(rank_alerts) },
    RouteSpec { method: "POST", path: "/score/clusters", summary: "Score clusters: list of {cluster_id, score, model_version}", body: RouteBody::Json, errors: SCORING_ERRORS, handler: || post(score_clusters) },
    RouteSpec { method: "POST", path: "/score/batch", summary: "Score a whole batch sent as multipart/form-data (META.json and the four Parquet files): {batch_id, processing_date, model_version, input_hash, batch_hash, scores, rankings, cluster_scores, warnings}", body: RouteBody::Multipart, errors: UPLOAD_ERRORS, handler: || post(score_batch_upload) },
    RouteSpec { method: "GET", path: "/dates/available", summary: "Stored processing dates, newest first: {dates, count}", body: RouteBody::None, errors: &[], handler: || get(dates_available) },
    RouteSpec { method: "GET", path: "/dates/latest", summary: "Most recent stored processing date", body: RouteBody::None, errors: &[(404, "store empty")], handler: || get(dates_latest) },
    RouteSpec { method: "GET", path: "/scores/alerts/{date}", summary: "Stored alert scores of a date or `latest`: {processing_date, scores, metadata: {total_alerts, model_version, processed_at, ...}}", body: RouteBody::None, errors: DATE_ERRORS, handler: || get(stored_scores) },
    RouteSpec { method: "GET", path: "/rankings/alerts/{date}", summary: "Stored rankings of a date or `latest`, rank 1 first: {processing_date, rankings, metadata}", body: RouteBody::None, errors: DATE_ERRORS, handler: || get(stored_rankings) },
    RouteSpec { method: "GET", path: "/scores/clusters/{date}", summary: "Stored cluster scores of a date or `latest`: {processing_date, cluster_scores, metadata}", body: RouteBody::None, errors: DATE_ERRORS, handler: || get(stored_clusters) },
];

fn record_schema(table: &str) -> Value {
    json!({"type": "array", "description": format!("records of {table} with the contract's column names"),
           "items": {"type": "object", "additionalProperties": true}})
}

/// The OpenAPI 3.1 document, generated from [`ROUTES`].
pub fn openapi_document() -> Value {
    let mut paths = serde_json::Map::new();
    for route in ROUTES {
        let mut responses = serde_json::Map::new();
        responses.insert("200".into(), json!({"description": "success"}));
        for (status, meaning) in route.errors {
            responses.insert(
                status.to_string(),
                json!({"description": meaning, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
            );
        }
        let mut operation = json!({"summary": route.summary, "responses": responses});
        if route.path.contains("{date}") {
            operation["parameters"] = json!([{"name": "date", "in": "path", "required": true,
                "description": "YYYY-MM-DD or `latest`", "schema": {"type": "string"}}]);
        }
        match route.body {
            RouteBody::None => {}
            RouteBody::Json => {
                operation["requestBody"] = json!({"required": true, "content": {"application/json":
                    {"schema": {"$ref": "#/components/schemas/ScoringRequest"}}}});
                operation["parameters"] = json!([{"name": "Content-Encoding", "in": "header",
                    "required": false, "schema": {"type": "string", "enum": ["gzip", "zstd", "identity"]}}]);
            }
            RouteBody::Multipart => {
                let properties: serde_json::Map<String, Value> = UPLOAD_FILES
                    .iter()
                    .map(|f| (f.to_string(), json!({"type": "string", "format": "binary"})))
                    .collect();
                operation["requestBody"] = json!({"required": true, "content": {"multipart/form-data":
                    {"schema": {"type": "object", "required": UPLOAD_FILES, "properties": properties}}}});
            }
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method.to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "aml-miner", "version": API_VERSION},
        "paths": paths,
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error", "detail"],
                      "properties": {"error": {"type": "string"}, "detail": {"type": "string"}}},
            "ScoringRequest": {"type": "object", "required": ["alerts"], "properties": {
                "alerts": record_schema("alerts.parquet"), "features": record_schema("features.parquet"),
                "clusters": record_schema("clusters.parquet"), "money_flows": record_schema("money_flows.parquet"),
                "meta": {"type": "object", "description": "optional META.json object"}}}
        }}
    })
}

async fn fallback(request: Request) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route {} {}", request.method(), request.uri().path()),
    )
    .into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
    .into_response()
}

/// A panic anywhere in a handler becomes a JSON 500 (the panic message is logged, not sent).
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("");
    ApiError::internal(&message, "the handler panicked").into_response()
}

/// Gives the plain-text or empty error responses of the tower layers (413, 408, 503) the service's
/// JSON error body, keeping their headers (e.g. `Retry-After`).
async fn json_errors(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (kind, detail) = match status {
        StatusCode::REQUEST_TIMEOUT => (
            "request_timeout",
            format!(
                "the request took longer than the {} s limit",
                state.limits.request_timeout.as_secs_f64()
            ),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            format!(
                "the body is over the limit ({} bytes for a JSON body, received or decompressed; {} bytes for a batch upload)",
                state.limits.max_body_bytes, state.limits.max_upload_bytes
            ),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "Content-Encoding must be gzip, zstd or identity".to_string(),
        ),
        _ => (
            "error",
            status.canonical_reason().unwrap_or("error").to_string(),
        ),
    };
    let mut json = ApiError::new(status, kind, detail).into_response();
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}

/// The answer of a scoring request refused by the admission layer.
fn overloaded(state: &AppState, error: &BoxError) -> Response {
    if !error.is::<tower::load_shed::error::Overloaded>() {
        return ApiError::internal(error, "the scoring admission failed").into_response();
    }
    state.metrics.add_scoring_shed();
    let mut response = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        format!(
            "{} scoring jobs are running and {} waiting: retry later",
            state.limits.max_scoring_jobs, state.limits.max_scoring_queue
        ),
    )
    .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(state.limits.retry_after_seconds),
    );
    response
}

async fn record_metrics(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE.to_string(), |p| p.as_str().to_string());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.record(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The CORS layer for `origins` (`None` when empty: CORS off). `*` allows any origin; origins
/// that are not valid header values are skipped with a warning.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|origin| {
            HeaderValue::from_str(origin)
                .map_err(
                    |_| tracing::warn!(origin = %origin, "CORS origin skipped: not a header value"),
                )
                .ok()
        }))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
            .allow_headers([header::CONTENT_TYPE, header::CONTENT_ENCODING]),
    )
}

/// The application router for `state`.
pub fn router(state: Shared) -> Router {
    let limits = state.limits.clone();
    // Scoring admission: at most `jobs + queue` scoring requests inside the handlers, more are shed.
    let admitted = Arc::new(Semaphore::new(
        limits.max_scoring_jobs + limits.max_scoring_queue,
    ));
    let shed_state = state.clone();
    let admission = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(move |error: BoxError| {
            let state = shed_state.clone();
            async move { overloaded(&state, &error) }
        }))
        .load_shed()
        .layer(GlobalConcurrencyLimitLayer::with_semaphore(admitted));
    let routes = ROUTES.iter().fold(Router::new(), |router, route| {
        let handler = (route.handler)();
        // Body layers, innermost first. A JSON body is bounded after decompression (the inner
        // limit wraps the decompressed stream, so a bomb stops at the limit) and as received.
        let handler = match route.body {
            RouteBody::None => {
                handler.route_layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
            }
            RouteBody::Json => handler
                .route_layer(admission.clone())
                .route_layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
                .route_layer(RequestDecompressionLayer::new().gzip(true).zstd(true))
                .route_layer(RequestBodyLimitLayer::new(limits.max_body_bytes)),
            RouteBody::Multipart => handler
                .route_layer(admission.clone())
                .route_layer(RequestBodyLimitLayer::new(limits.max_upload_bytes)),
        };
        router.route(route.path, handler)
    });
    let routes = routes
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(DefaultBodyLimit::disable());
    let routes = match cors_layer(&limits.cors_allowed_origins) {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    routes
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), json_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .with_state(state)
}

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `state` on `listener` until `shutdown` completes, then lets in-flight requests finish for at
/// most `shutdown_grace` and closes every remaining connection.
///
/// HTTP/1.1 only. At most `max_connections` connections are open at once (the accept loop waits for
/// a free slot); a connection that does not deliver a complete request head within
/// `header_read_timeout`, idle keep-alive connections included, is closed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits.clone();
    let app = router(state);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let (close_tx, close_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.map_err(std::io::Error::other)?,
        };
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let connection = graceful.watch(
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone())),
        );
        let mut close = close_rx.clone();
        tokio::spawn(async move {
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                _ = close.wait_for(|&closing| closing) => {}
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "closing the connections still open {:?} after the shutdown signal",
            limits.shutdown_grace
        );
        let _ = close_tx.send(true);
        let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
        let _ = slots.acquire_many(all).await;
    }
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
