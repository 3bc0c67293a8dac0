//! Training builds each day's out-of-time label memory one day at a time
//! ([`DayMemoryBuilder`]), just before that day's features; these tests pin those memories to
//! the all-at-once, from-scratch ones of [`day_memories`] (the oracle), and the features
//! `prepare_days_with_memory` builds with them to the features of the oracle's memories.
#![cfg(feature = "miner")]

mod common;

use std::sync::OnceLock;

use aml_core::batch::Batch;
use aml_train::pipeline::training::{
    day_memories, prepare_days_with_memory, DayMemoryBuilder, LabelMemoryConfig,
};
use aml_train::pipeline::{load_history, DayData};
use proptest::prelude::*;

const DAYS: usize = 5;

/// Five labelled small days, 2025-10-01 .. 10-05, generated once for every test of the file.
fn history() -> &'static [Batch] {
    static HISTORY: OnceLock<Vec<Batch>> = OnceLock::new();
    HISTORY.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        let world = common::labelled_world(200, 1_500, 4_000);
        load_history(&common::write_days(root.path(), &world, DAYS)).unwrap()
    })
}

fn config(lag_days: u32, window_days: u32, max_rows: usize) -> LabelMemoryConfig {
    LabelMemoryConfig {
        enabled: true,
        lag_days,
        window_days,
        max_rows,
    }
}

/// Asks `builder` for the memories of `batches` in `asked` order and compares each with the
/// oracle's.
fn check_builder(batches: &[&Batch], config: &LabelMemoryConfig, asked: &[usize]) {
    let oracle = day_memories(batches, config).unwrap();
    let mut builder = DayMemoryBuilder::new(batches, config).unwrap();
    for &index in asked {
        let memory = builder.memory(batches, index).unwrap();
        assert_eq!(
            memory, oracle[index],
            "day {index} of {asked:?} with {config:?}"
        );
    }
}

#[test]
fn one_day_at_a_time_equals_all_at_once_on_hand_picked_cases() {
    let batches: Vec<&Batch> = history().iter().collect();
    assert!(batches.iter().all(|b| b.labels.is_some()));
    let in_order: Vec<usize> = (0..DAYS).collect();
    let backwards: Vec<usize> = (0..DAYS).rev().collect();
    for config in [
        LabelMemoryConfig::default(),
        // The cut bites: a handful of rows per memory.
        config(1, 0, 10),
        config(1, 0, 0),
        config(2, 0, 50),
        // A cutoff before every day: every memory empty.
        config(9, 0, 500_000),
        // A window: built from scratch, and still equal.
        config(1, 2, 500_000),
        config(2, 1, 30),
    ] {
        check_builder(&batches, &config, &in_order);
        // Asked backwards, or twice: a cutoff earlier than the fold falls back to scratch.
        check_builder(&batches, &config, &backwards);
        check_builder(&batches, &config, &[2, 2, 4, 1, 4, 0, 3]);
    }

    // Batches in any order (the memory depends on dates, not positions).
    let shuffled: Vec<&Batch> = [3, 0, 4, 2, 1].iter().map(|&i| batches[i]).collect();
    check_builder(&shuffled, &LabelMemoryConfig::default(), &in_order);
    check_builder(&shuffled, &config(1, 0, 25), &in_order);

    // A day without labels adds nothing to later memories.
    let mut unlabelled: Vec<Batch> = history().to_vec();
    unlabelled[1].labels = None;
    let refs: Vec<&Batch> = unlabelled.iter().collect();
    check_builder(&refs, &LabelMemoryConfig::default(), &in_order);
    check_builder(&refs, &config(1, 0, 40), &backwards);

    // One day: its memory is empty.
    check_builder(&batches[..1], &LabelMemoryConfig::default(), &[0]);
}

/// Bit patterns of a day's feature matrix.
fn matrix_bits(day: &DayData) -> (Vec<String>, Vec<String>, Vec<u32>) {
    (
        day.matrix.row_ids.clone(),
        day.matrix.feature_names.clone(),
        day.matrix.values.iter().map(|v| v.to_bits()).collect(),
    )
}

#[test]
fn prepared_days_are_featurised_with_the_oracles_memories() {
    for config in [
        LabelMemoryConfig::default(),
        config(1, 0, 20),
        config(2, 2, 500_000),
    ] {
        let (spec, days, n_train) =
            prepare_days_with_memory(history().to_vec(), 1, &[], &config).unwrap();
        assert_eq!((days.len(), n_train), (DAYS, DAYS - 1));
        let refs: Vec<&Batch> = history().iter().collect();
        let oracle = day_memories(&refs, &config).unwrap();
        assert!(
            oracle.iter().skip(1).all(|m| !m.is_empty()) || config.lag_days > 1,
            "the memories are not all empty"
        );
        for (d, day) in days.iter().enumerate() {
            let expected =
                DayData::with_memory(history()[d].clone(), &spec, Some(&oracle[d])).unwrap();
            assert_eq!(matrix_bits(day), matrix_bits(&expected), "day {d}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn one_day_at_a_time_equals_all_at_once(
        lag in 1u32..4,
        window in 0u32..4,
        max_rows in prop_oneof![Just(0usize), 1usize..400, Just(500_000usize)],
        order in Just((0..DAYS).collect::<Vec<usize>>()).prop_shuffle(),
        asked in prop::collection::vec(0..DAYS, 1..8),
    ) {
        let batches: Vec<&Batch> = order.iter().map(|&i| &history()[i]).collect();
        check_builder(&batches, &config(lag, window, max_rows), &asked);
    }
}
