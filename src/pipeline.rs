//! The miner's daily run: verify, featurise, score + explain, rank, cluster-score, sign, write.
//!
//! [`score_batch`] is the whole run for a batch directory (or an in-memory [`Batch`]) and writes
//! a complete submission atomically: all five files are written into a temporary sibling of
//! `out_dir` and renamed into place at the end (see `aml_core::submission::write_submission`),
//! so after any failure `out_dir` holds either nothing new or the previous complete submission.
//! A batch whose file hashes differ from META.json is refused by [`Batch::load`] before anything
//! is featurised or written.
//!
//! The building blocks are public for the HTTP service: [`score_alerts`], [`rank_alerts`],
//! [`score_clusters`] and [`score_rows`] work on an in-memory [`Batch`] and a loaded [`Bundle`].
//!
//! TreeSHAP explanations are attached here, not in `aml-models`, because `aml-explain`
//! depends on `aml-models` (the explainer needs the tree types).
//!
//! Determinism: every output row is in canonical order (alerts by alert_id, clusters by
//! cluster_id), every number comes from deterministic, thread-count-independent code, and
//! `latency_ms` is 0.0 unless [`ScoreOptions::record_latency`] is set (a wall-clock figure would
//! make `scores.parquet` differ between runs; real timings go to the manifest and the summary).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use aml_core::batch::Batch;
use aml_core::submission::{
    write_submission, ClusterScoreRow, Hardware, Manifest, RankingModel, RankingRow, Receipt,
    ScoreRow, Submission,
};
use aml_explain::{TreeShapExplainer, DEFAULT_TOP_K};
use aml_features::{FeatureMatrix, FeatureWarning, PreparedBatch};
use aml_models::{competition_ranks, Bundle, Model};
use ed25519_dalek::SigningKey;
use serde::Serialize;

/// Environment variable holding the miner's signing key (hex of the 32-byte ed25519 seed).
pub const KEY_ENV: &str = "AML_MINER_KEY";

