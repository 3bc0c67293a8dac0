//! `aml-miner.toml`: layering (defaults < file < `AML_MINER__*` < flags), redaction, and errors
//! that name the key. The environment layer is exercised through the binary, so no test mutates
//! this process's environment.

use std::path::Path;
use std::process::{Command, Output};

use aml_miner::cli::score;
use aml_miner::config::{ConfigError, LogFormat, MinerConfig};
use clap::Parser;

/// `aml-miner ARGS` in `dir` with only `env` among the `AML_MINER__*` variables.
fn aml_miner(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aml-miner"));
    command.current_dir(dir).args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("AML_MINER") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("the aml-miner binary runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

fn stderr(output: &Output) -> String {
    assert!(!output.status.success(), "expected a failure");
    String::from_utf8(output.stderr.clone()).expect("utf-8")
}

#[test]
fn defaults_without_a_file() {
    let config = MinerConfig::from_toml_str("").unwrap();
    assert_eq!(config, MinerConfig::default());
    assert_eq!(config.server.addr, "127.0.0.1:8000");
    assert_eq!(config.logging.format, LogFormat::Text);
    assert_eq!(config.store, None);
}

#[test]
fn file_values_and_nested_tables() {
    let config = MinerConfig::from_toml_str(
        r#"
        network = "bitcoin"
        store = "/srv/store"
        models = "/srv/models"
        [server]
        addr = "0.0.0.0:9000"
        max_body = 1024
        cors_origins = ["https://validator.example"]
        [training]
        keep_bundles = 5
        [logging]
        format = "json"
        "#,
    )
    .unwrap();
    assert_eq!(config.network, "bitcoin");
    assert_eq!(config.server.addr, "0.0.0.0:9000");
    let limits = config.limits();
    assert_eq!(limits.max_body_bytes, 1024);
    assert_eq!(limits.cors_allowed_origins, ["https://validator.example"]);
    assert_eq!(config.training.keep_bundles, 5);
    assert_eq!(
        config.training.history_days, 7,
        "unset keys keep their default"
    );
    assert_eq!(config.logging.format, LogFormat::Json);
}

#[test]
fn errors_name_the_key() {
    let cases = [
        ("stroe = \"x\"", "stroe"),
        ("[server]\nmax_body = \"big\"", "max_body"),
        ("[server]\naddr = \"nowhere\"", "server.addr"),
        ("[server]\nrequest_timeout = -1.0", "server.request_timeout"),
        ("[server]\nscoring_jobs = 0", "server.scoring_jobs"),
        ("[source]\nurl = \"https://bucket/\"", "source.url"),
        ("network = \"../etc\"", "network"),
        ("[logging]\nformat = \"xml\"", "format"),
        ("[training]\nkeep_bundles = 0", "training.keep_bundles"),
    ];
    for (toml, key) in cases {
        let err = MinerConfig::from_toml_str(toml).expect_err(toml);
        let message = err.to_string();
        assert!(message.contains(key), "{toml}: {message}");
        if key.contains('.') {
            assert!(matches!(err, ConfigError::Value { .. }), "{toml}: {err:?}");
        }
    }
}

#[test]
fn secrets_are_never_printed() {
    let config = MinerConfig::from_toml_str(
        "[source]\naccess_key_id = \"AKIDEXAMPLE\"\nsecret_access_key = \"wJalrXUtnFEMI\"",
    )
    .unwrap();
    assert_eq!(
        config.source.secret_access_key.as_ref().unwrap().expose(),
        "wJalrXUtnFEMI"
    );
    for shown in [config.to_toml_redacted(), format!("{config:?}")] {
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}

#[test]
fn layers_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("aml-miner.toml"),
        "store = \"/from/file\"\nmodels = \"/models/file\"\n[server]\nmax_body = 10\n\
         [source]\nsecret_access_key = \"s3cr3t-value\"\n",
    )
    .unwrap();
    // The file in the working directory is found without --config.
    let printed = stdout(&aml_miner(dir.path(), &["config", "--print"], &[]));
    let config = MinerConfig::from_toml_str(&printed.replace("\"<redacted>\"", "\"x\"")).unwrap();
    assert_eq!(config.store.as_deref(), Some(Path::new("/from/file")));
    assert_eq!(config.server.max_body, 10);
    assert!(!printed.contains("s3cr3t-value"), "{printed}");
    // The environment wins over the file, nested keys with `__`.
    let env = [
        ("AML_MINER__STORE", "/from/env"),
        ("AML_MINER__SERVER__MAX_BODY", "20"),
    ];
    let printed = stdout(&aml_miner(dir.path(), &["config", "--print"], &env));
    let config = MinerConfig::from_toml_str(&printed.replace("\"<redacted>\"", "\"x\"")).unwrap();
    assert_eq!(config.store.as_deref(), Some(Path::new("/from/env")));
    assert_eq!(config.server.max_body, 20);
    assert_eq!(config.models, Path::new("/models/file"));
    // An explicit --config replaces the working directory's file.
    let other = dir.path().join("other.toml");
    std::fs::write(&other, "store = \"/from/other\"\n").unwrap();
    let printed = stdout(&aml_miner(
        dir.path(),
        &["--config", other.to_str().unwrap(), "config", "--print"],
        &[],
    ));
    assert!(printed.contains("store = \"/from/other\""), "{printed}");
    assert!(!printed.contains("/models/file"), "{printed}");
    // Flags win over everything: score's --models over the config's models.
    let args = score::Args::parse_from(["score", "--models", "/from/flag"]).with_config(&config);
    assert_eq!(args.models(), Path::new("/from/flag"));
    let args = score::Args::parse_from(["score"]).with_config(&config);
    assert_eq!(args.models(), Path::new("/models/file"));
    assert_eq!(args.store.as_deref(), Some(Path::new("/from/env")));
    let args = score::Args::parse_from(["score", "--out", "/o"]).with_config(&config);
    assert_eq!(
        args.store, None,
        "--out is not combined with the config's store"
    );
}

#[test]
fn bad_config_stops_every_subcommand_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let missing = aml_miner(dir.path(), &["--config", "missing.toml", "config"], &[]);
    assert!(stderr(&missing).contains("missing.toml"));
    let typo = aml_miner(
        dir.path(),
        &["verify", "x"],
        &[("AML_MINER__SERVER__ADR", "1")],
    );
    let message = stderr(&typo);
    assert!(
        message.contains("adr") || message.contains("ADR"),
        "{message}"
    );
    let bad = aml_miner(
        dir.path(),
        &["config"],
        &[("AML_MINER__SERVER__ADDR", "not-an-address")],
    );
    assert!(stderr(&bad).contains("server.addr"));
}
