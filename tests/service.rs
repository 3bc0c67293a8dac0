//! The HTTP service started in-process on a loopback port: every route and every error, and the scoring
//! routes giving the same results as `score_batch` on the same data.

mod service_support;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use aml_core::submission::{files, read_cluster_scores, read_rankings, read_scores};
use aml_miner::pipeline::{self, ScoreOptions};
use aml_miner::service::client::{request, Connection};
use aml_miner::service::request::batch_to_json;
use aml_miner::service::{serve, AppState, Store, ROUTES};
use serde_json::Value;
use service_support::fixture;

const MAX_BODY: usize = 8 * 1024 * 1024;

struct Server {
    addr: SocketAddr,
    stop: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<std::io::Result<()>>>>,
}

fn start(store: &std::path::Path, max_body: usize) -> Server {
    let mut state = AppState::new(fixture().bundle.clone(), Store::new(store));
    state.max_body_bytes = max_body;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            addr_tx.send(listener.local_addr()?).unwrap();
            serve(listener, Arc::new(state), async move {
                let _ = tokio::task::spawn_blocking(move || rx.recv()).await;
            })
            .await
        })
    });
    Server {
        addr: addr_rx.recv().unwrap(),
        stop: std::sync::Mutex::new(Some(tx)),
        thread: std::sync::Mutex::new(Some(thread)),
    }
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| start(&fixture().store, MAX_BODY))
}

fn get(path: &str) -> (u16, Value) {
    let response = request(server().addr, "GET", path, None).unwrap();
    (response.status, response.json().unwrap_or(Value::Null))
}

fn post(path: &str, body: &[u8]) -> (u16, Value) {
    let response = request(server().addr, "POST", path, Some(body)).unwrap();
    (response.status, response.json().unwrap_or(Value::Null))
}

fn body() -> &'static Vec<u8> {
    static BODY: OnceLock<Vec<u8>> = OnceLock::new();
    BODY.get_or_init(|| serde_json::to_vec(&batch_to_json(&fixture().batch)).unwrap())
}

fn assert_error(status: u16, value: &Value, expected: u16, needle: &str) {
    assert_eq!(status, expected, "{value}");
    assert!(value["error"].is_string(), "{value}");
    let detail = value["detail"].as_str().unwrap();
    assert!(
        detail.contains(needle),
        "{detail:?} should mention {needle:?}"
    );
}

#[test]
fn health_version_openapi() {
    let (status, health) = get("/health");
    assert_eq!(status, 200);
    assert_eq!(health["models_loaded"], true);
    assert_eq!(health["store_readable"], true);
    let (status, version) = get("/version");
    assert_eq!(status, 200);
    assert_eq!(version["bundle_version"], fixture().bundle.version());
    assert_eq!(
        version["models"].as_object().unwrap().len(),
        fixture().bundle.model_versions().len()
    );
    let (status, doc) = get("/openapi.json");
    assert_eq!(status, 200);
    for route in ROUTES {
        let op = &doc["paths"][route.path][route.method.to_ascii_lowercase()];
        assert!(
            op["summary"].is_string(),
            "{} {} undocumented",
            route.method,
            route.path
        );
    }
    assert_eq!(doc["paths"].as_object().unwrap().len(), ROUTES.len());
}

