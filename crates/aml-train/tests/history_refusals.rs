//! Training refuses history it cannot learn from: every label one class, two batches of the same
//! day, and `num_iterations = 0`, each with its own error.

mod common;

use std::path::PathBuf;

use aml_core::Batch;
use aml_synth::{write_batch, SynthConfig};
use aml_train::pipeline::{load_history, train_bundle, PipelineError, TrainConfig};
use aml_train::{train, Dataset, GbdtParams, TrainError};
use ndarray::Array2;

fn tiny() -> SynthConfig {
    common::labelled_world(120, 600, 2_000)
}

fn fast_config() -> TrainConfig {
    common::fast_config(3, 5, 5)
}

#[test]
fn zero_iterations_are_refused() {
    let params = GbdtParams {
        num_iterations: 0,
        ..GbdtParams::default()
    };
    let is_zero_iterations = |e: &TrainError| matches!(e, TrainError::InvalidParam { name, .. } if name == "num_iterations");
    assert!(is_zero_iterations(&params.validate().unwrap_err()));
    let x = Array2::from_shape_fn((40, 2), |(r, c)| (r * (c + 1)) as f32);
    let y: Vec<f64> = (0..40).map(|r| f64::from(r % 2 == 0)).collect();
    let data = Dataset::new(x, y, vec![]).unwrap();
    assert!(is_zero_iterations(
        &train(&params, &data, None, None).unwrap_err()
    ));
    // The pipeline checks every model's parameters before it touches the history.
    let mut config = fast_config();
    config.ranker_params.num_iterations = 0;
    match train_bundle(Vec::new(), &config, &mut |_| {}) {
        Err(PipelineError::Train { model, source }) => {
            assert_eq!(model, "alert_ranker");
            assert!(is_zero_iterations(&source), "{source}");
        }
        other => panic!("expected a num_iterations error, got {:?}", other.err()),
    }
}

#[test]
fn duplicate_days_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let a = write_batch(&root.path().join("a"), &tiny(), 0).unwrap();
    let other_seed = SynthConfig { seed: 99, ..tiny() };
    let b = write_batch(&root.path().join("b"), &other_seed, 0).unwrap();
    let c = write_batch(&root.path().join("c"), &tiny(), 1).unwrap();
    let dirs: Vec<PathBuf> = vec![a.clone(), c.clone(), b.clone()];
    match load_history(&dirs) {
        Err(e @ PipelineError::DuplicateDay { .. }) => {
            let text = e.to_string();
            let PipelineError::DuplicateDay {
                date,
                first,
                second,
            } = e
            else {
                unreachable!()
            };
            assert_eq!(date, "2025-10-01");
            assert_eq!(first, a.display().to_string());
            assert_eq!(second, b.display().to_string());
            assert!(text.contains("2025-10-01"), "{text}");
        }
        other => panic!("expected DuplicateDay, got {:?}", other.err()),
    }
    // Batches handed to train_bundle directly are checked too.
    let batches: Vec<Batch> = [&a, &b, &c]
        .iter()
        .map(|d| Batch::load(d).unwrap().0)
        .collect();
    match train_bundle(batches, &fast_config(), &mut |_| {}) {
        Err(PipelineError::DuplicateDay { date, .. }) => assert_eq!(date, "2025-10-01"),
        other => panic!("expected DuplicateDay, got {:?}", other.err()),
    }
}

#[test]
fn one_class_history_is_refused() {
    let root = tempfile::tempdir().unwrap();
    for (risk, label) in [("low", 0u8), ("critical", 1u8)] {
        let batches: Vec<Batch> = (0..3)
            .map(|day| {
                let dir =
                    write_batch(&root.path().join(format!("{risk}{day}")), &tiny(), day).unwrap();
                let (mut batch, _) = Batch::load(&dir).unwrap();
                let labels = batch.labels.as_mut().expect("history has labels");
                for r in &mut labels.risk_level {
                    *r = risk.to_string();
                }
                batch
            })
            .collect();
        match train_bundle(batches, &fast_config(), &mut |_| {}) {
            Err(e @ PipelineError::OneClass { .. }) => {
                let text = e.to_string();
                let PipelineError::OneClass {
                    label: found,
                    rows,
                    days,
                    ..
                } = e
                else {
                    unreachable!()
                };
                assert_eq!((found, days), (label, 2), "{text}");
                assert!(rows > 0, "{text}");
            }
            other => panic!("expected OneClass, got {:?}", other.err()),
        }
    }
}
