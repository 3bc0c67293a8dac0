//! The daily loop of an unattended miner (`aml-miner run-daily`): one [`Daily::run_cycle`] per
//! processing date D.
//!
//! 1. **fetch** day D from the configured source into `source.batches/D` ([`crate::fetch`]:
//!    staged, verified against META.json, renamed into place; a day already there is re-verified).
//!    A day the source does not publish yet is [`CycleOutcome::NotYetPublished`], not an error.
//! 2. **score** it with the active bundle into the store (`store/D`, the layout of `score --store`
//!    and `serve`), unless the store already holds day D scored from the same batch (the receipt's
//!    `batch_hash`, the sha256 of META.json); a day scored by another bundle is re-scored only
//!    with [`DailyOptions::rescore`].
//! 3. **retrain** when due: no decision was made in the `training.every_days` days before D, and
//!    no trained bundle is active yet or the active bundle's last training day is
//!    `training.every_days` or more days before D. The candidate is trained on the last
//!    `training.history_days` labelled days (days holding `address_labels.parquet`) before the
//!    `training.holdout_days` most recent ones, saved as `training.bundles/<D>-<version>`
//!    ([`Bundle::save`]: staged and renamed), then both bundles score the held-out days and the
//!    validator's tier-3 metrics are computed ([`tier3::evaluate`]). **Not worse** means: the
//!    candidate's mean tau score over the held-out days is a number and is `>=` the active
//!    bundle's (an active bundle that cannot score them, or whose tau is undefined, is beaten by
//!    any candidate with a defined tau). The decision, with both metric sets and the reason, goes
//!    to `training.bundles/<D>-<version>.decision.json`; then, on a switch, the `ACTIVE` pointer is
//!    rewritten.
//! 4. **prune**: keep the newest `training.keep_bundles` bundle directories, the active one always
//!    among them; only directories named `<YYYY-MM-DD>-<12 hex digits>` holding `metadata.json`
//!    are ours, anything else in the directory is never touched.
//!
//! The active bundle is the directory named by the file `training.bundles/ACTIVE` (written with
//! [`aml_core::io::atomic_write`]); a name that is not one of ours (`../x`, an absolute path) is
//! refused. Before the first switch the config's `models` bundle is active.
//!
//! Every step derives its state from the file system (day directory present and verified, store
//! day with its receipt, bundle directories, decision files, `ACTIVE`), so a run after a crash at
//! any point finishes the work without redoing what is done; every write is staged and renamed.
//! One process at a time: [`Daily::new`] takes an exclusive lock on
//! `training.bundles/.run-daily.lock` and a second one fails fast with [`DailyError::Locked`].
//! Each step ends with one `tracing` event (fields `date`, `step`, `outcome`, `seconds`,
//! `bundle`, and `metrics` for a retraining).

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use aml_core::date::Date;
use aml_core::Batch;
use aml_models::Bundle;
use aml_train::pipeline::{load_history, train_bundle, TrainConfig};
use ed25519_dalek::SigningKey;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use serde::Serialize;

use crate::config::MinerConfig;
use crate::fetch::{fetch_day, FetchError, FetchOptions};
use crate::pipeline::{self, BatchInput, KeySource, ScoreOptions};
use crate::service::{AppState, Store};
use crate::validation::tier3::{self, Tier3Report};

/// The pointer file naming the active bundle directory, in `training.bundles`.
pub const ACTIVE_FILE: &str = "ACTIVE";
/// The lock file one `run-daily` process holds, in `training.bundles`.
pub const LOCK_FILE: &str = ".run-daily.lock";
/// Suffix of a decision file: `<bundle name>.decision.json`, beside the bundle directory.
pub const DECISION_SUFFIX: &str = ".decision.json";

