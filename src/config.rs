//! `aml-miner.toml`: one configuration for every subcommand of an unattended miner.
//!
//! Layers, later ones winning: the built-in defaults, the TOML file (`--config FILE`, else
//! `./aml-miner.toml` when it exists), then environment variables `AML_MINER__<KEY>` with `__`
//! between nested keys (`AML_MINER__STORE=/srv/store`, `AML_MINER__SERVER__ADDR=0.0.0.0:8000`).
//! Command-line flags win over all of them. Unknown keys are errors (a typo never silently falls
//! back to a default), and every error names the key and where its value came from.
//!
//! ```
//! use aml_miner::config::MinerConfig;
//!
//! let config = MinerConfig::from_toml_str(
//!     r#"
//!     store = "/srv/aml/store"
//!     [source]
//!     url = "s3://sot-data/torus/"
//!     secret_access_key = "do-not-print-me"
//!     "#,
//! )
//! .unwrap();
//! assert_eq!(config.store.as_deref(), Some(std::path::Path::new("/srv/aml/store")));
//! let printed = config.to_toml_redacted();
//! assert!(printed.contains("<redacted>") && !printed.contains("do-not-print-me"));
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize, Serializer};

use crate::service::ServiceLimits;

/// The file looked for in the working directory when no `--config` is given.
pub const DEFAULT_FILE: &str = "aml-miner.toml";
/// Prefix of the environment overrides (`AML_MINER__STORE`, `AML_MINER__SERVER__ADDR`).
pub const ENV_PREFIX: &str = "AML_MINER__";

/// Why the configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is missing, has the wrong type, or a key is unknown (figment names the key and the
    /// file or variable it came from).
    #[error("{0}")]
    Invalid(#[from] Box<figment::Error>),
    /// `--config FILE` names a file that cannot be read.
    #[error("config file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        source: std::io::Error,
    },
    /// A value has the right type but is not allowed.
    #[error("config key `{key}`: {reason}")]
    Value {
        /// Dotted key, e.g. `server.addr`.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A secret value: read from the config like a string, never printed (`Debug`, `Display` and
/// serialisation all show `<redacted>`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MinerConfig {
    /// Network the batches belong to (`torus`, `bitcoin`, ...): part of the S3 key of a day.
    pub network: String,
    /// Daily store: one submission directory per processing date (`score --store`, `serve`).
    pub store: Option<PathBuf>,
    /// Model bundle directory used for scoring and serving.
    pub models: PathBuf,
    /// Signing key file (64 hex digits or 32 raw bytes); unset: `AML_MINER_KEY`, else the public
    /// development key.
    pub key_file: Option<PathBuf>,
    /// Where published batches come from.
    pub source: SourceConfig,
    /// The HTTP service.
    pub server: ServerConfig,
    /// The weekly retraining of the daily loop.
    pub training: TrainingConfig,
    /// The schedule of `run-daily`.
    pub daily: DailyConfig,
    /// Log output of the programs.
    pub logging: LoggingConfig,
}

/// Where the data owner publishes batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// `s3://BUCKET/PREFIX/`: a day is `PREFIX/<YYYY-MM-DD>/` below it.
    pub url: Option<String>,
    /// Directory the fetched days are written to (one `<YYYY-MM-DD>/` each).
    pub batches: PathBuf,
    /// S3-compatible endpoint (e.g. `http://127.0.0.1:5000`); unset: AWS (`AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    /// Region; unset: `AWS_REGION` / `AWS_DEFAULT_REGION`.
    pub region: Option<String>,
    /// Allow plain `http://` endpoints (loopback test servers).
    pub allow_http: bool,
    /// Access key id; unset: `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// Secret access key; unset: `AWS_SECRET_ACCESS_KEY`. Never printed.
    pub secret_access_key: Option<Secret>,
}