/// Why a run failed. Nothing is written to the output directory when any of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    /// The batch failed integrity or schema checks.
    #[error("batch refused: {0}")]
    Batch(#[from] aml_core::BatchError),
    /// Feature building failed.
    #[error(transparent)]
    Features(#[from] aml_features::FeatureError),
    /// A model could not score the matrix (e.g. a bundle trained on another feature spec).
    #[error(transparent)]
    Scorer(#[from] aml_models::ScorerError),
    /// TreeSHAP failed.
    #[error(transparent)]
    Explain(#[from] aml_explain::ExplainError),
    /// The alert scorer's model is not a tree ensemble, so its scores cannot be explained.
    #[error("alert scorer model {version}: no tree ensemble to explain its scores with (Model::tree_ensemble is None)")]
    NotExplainable {
        /// The model's version.
        version: String,
    },
    /// Writing the submission failed (or its values are not fit to be signed).
    #[error(transparent)]
    Submission(#[from] aml_core::SubmissionError),
    /// The output directory may not be written (checked before the batch is read).
    #[error(transparent)]
    Output(#[from] aml_core::OutputError),
    /// The signing key is unusable.
    #[error("signing key: {0}")]
    Key(String),
    /// Reading an input failed.
    #[error("{path}: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// Where the signing key came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum KeySource {
    /// The `AML_MINER_KEY` environment variable.
    Env,
    /// A key file.
    File(PathBuf),
    /// The public, insecure development key: receipts signed with it prove nothing.
    Development,
}

/// The development key: derived from a fixed public phrase, so it is the same everywhere and
/// must never be used for a real submission.
pub fn development_key() -> SigningKey {
    let seed = aml_core::io::sha256_hex(
        b"aml-miner public development key: NOT SECRET, NOT FOR SUBMISSIONS",
    );
    SigningKey::from_bytes(&hex_seed(&seed).expect("a sha256 hex digest is a valid seed"))
}

/// The 32-byte seed written as 64 hex digits, whitespace around them ignored.
fn hex_seed(text: &str) -> Option<[u8; 32]> {
    hex::decode(text.trim()).ok()?.try_into().ok()
}

/// The signing key: `--key FILE` first, then `AML_MINER_KEY`, else the [`development_key`]
/// (callers must say so loudly: [`KeySource::Development`]).
///
/// A key file holds the 32-byte ed25519 seed as 64 hex digits (whitespace around them ignored)
/// or as exactly 32 raw bytes; anything else is an error naming both forms. `AML_MINER_KEY`
/// holds 64 hex digits; set but empty or blank is an error, never a silent fall-back to the
/// public development key.
pub fn load_signing_key(key_file: Option<&Path>) -> Result<(SigningKey, KeySource), MinerError> {
    if let Some(path) = key_file {
        let bytes = std::fs::read(path).map_err(|source| MinerError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let seed = std::str::from_utf8(&bytes)
            .ok()
            .and_then(hex_seed)
            .or_else(|| bytes.as_slice().try_into().ok())
            .ok_or_else(|| {
                MinerError::Key(format!(
                    "{}: a key file holds 64 hex digits (surrounding whitespace ignored) or \
                     exactly 32 raw bytes; this one has {} bytes and is neither",
                    path.display(),
                    bytes.len()
                ))
            })?;
        return Ok((
            SigningKey::from_bytes(&seed),
            KeySource::File(path.to_path_buf()),
        ));
    }
    let Some(value) = std::env::var_os(KEY_ENV) else {
        return Ok((development_key(), KeySource::Development));
    };
    let text = value.to_string_lossy();
    if text.trim().is_empty() {
        return Err(MinerError::Key(format!(
            "{KEY_ENV} is set but empty or blank: set it to the key's 64 hex digits, or unset it to sign \
             with the public development key"
        )));
    }
    let seed = value.to_str().and_then(hex_seed).ok_or_else(|| {
        MinerError::Key(format!(
            "{KEY_ENV} must hold 64 hex digits (surrounding whitespace ignored); it holds {} \
             characters that are not",
            text.trim().chars().count()
        ))
    })?;
    Ok((SigningKey::from_bytes(&seed), KeySource::Env))
}

/// Knobs of a run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoreOptions {
    /// Write the measured, batch-amortised scoring time into `latency_ms` (makes
    /// `scores.parquet` differ between runs); off by default.
    pub record_latency: bool,
    /// Receipt timestamp; `None` = now (UTC, RFC 3339).
    pub timestamp: Option<String>,
}

/// Progress events for progress bars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress<'a> {
    /// A stage starts.
    Start(&'a str),
    /// A stage finished after this many seconds.
    Done(&'a str, f64),
}

/// Wall time of one stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageTiming {
    /// Stage name.
    pub stage: String,
    /// Seconds.
    pub seconds: f64,
}

/// Summary of the score distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ScoreDistribution {
    /// Smallest score.
    pub min: f64,
    /// 10th percentile.
    pub p10: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Largest score.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// Alerts per tenth of [0, 1] (the last bin includes 1.0).
    pub histogram: [usize; 10],
}

impl ScoreDistribution {
    /// Distribution of `scores` (all zeros when empty).
    pub fn of(scores: &[f64]) -> ScoreDistribution {
        if scores.is_empty() {
            return ScoreDistribution::default();
        }
        let mut sorted = scores.to_vec();
        sorted.sort_by(f64::total_cmp);
        let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
        let mut histogram = [0usize; 10];
        for &s in scores {
            histogram[((s * 10.0).floor().clamp(0.0, 9.0)) as usize] += 1;
        }
        ScoreDistribution {
            min: sorted[0],
            p10: q(0.1),
            p50: q(0.5),
            p90: q(0.9),
            max: sorted[sorted.len() - 1],
            mean: scores.iter().sum::<f64>() / scores.len() as f64,
            histogram,
        }
    }
}

/// One of the most urgent alerts, with the reasons behind its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopAlert {
    /// Alert id.
    pub alert_id: String,
    /// Rank (1 = most urgent).
    pub rank: i32,
    /// P(illicit).
    pub score: f64,
    /// `feature = value (impact +x.xx)` for the top-5 SHAP features.
    pub reasons: Vec<String>,
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The submission directory.
    pub out_dir: PathBuf,
    /// Batch id from META.json.
    pub batch_id: String,
    /// Alerts scored.
    pub n_alerts: usize,
    /// Clusters scored.
    pub n_clusters: usize,
    /// Bundle version (the submission's `model_version`).
    pub model_version: String,
    /// Per-stage wall time, in run order.
    pub timings: Vec<StageTiming>,
    /// Score distribution.
    pub distribution: ScoreDistribution,
    /// The ten best-ranked alerts.
    pub top_alerts: Vec<TopAlert>,
    /// Non-fatal findings (batch cross-checks, missing feature columns filled with NaN).
    pub warnings: Vec<String>,
    /// The signed receipt.
    pub receipt: Receipt,
    /// Where the key came from.
    pub key_source: KeySource,
}

/// Scores, rankings and cluster scores of one batch, in canonical order.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredBatch {
    /// One row per alert, by alert_id.
    pub scores: Vec<ScoreRow>,
    /// One row per alert, by alert_id.
    pub rankings: Vec<RankingRow>,
    /// One row per cluster, by cluster_id.
    pub cluster_scores: Vec<ClusterScoreRow>,
    /// Per-stage timings (features, score+explain, rank, clusters).
    pub timings: Vec<StageTiming>,
    /// Feature warnings (e.g. an address column of the spec absent from the batch: NaN-filled).
    pub warnings: Vec<FeatureWarning>,
}

struct Stages<'p> {
    progress: &'p mut dyn FnMut(Progress<'_>),
    timings: Vec<StageTiming>,
}

