//! The axum application: state and limits, the route table (which also generates `/openapi.json`, so the
//! document cannot drift from the router), handlers, JSON errors, metrics, and the connection loop with
//! its timeouts, connection cap and graceful shutdown with a deadline.
//!
//! Every limit lives in [`ServiceLimits`] (defaults in its `Default`, flags in `examples/serve.rs`):
//! the request body size (tower-http `RequestBodyLimitLayer`, 413), a whole-request timeout
//! (tower-http `TimeoutLayer`, 408), the scoring admission (tower `GlobalConcurrencyLimitLayer` behind
//! `LoadShedLayer`, 503 with `Retry-After`), the number of scoring jobs running at once (a semaphore
//! whose permit travels into the blocking job, so abandoned jobs cannot pile up), the header-read /
//! idle-connection timeout and the connection cap (hyper's HTTP/1 builder and the accept loop), and the
//! shutdown grace period.

use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aml_core::submission::{ClusterScoreRow, RankingRow, ScoreRow};
use aml_core::Batch;
use aml_models::Bundle;
use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{BoxError, Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
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

/// The service's resource limits. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLimits {
    /// Request body limit in bytes; larger bodies get 413 (default 64 MiB).
    pub max_body_bytes: usize,
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
}

impl Default for ServiceLimits {
    fn default() -> ServiceLimits {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        ServiceLimits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            max_scoring_jobs: cpus,
            max_scoring_queue: cpus,
            retry_after_seconds: 1,
            max_connections: 512,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Everything a handler needs; built once at start.
pub struct AppState {
    /// Models, loaded once.
    pub bundle: Bundle,
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
            bundle,
            store,
            metrics: Metrics::default(),
            started: Instant::now(),
            scoring_jobs: Arc::new(Semaphore::new(limits.max_scoring_jobs)),
            limits,
        }
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

/// Parses and scores one body in a blocking job. The job waits for a slot of
/// [`AppState::scoring_jobs`] and keeps it until its blocking work ends, so the work of abandoned
/// requests cannot pile up; it stops at its next checkpoint once its request is cancelled.
async fn scoring_job<T: Send + 'static>(
    state: &Shared,
    body: Result<Bytes, BytesRejection>,
    score: impl FnOnce(&AppState, &Batch) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let bytes = body_bytes(body)?;
    let mut request = ScoringRequest::start(state);
    let slot = state
        .scoring_jobs
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::internal(&e, "the scoring slots are closed"))?;
    let (worker, cancelled) = (state.clone(), request.cancelled.clone());
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
    let result = blocking(move || {
        let _slot = slot;
        checkpoint()?;
        let batch = parse_batch(&bytes, &worker.bundle.feature_spec().address_columns)?;
        drop(bytes);
        checkpoint()?;
        score(&worker, &batch)
    })
    .await;
    request.finished = true;
    result
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

fn ranking_json(rows: &[RankingRow], model_version: &str) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            json!({"alert_id": r.alert_id, "ranking_score": r.ranking_score, "rank": r.rank,
                   "model_version": model_version})
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
    let status = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if store_ok { "ok" } else { "degraded" },
            "models_loaded": true,
            "store_readable": store_ok,
            "uptime_seconds": state.started.elapsed().as_secs_f64(),
        })),
    )
        .into_response()
}

async fn version(State(state): State<Shared>) -> Json<Value> {
    Json(json!({
        "api_version": API_VERSION,
        "miner_version": env!("CARGO_PKG_VERSION"),
        "bundle_version": state.bundle.version(),
        "models": state.bundle.model_versions(),
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
    let rows = scoring_job(&state, body, |state, batch| {
        let started = Instant::now();
        let mut rows = pipeline::score_alerts(batch, &state.bundle).map_err(scoring_error)?;
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
) -> Result<pipeline::ScoredBatch, ApiError> {
    let scored = scoring_job(state, body, |state, batch| {
        let options = ScoreOptions {
            record_latency: true,
            timestamp: None,
        };
        pipeline::score_rows(batch, &state.bundle, &options, &mut |_| {}).map_err(scoring_error)
    })
    .await?;
    state.metrics.add_alerts_scored(scored.scores.len());
    Ok(scored)
}

async fn rank_alerts(
    State(state): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let scored = score_everything(&state, body).await?;
    Ok(Json(ranking_json(&scored.rankings, state.bundle.version())))
}

async fn score_clusters(
    State(state): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let scored = score_everything(&state, body).await?;
    state
        .metrics
        .add_clusters_scored(scored.cluster_scores.len());
    Ok(Json(cluster_json(&scored.cluster_scores)))
}

async fn dates_available(State(state): State<Shared>) -> Result<Json<Value>, ApiError> {
    let dates = state.store.dates()?;
    Ok(Json(json!({"dates": dates, "count": dates.len()})))
}

async fn dates_latest(State(state): State<Shared>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"processing_date": state.store.latest()?})))
}

/// `metadata` of a stored-date response: counts, model version, manifest and receipt.
fn stored_metadata(state: &AppState, date: aml_core::date::Date, n: usize) -> Value {
    let receipt = state.store.receipt(date);
    json!({
        "count": n,
        "model_version": receipt.as_ref().map(|r| r.model_version.clone()),
        "receipt": receipt,
        "manifest": state.store.manifest(date),
    })
}

/// Reads one kind of stored rows for `{date|latest}` off the async workers.
async fn stored<T: Send + 'static>(
    state: Shared,
    date: String,
    key: &'static str,
    read: fn(&Store, aml_core::date::Date) -> Result<Vec<T>, StoreError>,
    to_json: fn(&[T]) -> Vec<Value>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let date = state.store.resolve(&date)?;
        let rows = read(&state.store, date)?;
        let mut body =
            json!({"processing_date": date, "metadata": stored_metadata(&state, date, rows.len())});
        body[key] = Value::Array(to_json(&rows));
        Ok(Json(body))
    })
    .await
}