/// Address and limits of `serve` (each limit's meaning: [`ServiceLimits`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Listen address (loopback by default).
    pub addr: String,
    /// JSON body limit in bytes.
    pub max_body: usize,
    /// Multipart batch upload limit in bytes.
    pub max_upload: usize,
    /// Seconds a client has to send a request head.
    pub header_timeout: f64,
    /// Whole-request deadline in seconds.
    pub request_timeout: f64,
    /// Scoring jobs running at once.
    pub scoring_jobs: usize,
    /// Scoring requests waiting beyond the running ones.
    pub scoring_queue: usize,
    /// `Retry-After` seconds of a 503.
    pub retry_after: u32,
    /// Open connections at most.
    pub max_connections: usize,
    /// Seconds in-flight requests get after SIGTERM.
    pub shutdown_grace: f64,
    /// Origins allowed by CORS (`*` for any); empty: CORS off.
    pub cors_origins: Vec<String>,
}

/// The retraining schedule of the daily loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    /// Retrain every this many days (7: weekly).
    pub every_days: u32,
    /// Labelled days a retraining uses (the most recent ones).
    pub history_days: u32,
    /// Bundles kept in `bundles` (the active one always among them).
    pub keep_bundles: u32,
    /// Directory of the trained bundles (one subdirectory each).
    pub bundles: PathBuf,
    /// Seed of every training run.
    pub seed: u64,
    /// Most recent labelled days held out of a retraining to compare the candidate with the
    /// active bundle on.
    pub holdout_days: u32,
    /// Training configuration (JSON `TrainConfig`, as `train --config`; `seed` above still wins);
    /// unset: the built-in defaults.
    pub config: Option<PathBuf>,
}

/// The schedule of `run-daily` (without `--once`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DailyConfig {
    /// Minutes between two attempts while today's day is not yet published (or failed).
    pub poll_minutes: u32,
}

/// Log format of the programs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// `tracing` filter (`RUST_LOG` syntax) when `RUST_LOG` is unset.
    pub filter: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for MinerConfig {
    fn default() -> MinerConfig {
        MinerConfig {
            network: "torus".into(),
            store: None,
            models: PathBuf::from("trained_models"),
            key_file: None,
            source: SourceConfig::default(),
            server: ServerConfig::default(),
            training: TrainingConfig::default(),
            daily: DailyConfig::default(),
            logging: LoggingConfig::default(),
        }
    }
}

