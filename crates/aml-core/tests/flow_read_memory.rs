//! The money flows are decoded straight into columns allocated once at their final length: no
//! per-row-group copy of the columns is appended into a second, whole one. A test binary of its
//! own: its counting allocator sees every allocation of the process, so its one test is all that
//! runs in it.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use aml_core::read::{read_money_flows_with, FlowColumns};
use aml_core::tables::MoneyFlows;

/// Live heap bytes and their high-water mark.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct PeakCounter;

fn add_live(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: each call goes to the system allocator unchanged; the counters are all that is added.
unsafe impl GlobalAlloc for PeakCounter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            add_live(layout.size());
        }
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let block = unsafe { System.alloc_zeroed(layout) };
        if !block.is_null() {
            add_live(layout.size());
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        unsafe { System.dealloc(block, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(block, layout, new_size) };
        if !moved.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            add_live(new_size);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: PeakCounter = PeakCounter;

/// Heap bytes of the columns of `flows` (at their lengths) and its dictionary.
fn column_bytes(flows: &MoneyFlows) -> usize {
    let n = flows.len();
    let names: usize = flows.addresses.iter().map(|name| name.len() + 24).sum();
    names + n * (2 * 4 + 7 * 8 + 2 * 8 + 1)
}

/// 1,000,000 flows in four row groups of 250,000 (four record batches each), every column read
/// (`FlowColumns::All`), one thread: the read's peak heap growth stays well under twice the
/// columns it returns. Appending each row group's columns (grown by doubling) into whole ones
/// peaks at about twice them.
#[test]
fn flows_read_peaks_near_their_final_size() {
    let rows = 1_000_000usize;
    let names: Vec<String> = (0..20_000)
        .map(|i| format!("0x{:040x}", i * 7919))
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    let id = |name: &String| sorted.binary_search(name).unwrap() as u32;
    let from = (0..rows).map(|row| id(&names[row / 50])).collect();
    let to = (0..rows)
        .map(|row| id(&names[(row * 31) % names.len()]))
        .collect();
    let flows = common::numbered_flows(sorted, from, to);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("money_flows.parquet");
    std::fs::write(&path, aml_core::write::encode_money_flows(&flows).unwrap()).unwrap();
    common::write_columns_grouped(&path, common::read_columns(&path), Some(250_000));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let read = pool
        .install(|| read_money_flows_with(&path, FlowColumns::All))
        .unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - baseline;
    assert_eq!(read, flows);
    let columns = column_bytes(&read);
    assert!(
        peak * 2 < columns * 3,
        "peak heap growth {peak} bytes for {columns} bytes of columns"
    );
}
