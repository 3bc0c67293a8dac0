//! The programs' allocator (the `aml-miner` binary and the examples, which include this file).

/// mimalloc, not the system allocator: glibc keeps the memory its per-thread arenas freed (the
/// batch's decode buffers) and the day's peak RSS grows by it, where mimalloc gives it back; it
/// also frees the day's millions of small allocations faster. Outputs do not depend on it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (mimalloc v3's `mi_option_e`; the `-sys` crate names no
/// constant for it). `tests/allocator.rs` checks that this option has v3's documented default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps the memory the program frees for its own later allocations until it exits, instead of
/// giving it back to the system one second after it was freed (mimalloc's default purge delay).
///
/// For a program that does one job and exits (`score`, `features`, `run-daily --once`, ...): a
/// day's load frees its decode buffers about a second before the features stage allocates as
/// much again, and every page given back is zeroed and faulted in anew when it is taken again,
/// which on a VM that returns freed guest memory to its host costs more than the decode that
/// used it. On a full-size day this cut the pages the process faults in from about 1.55 GB to
/// 1.2 GB, for about 80 MB more peak RSS. Not for the long-running service, whose idle memory
/// should go back. `MIMALLOC_PURGE_DELAY` in the environment, when set, is left to decide.
#[allow(dead_code)] // the examples that only score or build features call it, the others not
#[allow(unsafe_code)]
pub fn keep_freed_memory_until_exit() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: `mi_option_set` only stores the value of an option that exists (see
    // `MI_OPTION_PURGE_DELAY`); mimalloc reads its options atomically, from any thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

/// The current purge delay in milliseconds (-1: never).
#[allow(dead_code)]
#[allow(unsafe_code)]
pub fn purge_delay() -> std::ffi::c_long {
    // SAFETY: `mi_option_get` only reads the value of an option that exists.
    unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }
}
