//! The service speaks the subnet template's wire format: every route's response deserializes into
//! structs that mirror the template's pydantic models (every template field required, with its type;
//! our extra fields are allowed), with the template's meaning (status words, newest date first, rank 1
//! first, `processed_at` from the stored submission). Whole days over HTTP: gzip and zstd JSON bodies,
//! a decompression bomb refused with 413, and a batch uploaded as multipart/form-data scored exactly like
//! `score_batch`. CORS is off by default and on when configured.

mod service_support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aml_core::submission::{files, read_cluster_scores, read_rankings, read_scores};
use aml_miner::service::request::batch_to_json;
use aml_miner::service::{ServiceLimits, ROUTES};
use serde::Deserialize;
use serde_json::Value;
use service_support::client::{request, Connection, Response};
use service_support::server::{start_with, Server};
use service_support::upload::{day_parts, multipart, upload_day, BOUNDARY};
use service_support::{fixture, TIMESTAMP};

// ---- The template's response models (pydantic), field for field. Unknown fields are allowed. ----

#[derive(Debug, Deserialize)]
struct HealthResponse {
    status: String,
    models_loaded: BTreeMap<String, bool>,
}

#[derive(Debug, Deserialize)]
struct VersionResponse {
    api_version: String,
    alert_scorer_version: String,
    alert_ranker_version: String,
    cluster_scorer_version: String,
}

#[derive(Debug, Deserialize)]
struct DatesResponse {
    dates: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct StoredScore {
    alert_id: String,
    score: f64,
    model_version: String,
    latency_ms: f64,
}

#[derive(Debug, Deserialize)]
struct ScoresMetadata {
    total_alerts: u64,
    model_version: String,
    processed_at: String,
}

#[derive(Debug, Deserialize)]
struct ScoresResponse {
    processing_date: String,
    scores: Vec<StoredScore>,
    metadata: ScoresMetadata,
}

#[derive(Debug, Deserialize)]
struct StoredRanking {
    alert_id: String,
    rank: i64,
}

#[derive(Debug, Deserialize)]
struct RankingsResponse {
    processing_date: String,
    rankings: Vec<StoredRanking>,
}

/// One item of `POST /score/alerts` (the template's `ScoreResponse`).
#[derive(Debug, Deserialize)]
struct ScoreResponse {
    alert_id: String,
    score: f64,
    model_version: String,
    latency_ms: f64,
    explain_json: String,
}

/// `POST /score/batch`.
#[derive(Debug, Deserialize)]
struct BatchResponse {
    processing_date: String,
    model_version: String,
    input_hash: String,
    batch_hash: String,
    scores: Vec<ScoreResponse>,
    rankings: Vec<Value>,
    cluster_scores: Vec<Value>,
}

fn parse<T: serde::de::DeserializeOwned>(response: &Response) -> T {
    serde_json::from_slice(&response.body).unwrap_or_else(|e| {
        panic!(
            "{e}: {} {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        )
    })
}

const EARLIER: &str = "2025-09-30";

/// A store holding the fixture's submission under its date and a copy under an earlier date.
fn two_day_store() -> &'static PathBuf {
    static STORE: OnceLock<PathBuf> = OnceLock::new();
    STORE.get_or_init(|| {
        let f = fixture();
        let store = f.root.path().join("two-day-store");
        for date in [f.date.as_str(), EARLIER] {
            let dir = store.join(date);
            std::fs::create_dir_all(&dir).unwrap();
            for entry in std::fs::read_dir(f.submission()).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
            }
        }
        store
    })
}

fn limits(max_body: usize) -> ServiceLimits {
    ServiceLimits {
        max_body_bytes: max_body,
        ..ServiceLimits::default()
    }
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| start_with(two_day_store(), limits(8 << 20)))
}

fn get(path: &str) -> Response {
    request(server().addr, "GET", path, None).unwrap()
}

/// A POST with `Expect: 100-continue`, so a request refused before its body is read (413 by
/// `Content-Length`, 415) is answered without a broken pipe.
fn post(server: &Server, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    Connection::open(server.addr)
        .unwrap()
        .send_expecting_continue_with_headers("POST", path, headers, body)
        .unwrap()
}

