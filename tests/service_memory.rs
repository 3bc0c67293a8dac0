//! Memory of one scoring request is bounded by a small multiple of its body, whatever keys the body
//! invents; a decompression bomb costs at most about the body limit; a multipart upload is streamed
//! to disk, never held in memory. A test binary of its own: its counting allocator sees every
//! allocation of the process, so its tests run one at a time and nothing else runs beside them.

mod service_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aml_core::tables::CONTRACT_FEATURE_COLUMNS;
use aml_miner::service::{serve, AppState, ServiceLimits, Store};
use serde_json::{json, Value};
use service_support::client::{request, Connection, Response};
use service_support::fixture;
use service_support::upload::{day_parts, multipart, upload_day, BOUNDARY};

/// Held by every test: the counters are process-wide.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Live heap bytes and their high-water mark.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

fn grew(bytes: usize) {
    let now = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One alert and `rows` address records, record `i` carrying the single numeric key `key(i)`.
fn body(rows: usize, key: impl Fn(usize) -> String) -> Vec<u8> {
    let features: Vec<Value> = (0..rows)
        .map(|i| {
            let mut record = json!({"address": format!("x{i}")});
            record[key(i)] = json!(1);
            record
        })
        .collect();
    let alerts = json!([{"alert_id": "a", "address": "x0", "processing_date": "2025-10-03",
        "alert_confidence_score": 0.5, "volume_usd": 100.0}]);
    serde_json::to_vec(&json!({"alerts": alerts, "features": features})).unwrap()
}

/// Peak heap growth while `send` runs, and its result.
fn peak_while<T>(send: impl FnOnce() -> T) -> (usize, T) {
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let result = send();
    (
        PEAK.load(Ordering::Relaxed).saturating_sub(baseline),
        result,
    )
}

/// Peak heap growth while the server answers `body` (which must succeed).
fn peak_while_scoring(addr: std::net::SocketAddr, body: &[u8]) -> usize {
    let (peak, response) =
        peak_while(|| request(addr, "POST", "/score/alerts", Some(body)).unwrap());
    assert_eq!(response.status, 200, "{}", response.text());
    peak
}

/// A server with `limits` on a runtime of its own (returned: dropping it stops the server).
fn start(limits: ServiceLimits) -> (tokio::runtime::Runtime, std::net::SocketAddr) {
    let state = Arc::new(AppState::with_limits(
        fixture().bundle.clone(),
        Store::new(fixture().root.path().join("no-store")),
        limits,
    ));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(serve(listener, state, std::future::pending()));
    (runtime, addr)
}

fn post(addr: std::net::SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    Connection::open(addr)
        .unwrap()
        .send_expecting_continue_with_headers("POST", path, headers, body)
        .unwrap()
}

#[test]
fn invented_feature_keys_cost_memory_proportional_to_the_body() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_runtime, addr) = start(ServiceLimits::default());
    // Warm-up: lazily built statics and thread pools are not the request's memory.
    let warm_up = body(10, |i| format!("k{i}"));
    peak_while_scoring(addr, &warm_up);

    let rows = 4_000;
    // Every record a new key: without a bound the server builds rows x rows numbers (128 MB here).
    let invented = body(rows, |i| format!("invented_{i}"));
    // Every record one of the contract's columns: the most numbers a body can make the server keep.
    let contract = body(rows, |i| {
        CONTRACT_FEATURE_COLUMNS[i % CONTRACT_FEATURE_COLUMNS.len()].to_string()
    });
    for (name, body) in [("invented", invented), ("contract", contract)] {
        let peak = peak_while_scoring(addr, &body);
        let ratio = peak as f64 / body.len() as f64;
        println!(
            "{name} keys: body {} bytes, peak heap growth {peak} bytes ({ratio:.1}x)",
            body.len()
        );
        assert!(
            ratio < 40.0,
            "{name}: {peak} bytes for a {} byte body",
            body.len()
        );
    }
}

#[test]
fn a_decompression_bomb_costs_about_the_body_limit() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let limit = 1 << 20;
    let (_runtime, addr) = start(ServiceLimits {
        max_body_bytes: limit,
        ..ServiceLimits::default()
    });
    // 256 MiB of JSON whitespace, about 250 KB gzipped: under the limit as received.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let spaces = vec![b' '; 1 << 20];
    encoder.write_all(b"{\"alerts\": ").unwrap();
    for _ in 0..256 {
        encoder.write_all(&spaces).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    drop(spaces);
    assert!(bomb.len() < limit, "{}", bomb.len());
    // Warm-up of the connection and decompression paths.
    post(
        addr,
        "/score/alerts",
        &[("Content-Encoding", "gzip")],
        &bomb,
    );
    let (peak, response) = peak_while(|| {
        post(
            addr,
            "/score/alerts",
            &[("Content-Encoding", "gzip")],
            &bomb,
        )
    });
    assert_eq!(response.status, 413, "{}", response.text());
    println!(
        "gzip bomb: {} bytes inflating to 256 MiB, limit {limit}: peak heap growth {peak} bytes",
        bomb.len()
    );
    assert!(peak < 4 * limit, "{peak} bytes for a {limit} byte limit");
}

#[test]
fn a_multipart_upload_is_streamed_to_disk() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_runtime, addr) = start(ServiceLimits::default());
    let (day, _) = upload_day();
    // The day with a 64 MiB money_flows.parquet: streamed to disk whole, then refused by its hash.
    let big = 64 << 20;
    let mut parts = day_parts(day);
    let flows = parts
        .iter_mut()
        .find(|(name, _, _)| *name == "money_flows.parquet")
        .unwrap();
    flows.2.resize(big, 0);
    let body = multipart(&parts);
    drop(parts);
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let headers = [("Content-Type", content_type.as_str())];
    post(addr, "/score/batch", &headers, &body);
    let (peak, response) = peak_while(|| post(addr, "/score/batch", &headers, &body));
    assert_eq!(response.status, 422, "{}", response.text());
    assert!(
        response.text().contains("money_flows.parquet"),
        "{}",
        response.text()
    );
    println!(
        "multipart upload of {} bytes: peak heap growth {peak} bytes",
        body.len()
    );
    assert!(
        peak < big / 8,
        "{peak} bytes for a {} byte upload",
        body.len()
    );
}