impl Stages<'_> {
    fn run<T>(&mut self, stage: &str, f: impl FnOnce() -> T) -> T {
        (self.progress)(Progress::Start(stage));
        let t = Instant::now();
        let out = f();
        let seconds = t.elapsed().as_secs_f64();
        (self.progress)(Progress::Done(stage, seconds));
        self.timings.push(StageTiming {
            stage: stage.to_string(),
            seconds,
        });
        out
    }
}

/// Alert feature matrix and per-alert calibrated probabilities + explain_json.
fn scores_from_matrix<M: Model>(
    matrix: &FeatureMatrix,
    bundle: &Bundle<M>,
    latency_ms: f64,
) -> Result<Vec<ScoreRow>, MinerError> {
    let scorer = bundle.scorer();
    let probabilities = scorer.score(matrix)?;
    let ensemble = scorer
        .model()
        .tree_ensemble()
        .ok_or_else(|| MinerError::NotExplainable {
            version: scorer.model().version(),
        })?;
    // The top-5 reasons are written straight from each block of contributions, with the
    // scorer's (calibrated) probability as their score.
    let explain_json = TreeShapExplainer::new(ensemble)?.explain_json(
        matrix.values.view(),
        &probabilities,
        DEFAULT_TOP_K,
    )?;
    let version = bundle.version().to_string();
    Ok(matrix
        .row_ids
        .iter()
        .zip(probabilities)
        .zip(explain_json)
        .map(|((id, score), explain_json)| ScoreRow {
            alert_id: id.clone(),
            score,
            model_version: version.clone(),
            latency_ms,
            explain_json,
        })
        .collect())
}

/// P(illicit) and the top-5 TreeSHAP explanation of every alert of `batch`, by alert_id.
/// `latency_ms` is 0.0 (see the module docs).
pub fn score_alerts<M: Model>(
    batch: &Batch,
    bundle: &Bundle<M>,
) -> Result<Vec<ScoreRow>, MinerError> {
    let matrix = bundle.alert_matrix(batch)?;
    scores_from_matrix(&matrix, bundle, 0.0)
}

fn rankings_from<M: Model>(
    matrix: &FeatureMatrix,
    bundle: &Bundle<M>,
    scores: &[ScoreRow],
) -> Result<Vec<RankingRow>, MinerError> {
    let probabilities: Vec<f64> = scores.iter().map(|s| s.score).collect();
    // The bundle says which model orders the alerts: the ranker, or (when it did not beat the
    // scorer on the held-out days) the scorer's score itself.
    let ranking_scores = match bundle.ranking_source().model {
        RankingModel::AlertRanker => bundle.ranker().ranking_scores(matrix, &probabilities)?,
        RankingModel::AlertScorer => probabilities,
    };
    let ranks = competition_ranks(&ranking_scores);
    Ok(matrix
        .row_ids
        .iter()
        .zip(ranking_scores)
        .zip(ranks)
        .map(|((id, ranking_score), rank)| RankingRow {
            alert_id: id.clone(),
            ranking_score,
            rank,
        })
        .collect())
}