/// Why a cycle (or the loop's set-up) failed.
#[derive(Debug, thiserror::Error)]
pub enum DailyError {
    /// The configuration lacks what the loop needs.
    #[error("config key `{key}`: {reason}")]
    Config {
        /// Dotted key.
        key: String,
        /// What is missing or wrong.
        reason: String,
    },
    /// Another `run-daily` holds the lock.
    #[error("{}: another run-daily is running (the lock is held); only one may run at a time", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The `ACTIVE` pointer is not the name of one of our bundle directories.
    #[error("{}: {reason}", path.display())]
    ActivePointer {
        /// The pointer file.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },
    /// The fetched day is not day D.
    #[error("{}: META.json says processing_date {found}, but the day fetched is {expected}", dir.display())]
    WrongDay {
        /// The day directory.
        dir: PathBuf,
        /// The day asked for.
        expected: Date,
        /// The day META.json names.
        found: Date,
    },
    /// Fetching failed.
    #[error("fetch: {0}")]
    Fetch(#[from] Box<FetchError>),
    /// A fetched day no longer verifies.
    #[error("verify: {0}")]
    Batch(#[from] Box<aml_core::BatchError>),
    /// Scoring failed.
    #[error("score: {0}")]
    Score(#[from] Box<pipeline::MinerError>),
    /// A bundle could not be loaded or saved.
    #[error("bundle: {0}")]
    Bundle(#[from] Box<aml_models::BundleError>),
    /// Training failed.
    #[error("retrain: {0}")]
    Train(#[from] Box<aml_train::pipeline::PipelineError>),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DailyError + '_ {
    move |source| DailyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

macro_rules! boxed_from {
    ($($variant:ident($source:ty)),* $(,)?) => {
        $(impl From<$source> for DailyError {
            fn from(source: $source) -> DailyError {
                DailyError::$variant(Box::new(source))
            }
        })*
    };
}

boxed_from!(
    Fetch(FetchError),
    Batch(aml_core::BatchError),
    Score(pipeline::MinerError),
    Bundle(aml_models::BundleError),
    Train(aml_train::pipeline::PipelineError),
);

/// Options of the loop that are flags, not configuration.
#[derive(Debug, Clone, Default)]
pub struct DailyOptions {
    /// Re-score a stored day that another bundle scored (same batch) with the active bundle.
    pub rescore: bool,
    /// Training configuration; `None`: `training.config` of the config, else
    /// `TrainConfig::new(training.seed)`.
    pub train_config: Option<TrainConfig>,
}

/// How a cycle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CycleOutcome {
    /// Every step ran (or had nothing to do).
    Done,
    /// Day D is not published yet: nothing else was done; try again later.
    NotYetPublished,
    /// The stop flag was set; the cycle ended between two steps.
    Stopped,
}

/// One step of a cycle, as logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// `fetch`, `score`, `retrain`, `switch` or `prune`.
    pub step: &'static str,
    /// What it did, in words (`fetched`, `skipped: ...`, ...).
    pub outcome: String,
    /// Wall time.
    pub seconds: f64,
}

/// What a cycle did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CycleReport {
    /// The processing date.
    pub date: Date,
    /// How it ended.
    pub outcome: CycleOutcome,
    /// The steps run, in order.
    pub steps: Vec<StepRecord>,
    /// The retraining decision made by this cycle, if any.
    pub decision: Option<Decision>,
    /// Version of the bundle active at the end of the cycle.
    pub active_version: String,
}

impl CycleReport {
    /// The record of `step`, if it ran.
    pub fn step(&self, step: &str) -> Option<&StepRecord> {
        self.steps.iter().find(|s| s.step == step)
    }
}

/// Held-out metrics of one bundle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldOutMetrics {
    /// Bundle version.
    pub version: String,
    /// Mean tau score over the held-out days (NaN, written `null`, when undefined).
    pub tau: f64,
    /// The tier-3 report of each held-out day (`null` for a day with no labelled scored alert).
    pub days: Vec<Option<Tier3Report>>,
    /// Why the bundle could not be evaluated, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A retraining decision (the decision file's contents).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The processing date of the cycle.
    pub date: Date,
    /// The candidate's directory name in `training.bundles`.
    pub candidate: String,
    /// The active bundle before the decision: its directory name, or `models:<path>` for the
    /// config's fallback bundle.
    pub active: String,
    /// Days the candidate was trained on (fitting and its own validation), ascending.
    pub train_days: Vec<String>,
    /// The held-out days both bundles were compared on, ascending.
    pub held_out_days: Vec<String>,
    /// The candidate's held-out metrics.
    pub candidate_metrics: HeldOutMetrics,
    /// The active bundle's held-out metrics.
    pub active_metrics: HeldOutMetrics,
    /// The rule applied.
    pub rule: String,
    /// `switch` or `keep`.
    pub decision: String,
    /// Why, with the figures.
    pub reason: String,
}

impl Decision {
    /// True when the candidate becomes the active bundle.
    pub fn switches(&self) -> bool {
        self.decision == "switch"
    }
}

/// The rule of [`decide`], as recorded.
pub const DECISION_RULE: &str =
    "switch when the candidate's mean held-out tau is defined and >= the active bundle's (any defined tau beats an undefined one)";

/// The "not worse" rule: `(switch, reason)`.
pub fn decide(candidate_tau: f64, active_tau: f64) -> (bool, String) {
    if !candidate_tau.is_finite() {
        return (
            false,
            format!("candidate tau is undefined ({candidate_tau}); the active bundle stays"),
        );
    }
    if !active_tau.is_finite() {
        return (
            true,
            format!("candidate tau {candidate_tau:.6}; the active bundle's is undefined"),
        );
    }
    if candidate_tau >= active_tau {
        (
            true,
            format!("candidate tau {candidate_tau:.6} >= active tau {active_tau:.6}"),
        )
    } else {
        (
            false,
            format!("candidate tau {candidate_tau:.6} < active tau {active_tau:.6}: worse"),
        )
    }
}

/// True when `name` is one of our bundle directory names: `<YYYY-MM-DD>-<12 lowercase hex>`.
/// Nothing else (`../x`, an absolute path, `.hidden`) ever is.
pub fn is_bundle_name(name: &str) -> bool {
    let Some((date, version)) = name.split_at_checked(10) else {
        return false;
    };
    let Some(version) = version.strip_prefix('-') else {
        return false;
    };
    Date::parse(date).is_ok()
        && version.len() == 12
        && version
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// How often a running download looks at the stop flag.
const STOP_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// What the fetch step ended with.
enum Fetched {
    /// The day's directory, complete and verified.
    Day(PathBuf),
    /// The source does not publish the day yet.
    NotYetPublished,
    /// The stop flag was set during the download.
    Stopped,
}

/// The active bundle.
#[derive(Debug, Clone)]
pub struct ActiveBundle {
    /// Its directory name in `training.bundles`; `None`: the config's `models` (no switch yet).
    pub name: Option<String>,
    /// Its directory.
    pub dir: PathBuf,
    /// The loaded bundle.
    pub bundle: Bundle,
}

impl ActiveBundle {
    /// The name a decision file records for it.
    fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("models:{}", self.dir.display()))
    }
}

/// The daily loop of one miner: its configuration, source, key and lock.
pub struct Daily {
    config: MinerConfig,
    store: Store,
    source: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    key: SigningKey,
    key_source: KeySource,
    train_config: TrainConfig,
    rescore: bool,
    runtime: tokio::runtime::Runtime,
    _lock: File,
}

impl std::fmt::Debug for Daily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daily")
            .field("store", &self.store)
            .field("prefix", &self.prefix)
            .field("bundles", &self.config.training.bundles)
            .finish_non_exhaustive()
    }
}