#[test]
fn scoring_routes_match_score_batch() {
    let f = fixture();
    let scored =
        pipeline::score_rows(&f.batch, &f.bundle, &ScoreOptions::default(), &mut |_| {}).unwrap();
    let (status, scores) = post("/score/alerts", body());
    assert_eq!(status, 200, "{scores}");
    let scores = scores.as_array().unwrap();
    assert_eq!(scores.len(), scored.scores.len());
    for (got, want) in scores.iter().zip(&scored.scores) {
        assert_eq!(got["alert_id"], want.alert_id.as_str());
        assert_eq!(
            got["score"].as_f64().unwrap().to_bits(),
            want.score.to_bits()
        );
        assert_eq!(got["model_version"], want.model_version.as_str());
        assert_eq!(got["explain_json"], want.explain_json.as_str());
        assert!(got["latency_ms"].as_f64().unwrap() >= 0.0);
    }
    // The stored submission written by score_batch agrees too.
    let stored = read_scores(&f.submission().join(files::SCORES)).unwrap();
    assert_eq!(
        stored.iter().map(|r| r.score.to_bits()).collect::<Vec<_>>(),
        scores
            .iter()
            .map(|r| r["score"].as_f64().unwrap().to_bits())
            .collect::<Vec<_>>()
    );

    let (status, rankings) = post("/rank/alerts", body());
    assert_eq!(status, 200, "{rankings}");
    let want = read_rankings(&f.submission().join(files::RANKINGS)).unwrap();
    let rankings = rankings.as_array().unwrap();
    assert_eq!(rankings.len(), want.len());
    for (got, want) in rankings.iter().zip(&want) {
        assert_eq!(got["alert_id"], want.alert_id.as_str());
        assert_eq!(got["rank"].as_i64().unwrap(), i64::from(want.rank));
        assert_eq!(
            got["ranking_score"].as_f64().unwrap().to_bits(),
            want.ranking_score.to_bits()
        );
    }

    let (status, clusters) = post("/score/clusters", body());
    assert_eq!(status, 200, "{clusters}");
    let want = read_cluster_scores(&f.submission().join(files::CLUSTER_SCORES)).unwrap();
    let clusters = clusters.as_array().unwrap();
    assert_eq!(clusters.len(), want.len());
    for (got, want) in clusters.iter().zip(&want) {
        assert_eq!(got["cluster_id"], want.cluster_id.as_str());
        assert_eq!(
            got["score"].as_f64().unwrap().to_bits(),
            want.score.to_bits()
        );
    }

    let metrics = request(server().addr, "GET", "/metrics", None).unwrap();
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert!(
        text.contains(
            "aml_http_requests_total{method=\"POST\",route=\"/score/alerts\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(text
        .contains("aml_http_request_duration_seconds_bucket{route=\"/rank/alerts\",le=\"+Inf\"}"));
    let scored_total: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("aml_alerts_scored_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(scored_total >= 3 * f.batch.alerts.len() as u64);
}

#[test]
fn store_routes() {
    let f = fixture();
    let (status, dates) = get("/dates/available");
    assert_eq!(status, 200);
    assert_eq!(dates["dates"], serde_json::json!([f.date]));
    let (status, latest) = get("/dates/latest");
    assert_eq!(
        (status, latest["processing_date"].as_str()),
        (200, Some(f.date.as_str()))
    );
    let stored = read_scores(&f.submission().join(files::SCORES)).unwrap();
    for path in [
        format!("/scores/alerts/{}", f.date),
        "/scores/alerts/latest".to_string(),
    ] {
        let (status, body) = get(&path);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["processing_date"], f.date.as_str());
        assert_eq!(body["scores"].as_array().unwrap().len(), stored.len());
        assert_eq!(body["scores"][0]["alert_id"], stored[0].alert_id.as_str());
        assert_eq!(body["metadata"]["count"], stored.len());
        assert_eq!(body["metadata"]["model_version"], f.bundle.version());
    }
    let (status, body) = get("/rankings/alerts/latest");
    assert_eq!(status, 200);
    assert_eq!(body["rankings"].as_array().unwrap().len(), stored.len());
    let (status, body) = get(&format!("/scores/clusters/{}", f.date));
    assert_eq!(status, 200);
    assert_eq!(
        body["cluster_scores"].as_array().unwrap().len(),
        f.batch.clusters.len()
    );
}

#[test]
fn errors_are_json() {
    let (s, v) = get("/scores/alerts/2020-01-01");
    assert_error(s, &v, 404, "2020-01-01");
    let (s, v) = get("/rankings/alerts/yesterday");
    assert_error(s, &v, 400, "not a date");
    let (s, v) = get("/scores/clusters/2025-02-30");
    assert_error(s, &v, 400, "not a date");
    let (s, v) = get("/no/such/route");
    assert_error(s, &v, 404, "/no/such/route");
    let (s, v) = get("/score/alerts");
    assert_error(s, &v, 405, "GET");
    let (s, v) = post("/score/alerts", b"{\"alerts\": [");
    assert_error(s, &v, 400, "EOF");
    let (s, v) = post("/score/alerts", b"[1, 2]");
    assert_error(s, &v, 422, "body");
    let (s, v) = post("/rank/alerts", br#"{"alerts": [{"address": "x"}]}"#);
    assert_error(s, &v, 422, "alerts[0].alert_id");
    let (s, v) = post(
        "/score/clusters",
        br#"{"alerts": [{"alert_id": "a", "address": "x", "volume_usd": "lots"}]}"#,
    );
    assert_error(s, &v, 422, "alerts[0].volume_usd");
    let (s, v) = post("/score/alerts", br#"{"alerts": [], "extra": 1}"#);
    assert_error(s, &v, 422, "extra");
}

#[test]
fn body_over_the_limit_is_413() {
    let small = start(&fixture().store, 1024);
    let r = request(
        small.addr,
        "POST",
        "/score/alerts",
        Some([b' '; 2048].as_slice()),
    )
    .unwrap();
    assert_error(r.status, &r.json().unwrap(), 413, "");
    let r = request(
        small.addr,
        "POST",
        "/score/alerts",
        Some(b"{\"alerts\": 5}".as_slice()),
    )
    .unwrap();
    assert_error(r.status, &r.json().unwrap(), 422, "alerts");
}

#[test]
fn empty_store_and_graceful_shutdown() {
    let f = fixture();
    let server = start(&f.root.path().join("empty-store"), MAX_BODY);
    let (status, body) = {
        let r = request(server.addr, "GET", "/dates/latest", None).unwrap();
        (r.status, r.json().unwrap())
    };
    assert_error(status, &body, 404, "no processing date");
    let r = request(server.addr, "GET", "/dates/available", None).unwrap();
    assert_eq!(r.json().unwrap()["dates"], serde_json::json!([]));
    // A keep-alive connection with a request answered, then shutdown: the server stops cleanly.
    let mut conn = Connection::open(server.addr).unwrap();
    assert_eq!(conn.send("GET", "/health", None).unwrap().status, 200);
    drop(conn);
    server
        .stop
        .lock()
        .unwrap()
        .take()
        .unwrap()
        .send(())
        .unwrap();
    let result = server
        .thread
        .lock()
        .unwrap()
        .take()
        .unwrap()
        .join()
        .unwrap();
    assert!(result.is_ok());
    assert!(request(server.addr, "GET", "/health", None).is_err());
}
