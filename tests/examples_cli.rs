//! The example programs run as real processes whose stdout is a closed pipe (`verify_batch DIR | head`):
//! they end cleanly, without a panic.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use aml_synth::{write_batch, SynthConfig};

/// Builds `example` with the profile this test was built with and returns its executable.
fn example_binary(example: &str) -> PathBuf {
    // This test runs from <target>/<profile dir>/deps/; examples land in <target>/<profile dir>/examples/.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let profile = if profile_dir.ends_with("release") {
        "bench"
    } else {
        "test"
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--profile",
            profile,
            "--example",
            example,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build --example {example} failed");
    profile_dir
        .join("examples")
        .join(format!("{example}{}", std::env::consts::EXE_SUFFIX))
}

#[test]
fn verify_batch_with_closed_stdout_exits_cleanly() {
    let root = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        n_alerts: 40,
        n_addresses: 200,
        n_flows: 600,
        ..SynthConfig::small()
    };
    let batch = write_batch(&root.path().join("batch"), &config, 0).unwrap();
    let binary = example_binary("verify_batch");
    let mut child = Command::new(&binary)
        .arg(&batch)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before the program prints (it first loads and hashes the batch).
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked"),
        "verify_batch panicked on a closed stdout:\n{stderr}"
    );
    assert_ne!(output.status.code(), Some(101), "{stderr}");
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    // With a reader, the same run prints the report.
    let output = Command::new(&binary).arg(&batch).output().unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("alerts:"));
}

/// `custom_model` plugs its own feature block and a linfa decision tree into the miner's
/// pipeline: the submission it writes verifies, and its scores are the tree's predictions.
#[test]
fn custom_model_scores_the_day_with_its_own_block_and_tree() {
    let root = tempfile::tempdir().unwrap();
    let (data, out) = (root.path().join("data"), root.path().join("submission"));
    let output = Command::new(example_binary("custom_model"))
        .env("AML_MINER_KEY", "42".repeat(32))
        .arg("--out")
        .arg(&out)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = |label: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label:?} line in\n{stdout}"))
            .trim()
            .to_string()
    };
    assert!(printed("feature columns:").ends_with("(last: custom_confidence_x_severity)"));

    let day = PathBuf::from(printed("day batch:"));
    assert!(day.starts_with(&data));
    let (batch, _) = aml_core::batch::Batch::load(&day).unwrap();
    let report = aml_miner::validation::validate_submission(&batch, Some(&day), &out, None, None);
    assert!(report.tier1.passed, "{}", report.to_text());

    let scores = aml_core::submission::read_scores(&out.join("scores.parquet")).unwrap();
    let bytes: Vec<u8> = scores.iter().flat_map(|s| s.score.to_le_bytes()).collect();
    assert_eq!(
        aml_core::io::sha256_hex(&bytes),
        printed("custom model scores sha256:")
    );
    // A decision tree's class, never a GBDT's sigmoid: every score is exactly 0 or 1.
    assert!(scores.iter().all(|s| s.score == 0.0 || s.score == 1.0));
    let flagged = scores.iter().filter(|s| s.score == 1.0).count();
    assert_eq!(printed("flagged by the tree:"), flagged.to_string());
    assert!(
        flagged > 0 && flagged < scores.len(),
        "{flagged} of {}",
        scores.len()
    );
}