async fn stored_scores(
    State(state): State<Shared>,
    Path(date): Path<String>,
) -> Result<Json<Value>, ApiError> {
    stored(state, date, "scores", Store::scores, score_json).await
}

async fn stored_rankings(
    State(state): State<Shared>,
    Path(date): Path<String>,
) -> Result<Json<Value>, ApiError> {
    stored(state, date, "rankings", Store::rankings, |rows: &[RankingRow]| {
        rows.iter()
            .map(|r| json!({"alert_id": r.alert_id, "ranking_score": r.ranking_score, "rank": r.rank}))
            .collect()
    })
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
        Store::cluster_scores,
        cluster_json,
    )
    .await
}

async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

/// One route of the API: the router and `/openapi.json` are both built from [`ROUTES`].
pub struct RouteSpec {
    /// HTTP method (upper case).
    pub method: &'static str,
    /// axum path, `{name}` for parameters.
    pub path: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// Takes the scoring JSON body.
    pub scoring_body: bool,
    /// Response statuses besides 200, with meaning.
    pub errors: &'static [(u16, &'static str)],
    handler: fn() -> MethodRouter<Shared>,
}

const SCORING_ERRORS: &[(u16, &str)] = &[
    (400, "malformed JSON"),
    (408, "the request took longer than the request timeout"),
    (413, "body over the configured limit"),
    (422, "schema error naming the field"),
    (503, "scoring queue full: retry after `Retry-After` seconds"),
];
const DATE_ERRORS: &[(u16, &str)] = &[
    (400, "not a YYYY-MM-DD date"),
    (404, "no scores stored for that date"),
];

/// Every route of the service.
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec { method: "GET", path: "/health", summary: "Models loaded and store readable", scoring_body: false, errors: &[(503, "store unreadable")], handler: || get(health) },
    RouteSpec { method: "GET", path: "/version", summary: "API version and every model's version", scoring_body: false, errors: &[], handler: || get(version) },
    RouteSpec { method: "GET", path: "/metrics", summary: "Prometheus metrics (text)", scoring_body: false, errors: &[], handler: || get(metrics) },
    RouteSpec { method: "GET", path: "/openapi.json", summary: "This document", scoring_body: false, errors: &[], handler: || get(openapi) },
    RouteSpec { method: "POST", path: "/score/alerts", summary: "Score alerts: list of {alert_id, score, model_version, latency_ms, explain_json}", scoring_body: true, errors: SCORING_ERRORS, handler: || post(score_alerts) },
    RouteSpec { method: "POST", path: "/rank/alerts", summary: "Rank alerts: list of {alert_id, ranking_score, rank, model_version}", scoring_body: true, errors: SCORING_ERRORS, handler: || post(rank_alerts) },
    RouteSpec { method: "POST", path: "/score/clusters", summary: "Score clusters: list of {cluster_id, score, model_version}", scoring_body: true, errors: SCORING_ERRORS, handler: || post(score_clusters) },
    RouteSpec { method: "GET", path: "/dates/available", summary: "Stored processing dates, ascending", scoring_body: false, errors: &[], handler: || get(dates_available) },
    RouteSpec { method: "GET", path: "/dates/latest", summary: "Most recent stored processing date", scoring_body: false, errors: &[(404, "store empty")], handler: || get(dates_latest) },
    RouteSpec { method: "GET", path: "/scores/alerts/{date}", summary: "Stored alert scores of a date or `latest`: {processing_date, scores, metadata}", scoring_body: false, errors: DATE_ERRORS, handler: || get(stored_scores) },
    RouteSpec { method: "GET", path: "/rankings/alerts/{date}", summary: "Stored rankings of a date or `latest`: {processing_date, rankings, metadata}", scoring_body: false, errors: DATE_ERRORS, handler: || get(stored_rankings) },
    RouteSpec { method: "GET", path: "/scores/clusters/{date}", summary: "Stored cluster scores of a date or `latest`: {processing_date, cluster_scores, metadata}", scoring_body: false, errors: DATE_ERRORS, handler: || get(stored_clusters) },
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
        if route.scoring_body {
            operation["requestBody"] = json!({"required": true, "content": {"application/json":
                {"schema": {"$ref": "#/components/schemas/ScoringRequest"}}}});
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
                "the body is over the {} byte limit",
                state.limits.max_body_bytes
            ),
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
        let handler = if route.scoring_body {
            handler.route_layer(admission.clone())
        } else {
            handler
        };
        router.route(route.path, handler)
    });
    routes
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
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
