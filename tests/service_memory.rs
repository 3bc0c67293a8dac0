//! Memory of one scoring request is bounded by a small multiple of its body, whatever keys the body
//! invents. A test binary of its own: its counting allocator sees every allocation of the process, so
//! no other test may run beside it.

mod service_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aml_core::tables::CONTRACT_FEATURE_COLUMNS;
use aml_miner::service::client::request;
use aml_miner::service::{serve, AppState, Store};
use serde_json::{json, Value};
use service_support::fixture;

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

/// Peak heap growth while the server answers `body` (which must succeed).
fn peak_while_scoring(addr: std::net::SocketAddr, body: &[u8]) -> usize {
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let response = request(addr, "POST", "/score/alerts", Some(body)).unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    PEAK.load(Ordering::Relaxed).saturating_sub(baseline)
}

#[test]
fn invented_feature_keys_cost_memory_proportional_to_the_body() {
    let state = Arc::new(AppState::new(
        fixture().bundle.clone(),
        Store::new(fixture().root.path().join("no-store")),
    ));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(serve(listener, state, std::future::pending()));
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
