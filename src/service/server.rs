//! The axum application: state, the route table (which also generates `/openapi.json`, so the document
//! cannot drift from the router), handlers, JSON errors, panic catching, metrics and graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use aml_core::submission::{ClusterScoreRow, RankingRow, ScoreRow};
use aml_core::Batch;
use aml_models::Bundle;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::metrics::Metrics;
use super::request::batch_from_json;
use super::store::{Store, StoreError};
use crate::pipeline::{self, ScoreOptions};

/// Version of the HTTP API (bumped on incompatible changes).
pub const API_VERSION: &str = "1.0.0";
/// Default request body limit: 64 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Everything a handler needs; built once at start.
pub struct AppState {
    /// Models, loaded once.
    pub bundle: Bundle,
    /// The daily store.
    pub store: Store,
    /// Request metrics.
    pub metrics: Metrics,
    /// Body size limit in bytes.
    pub max_body_bytes: usize,
    /// Start time, for `/health`.
    pub started: Instant,
}

impl AppState {
    /// State with the given models and store and the default body limit.
    pub fn new(bundle: Bundle, store: Store) -> AppState {
        AppState {
            bundle,
            store,
            metrics: Metrics::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            started: Instant::now(),
        }
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
        let status = match &e {
            StoreError::NotADate(_) => StatusCode::BAD_REQUEST,
            StoreError::UnknownDate(_) | StoreError::Empty => StatusCode::NOT_FOUND,
            StoreError::Io { .. } | StoreError::Submission(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let kind = match status {
            StatusCode::BAD_REQUEST => "invalid_date",
            StatusCode::NOT_FOUND => "not_found",
            _ => "store_error",
        };
        ApiError::new(status, kind, e.to_string())
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

/// Parses a scoring body: not JSON -> 400, not the contract -> 422.
fn parse_batch(bytes: &[u8]) -> Result<Batch, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()))?;
    batch_from_json(&value).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "schema_error",
            e.to_string(),
        )
    })
}

/// Runs CPU-bound scoring off the async workers; a panic inside becomes a 500, never a dropped connection.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            e.to_string(),
        )
    })?
}

fn scoring_error(e: pipeline::MinerError) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "scoring_error",
        e.to_string(),
    )
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
    let bytes = body_bytes(body)?;
    let worker = state.clone();
    let rows = blocking(move || {
        let batch = parse_batch(&bytes)?;
        let started = Instant::now();
        let mut rows = pipeline::score_alerts(&batch, &worker.bundle).map_err(scoring_error)?;
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
    let bytes = body_bytes(body)?;
    let worker = state.clone();
    let scored = blocking(move || {
        let batch = parse_batch(&bytes)?;
        let options = ScoreOptions {
            record_latency: true,
            timestamp: None,
        };
        pipeline::score_rows(&batch, &worker.bundle, &options, &mut |_| {}).map_err(scoring_error)
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
    (413, "body over the configured limit"),
    (422, "schema error naming the field"),
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

/// Runs the rest of the stack in its own task so that a panic anywhere becomes a JSON 500.
async fn catch_panic(request: Request, next: Next) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(e) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            if e.is_panic() {
                "the handler panicked".to_string()
            } else {
                e.to_string()
            },
        )
        .into_response(),
    }
}

async fn record_metrics(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.record(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The application router for `state`.
pub fn router(state: Shared) -> Router {
    let routes = ROUTES.iter().fold(Router::new(), |router, route| {
        router.route(route.path, (route.handler)())
    });
    routes
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(catch_panic))
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
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
