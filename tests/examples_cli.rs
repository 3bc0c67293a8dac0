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