impl Daily {
    /// The loop for `config`, fetching from `source` (a day is `prefix/<YYYY-MM-DD>/`). Needs
    /// `store`; creates `training.bundles` and takes its lock (fails fast when another process
    /// holds it); loads the signing key (`key_file`, else `AML_MINER_KEY`, else the development
    /// key, with a warning).
    pub fn new(
        config: &MinerConfig,
        source: Arc<dyn ObjectStore>,
        prefix: ObjectPath,
        options: DailyOptions,
    ) -> Result<Daily, DailyError> {
        let store = config.store.clone().ok_or_else(|| DailyError::Config {
            key: "store".into(),
            reason: "run-daily writes the scored days into the store: set it".into(),
        })?;
        let bundles = &config.training.bundles;
        std::fs::create_dir_all(bundles).map_err(io_error(bundles))?;
        let lock_path = bundles.join(LOCK_FILE);
        let mut lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error(&lock_path))?;
        lock.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => DailyError::Locked {
                path: lock_path.clone(),
            },
            std::fs::TryLockError::Error(source) => DailyError::Io {
                path: lock_path.clone(),
                source,
            },
        })?;
        // The holder's pid, for an operator looking at a "locked" error.
        lock.set_len(0)
            .and_then(|()| writeln!(lock, "{}", std::process::id()))
            .map_err(io_error(&lock_path))?;
        let (key, key_source) =
            pipeline::load_signing_key(config.key_file.as_deref()).map_err(|e| {
                DailyError::Config {
                    key: "key_file".into(),
                    reason: e.to_string(),
                }
            })?;
        if key_source == KeySource::Development {
            tracing::warn!(
                "no key_file and no {} set: signing with the PUBLIC DEVELOPMENT KEY; these receipts prove nothing",
                pipeline::KEY_ENV
            );
        }
        let train_config = match (options.train_config, &config.training.config) {
            (Some(train), _) => train,
            (None, Some(path)) => TrainConfig::from_json_file(path, config.training.seed)?,
            (None, None) => TrainConfig::new(config.training.seed),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io_error(Path::new("tokio runtime")))?;
        Ok(Daily {
            config: config.clone(),
            store: Store::new(store),
            source,
            prefix,
            key,
            key_source,
            train_config,
            rescore: options.rescore,
            runtime,
            _lock: lock,
        })
    }

    /// The loop for `config` with its S3 source (`source.url`, credentials as `fetch` takes them).
    pub fn from_config(config: &MinerConfig, options: DailyOptions) -> Result<Daily, DailyError> {
        let url = config
            .source
            .url
            .as_deref()
            .ok_or_else(|| DailyError::Config {
                key: "source.url".into(),
                reason: "run-daily fetches each day from it: set it to s3://BUCKET/PREFIX/".into(),
            })?;
        let url = crate::fetch::S3Url::parse(url)?;
        let source = crate::fetch::s3_store(&url, &config.source)?;
        Daily::new(config, source, url.path(), options)
    }

    /// The store the days are scored into.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn bundles(&self) -> &Path {
        &self.config.training.bundles
    }

    /// The directory name `ACTIVE` holds, checked; `None` when there is no pointer yet.
    pub fn active_name(&self) -> Result<Option<String>, DailyError> {
        read_active_name(self.bundles())
    }

    /// The active bundle, loaded: the one `ACTIVE` names, else the config's `models`.
    pub fn active(&self) -> Result<ActiveBundle, DailyError> {
        let (name, dir) = match self.active_name()? {
            Some(name) => {
                let dir = self.bundles().join(&name);
                (Some(name), dir)
            }
            None => (None, self.config.models.clone()),
        };
        let bundle = Bundle::load(&dir)?;
        Ok(ActiveBundle { name, dir, bundle })
    }

    /// Runs one cycle for `date` (see the module docs). `stop` is read between steps: once it is
    /// set the cycle ends with [`CycleOutcome::Stopped`], never in the middle of a write.
    pub fn run_cycle(&self, date: Date, stop: &AtomicBool) -> Result<CycleReport, DailyError> {
        let mut report = CycleReport {
            date,
            outcome: CycleOutcome::Done,
            steps: Vec::new(),
            decision: None,
            active_version: String::new(),
        };
        let mut active = self.active()?;
        let stopped = |report: &mut CycleReport, active: &ActiveBundle| {
            report.outcome = CycleOutcome::Stopped;
            report.active_version = active.bundle.version().to_string();
        };
        // 1. fetch (+ verify)
        let started = Instant::now();
        let day_dir = match self.fetch(date, &mut report, started, &active, stop)? {
            Fetched::Day(dir) => dir,
            Fetched::NotYetPublished => {
                report.outcome = CycleOutcome::NotYetPublished;
                report.active_version = active.bundle.version().to_string();
                return Ok(report);
            }
            Fetched::Stopped => {
                stopped(&mut report, &active);
                return Ok(report);
            }
        };
        // 2. score
        if stop.load(Ordering::SeqCst) {
            stopped(&mut report, &active);
            return Ok(report);
        }
        let started = Instant::now();
        let outcome = self.score(date, &day_dir, &active)?;
        record(&mut report, "score", outcome, started, &active, None);
        // 3. retrain (+ compare, decide, switch)
        if stop.load(Ordering::SeqCst) {
            stopped(&mut report, &active);
            return Ok(report);
        }
        let started = Instant::now();
        let (outcome, decision) = self.retrain(date, &active, stop)?;
        let metrics = decision
            .as_ref()
            .and_then(|d| serde_json::to_string(&(&d.candidate_metrics, &d.active_metrics)).ok());
        record(
            &mut report,
            "retrain",
            outcome,
            started,
            &active,
            metrics.as_deref(),
        );
        report.decision = decision;
        let started = Instant::now();
        if let Some(outcome) = self.finish_switch(date)? {
            active = self.active()?;
            record(&mut report, "switch", outcome, started, &active, None);
        }
        // 4. prune
        if stop.load(Ordering::SeqCst) {
            stopped(&mut report, &active);
            return Ok(report);
        }
        let started = Instant::now();
        let outcome = self.prune(active.name.as_deref())?;
        record(&mut report, "prune", outcome, started, &active, None);
        report.active_version = active.bundle.version().to_string();
        Ok(report)
    }

    /// Fetches (or re-verifies) day `date`. A download is the one thing stopped mid-way (its
    /// staging directory is what a crashed fetch leaves, and the next fetch resumes it).
    fn fetch(
        &self,
        date: Date,
        report: &mut CycleReport,
        started: Instant,
        active: &ActiveBundle,
        stop: &AtomicBool,
    ) -> Result<Fetched, DailyError> {
        let day = date.to_string();
        let dir = self.config.source.batches.join(&day);
        let prefix = self.prefix.clone().join(day.as_str());
        let fetched = self.runtime.block_on(async {
            let stopped = async {
                while !stop.load(Ordering::SeqCst) {
                    tokio::time::sleep(STOP_POLL).await;
                }
            };
            let options = FetchOptions {
                expected_date: Some(date),
                ..FetchOptions::default()
            };
            let source = Arc::clone(&self.source);
            tokio::select! {
                biased;
                () = stopped => None,
                fetched = fetch_day(source, &prefix, &dir, &options) => Some(fetched),
            }
        });
        let Some(fetched) = fetched else {
            record(report, "fetch", "stopped".into(), started, active, None);
            return Ok(Fetched::Stopped);
        };
        let outcome = match fetched {
            Ok(r) if r.already_complete => "present, verified".to_string(),
            Ok(r) => format!(
                "fetched {} files ({} bytes), verified",
                r.files.len(),
                r.files.iter().map(|f| f.downloaded).sum::<u64>()
            ),
            Err(FetchError::Store { file, source })
                if file == aml_core::batch::files::META
                    && matches!(*source, object_store::Error::NotFound { .. }) =>
            {
                if !dir.exists() {
                    record(
                        report,
                        "fetch",
                        "not yet published".into(),
                        started,
                        active,
                        None,
                    );
                    return Ok(Fetched::NotYetPublished);
                }
                // Present locally but no longer published: verify the local copy.
                let meta = aml_core::read::read_meta(&dir)?;
                aml_core::read::verify_hashes(&dir, &meta)?;
                "present, verified (no longer published)".to_string()
            }
            Err(e) => return Err(e.into()),
        };
        // fetch_day refused a published META.json of another day before staging anything; this
        // checks the local copy, which may be all there is (no longer published).
        let found = aml_core::read::read_meta(&dir)?.date()?;
        if found != date {
            return Err(DailyError::WrongDay {
                dir,
                expected: date,
                found,
            });
        }
        record(report, "fetch", outcome, started, active, None);
        Ok(Fetched::Day(dir))
    }

    /// Scores the day into the store unless it is there already (see the module docs).
    fn score(
        &self,
        date: Date,
        day_dir: &Path,
        active: &ActiveBundle,
    ) -> Result<String, DailyError> {
        let version = active.bundle.version();
        let batch_hash = aml_core::io::batch_hash(day_dir).map_err(io_error(day_dir))?;
        let stored = self
            .store
            .day_dir(date)
            .join(aml_core::submission::files::SCORES)
            .is_file();
        if let Some(receipt) = stored.then(|| self.store.receipt(date)).flatten() {
            if receipt.batch_hash() == Some(batch_hash.as_str()) {
                if receipt.model_version == version {
                    return Ok(format!("skipped: already scored with bundle {version}"));
                }
                if !self.rescore {
                    return Ok(format!(
                        "skipped: scored with bundle {} (active {version}); pass --rescore to re-score",
                        receipt.model_version
                    ));
                }
            }
        }
        let out = self.store.day_dir(date);
        let summary = pipeline::score_batch(
            BatchInput::Dir(day_dir),
            &active.bundle,
            &out,
            &self.key,
            self.key_source.clone(),
            &ScoreOptions::default(),
            &mut |_| {},
        )?;
        Ok(format!(
            "scored {} alerts, {} clusters with bundle {version}",
            summary.n_alerts, summary.n_clusters
        ))
    }

    /// Fetched days (`source.batches/<date>/` with META.json) up to `date` that carry labels, ascending.
    fn labelled_days(&self, date: Date) -> Result<Vec<(Date, PathBuf)>, DailyError> {
        let batches = &self.config.source.batches;
        let entries = match std::fs::read_dir(batches) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(batches)(e)),
        };
        let mut days: Vec<(Date, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let day = Date::parse(entry.file_name().to_str()?).ok()?;
                let dir = entry.path();
                (day <= date
                    && dir.join(aml_core::batch::files::META).is_file()
                    && dir.join(aml_core::batch::files::ADDRESS_LABELS).is_file())
                .then_some((day, dir))
            })
            .collect();
        days.sort();
        Ok(days)
    }

    /// Our bundle directories and decision files made for `date`.
    fn made_on(&self, date: Date) -> Result<(Vec<String>, Vec<String>), DailyError> {
        let prefix = format!("{date}-");
        let (mut dirs, mut decisions) = (Vec::new(), Vec::new());
        for name in list_names(self.bundles())? {
            if let Some(bundle) = name.strip_suffix(DECISION_SUFFIX) {
                if is_bundle_name(bundle) && bundle.starts_with(&prefix) {
                    decisions.push(bundle.to_string());
                }
            } else if is_bundle_name(&name)
                && name.starts_with(&prefix)
                && self
                    .bundles()
                    .join(&name)
                    .join(aml_models::bundle::files::METADATA)
                    .is_file()
            {
                dirs.push(name);
            }
        }
        dirs.sort();
        decisions.sort();
        Ok((dirs, decisions))
    }

    /// The cycle date of the newest decision file (`<D>-<version>.decision.json`), if any.
    fn last_decision(&self) -> Result<Option<Date>, DailyError> {
        Ok(list_names(self.bundles())?
            .iter()
            .filter_map(|name| name.strip_suffix(DECISION_SUFFIX))
            .filter(|bundle| is_bundle_name(bundle))
            .filter_map(|bundle| Date::parse(&bundle[..10]).ok())
            .max())
    }

    /// Step 3: trains a candidate when due (or takes the one a crashed run saved), compares it
    /// with `active` on the held-out days and records the decision. Switching is
    /// [`Daily::finish_switch`]'s.
    fn retrain(
        &self,
        date: Date,
        active: &ActiveBundle,
        stop: &AtomicBool,
    ) -> Result<(String, Option<Decision>), DailyError> {
        let training = &self.config.training;
        let (saved, decided) = self.made_on(date)?;
        if let Some(name) = decided.last() {
            return Ok((format!("skipped: decided today ({name})"), None));
        }
        // Due `every_days` after the active bundle's last training day (when one of ours is
        // active) and after the last decision: a kept (rejected) candidate also waits a full
        // period, or a retraining would run every day while the active bundle stays old.
        let last_training = match active.name {
            Some(_) => Date::parse(&active.bundle.metadata().training.last_day).ok(),
            None => None,
        };
        let since = [
            (last_training, "last training day"),
            (self.last_decision()?, "last decision on"),
        ];
        for (day, what) in since {
            let Some(day) = day else { continue };
            let due = i64::from(day.days_since_epoch()) + i64::from(training.every_days);
            if i64::from(date.days_since_epoch()) < due {
                let every = training.every_days;
                return Ok((format!("not due: {what} {day}, every {every} days"), None));
            }
        }
        let labelled = self.labelled_days(date)?;
        let (candidate_name, candidate) = match saved.last() {
            // A crashed run saved this candidate but decided nothing: use it.
            Some(name) => (name.clone(), Bundle::load(&self.bundles().join(name))?),
            None => {
                let holdout = training.holdout_days as usize;
                let needed = holdout + self.train_config.validation_days + 1;
                if labelled.len() < needed {
                    return Ok((
                        format!(
                            "skipped: {} labelled days fetched, a retraining needs {needed}",
                            labelled.len()
                        ),
                        None,
                    ));
                }
                let pool = &labelled[..labelled.len() - holdout];
                let from = pool.len().saturating_sub(training.history_days as usize);
                let dirs: Vec<PathBuf> = pool[from..].iter().map(|(_, d)| d.clone()).collect();
                let trained = train_bundle(load_history(&dirs)?, &self.train_config, &mut |_| {})?;
                let name = format!("{date}-{}", trained.bundle.version());
                if stop.load(Ordering::SeqCst) {
                    // Not saved: the next run trains again rather than keep an unjudged bundle.
                    return Ok(("stopped before saving the candidate".into(), None));
                }
                let inputs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
                trained.bundle.save(&self.bundles().join(&name), &inputs)?;
                (name, trained.bundle)
            }
        };
        let t = &candidate.metadata().training;
        let used: Vec<&String> = t.train_days.iter().chain(&t.validation_days).collect();
        let mut held_out: Vec<&(Date, PathBuf)> = labelled
            .iter()
            .filter(|(day, _)| !used.iter().any(|u| **u == day.to_string()))
            .collect();
        held_out.drain(
            ..held_out
                .len()
                .saturating_sub(training.holdout_days as usize),
        );
        let mut batches = Vec::with_capacity(held_out.len());
        for (_, dir) in &held_out {
            batches.push(Batch::load(dir)?.0);
        }
        let candidate_metrics = held_out_metrics(&candidate, &batches);
        let active_metrics = held_out_metrics(&active.bundle, &batches);
        let (switch, reason) = if batches.is_empty() {
            (
                false,
                "no labelled day held out of the candidate's training".to_string(),
            )
        } else {
            decide(candidate_metrics.tau, active_metrics.tau)
        };
        let mut train_days: Vec<String> = used.into_iter().cloned().collect();
        train_days.sort();
        let decision = Decision {
            date,
            candidate: candidate_name.clone(),
            active: active.label(),
            train_days,
            held_out_days: held_out.iter().map(|(d, _)| d.to_string()).collect(),
            candidate_metrics,
            active_metrics,
            rule: DECISION_RULE.into(),
            decision: if switch { "switch" } else { "keep" }.into(),
            reason,
        };
        let path = self
            .bundles()
            .join(format!("{candidate_name}{DECISION_SUFFIX}"));
        let json = serde_json::to_string_pretty(&decision)
            .map_err(|e| io_error(&path)(std::io::Error::other(e)))?;
        aml_core::io::atomic_write(&path, format!("{json}\n").as_bytes())
            .map_err(io_error(&path))?;
        Ok((
            format!(
                "{} {candidate_name}: {}",
                decision.decision, decision.reason
            ),
            Some(decision),
        ))
    }

    /// Points `ACTIVE` at today's candidate when today's decision says to switch and the
    /// pointer does not name it yet (also finishes a switch a crash interrupted).
    fn finish_switch(&self, date: Date) -> Result<Option<String>, DailyError> {
        let (_, decided) = self.made_on(date)?;
        let Some(name) = decided.last() else {
            return Ok(None);
        };
        let path = self.bundles().join(format!("{name}{DECISION_SUFFIX}"));
        let text = std::fs::read(&path).map_err(io_error(&path))?;
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| io_error(&path)(std::io::Error::other(e)))?;
        if value.get("decision").and_then(|d| d.as_str()) != Some("switch")
            || self.active_name()?.as_deref() == Some(name)
            || !self
                .bundles()
                .join(name)
                .join(aml_models::bundle::files::METADATA)
                .is_file()
        {
            return Ok(None);
        }
        let pointer = self.bundles().join(ACTIVE_FILE);
        aml_core::io::atomic_write(&pointer, format!("{name}\n").as_bytes())
            .map_err(io_error(&pointer))?;
        Ok(Some(format!("active bundle is now {name}")))
    }

    /// Step 4: keeps the newest `keep_bundles` of our bundle directories, `active` always among
    /// them; removes the others (renamed to a hidden name first, so a crash never leaves a
    /// half-deleted directory that still looks like a bundle).
    fn prune(&self, active: Option<&str>) -> Result<String, DailyError> {
        let bundles = self.bundles();
        let names = list_names(bundles)?;
        // Leftovers of an interrupted prune.
        for name in &names {
            let Some(rest) = name
                .strip_prefix('.')
                .and_then(|n| n.strip_suffix(".pruning"))
            else {
                continue;
            };
            if is_bundle_name(rest) {
                let dir = bundles.join(name);
                std::fs::remove_dir_all(&dir).map_err(io_error(&dir))?;
            }
        }
        let mut ours: Vec<&String> = names
            .iter()
            .filter(|n| {
                is_bundle_name(n)
                    && bundles
                        .join(n)
                        .join(aml_models::bundle::files::METADATA)
                        .is_file()
            })
            .collect();
        ours.sort_by(|a, b| b.cmp(a)); // newest first
        let keep = self.config.training.keep_bundles as usize;
        let mut kept: Vec<&String> = ours
            .iter()
            .copied()
            .filter(|n| Some(n.as_str()) == active)
            .collect();
        for name in &ours {
            if kept.len() >= keep {
                break;
            }
            if !kept.contains(name) {
                kept.push(name);
            }
        }
        let mut removed = Vec::new();
        for name in ours.into_iter().filter(|n| !kept.contains(n)) {
            let dir = bundles.join(name);
            let doomed = bundles.join(format!(".{name}.pruning"));
            std::fs::rename(&dir, &doomed).map_err(io_error(&dir))?;
            std::fs::remove_dir_all(&doomed).map_err(io_error(&doomed))?;
            removed.push(name.clone());
        }
        Ok(if removed.is_empty() {
            format!("kept {} bundles", kept.len())
        } else {
            format!(
                "kept {} bundles, removed {}",
                kept.len(),
                removed.join(", ")
            )
        })
    }

    /// Serves the active bundle in `state` when it is not served yet (after a switch): returns
    /// true when the served bundle changed. Requests already running keep their bundle.
    pub fn refresh_served(&self, state: &AppState) -> Result<bool, DailyError> {
        let active = self.active()?;
        if state.bundle().version() == active.bundle.version() {
            return Ok(false);
        }
        state.swap_bundle(active.bundle);
        Ok(true)
    }
}