impl Default for SourceConfig {
    fn default() -> SourceConfig {
        SourceConfig {
            url: None,
            batches: PathBuf::from("batches"),
            endpoint: None,
            region: None,
            allow_http: false,
            access_key_id: None,
            secret_access_key: None,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        let d = ServiceLimits::default();
        ServerConfig {
            addr: "127.0.0.1:8000".into(),
            max_body: d.max_body_bytes,
            max_upload: d.max_upload_bytes,
            header_timeout: d.header_read_timeout.as_secs_f64(),
            request_timeout: d.request_timeout.as_secs_f64(),
            scoring_jobs: d.max_scoring_jobs,
            scoring_queue: d.max_scoring_queue,
            retry_after: d.retry_after_seconds,
            max_connections: d.max_connections,
            shutdown_grace: d.shutdown_grace.as_secs_f64(),
            cors_origins: d.cors_allowed_origins,
        }
    }
}

impl Default for TrainingConfig {
    fn default() -> TrainingConfig {
        TrainingConfig {
            every_days: 7,
            history_days: 7,
            keep_bundles: 3,
            bundles: PathBuf::from("bundles"),
            seed: 42,
            holdout_days: 1,
            config: None,
        }
    }
}

impl Default for DailyConfig {
    fn default() -> DailyConfig {
        DailyConfig { poll_minutes: 30 }
    }
}

impl Default for LoggingConfig {
    fn default() -> LoggingConfig {
        LoggingConfig {
            format: LogFormat::Text,
            filter: "warn".into(),
        }
    }
}

impl MinerConfig {
    /// The configuration of a program run: defaults, then `file` (else `./aml-miner.toml` when it
    /// exists), then the `AML_MINER__*` environment variables; checked with [`MinerConfig::check`].
    pub fn load(file: Option<&Path>) -> Result<MinerConfig, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(MinerConfig::default()));
        match file {
            Some(path) => {
                // A named file must exist: a typo in `--config` is not "no config".
                std::fs::metadata(path).map_err(|source| ConfigError::File {
                    path: path.to_path_buf(),
                    source,
                })?;
                figment = figment.merge(Toml::file_exact(path));
            }
            None if Path::new(DEFAULT_FILE).is_file() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_FILE));
            }
            None => {}
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        Self::extract(figment)
    }

    /// Defaults overridden by the TOML text `toml` only (no file, no environment).
    pub fn from_toml_str(toml: &str) -> Result<MinerConfig, ConfigError> {
        Self::extract(
            Figment::from(Serialized::defaults(MinerConfig::default())).merge(Toml::string(toml)),
        )
    }

    fn extract(figment: Figment) -> Result<MinerConfig, ConfigError> {
        let config: MinerConfig = figment.extract().map_err(Box::new)?;
        config.check()?;
        Ok(config)
    }

    /// Checks what types cannot say: a parseable listen address, an `s3://` source URL, positive
    /// limits and finite durations, a plain network name.
    pub fn check(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, reason: String| {
            Err(ConfigError::Value {
                key: key.into(),
                reason,
            })
        };
        if self.network.is_empty()
            || !self
                .network
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            // It becomes part of an object key and of directory names.
            return bad(
                "network",
                format!(
                    "`{}` is not a plain name (letters, digits, - and _)",
                    self.network
                ),
            );
        }
        if let Err(e) = self.server.addr.parse::<SocketAddr>() {
            return bad("server.addr", format!("`{}`: {e}", self.server.addr));
        }
        if let Some(url) = &self.source.url {
            if !url.starts_with("s3://") || url.len() <= "s3://".len() {
                return bad(
                    "source.url",
                    format!("`{url}` is not an s3://BUCKET/PREFIX/ URL"),
                );
            }
        }
        for (key, value) in [
            ("server.header_timeout", self.server.header_timeout),
            ("server.request_timeout", self.server.request_timeout),
            ("server.shutdown_grace", self.server.shutdown_grace),
        ] {
            if let Err(e) = Duration::try_from_secs_f64(value) {
                return bad(key, format!("{value} seconds: {e}"));
            }
        }
        for (key, value) in [
            ("server.max_body", self.server.max_body),
            ("server.max_upload", self.server.max_upload),
            ("server.scoring_jobs", self.server.scoring_jobs),
            ("server.max_connections", self.server.max_connections),
            ("training.every_days", self.training.every_days as usize),
            ("training.history_days", self.training.history_days as usize),
            ("training.keep_bundles", self.training.keep_bundles as usize),
            ("training.holdout_days", self.training.holdout_days as usize),
            ("daily.poll_minutes", self.daily.poll_minutes as usize),
        ] {
            if value == 0 {
                return bad(key, "must be at least 1".into());
            }
        }
        Ok(())
    }

    /// The service limits of `[server]`.
    pub fn limits(&self) -> ServiceLimits {
        let s = &self.server;
        // `check` has verified the durations.
        let seconds = |v: f64| Duration::try_from_secs_f64(v).unwrap_or_default();
        ServiceLimits {
            max_body_bytes: s.max_body,
            max_upload_bytes: s.max_upload,
            header_read_timeout: seconds(s.header_timeout),
            request_timeout: seconds(s.request_timeout),
            max_scoring_jobs: s.scoring_jobs,
            max_scoring_queue: s.scoring_queue,
            retry_after_seconds: s.retry_after,
            max_connections: s.max_connections,
            shutdown_grace: seconds(s.shutdown_grace),
            cors_allowed_origins: s.cors_origins.clone(),
        }
    }

    /// The configuration as TOML, secrets shown as `<redacted>` (`aml-miner config --print`).
    pub fn to_toml_redacted(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot print the config: {e}\n"))
    }
}