/// Ranking scores and ranks (1 = most urgent, ties share the lowest rank) of every alert, by
/// alert_id; `scores` are [`score_alerts`]'s rows for the same batch.
pub fn rank_alerts<M: Model>(
    batch: &Batch,
    bundle: &Bundle<M>,
    scores: &[ScoreRow],
) -> Result<Vec<RankingRow>, MinerError> {
    let matrix = bundle.alert_matrix(batch)?;
    rankings_from(&matrix, bundle, scores)
}

fn clusters_from<M: Model>(
    prepared: &PreparedBatch<'_>,
    bundle: &Bundle<M>,
    scores: &[ScoreRow],
) -> Result<Vec<ClusterScoreRow>, MinerError> {
    let probabilities: Vec<f64> = scores.iter().map(|s| s.score).collect();
    let (matrix, _) = bundle
        .feature_spec()
        .build_cluster_matrix_prepared(prepared, Some(&probabilities))?;
    let cluster_probabilities = bundle.cluster_scorer().score(&matrix)?;
    let version = bundle.version().to_string();
    Ok(matrix
        .row_ids
        .into_iter()
        .zip(cluster_probabilities)
        .map(|(cluster_id, score)| ClusterScoreRow {
            cluster_id,
            score,
            model_version: version.clone(),
        })
        .collect())
}

/// P(the cluster holds an illicit alert) for every cluster of `batch`, by cluster_id;
/// `scores` are [`score_alerts`]'s rows for the same batch.
pub fn score_clusters<M: Model>(
    batch: &Batch,
    bundle: &Bundle<M>,
    scores: &[ScoreRow],
) -> Result<Vec<ClusterScoreRow>, MinerError> {
    clusters_from(&PreparedBatch::new(batch), bundle, scores)
}