fn body() -> &'static Vec<u8> {
    static BODY: OnceLock<Vec<u8>> = OnceLock::new();
    BODY.get_or_init(|| serde_json::to_vec(&batch_to_json(&fixture().batch)).unwrap())
}

fn is_hex12(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `YYYY-MM-DDTHH:MM:SSZ`, a real date and time ([`aml_core::date::parse_utc_timestamp`]).
fn is_iso_utc(text: &str) -> bool {
    aml_core::date::parse_utc_timestamp(text).is_ok()
}

#[test]
fn health_and_version_speak_the_template() {
    let r = get("/health");
    assert_eq!(r.status, 200);
    let health: HealthResponse = parse(&r);
    assert_eq!(health.status, "healthy");
    let models: Vec<&str> = health.models_loaded.keys().map(String::as_str).collect();
    assert_eq!(models, ["alert_ranker", "alert_scorer", "cluster_scorer"]);
    assert!(health.models_loaded.values().all(|&loaded| loaded));

    let r = get("/version");
    assert_eq!(r.status, 200);
    let version: VersionResponse = parse(&r);
    assert_eq!(version.api_version, "1.0.0");
    let models = fixture().bundle.model_versions();
    assert_eq!(version.alert_scorer_version, models["alert_scorer"]);
    assert_eq!(version.alert_ranker_version, models["alert_ranker"]);
    assert_eq!(version.cluster_scorer_version, models["cluster_scorer"]);
    for v in [
        &version.alert_scorer_version,
        &version.alert_ranker_version,
        &version.cluster_scorer_version,
    ] {
        assert!(is_hex12(v), "{v}");
    }
    // Our extra fields stay.
    assert_eq!(
        r.json().unwrap()["bundle_version"],
        fixture().bundle.version()
    );
}

#[test]
fn health_is_degraded_with_503_when_the_store_is_unusable() {
    let root = tempfile::tempdir().unwrap();
    let file_root = root.path().join("file");
    std::fs::write(&file_root, b"x").unwrap();
    let broken = start_with(&file_root, ServiceLimits::default());
    let r = request(broken.addr, "GET", "/health", None).unwrap();
    assert_eq!(r.status, 503);
    let health: HealthResponse = parse(&r);
    assert_eq!(health.status, "degraded");
}

#[test]
fn dates_newest_first_and_stored_scores_with_template_metadata() {
    let f = fixture();
    let dates: DatesResponse = parse(&get("/dates/available"));
    assert_eq!(dates.dates, [f.date.as_str(), EARLIER]);

    let stored = read_scores(&f.submission().join(files::SCORES)).unwrap();
    for path in [
        format!("/scores/alerts/{}", f.date),
        "/scores/alerts/latest".to_string(),
        format!("/scores/alerts/{EARLIER}"),
    ] {
        let r = get(&path);
        assert_eq!(r.status, 200, "{path}");
        let scores: ScoresResponse = parse(&r);
        let want_date = if path.ends_with(EARLIER) {
            EARLIER
        } else {
            &f.date
        };
        assert_eq!(scores.processing_date, want_date);
        assert_eq!(scores.metadata.total_alerts, stored.len() as u64);
        assert_eq!(scores.metadata.model_version, f.bundle.version());
        // The receipt's timestamp: when score_batch wrote the submission.
        assert_eq!(scores.metadata.processed_at, TIMESTAMP);
        assert!(is_iso_utc(&scores.metadata.processed_at));
        assert_eq!(scores.scores.len(), stored.len());
        for (got, want) in scores.scores.iter().zip(&stored) {
            assert_eq!(got.alert_id, want.alert_id);
            assert_eq!(got.score.to_bits(), want.score.to_bits());
            assert_eq!(got.model_version, want.model_version);
            assert_eq!(got.latency_ms.to_bits(), want.latency_ms.to_bits());
        }
        // Our extras stay: the row's explanation and the stored receipt.
        let value = r.json().unwrap();
        assert!(value["scores"][0]["explain_json"].is_string());
        assert!(value["metadata"]["receipt"]["signature"].is_string());
    }
}

#[test]
fn processed_at_falls_back_to_the_time_the_scores_were_written() {
    let f = fixture();
    let root = tempfile::tempdir().unwrap();
    let day = root.path().join(&f.date);
    std::fs::create_dir_all(&day).unwrap();
    std::fs::copy(f.submission().join(files::SCORES), day.join(files::SCORES)).unwrap();
    let server = start_with(root.path(), ServiceLimits::default());
    let r = request(server.addr, "GET", "/scores/alerts/latest", None).unwrap();
    let scores: ScoresResponse = parse(&r);
    let modified = std::fs::metadata(day.join(files::SCORES))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        scores.metadata.processed_at,
        aml_core::date::utc_timestamp(modified)
    );
}

