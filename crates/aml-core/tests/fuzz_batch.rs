//! Fuzz-style property test of the batch reader: seeded random byte mutations of a small synthetic
//! batch's Parquet files, with META.json hashes refreshed so the corrupt bytes reach the decoder.
//! `Batch::load` must return `Ok` or `Err`, never panic.
//!
//! `AML_FUZZ_ITERATIONS` raises the iteration count for a longer local run (the default keeps CI fast).

use aml_core::batch::files;
use aml_core::{Batch, BatchError};
use aml_synth::{write_batch, SynthConfig};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod common;

const DEFAULT_ITERATIONS: usize = 200;

/// Seeds (found with `AML_FUZZ_ITERATIONS=2000`) whose mutation made the parquet crate panic, with the
/// column it panics in; always run so the test covers a real decoder panic.
const PARQUET_PANIC_SEEDS: [(u64, &str); 3] = [
    (568, "amount_sum"),
    (1142, "max_tx_usd"),
    (1453, "max_tx_usd"),
];

fn iterations() -> usize {
    std::env::var("AML_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ITERATIONS)
}

/// A few random edits: flip bits, overwrite bytes, overwrite a run, or truncate.
fn mutate(bytes: &mut Vec<u8>, rng: &mut ChaCha8Rng) {
    let edits = rng.random_range(1..=4);
    for _ in 0..edits {
        if bytes.is_empty() {
            return;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..10) {
            0..=3 => bytes[at] ^= 1 << rng.random_range(0..8),
            4..=6 => bytes[at] = rng.random(),
            7 => {
                // Small integers and extremes are what length fields choke on.
                let value: u8 = [0x00, 0x01, 0x7f, 0x80, 0xff][rng.random_range(0..5)];
                bytes[at] = value;
            }
            8 => {
                let end = (at + rng.random_range(1..16)).min(bytes.len());
                for b in &mut bytes[at..end] {
                    *b = rng.random();
                }
            }
            _ => bytes.truncate(at.max(1)),
        }
    }
}

fn quiet_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

#[test]
fn mutated_parquet_never_panics() {
    let template = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        n_alerts: 40,
        n_addresses: 200,
        n_flows: 600,
        with_labels: true,
        ..SynthConfig::small()
    };
    let dir = write_batch(template.path(), &config, 0).unwrap();
    Batch::load(&dir).expect("the unmutated batch loads");
    let targets = [
        files::ALERTS,
        files::FEATURES,
        files::CLUSTERS,
        files::MONEY_FLOWS,
        files::ADDRESS_LABELS,
    ];
    let originals: Vec<Vec<u8>> = targets
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect();
    quiet_panics();
    let mut outcomes = [0usize; 2];
    let mut caught = Vec::new();
    let seeds = (0..iterations() as u64).chain(PARQUET_PANIC_SEEDS.iter().map(|&(seed, _)| seed));
    for seed in seeds {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let which = rng.random_range(0..targets.len());
        let mut bytes = originals[which].clone();
        mutate(&mut bytes, &mut rng);
        let path = dir.join(targets[which]);
        std::fs::write(&path, &bytes).unwrap();
        common::refresh_hashes(&dir);
        let result = std::panic::catch_unwind(|| Batch::load(&dir));
        std::fs::write(&path, &originals[which]).unwrap();
        match result {
            Ok(Ok(_)) => outcomes[0] += 1,
            Ok(Err(e)) => {
                outcomes[1] += 1;
                if let BatchError::DecodePanic { file, column, .. } = &e {
                    assert_eq!(file, targets[which], "seed {seed}: {e}");
                    caught.push((seed, column.clone()));
                }
            }
            Err(_) => {
                let _ = std::panic::take_hook();
                panic!(
                    "seed {seed}: Batch::load panicked on a mutated {}",
                    targets[which]
                );
            }
        }
    }
    let _ = std::panic::take_hook();
    eprintln!(
        "{} loaded, {} refused, decoder panics caught: {caught:?}",
        outcomes[0], outcomes[1]
    );
    // The seeds that panicked inside the parquet crate before the decode boundary existed now give a
    // named error with the file and the column.
    for (seed, column) in PARQUET_PANIC_SEEDS {
        assert!(
            caught.contains(&(seed, Some(column.to_string()))),
            "seed {seed}: expected a caught decoder panic in column {column}"
        );
    }
    common::refresh_hashes(&dir);
    Batch::load(&dir).expect("restored batch loads");
}
