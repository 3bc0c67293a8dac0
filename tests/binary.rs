//! The `aml-miner` binary as a user runs it (`cargo install --path .`): its help lists the
//! subcommands, and `generate` -> `verify` -> `score` on a tiny synthetic day writes what the
//! library calls produce.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aml_core::submission::read_scores;
use aml_core::Batch;
use aml_models::Bundle;
use aml_synth::{write_days, SynthConfig};

const SUBCOMMANDS: [&str; 10] = [
    "score", "train", "serve", "validate", "generate", "verify", "features", "gbdt", "fetch",
    "config",
];

fn aml_miner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aml-miner"))
        .args(args)
        // A fixed test key: never the development key, never the caller's own.
        .env("AML_MINER_KEY", "07".repeat(32))
        .output()
        .expect("the aml-miner binary runs")
}

fn ok(args: &[&str]) -> String {
    let output = aml_miner(args);
    assert!(
        output.status.success(),
        "aml-miner {args:?}: {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 stdout")
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

#[test]
fn help_lists_every_subcommand() {
    let help = ok(&["--help"]);
    let listed: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for sub in SUBCOMMANDS {
        assert!(listed.contains(&sub), "{sub} missing from:\n{help}");
        // Every subcommand parses its own flags.
        assert!(ok(&[sub, "--help"]).contains("Usage: aml-miner"), "{sub}");
    }
    // A wrong subcommand is a usage error (clap's exit code 2), not a panic.
    let wrong = aml_miner(&["scroe"]);
    assert_eq!(wrong.status.code(), Some(2));
}

#[test]
fn generate_verify_score_write_what_the_library_computes() {
    let root = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        seed: 7,
        n_alerts: 40,
        n_addresses: 200,
        n_flows: 600,
        date: "2025-10-02".into(),
        days: 1,
        with_labels: false,
        network: "torus".into(),
    };
    let days = root.path().join("days");
    let printed = ok(&[
        "generate",
        "--out",
        s(&days),
        "--date",
        &config.date,
        "--alerts",
        "40",
        "--addresses",
        "200",
        "--flows",
        "600",
        "--seed",
        "7",
    ]);
    let day = PathBuf::from(printed.trim());
    assert_eq!(day, days.join("2025-10-02"));
    // The same batch as the library's generator, byte for byte.
    let expected = write_days(&root.path().join("library"), &config).unwrap();
    for name in ["META.json", "alerts.parquet", "money_flows.parquet"] {
        assert_eq!(
            std::fs::read(day.join(name)).unwrap(),
            std::fs::read(expected[0].join(name)).unwrap(),
            "{name}"
        );
    }

    let report = ok(&["verify", s(&day)]);
    assert!(
        report.contains(&format!("alerts:        {:>10}", 40)),
        "{report}"
    );
    let missing = aml_miner(&["verify", s(&root.path().join("nothing"))]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("INVALID"));

    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("trained_models");
    let out = root.path().join("submission");
    let summary = ok(&[
        "score",
        "--batch",
        s(&day),
        "--models",
        s(&models),
        "--out",
        s(&out),
    ]);
    assert!(summary.contains("40 alerts"), "{summary}");
    let written = read_scores(&out.join("scores.parquet")).unwrap();
    let (batch, _) = Batch::load(&day).unwrap();
    let bundle = Bundle::load(&models).unwrap();
    let computed = aml_miner::pipeline::score_alerts(&batch, &bundle).unwrap();
    assert_eq!(written.len(), 40);
    assert_eq!(written, computed);
}

/// Every `.rs` file below `dir`, recursively, with its text.
fn rust_sources(dir: &Path, found: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push((path.clone(), std::fs::read_to_string(&path).unwrap()));
        }
    }
}

#[test]
fn the_libraries_install_no_logger_run_no_git_and_ship_no_http_client() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    rust_sources(&root.join("src"), &mut sources);
    for krate in std::fs::read_dir(root.join("crates")).unwrap() {
        rust_sources(&krate.unwrap().path().join("src"), &mut sources);
    }
    // The binary (src/bin/) installs the logger; every library file only emits events.
    let library = sources
        .iter()
        .filter(|(path, _)| !path.starts_with(root.join("src").join("bin")));
    let mut offences = Vec::new();
    for (path, text) in library {
        for (needle, why) in [
            ("tracing_subscriber", "installs a logger"),
            (
                "Command::new(\"git\")",
                "runs git (build.rs records the commit)",
            ),
            (
                "TcpStream::connect",
                "is an HTTP client (test support only)",
            ),
        ] {
            if text.contains(needle) {
                offences.push(format!("{} {why}", path.display()));
            }
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
}