#[test]
fn stored_rankings_are_served_rank_1_first() {
    let f = fixture();
    let r = get("/rankings/alerts/latest");
    assert_eq!(r.status, 200);
    let rankings: RankingsResponse = parse(&r);
    assert_eq!(rankings.processing_date, f.date);
    let mut want = read_rankings(&f.submission().join(files::RANKINGS)).unwrap();
    want.sort_by(|a, b| a.rank.cmp(&b.rank).then(a.alert_id.cmp(&b.alert_id)));
    let got: Vec<(&str, i64)> = rankings
        .rankings
        .iter()
        .map(|r| (r.alert_id.as_str(), r.rank))
        .collect();
    let want: Vec<(&str, i64)> = want
        .iter()
        .map(|r| (r.alert_id.as_str(), i64::from(r.rank)))
        .collect();
    assert_eq!(got, want);
    assert_eq!(got[0].1, 1);
    assert!(got.windows(2).all(|w| w[0].1 <= w[1].1));
    // The live route too.
    let r = post(server(), "/rank/alerts", &[], body());
    let live: Vec<StoredRanking> = parse(&r);
    assert_eq!(live[0].rank, 1);
    assert!(live.windows(2).all(|w| w[0].rank <= w[1].rank));
}

fn assert_template_scores(response: &Response, n: usize) -> Vec<ScoreResponse> {
    assert_eq!(response.status, 200, "{}", response.text());
    let scores: Vec<ScoreResponse> = parse(response);
    assert_eq!(scores.len(), n);
    for s in &scores {
        assert!((0.0..=1.0).contains(&s.score), "{}", s.score);
        assert_eq!(s.model_version, fixture().bundle.version());
        assert!(s.latency_ms > 0.0, "latency is measured: {}", s.latency_ms);
        let explanation: Value = serde_json::from_str(&s.explain_json).unwrap();
        assert!(explanation.is_object(), "{explanation}");
    }
    scores
}

fn score_bits(scores: &[ScoreResponse]) -> Vec<(String, u64)> {
    scores
        .iter()
        .map(|s| (s.alert_id.clone(), s.score.to_bits()))
        .collect()
}

#[test]
fn score_alerts_returns_the_template_list_and_takes_batches_without_clusters_or_flows() {
    let n = fixture().batch.alerts.len();
    let full = assert_template_scores(&post(server(), "/score/alerts", &[], body()), n);
    // The template's BatchData may carry only alerts and features (or null tables).
    let mut value = batch_to_json(&fixture().batch);
    let object = value.as_object_mut().unwrap();
    object.remove("clusters");
    object.remove("money_flows");
    object.remove("meta");
    let partial = post(
        server(),
        "/score/alerts",
        &[],
        &serde_json::to_vec(&value).unwrap(),
    );
    let partial = assert_template_scores(&partial, n);
    value["clusters"] = Value::Null;
    value["money_flows"] = Value::Null;
    let nulls = post(
        server(),
        "/score/alerts",
        &[],
        &serde_json::to_vec(&value).unwrap(),
    );
    assert_eq!(
        score_bits(&assert_template_scores(&nulls, n)),
        score_bits(&partial)
    );
    assert_eq!(
        full.iter().map(|s| &s.alert_id).collect::<Vec<_>>(),
        partial.iter().map(|s| &s.alert_id).collect::<Vec<_>>()
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).unwrap()
}

