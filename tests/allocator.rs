//! The programs' mimalloc option (`src/bin/aml-miner/allocator.rs`): the option index the
//! `-sys` crate does not name is the purge delay, and the programs' call sets it to "never".

#[path = "../src/bin/aml-miner/allocator.rs"]
mod allocator;

#[test]
fn the_purge_delay_option_is_mimallocs_and_is_set_to_never() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        // The environment decides; the call leaves it alone.
        let before = allocator::purge_delay();
        allocator::keep_freed_memory_until_exit();
        assert_eq!(allocator::purge_delay(), before);
        return;
    }
    // mimalloc v3's documented default purge delay, in milliseconds: no other option of v3 has
    // this default, so the index names the purge delay.
    assert_eq!(allocator::purge_delay(), 1000);
    allocator::keep_freed_memory_until_exit();
    assert_eq!(allocator::purge_delay(), -1);
}
