//! The HTTP service started in-process on a loopback port: every route and every error, and the scoring
//! routes giving the same results as `score_batch` on the same data.

mod service_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aml_core::submission::{files, read_cluster_scores, read_rankings, read_scores};
use aml_miner::pipeline::{self, ScoreOptions};
use aml_miner::service::request::batch_to_json;
use aml_miner::service::{ServiceLimits, ROUTES};
use serde_json::Value;
use service_support::client::{request, Connection};
use service_support::fixture;
use service_support::load;
use service_support::server::{start_with, Server};

const MAX_BODY: usize = 8 * 1024 * 1024;

fn start(store: &std::path::Path, max_body: usize) -> Server {
    start_with(
        store,
        ServiceLimits {
            max_body_bytes: max_body,
            ..ServiceLimits::default()
        },
    )
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
    assert_eq!(health["status"], "healthy");
    assert_eq!(
        health["models_loaded"],
        serde_json::json!({"alert_scorer": true, "alert_ranker": true, "cluster_scorer": true})
    );
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
    let mut want = read_rankings(&f.submission().join(files::RANKINGS)).unwrap();
    want.sort_by_key(|r| r.rank); // served rank 1 first (ties stay by alert_id)
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
    assert!(server.shut_down(Duration::from_secs(30)).is_ok());
    assert!(request(server.addr, "GET", "/health", None).is_err());
}

/// Polls `condition` every 10 ms, at most 1,000 times (a bounded wait, not a timing assertion).
fn wait_until(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..1_000 {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting until {what}");
}

/// Everything `stream` receives until the server closes it (an error after 20 s of silence).
fn read_to_close(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut received = Vec::new();
    stream.read_to_end(&mut received)?;
    Ok(received)
}

/// The fixture's body with a new key in every `features` record, holding text (not a number).
fn body_with_invented_feature_keys() -> Vec<u8> {
    let mut value = batch_to_json(&fixture().batch);
    for (i, record) in value["features"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        record[format!("invented_{i}")] = Value::from("not a number");
    }
    serde_json::to_vec(&value).unwrap()
}

#[test]
fn unknown_feature_keys_are_ignored() {
    let (status, plain) = post("/score/alerts", body());
    assert_eq!(status, 200, "{plain}");
    let (status, extra) = post("/score/alerts", &body_with_invented_feature_keys());
    assert_eq!(status, 200, "{extra}");
    let bits = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["alert_id"].clone(),
                    r["score"].as_f64().unwrap().to_bits(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&plain), bits(&extra));
    // A key the contract names must still hold a number.
    let mut value = batch_to_json(&fixture().batch);
    value["features"][3]["degree_in"] = Value::from("many");
    let (s, v) = post("/score/alerts", &serde_json::to_vec(&value).unwrap());
    assert_error(s, &v, 422, "features[3].degree_in");
}