/// The names in `dir` (none when it does not exist).
fn list_names(dir: &Path) -> Result<Vec<String>, DailyError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(dir)(e)),
    };
    Ok(entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect())
}

/// The directory name `bundles/ACTIVE` holds, checked to be one of ours and a bundle directory.
pub fn read_active_name(bundles: &Path) -> Result<Option<String>, DailyError> {
    let path = bundles.join(ACTIVE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&path)(e)),
    };
    let name = text.trim();
    if !is_bundle_name(name) {
        return Err(DailyError::ActivePointer {
            path,
            reason: format!(
                "holds {name:?}, which is not the name of a bundle directory of run-daily \
                 (<YYYY-MM-DD>-<12 hex digits>, inside this directory); refused"
            ),
        });
    }
    if !bundles
        .join(name)
        .join(aml_models::bundle::files::METADATA)
        .is_file()
    {
        return Err(DailyError::ActivePointer {
            path,
            reason: format!("names {name}, which is not a bundle directory here"),
        });
    }
    Ok(Some(name.to_string()))
}

/// Scores each held-out day with `bundle` and evaluates it; mean tau over the days.
fn held_out_metrics(bundle: &Bundle, batches: &[Batch]) -> HeldOutMetrics {
    let mut days = Vec::with_capacity(batches.len());
    let mut error = None;
    for batch in batches {
        match pipeline::score_rows(batch, bundle, &ScoreOptions::default(), &mut |_| {}) {
            Ok(scored) => days.push(
                batch
                    .labels
                    .as_ref()
                    .and_then(|labels| tier3::evaluate(batch, labels, &scored.scores)),
            ),
            Err(e) => {
                error = Some(format!("{}: {e}", batch.meta.processing_date));
                days.push(None);
            }
        }
    }
    let tau = if error.is_some() || days.is_empty() || days.iter().any(Option::is_none) {
        f64::NAN
    } else {
        days.iter().flatten().map(|r| r.tau_score).sum::<f64>() / days.len() as f64
    };
    HeldOutMetrics {
        version: bundle.version().to_string(),
        tau,
        days,
        error,
    }
}

fn record(
    report: &mut CycleReport,
    step: &'static str,
    outcome: String,
    started: Instant,
    active: &ActiveBundle,
    metrics: Option<&str>,
) {
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        date = %report.date,
        step,
        outcome = %outcome,
        seconds,
        bundle = %active.bundle.version(),
        metrics = metrics.unwrap_or(""),
        "run-daily step"
    );
    report.steps.push(StepRecord {
        step,
        outcome,
        seconds,
    });
}