#[test]
fn gzip_and_zstd_bodies_score_like_the_plain_body() {
    let n = fixture().batch.alerts.len();
    let plain = assert_template_scores(&post(server(), "/score/alerts", &[], body()), n);
    for (encoding, compressed) in [("gzip", gzip(body())), ("zstd", zstd(body()))] {
        assert!(compressed.len() < body().len() / 2, "{encoding}");
        let r = post(
            server(),
            "/score/alerts",
            &[("Content-Encoding", encoding)],
            &compressed,
        );
        assert_eq!(
            score_bits(&assert_template_scores(&r, n)),
            score_bits(&plain),
            "{encoding}"
        );
    }
    // Other scoring routes decompress too.
    let r = post(
        server(),
        "/score/clusters",
        &[("Content-Encoding", "gzip")],
        &gzip(body()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // An encoding we do not decode, and a body that is not what it claims.
    let r = post(
        server(),
        "/score/alerts",
        &[("Content-Encoding", "br")],
        body(),
    );
    assert_eq!(r.status, 415, "{}", r.text());
    assert_eq!(r.json().unwrap()["error"], "unsupported_media_type");
    let r = post(
        server(),
        "/score/alerts",
        &[("Content-Encoding", "gzip")],
        br#"{"alerts": []}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn decompression_bombs_are_refused_with_413() {
    // 1 MiB limit; 64 MiB of JSON whitespace compresses to well under it.
    let small = start_with(&fixture().store, limits(1 << 20));
    let mut inflated = b"{\"alerts\": ".to_vec();
    inflated.resize(64 << 20, b' ');
    for (encoding, bomb) in [("gzip", gzip(&inflated)), ("zstd", zstd(&inflated))] {
        assert!(bomb.len() < 1 << 20, "{encoding}: {}", bomb.len());
        let r = post(
            &small,
            "/score/alerts",
            &[("Content-Encoding", encoding)],
            &bomb,
        );
        assert_eq!(r.status, 413, "{encoding}: {}", r.text());
        assert_eq!(r.json().unwrap()["error"], "payload_too_large");
    }
    // Under the limit once decompressed, the same encoding is accepted.
    let r = post(
        &small,
        "/score/alerts",
        &[("Content-Encoding", "gzip")],
        &gzip(br#"{"alerts": [{"address": "x"}]}"#),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(small.state.metrics.alerts_scored(), 0);
}

fn upload(server: &Server, body: &[u8]) -> Response {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    post(
        server,
        "/score/batch",
        &[("Content-Type", content_type.as_str())],
        body,
    )
}

#[test]
fn a_multipart_day_scores_exactly_like_score_batch() {
    let (day, out) = upload_day();
    let r = upload(server(), &multipart(&day_parts(day)));
    assert_eq!(r.status, 200, "{}", r.text());
    let got: BatchResponse = parse(&r);
    let value = r.json().unwrap();
    let (batch, _) = aml_core::Batch::load(day).unwrap();
    assert_eq!(got.processing_date, batch.meta.processing_date);
    assert_eq!(got.model_version, fixture().bundle.version());
    assert_eq!(got.batch_hash, aml_core::io::input_hash(day).unwrap());
    assert_eq!(
        got.input_hash,
        aml_core::io::sha256_file(&day.join("alerts.parquet")).unwrap()
    );

    let scores = read_scores(&out.join(files::SCORES)).unwrap();
    assert_eq!(got.scores.len(), scores.len());
    for (got, want) in got.scores.iter().zip(&scores) {
        assert_eq!(got.alert_id, want.alert_id);
        assert_eq!(got.score.to_bits(), want.score.to_bits());
        assert_eq!(got.model_version, want.model_version);
        assert_eq!(got.latency_ms.to_bits(), want.latency_ms.to_bits());
        assert_eq!(got.explain_json, want.explain_json);
    }
    let mut rankings = read_rankings(&out.join(files::RANKINGS)).unwrap();
    rankings.sort_by(|a, b| a.rank.cmp(&b.rank).then(a.alert_id.cmp(&b.alert_id)));
    assert_eq!(got.rankings.len(), rankings.len());
    for (got, want) in got.rankings.iter().zip(&rankings) {
        assert_eq!(got["alert_id"], want.alert_id.as_str());
        assert_eq!(got["rank"], want.rank);
        assert_eq!(
            got["ranking_score"].as_f64().unwrap().to_bits(),
            want.ranking_score.to_bits()
        );
    }
    let clusters = read_cluster_scores(&out.join(files::CLUSTER_SCORES)).unwrap();
    assert_eq!(got.cluster_scores.len(), clusters.len());
    for (got, want) in got.cluster_scores.iter().zip(&clusters) {
        assert_eq!(got["cluster_id"], want.cluster_id.as_str());
        assert_eq!(
            got["score"].as_f64().unwrap().to_bits(),
            want.score.to_bits()
        );
    }
    assert!(value["warnings"].is_array());
    // Parts named by file name only (curl -F file=@alerts.parquet) are accepted too, in any order.
    let mut parts = day_parts(day);
    parts.reverse();
    let renamed: Vec<(&str, &str, Vec<u8>)> = parts
        .into_iter()
        .map(|(_, file, bytes)| ("file", file, bytes))
        .collect();
    let again = upload(server(), &multipart(&renamed));
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json().unwrap()["scores"], value["scores"]);
}

#[test]
fn bad_uploads_are_refused_by_name_without_server_paths() {
    let (day, _) = upload_day();
    let assert_refused = |r: &Response, status: u16, needle: &str| {
        assert_eq!(r.status, status, "{}", r.text());
        let v = r.json().unwrap();
        let detail = v["detail"].as_str().unwrap();
        assert!(detail.contains(needle), "{detail:?} should name {needle:?}");
        assert!(!detail.contains("aml-upload-"), "{detail}");
        assert!(
            !detail.contains(&*std::env::temp_dir().to_string_lossy()),
            "{detail}"
        );
    };
    // A part whose names are not batch files: never used as a path.
    let mut parts = day_parts(day);
    parts.push((
        "../../escape.parquet",
        "../../escape.parquet",
        b"x".to_vec(),
    ));
    assert_refused(
        &upload(server(), &multipart(&parts)),
        422,
        "../../escape.parquet",
    );
    // A repeated part, a missing part.
    let mut parts = day_parts(day);
    parts.push(parts[1].clone());
    assert_refused(&upload(server(), &multipart(&parts)), 422, "sent twice");
    let parts: Vec<_> = day_parts(day)
        .into_iter()
        .filter(|(name, _, _)| *name != "clusters.parquet")
        .collect();
    assert_refused(
        &upload(server(), &multipart(&parts)),
        422,
        "clusters.parquet",
    );
    // A file that does not match META.json's sha256: the batch reader refuses it.
    let mut parts = day_parts(day);
    let features = parts
        .iter_mut()
        .find(|(name, _, _)| *name == "features.parquet")
        .unwrap();
    let last = features.2.len() - 9;
    features.2[last] ^= 1;
    assert_refused(
        &upload(server(), &multipart(&parts)),
        422,
        "features.parquet",
    );
    // Not multipart at all.
    let r = post(server(), "/score/batch", &[], body());
    assert_eq!(r.status, 400, "{}", r.text());
    // Over the upload limit.
    let small = start_with(
        &fixture().store,
        ServiceLimits {
            max_upload_bytes: 64 * 1024,
            ..ServiceLimits::default()
        },
    );
    let r = upload(&small, &multipart(&day_parts(day)));
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(small.state.metrics.alerts_scored(), 0);
}

#[test]
fn cors_is_off_by_default_and_configurable() {
    let get_with_origin = |server: &Server| {
        Connection::open(server.addr)
            .unwrap()
            .send_with_headers(
                "GET",
                "/health",
                &[("Origin", "https://dashboard.example")],
                None,
            )
            .unwrap()
    };
    let r = get_with_origin(server());
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
    let open = start_with(
        &fixture().store,
        ServiceLimits {
            cors_allowed_origins: vec!["https://dashboard.example".into()],
            ..ServiceLimits::default()
        },
    );
    let r = get_with_origin(&open);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://dashboard.example")
    );
    // A preflight for a compressed scoring request.
    let r = Connection::open(open.addr)
        .unwrap()
        .send_with_headers(
            "OPTIONS",
            "/score/alerts",
            &[
                ("Origin", "https://dashboard.example"),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "content-type, content-encoding",
                ),
            ],
            None,
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r
        .header("access-control-allow-methods")
        .is_some_and(|m| m.contains("POST")));
    // Another origin gets no grant.
    let r = Connection::open(open.addr)
        .unwrap()
        .send_with_headers(
            "GET",
            "/health",
            &[("Origin", "https://evil.example")],
            None,
        )
        .unwrap();
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[test]
fn docs_api_md_documents_every_route() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/api.md")).unwrap();
    for route in ROUTES {
        let heading = format!("`{} {}", route.method, route.path);
        assert!(doc.contains(&heading), "docs/api.md lacks {heading}`");
    }
}