#[test]
fn header_read_timeout_closes_slow_and_idle_connections() {
    let server = start_with(
        &fixture().store,
        ServiceLimits {
            header_read_timeout: Duration::from_millis(300),
            ..ServiceLimits::default()
        },
    );
    // A partial request line, then nothing; and a connection that never sends a byte.
    let mut partial = TcpStream::connect(server.addr).unwrap();
    partial.write_all(b"GET /hea").unwrap();
    let idle = TcpStream::connect(server.addr).unwrap();
    for mut stream in [partial, idle] {
        // Closed by the server: end of stream (possibly after a 408), not our read timeout.
        let rest = read_to_close(&mut stream).expect("the server closes the connection");
        let text = String::from_utf8_lossy(&rest);
        assert!(
            rest.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    }
    // The server still answers.
    assert_eq!(
        request(server.addr, "GET", "/health", None).unwrap().status,
        200
    );
}

#[test]
fn request_timeout_answers_408_and_the_waiting_job_never_runs() {
    let server = start_with(
        &fixture().store,
        ServiceLimits {
            request_timeout: Duration::from_millis(300),
            max_scoring_jobs: 1,
            ..ServiceLimits::default()
        },
    );
    let state = server.state.clone();
    // Every scoring slot busy: the request waits for one until its deadline.
    let slots = state.scoring_jobs().clone().try_acquire_owned().unwrap();
    let r = request(server.addr, "POST", "/score/alerts", Some(body())).unwrap();
    let v = r.json().unwrap();
    assert_error(r.status, &v, 408, "limit");
    assert_eq!(v["error"], "request_timeout");
    wait_until("the request is cancelled", || {
        state.metrics.scoring_cancelled() == 1 && state.metrics.scoring_active() == 0
    });
    drop(slots);
    assert_eq!(state.metrics.alerts_scored(), 0);
}

#[test]
fn scoring_beyond_the_queue_gets_503_with_retry_after() {
    let server = start_with(
        &fixture().store,
        ServiceLimits {
            max_scoring_jobs: 1,
            max_scoring_queue: 0,
            retry_after_seconds: 7,
            ..ServiceLimits::default()
        },
    );
    let state = server.state.clone();
    let slot = state.scoring_jobs().clone().try_acquire_owned().unwrap();
    let addr = server.addr;
    let admitted = std::thread::spawn(move || {
        request(addr, "POST", "/score/alerts", Some(body()))
            .unwrap()
            .status
    });
    wait_until("the first request is admitted", || {
        state.metrics.scoring_active() == 1
    });
    // Refused before the body is read: with `Expect: 100-continue` nothing is uploaded.
    for path in ["/score/alerts", "/rank/alerts", "/score/clusters"] {
        let r = Connection::open(addr)
            .unwrap()
            .send_expecting_continue("POST", path, body())
            .unwrap();
        assert_error(r.status, &r.json().unwrap(), 503, "retry later");
        assert_eq!(r.header("retry-after"), Some("7"));
    }
    // Read routes are not limited.
    assert_eq!(request(addr, "GET", "/health", None).unwrap().status, 200);
    drop(slot);
    assert_eq!(admitted.join().unwrap(), 200);
    let metrics = request(addr, "GET", "/metrics", None).unwrap().text();
    assert!(metrics.contains("aml_scoring_shed_total 3\n"), "{metrics}");
}

#[test]
fn a_client_that_goes_away_cancels_its_scoring_job() {
    let server = start_with(
        &fixture().store,
        ServiceLimits {
            max_scoring_jobs: 1,
            ..ServiceLimits::default()
        },
    );
    let state = server.state.clone();
    let slot = state.scoring_jobs().clone().try_acquire_owned().unwrap();
    // The whole request is sent, then the client closes its socket while the job waits for a slot.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let head = format!(
        "POST /score/alerts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body().len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body()).unwrap();
    wait_until("the request is admitted", || {
        state.metrics.scoring_active() == 1
    });
    drop(stream);
    wait_until("the request is cancelled", || {
        state.metrics.scoring_cancelled() == 1 && state.metrics.scoring_active() == 0
    });
    drop(slot);
    // The cancelled job never scored; the slot is free for the next request.
    assert_eq!(state.metrics.alerts_scored(), 0);
    let r = request(server.addr, "POST", "/score/alerts", Some(body())).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        state.metrics.alerts_scored(),
        fixture().batch.alerts.len() as u64
    );
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let server = start_with(
        &fixture().store,
        ServiceLimits {
            max_connections: 1,
            ..ServiceLimits::default()
        },
    );
    let mut first = Connection::open(server.addr).unwrap();
    assert_eq!(first.send("GET", "/health", None).unwrap().status, 200);
    // A second client's request is not read while the first connection holds the only slot.
    let mut second = TcpStream::connect(server.addr).unwrap();
    second
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    let blocked = second.read(&mut byte);
    assert!(
        blocked.as_ref().is_err_and(|e| matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        "{blocked:?}"
    );
    drop(first);
    let answer = read_to_close(&mut second).unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

#[test]
fn shutdown_closes_a_stuck_connection_after_the_grace_period() {
    let server = start_with(
        &fixture().store,
        ServiceLimits {
            shutdown_grace: Duration::from_millis(500),
            ..ServiceLimits::default()
        },
    );
    // A client that announced a body and stopped half-way, holding its connection open.
    let mut stuck = TcpStream::connect(server.addr).unwrap();
    stuck
        .write_all(
            b"POST /score/alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"alerts\"",
        )
        .unwrap();
    wait_until("the request is in flight", || {
        request(server.addr, "GET", "/metrics", None)
            .is_ok_and(|r| r.text().contains("route=\"/metrics\""))
    });
    assert!(server.shut_down(Duration::from_secs(20)).is_ok());
    let _ = read_to_close(&mut stuck); // end of stream or reset: closed either way
    assert!(request(server.addr, "GET", "/health", None).is_err());
}

#[test]
fn metrics_labels_stay_bounded() {
    let server = start(&fixture().store, MAX_BODY);
    let mut conn = Connection::open(server.addr).unwrap();
    for i in 0..20 {
        let method = format!("BREW{i}");
        let _ = conn.send(&method, "/health", None);
        conn = Connection::open(server.addr).unwrap();
        let r = conn.send("GET", &format!("/probe/{i}"), None).unwrap();
        assert_eq!(r.status, 404);
    }
    let text = request(server.addr, "GET", "/metrics", None)
        .unwrap()
        .text();
    assert!(!text.contains("BREW"), "{text}");
    assert!(!text.contains("/probe/"), "{text}");
    assert!(
        text.contains("method=\"GET\",route=\"unmatched\",status=\"404\"} 20\n"),
        "{text}"
    );
    assert!(text.contains("method=\"OTHER\""), "{text}");
}

#[test]
fn error_bodies_never_show_server_paths() {
    let root = tempfile::tempdir().unwrap();
    let store = root.path().join("store");
    std::fs::create_dir_all(store.join("2025-01-01")).unwrap();
    std::fs::write(store.join("2025-01-01").join(files::SCORES), b"not parquet").unwrap();
    let server = start(&store, MAX_BODY);
    let r = request(server.addr, "GET", "/scores/alerts/2025-01-01", None).unwrap();
    let v = r.json().unwrap();
    assert_error(r.status, &v, 500, "server log");
    // A store root that is a file cannot be listed.
    let file_root = root.path().join("file");
    std::fs::write(&file_root, b"x").unwrap();
    let broken = start(&file_root, MAX_BODY);
    let r = request(broken.addr, "GET", "/dates/available", None).unwrap();
    let w = r.json().unwrap();
    assert_error(r.status, &w, 500, "server log");
    let tmp = root.path().to_str().unwrap();
    for detail in [&v["detail"], &w["detail"]] {
        let detail = detail.as_str().unwrap();
        assert!(!detail.contains(tmp) && !detail.contains('/'), "{detail}");
    }
}

#[test]
fn scoring_storm_gets_only_200_or_503_and_health_answers() {
    let server = start_with(
        &fixture().store,
        ServiceLimits {
            max_scoring_jobs: 1,
            max_scoring_queue: 1,
            ..ServiceLimits::default()
        },
    );
    let report = load::storm(
        server.addr,
        "/score/alerts",
        Arc::new(body().clone()),
        12,
        0,
        Duration::from_millis(20),
    );
    let s = &report.scoring;
    assert_eq!(s.requests(), 12, "{s}");
    assert_eq!(s.count(200) + s.count(503), 12, "{s}");
    assert!(s.count(200) >= 1 && s.count(503) >= 1, "{s}");
    assert!(report.health.requests() >= 1);
    // No transport error, every 503 with Retry-After, every /health poll answered 200.
    assert!(report.passed(), "{report}");
}