/// Scores, ranks and cluster-scores `batch` in one pass (the graph is built once).
pub fn score_rows<M: Model>(
    batch: &Batch,
    bundle: &Bundle<M>,
    options: &ScoreOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ScoredBatch, MinerError> {
    let mut stages = Stages {
        progress,
        timings: Vec::new(),
    };
    let prepared = stages.run("prepare (graph)", || PreparedBatch::new(batch));
    let (matrix, warnings) = stages.run("features", || bundle.alert_features(&prepared))?;
    let started = Instant::now();
    let mut scores = stages.run("score + explain", || {
        scores_from_matrix(&matrix, bundle, 0.0)
    })?;
    if options.record_latency && !scores.is_empty() {
        let per_alert = started.elapsed().as_secs_f64() * 1000.0 / scores.len() as f64;
        scores.iter_mut().for_each(|s| s.latency_ms = per_alert);
    }
    let rankings = stages.run("rank", || rankings_from(&matrix, bundle, &scores))?;
    let cluster_scores = stages.run("clusters", || clusters_from(&prepared, bundle, &scores))?;
    Ok(ScoredBatch {
        scores,
        rankings,
        cluster_scores,
        timings: stages.timings,
        warnings,
    })
}

/// The input of [`score_batch`].
#[derive(Debug, Clone, Copy)]
pub enum BatchInput<'a> {
    /// A batch directory: loaded with integrity checks; the receipt's `input_hash` is the sha256
    /// of its `alerts.parquet`, its `batch_hash` the sha256 of its META.json.
    Dir(&'a Path),
    /// An already loaded batch: `input_hash` is the `alerts.parquet` hash its META lists (else the
    /// sha256 of the alerts table encoded as a batch writer would), `batch_hash` the sha256 of its
    /// re-serialised META.
    Memory(&'a Batch),
}

/// The two hashes a receipt commits the input with.
struct InputHashes {
    /// The template's `input_hash`: sha256 of `alerts.parquet`.
    input: String,
    /// Our `batch_hash`: sha256 of META.json.
    batch: String,
}

impl InputHashes {
    /// The hashes of batch directory `dir`, just loaded as `batch`: [`Batch::load`] checked that
    /// `alerts.parquet` has the sha256 its META.json lists, so that listed hash is the file's
    /// (of the very bytes that were scored) and the file is not read and hashed a second time.
    fn of_dir(dir: &Path, batch: &Batch) -> Result<InputHashes, MinerError> {
        let input = match Self::listed_input(batch) {
            Some(verified) => verified,
            None => aml_core::io::input_hash(dir).map_err(|source| MinerError::Io {
                path: dir.join(aml_core::batch::files::ALERTS),
                source,
            })?,
        };
        let batch = aml_core::io::batch_hash(dir).map_err(|source| MinerError::Io {
            path: dir.join(aml_core::batch::files::META),
            source,
        })?;
        Ok(InputHashes { input, batch })
    }

    /// The sha256 META.json lists for `alerts.parquet`, lower-case (the receipt's form).
    fn listed_input(batch: &Batch) -> Option<String> {
        batch
            .meta
            .sha256
            .get(aml_core::batch::files::ALERTS)
            .map(|hash| hash.to_ascii_lowercase())
    }

    fn of_memory(batch: &Batch) -> Result<InputHashes, MinerError> {
        let input = match Self::listed_input(batch) {
            Some(hash) => hash,
            None => aml_core::io::sha256_hex(&aml_core::write::encode_alerts(&batch.alerts)?),
        };
        Ok(InputHashes {
            input,
            batch: aml_core::io::sha256_hex(&batch.meta.to_json_bytes()),
        })
    }
}

/// UTC now as `YYYY-MM-DDTHH:MM:SSZ` ([`aml_core::date::utc_now`]).
pub fn utc_now() -> String {
    aml_core::date::utc_now()
}

/// The git commit this miner was built from, recorded by the build script (`build.rs`: the
/// `AML_MINER_REPO_COMMIT` environment variable at build time, else `git rev-parse HEAD`, else
/// `unknown`). Nothing runs git when a batch is scored.
pub const REPO_COMMIT: &str = env!("AML_MINER_REPO_COMMIT");

/// Locked versions of the main libraries (`name=version;...`), recorded by the build script.
const LOCKED_LIBS: &str = env!("AML_MINER_LIBS");

/// The template's `hardware`: CPU model and GiB of memory (from `/proc` where it exists, else the
/// architecture and 0), plus cores, rayon threads, operating system and architecture.
fn hardware() -> Hardware {
    let proc_file = |name: &str| std::fs::read_to_string(Path::new("/proc").join(name)).ok();
    let cpu = proc_file("cpuinfo")
        .and_then(|text| {
            text.lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(key, _)| key.trim() == "model name")
                .map(|(_, value)| value.trim().to_string())
        })
        .filter(|model| !model.is_empty())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let ram_gb = proc_file("meminfo")
        .and_then(|text| {
            let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| (kib / 1_048_576.0 * 10.0).round() / 10.0);
    let extra = [
        (
            "cores",
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        ),
        ("rayon_threads", rayon::current_num_threads()),
    ]
    .into_iter()
    .map(|(key, count)| (key.to_string(), count.to_string().into()))
    .chain([
        ("os".to_string(), std::env::consts::OS.into()),
        ("arch".to_string(), std::env::consts::ARCH.into()),
    ])
    .collect();
    Hardware { cpu, ram_gb, extra }
}

/// What the manifest records besides the bundle and the batch.
struct Provenance<'a> {
    timings: &'a [StageTiming],
    image_digest: &'a str,
    timestamp: &'a str,
}

fn manifest<M: Model>(bundle: &Bundle<M>, batch: &Batch, provenance: &Provenance<'_>) -> Manifest {
    let Provenance {
        timings,
        image_digest,
        timestamp,
    } = *provenance;
    let mut model_versions = bundle.model_versions();
    model_versions.insert("bundle".into(), bundle.version().to_string());
    let version = env!("CARGO_PKG_VERSION").to_string();
    let libs: BTreeMap<String, String> = [
        "aml-miner",
        "aml-core",
        "aml-features",
        "aml-models",
        "aml-train",
        "aml-explain",
    ]
    .iter()
    .map(|c| (c.to_string(), version.clone()))
    .chain(LOCKED_LIBS.split(';').filter_map(|pair| {
        let (name, version) = pair.split_once('=')?;
        Some((name.to_string(), version.to_string()))
    }))
    .chain([(
        "model_bundle_library".to_string(),
        bundle.metadata().library_version.clone(),
    )])
    .collect();
    let mut seeds = BTreeMap::new();
    seeds.insert("training".to_string(), bundle.metadata().training.seed);
    for (name, m) in &bundle.metadata().models {
        seeds.insert(name.clone(), m.seed);
    }
    let mut extra = BTreeMap::new();
    extra.insert(
        "batch_id".to_string(),
        serde_json::Value::from(batch.meta.batch_id.clone()),
    );
    extra.insert(
        "training_days".to_string(),
        serde_json::to_value(&bundle.metadata().training).unwrap_or_default(),
    );
    extra.insert(
        "stage_seconds".to_string(),
        serde_json::to_value(timings).unwrap_or_default(),
    );
    extra.insert(
        "processed_at".to_string(),
        serde_json::Value::from(timestamp),
    );
    Manifest {
        repo_commit: REPO_COMMIT.to_string(),
        image_digest: image_digest.to_string(),
        model_version: bundle.version().to_string(),
        model_versions,
        libs,
        seeds,
        hardware: hardware(),
        ranking_source: Some(bundle.ranking_source()),
        extra,
    }
}

fn top_alerts(scored: &ScoredBatch) -> Vec<TopAlert> {
    let mut order: Vec<usize> = (0..scored.rankings.len()).collect();
    order.sort_by_key(|&i| (scored.rankings[i].rank, i));
    order
        .into_iter()
        .take(10)
        .map(|i| {
            let s = &scored.scores[i];
            let reasons = serde_json::from_str::<serde_json::Value>(&s.explain_json)
                .ok()
                .and_then(|v| v.get("top_features").and_then(|t| t.as_array()).cloned())
                .unwrap_or_default()
                .iter()
                .map(|f| {
                    let value = f["value"]
                        .as_f64()
                        .map_or("NaN".to_string(), |v| format!("{v:.4}"));
                    let impact = f["impact"].as_f64().unwrap_or(0.0);
                    format!(
                        "{} = {value} (impact {impact:+.3})",
                        f["feature"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            TopAlert {
                alert_id: s.alert_id.clone(),
                rank: scored.rankings[i].rank,
                score: s.score,
                reasons,
            }
        })
        .collect()
}

/// Runs the whole day: load + verify (for a directory), featurise, score + explain, rank,
/// cluster-score, then write `scores.parquet`, `rankings.parquet`, `cluster_scores.parquet`,
/// `manifest.json` and a `receipt.json` signed with `key` into `out_dir`, atomically.
///
/// `out_dir` is checked first, before the batch is read: it may not be the batch directory or
/// contain it, and an existing `out_dir` must be a submission (or empty), else nothing is touched
/// (see [`aml_core::io::write_output_dir`]). A refused batch or a score that is not fit to be
/// signed leaves any previous submission in `out_dir` as it was.
pub fn score_batch<M: Model>(
    input: BatchInput<'_>,
    bundle: &Bundle<M>,
    out_dir: &Path,
    key: &SigningKey,
    key_source: KeySource,
    options: &ScoreOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Summary, MinerError> {
    let (summary, _loaded) =
        score_batch_keeping(input, bundle, out_dir, key, key_source, options, progress)?;
    Ok(summary)
}

/// [`score_batch`], handing the batch it loaded back to the caller (`None` for a
/// [`BatchInput::Memory`] batch) instead of freeing it.
///
/// Freeing a full-size day's tables is millions of deallocations (a few tenths of a second,
/// more on a busy machine); a command-line caller that exits next frees them on a thread it
/// does not wait for (see `cli::score::run`), so the operating system reclaims them at exit.
pub fn score_batch_keeping<M: Model>(
    input: BatchInput<'_>,
    bundle: &Bundle<M>,
    out_dir: &Path,
    key: &SigningKey,
    key_source: KeySource,
    options: &ScoreOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(Summary, Option<Batch>), MinerError> {
    let inputs: Vec<&Path> = match input {
        BatchInput::Dir(dir) => vec![dir],
        BatchInput::Memory(_) => Vec::new(),
    };
    // Refuse an output that is the batch (or holds it) or is not a submission before any work.
    aml_core::io::check_output(out_dir, aml_core::submission::OUTPUT_KIND, &inputs)?;
    // The image digest (sha256 of this executable unless set) depends on nothing of the run:
    // hash it while the batch is read instead of at the end.
    let image_digest = std::thread::spawn(aml_core::submission::image_digest);
    let mut timings = Vec::new();
    let mut loaded = None;
    let (batch, hashes, mut warnings): (&Batch, InputHashes, Vec<String>) = match input {
        BatchInput::Dir(dir) => {
            progress(Progress::Start("load + verify"));
            let t = Instant::now();
            let (batch, report) = Batch::load_with(dir, aml_core::FlowColumns::Scoring)?;
            let hashes = InputHashes::of_dir(dir, &batch)?;
            let seconds = t.elapsed().as_secs_f64();
            progress(Progress::Done("load + verify", seconds));
            timings.push(StageTiming {
                stage: "load + verify".into(),
                seconds,
            });
            (
                &*loaded.insert(batch),
                hashes,
                report.warnings.iter().map(|w| w.to_string()).collect(),
            )
        }
        BatchInput::Memory(batch) => (batch, InputHashes::of_memory(batch)?, Vec::new()),
    };
    if batch.alerts.is_empty() {
        return Err(aml_core::BatchError::NoAlerts {
            file: aml_core::batch::files::ALERTS.to_string(),
        }
        .into());
    }
    let scored = score_rows(batch, bundle, options, progress)?;
    timings.extend(scored.timings.iter().cloned());
    warnings.extend(scored.warnings.iter().map(|w| w.to_string()));
    let timestamp = options.timestamp.clone().unwrap_or_else(utc_now);
    progress(Progress::Start("write + sign"));
    let t = Instant::now();
    // What the summary reports is taken first, so the rows move into the submission uncopied.
    let probabilities: Vec<f64> = scored.scores.iter().map(|s| s.score).collect();
    let (top, n_alerts, n_clusters) = (
        top_alerts(&scored),
        scored.scores.len(),
        scored.cluster_scores.len(),
    );
    // A panicked hashing thread: hash here instead (the same call, so the same outcome).
    let image_digest = image_digest
        .join()
        .unwrap_or_else(|_| aml_core::submission::image_digest())?;
    let provenance = Provenance {
        timings: &timings,
        image_digest: &image_digest,
        timestamp: &timestamp,
    };
    let submission = Submission {
        scores: scored.scores,
        rankings: scored.rankings,
        cluster_scores: scored.cluster_scores,
        manifest: manifest(bundle, batch, &provenance),
        model_version: bundle.version().to_string(),
        image_digest,
        batch_hash: Some(hashes.batch),
    };
    let receipt = write_submission(
        out_dir,
        &inputs,
        &submission,
        key,
        &hashes.input,
        &timestamp,
    )?;
    let seconds = t.elapsed().as_secs_f64();
    progress(Progress::Done("write + sign", seconds));
    timings.push(StageTiming {
        stage: "write + sign".into(),
        seconds,
    });
    let summary = Summary {
        out_dir: out_dir.to_path_buf(),
        batch_id: batch.meta.batch_id.clone(),
        n_alerts,
        n_clusters,
        model_version: bundle.version().to_string(),
        distribution: ScoreDistribution::of(&probabilities),
        top_alerts: top,
        timings,
        warnings,
        receipt,
        key_source,
    };
    Ok((summary, loaded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_dev_key_is_stable() {
        // The development key is public and pinned: its public key, as ed25519 derives it from
        // sha256 of the phrase (checked with Python's `cryptography`), must never change, or
        // validators' "signed with the development key" check would miss it.
        assert_eq!(
            hex::encode(development_key().verifying_key().to_bytes()),
            "a17eb5288783ee6c972feb1aec5fe0345f467ca809055daf97f1aa61a96d5e0b"
        );
        assert!(hex_seed("zz").is_none());
        assert!(hex_seed(&"00".repeat(31)).is_none());
        assert!(hex_seed(&"00".repeat(33)).is_none());
        assert_eq!(
            hex_seed(&format!(" {}\n", "11".repeat(32))),
            Some([0x11; 32])
        );
    }

    #[test]
    fn distribution_and_timestamp() {
        let d = ScoreDistribution::of(&[0.0, 0.5, 1.0]);
        assert_eq!((d.min, d.p50, d.max), (0.0, 0.5, 1.0));
        assert_eq!(d.histogram[9], 1);
        assert_eq!(utc_now().len(), 20);
    }
}
