//! The model bundle: everything `score_batch` needs, in one directory.
//!
//! ```text
//! <bundle>/
//!   alert_scorer.txt     LightGBM text model (binary)
//!   alert_ranker.txt     LightGBM text model (lambdarank, rank_xendcg or binary)
//!   cluster_scorer.txt   LightGBM text model (binary)
//!   metadata.json        BundleMetadata: per-model version hash, parameters, seed, training
//!                        metrics, calibration; the FeatureSpec; training date range; library version
//!   label_memory.parquet optional: the label memory of the training days (see below)
//! ```
//!
//! A bundle trained with the `label_memory` feature group stores the [`LabelMemory`] of all its
//! training and validation days; `metadata.json`'s `label_memory` records the file's version
//! (SHA-256 prefix), row count and days. [`Bundle::load`] checks the hash and every row, and
//! [`Bundle::alert_features`] (the one way scoring builds alert features) gives it to the
//! feature spec. A bundle without it (every bundle trained before it existed) scores exactly as
//! before.
//!
//! `metadata.json`'s `ranking` says whether the submission's rankings come from the alert
//! ranker or from the scorer's score (when the ranker did not beat the scorer consistently on
//! the judged days: the out-of-fold training days and the validation days), with the numbers
//! behind the choice, day by day. The ranker file is present and checked either way,
//! so every bundle has the same files; a bundle without `ranking` ranks with the ranker.
//!
//! The model files load in LightGBM as they are. [`Bundle::load`] refuses a bundle that is
//! incomplete (a missing file or model entry), tampered with (a model file whose SHA-256 prefix
//! differs from the version recorded in `metadata.json`) or inconsistent (model feature names
//! that differ from what the stored [`FeatureSpec`] produces, a spec of another
//! [`FEATURE_SPEC_VERSION`], a model with the wrong objective), each with its own
//! [`BundleError`] variant naming the file. So a bundle trained on another feature spec never
//! scores silently shifted columns.
//!
//! The bundle's own version ([`Bundle::version`]) is the first 12 hex digits of the SHA-256 of
//! `metadata.json`, which lists every model version, the calibration and the spec: it changes
//! whenever anything that affects a score changes. It is the `model_version` of submissions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aml_core::date::Date;
use aml_features::memory::MemoryError;
use aml_features::{
    FeatureError, FeatureMatrix, FeatureSpec, FeatureWarning, LabelMemory, PreparedBatch,
    FEATURE_SPEC_VERSION,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use aml_core::submission::{RankingModel, RankingSource};

use crate::model::{model_version, GbdtModel, Model, ModelError};
use crate::scorers::{
    AlertRanker, AlertScorer, Calibration, ClusterScorer, ScorerError, SCORER_FEATURE,
};

/// Version of the bundle layout; bumped when files or metadata fields change meaning.
pub const BUNDLE_FORMAT_VERSION: u32 = 2;

/// File and model names inside a bundle directory.
pub mod files {
    /// Alert scorer model file.
    pub const ALERT_SCORER: &str = "alert_scorer.txt";
    /// Alert ranker model file.
    pub const ALERT_RANKER: &str = "alert_ranker.txt";
    /// Cluster scorer model file.
    pub const CLUSTER_SCORER: &str = "cluster_scorer.txt";
    /// Metadata file.
    pub const METADATA: &str = "metadata.json";
    /// Label memory (optional).
    pub const LABEL_MEMORY: &str = aml_features::memory::MEMORY_FILE;
    /// Model names (keys of `BundleMetadata::models`) with their files.
    pub const MODELS: [(&str, &str); 3] = [
        ("alert_scorer", ALERT_SCORER),
        ("alert_ranker", ALERT_RANKER),
        ("cluster_scorer", CLUSTER_SCORER),
    ];
}

/// The kind of output [`Bundle::save`] replaces: a directory holding a `metadata.json`.
pub const OUTPUT_KIND: aml_core::io::OutputKind = aml_core::io::OutputKind {
    name: "model bundle",
    marker: files::METADATA,
    files: &[
        files::ALERT_SCORER,
        files::ALERT_RANKER,
        files::CLUSTER_SCORER,
        files::METADATA,
        files::LABEL_MEMORY,
    ],
};

/// Why a bundle could not be loaded, built or saved.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A required file is absent.
    #[error("incomplete model bundle: {path} is missing")]
    MissingFile {
        /// The missing file.
        path: PathBuf,
    },
    /// `metadata.json` is not valid.
    #[error("{path}: invalid metadata: {reason}")]
    Metadata {
        /// The metadata file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A model file does not parse or predict.
    #[error("model {model}: {source}")]
    Model {
        /// Model name.
        model: String,
        /// Underlying error.
        source: ModelError,
    },
    /// A model file's hash differs from the version recorded in the metadata.
    #[error("model {model}: {path} has version {found} but metadata.json records {expected} (file changed after training?)")]
    VersionMismatch {
        /// Model name.
        model: String,
        /// Model file.
        path: PathBuf,
        /// Version in metadata.json.
        expected: String,
        /// Version of the file on disk.
        found: String,
    },
    /// The bundle was built with a different feature-spec version or feature list.
    #[error("model {model} was trained on a different feature spec: {detail}")]
    FeatureSpecMismatch {
        /// Model name.
        model: String,
        /// What differs.
        detail: String,
    },
    /// A model is unusable for its role (objective, calibration).
    #[error(transparent)]
    Scorer(#[from] ScorerError),
    /// The output directory may not be written (it is or contains an input, or is not a bundle).
    #[error(transparent)]
    Output(#[from] aml_core::OutputError),
    /// The label memory file is unreadable or impossible, or disagrees with `metadata.json`.
    #[error("{path}: {source}")]
    LabelMemory {
        /// The memory file.
        path: PathBuf,
        /// What is wrong.
        source: Box<MemoryError>,
    },
}

/// Per-model entry of `metadata.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    /// File name inside the bundle.
    pub file: String,
    /// First 12 hex digits of the SHA-256 of the model file.
    pub version: String,
    /// Input columns, in order.
    pub feature_names: Vec<String>,
    /// Training parameters (`aml_train::GbdtParams` as JSON).
    pub params: serde_json::Value,
    /// Seed used for training.
    pub seed: u64,
    /// Number of trees kept (the best iteration under early stopping).
    pub num_trees: usize,
    /// Validation metrics at training time (`None` = undefined, e.g. one class only).
    pub training_metrics: BTreeMap<String, Option<f64>>,
    /// Probability calibration applied after the model (alert scorer only).
    pub calibration: Option<Calibration>,
}

/// Where the training data came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// Processing dates used for fitting, ascending.
    pub train_days: Vec<String>,
    /// Processing dates used for validation, early stopping and calibration, ascending.
    pub validation_days: Vec<String>,
    /// First processing date of all training data.
    pub first_day: String,
    /// Last processing date of all training data.
    pub last_day: String,
    /// Labelled alerts used for fitting.
    pub n_train_alerts: usize,
    /// Labelled alerts used for validation.
    pub n_validation_alerts: usize,
    /// Master seed of the training run.
    pub seed: u64,
}

/// Contents of `metadata.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleMetadata {
    /// [`BUNDLE_FORMAT_VERSION`] at save time.
    pub format_version: u32,
    /// Version of the aml-models crate that wrote the bundle.
    pub library_version: String,
    /// The feature spec every model's inputs come from.
    pub feature_spec: FeatureSpec,
    /// Training data provenance.
    pub training: TrainingInfo,
    /// One entry per model: `alert_scorer`, `alert_ranker`, `cluster_scorer`.
    pub models: BTreeMap<String, ModelMetadata>,
    /// How the alert ranker was chosen and whether rankings come from it or from the scorer.
    /// Absent in bundles trained before it was recorded: they rank with the alert ranker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking: Option<RankingChoice>,
    /// The stored label memory; absent when the bundle has none (then `metadata.json` is
    /// byte-identical to one written before label memories existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_memory: Option<LabelMemoryInfo>,
}

/// `label_memory` of `metadata.json`: what `label_memory.parquet` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelMemoryInfo {
    /// File name inside the bundle (always `label_memory.parquet`).
    pub file: String,
    /// First 12 hex digits of the SHA-256 of the file.
    pub version: String,
    /// Addresses (rows) in the file.
    pub rows: usize,
    /// First labelled day folded in.
    pub first_day: Option<Date>,
    /// Last labelled day folded in.
    pub last_day: Option<Date>,
    /// Every labelled day folded in, ascending.
    pub days: Vec<Date>,
}

impl LabelMemoryInfo {
    /// The record of `memory`, whose file's version is `version` (see [`memory_version`]).
    fn of(memory: &LabelMemory, version: String) -> LabelMemoryInfo {
        let days = memory.days();
        LabelMemoryInfo {
            file: files::LABEL_MEMORY.to_string(),
            version,
            rows: memory.len(),
            first_day: days.first().copied(),
            last_day: days.last().copied(),
            days,
        }
    }
}

/// Ranking quality of one ordering, averaged over days (each day ranked on its own).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RankingMetrics {
    /// NDCG@100 with graded relevance (`None` = no day with a relevant alert).
    pub ndcg_100: Option<f64>,
    /// NDCG@500 with graded relevance.
    pub ndcg_500: Option<f64>,
    /// Share of illicit alerts among the 100 ranked first.
    pub precision_100: Option<f64>,
}

/// One ranker candidate, evaluated out of fold on the training days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankerCandidateResult {
    /// Candidate name (from the training configuration).
    pub name: String,
    /// Parameters set on top of the ranker's base parameters.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Trees kept by early stopping in each fold.
    pub fold_trees: Vec<usize>,
    /// Its out-of-fold ranking of the training days.
    pub out_of_fold: RankingMetrics,
}

/// `ranking` of `metadata.json`: the out-of-fold choice of the ranker's objective and number of
/// trees, its held-out comparison with ranking by the scorer, and which one the rankings use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankingChoice {
    /// Where the submission's rankings come from, and why.
    pub source: RankingSource,
    /// The rule that decided `source`.
    pub rule: String,
    /// The rule's NDCG@500 margin.
    pub margin: f64,
    /// The candidate trained as `alert_ranker.txt`.
    pub chosen: String,
    /// Day-grouped folds of the training days the candidates were compared on.
    pub folds: usize,
    /// Every candidate, in configuration order.
    pub candidates: Vec<RankerCandidateResult>,
    /// Ranking the same out-of-fold days by the (out-of-fold) scorer probability.
    pub out_of_fold_scorer: RankingMetrics,
    /// The held-out validation days of the comparison below.
    pub held_out_days: Vec<String>,
    /// The chosen ranker on the held-out days.
    pub held_out_ranker: RankingMetrics,
    /// Ranking by the scorer's score on the held-out days.
    pub held_out_scorer: RankingMetrics,
    /// Every day the ranker was judged on against ranking by the scorer: the out-of-fold
    /// training days, then the validation days (empty in bundles trained before it was recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub judged_days: Vec<JudgedDay>,
    /// The paired NDCG@500 differences of `judged_days` summarised, and the rule's verdict
    /// (absent in bundles trained before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judgement: Option<ShipJudgement>,
}

/// How a judged day was kept out of the ranker that ranked it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldOutBy {
    /// A training day ranked by a ranker fitted on the other folds' days, with its candidate and
    /// number of trees chosen on those folds too; the scorer's probabilities of that day come from
    /// a scorer fitted on the same other days.
    OutOfFold,
    /// A validation day ranked by the shipped ranker.
    Validation,
}

/// One day on which the alert ranker was judged against ranking by the scorer's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgedDay {
    /// Processing date.
    pub date: String,
    /// How the day was held out.
    pub held_out_by: HeldOutBy,
    /// The ranker candidate that ranked the day.
    pub candidate: String,
    /// Its number of trees.
    pub trees: usize,
    /// The ranker's order of the day.
    pub ranker: RankingMetrics,
    /// The scorer's order of the day.
    pub scorer: RankingMetrics,
    /// NDCG@500 of the ranker's order minus that of the scorer's.
    pub difference: f64,
}

/// The paired differences (ranker NDCG@500 minus scorer NDCG@500) over the judged days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipJudgement {
    /// Number of judged days.
    pub days: usize,
    /// Mean difference.
    pub mean_difference: f64,
    /// Sample standard deviation of the differences (`None` with one day).
    pub standard_deviation: Option<f64>,
    /// Standard error of the mean: standard deviation / sqrt(days) (`None` with one day).
    pub standard_error: Option<f64>,
    /// Days on which the ranker's NDCG@500 is above the scorer's.
    pub wins: usize,
    /// Whether the ship rule holds on these figures.
    pub ships: bool,
}

impl RankingChoice {
    /// Whether the rule lets the ranker order the submission.
    pub fn ranker_ships(&self) -> bool {
        self.source.model == RankingModel::AlertRanker
    }
}

impl BundleMetadata {
    /// Pretty JSON, keys in a fixed order (struct order, BTreeMap keys), newline-terminated.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("metadata serialises");
        s.push('\n');
        s
    }
}

/// The three models of a miner plus their metadata. The alert scorer's model is a
/// [`GbdtModel`] unless a miner plugs in its own [`Model`] (built with [`Bundle::new`]; only
/// GBDT bundles are saved and loaded).
#[derive(Debug, Clone)]
pub struct Bundle<M: Model = GbdtModel> {
    metadata: BundleMetadata,
    scorer: AlertScorer<M>,
    ranker: AlertRanker,
    cluster_scorer: ClusterScorer,
    label_memory: Option<LabelMemory>,
    version: String,
}

impl<M: Model> Bundle<M> {
    /// Assembles a bundle from freshly trained models. The per-model `file`, `version`,
    /// `feature_names`, `num_trees` and the scorer's `calibration` entries of `metadata` are
    /// (re)filled from the models; everything is then checked as [`Bundle::load`] does.
    pub fn new(
        mut metadata: BundleMetadata,
        scorer: AlertScorer<M>,
        ranker: AlertRanker,
        cluster_scorer: ClusterScorer,
    ) -> Result<Bundle<M>, BundleError> {
        metadata.format_version = BUNDLE_FORMAT_VERSION;
        // The memory itself is attached by `with_label_memory`; a record without it would lie.
        metadata.label_memory = None;
        let models: [(&str, &str, &dyn Model); 3] = [
            ("alert_scorer", files::ALERT_SCORER, scorer.model()),
            ("alert_ranker", files::ALERT_RANKER, ranker.model()),
            (
                "cluster_scorer",
                files::CLUSTER_SCORER,
                cluster_scorer.model(),
            ),
        ];
        for (name, file, model) in models {
            let entry = metadata
                .models
                .entry(name.to_string())
                .or_insert_with(|| ModelMetadata {
                    file: String::new(),
                    version: String::new(),
                    feature_names: Vec::new(),
                    params: serde_json::Value::Null,
                    seed: 0,
                    num_trees: 0,
                    training_metrics: BTreeMap::new(),
                    calibration: None,
                });
            entry.file = file.to_string();
            entry.version = model.version();
            entry.feature_names = model.feature_names().to_vec();
            entry.num_trees = model.tree_ensemble().map_or(0, |e| e.trees.len());
            entry.calibration = None;
        }
        if let Some(entry) = metadata.models.get_mut("alert_scorer") {
            entry.calibration = scorer.calibration().cloned();
        }
        Self::checked(metadata, scorer, ranker, cluster_scorer)
    }

    fn checked(
        metadata: BundleMetadata,
        scorer: AlertScorer<M>,
        ranker: AlertRanker,
        cluster_scorer: ClusterScorer,
    ) -> Result<Bundle<M>, BundleError> {
        check_consistency(&metadata, &scorer, &ranker, &cluster_scorer)?;
        let version = model_version(&metadata.to_json());
        Ok(Bundle {
            metadata,
            scorer,
            ranker,
            cluster_scorer,
            label_memory: None,
            version,
        })
    }

    /// The bundle with `memory` as its label memory (`None`: none), recorded in the metadata
    /// (so the bundle's version changes with it) and saved as `label_memory.parquet`.
    pub fn with_label_memory(
        mut self,
        memory: Option<LabelMemory>,
    ) -> Result<Bundle<M>, BundleError> {
        self.metadata.label_memory = match &memory {
            Some(memory) => {
                let bytes = memory
                    .to_parquet()
                    .map_err(|source| BundleError::LabelMemory {
                        path: PathBuf::from(files::LABEL_MEMORY),
                        source: Box::new(source),
                    })?;
                Some(LabelMemoryInfo::of(
                    memory,
                    memory_version(aml_core::io::sha256_hex(&bytes)),
                ))
            }
            None => None,
        };
        self.version = model_version(&self.metadata.to_json());
        self.label_memory = memory;
        Ok(self)
    }
}

impl Bundle {
    /// Loads and checks a bundle directory (see the module docs for what is checked).
    pub fn load(dir: &Path) -> Result<Bundle, BundleError> {
        let meta_path = dir.join(files::METADATA);
        if !meta_path.is_file() {
            return Err(BundleError::MissingFile { path: meta_path });
        }
        let text = std::fs::read_to_string(&meta_path).map_err(|source| BundleError::Io {
            path: meta_path.clone(),
            source,
        })?;
        let metadata: BundleMetadata =
            serde_json::from_str(&text).map_err(|e| BundleError::Metadata {
                path: meta_path.clone(),
                reason: e.to_string(),
            })?;
        if metadata.format_version != BUNDLE_FORMAT_VERSION {
            return Err(BundleError::Metadata {
                path: meta_path,
                reason: format!(
                    "format_version {} is not supported (this build reads {BUNDLE_FORMAT_VERSION})",
                    metadata.format_version
                ),
            });
        }
        let load_model = |(name, file): (&str, &str)| -> Result<GbdtModel, BundleError> {
            let entry = metadata
                .models
                .get(name)
                .ok_or_else(|| BundleError::Metadata {
                    path: meta_path.clone(),
                    reason: format!("no entry for model {name:?}"),
                })?;
            if entry.file != file {
                return Err(BundleError::Metadata {
                    path: meta_path.clone(),
                    reason: format!(
                        "model {name:?} must be stored as {file:?}, metadata says {:?}",
                        entry.file
                    ),
                });
            }
            let path = dir.join(file);
            if !path.is_file() {
                return Err(BundleError::MissingFile { path });
            }
            let model = GbdtModel::load(&path).map_err(|source| BundleError::Model {
                model: name.to_string(),
                source,
            })?;
            if model.version() != entry.version {
                return Err(BundleError::VersionMismatch {
                    model: name.to_string(),
                    path,
                    expected: entry.version.clone(),
                    found: model.version(),
                });
            }
            Ok(model)
        };
        // The three models and the label memory are parsed in parallel; the error reported is
        // still the first in the fixed order (the models in `files::MODELS` order, then the
        // memory), as when they were read one after the other.
        let (models, memory) = rayon::join(
            || {
                files::MODELS
                    .into_par_iter()
                    .map(load_model)
                    .collect::<Vec<_>>()
            },
            || load_label_memory(dir, metadata.label_memory.as_ref()),
        );
        let mut loaded = BTreeMap::new();
        for ((name, _), model) in files::MODELS.into_iter().zip(models) {
            loaded.insert(name, model?);
        }
        let mut take = |name: &str| loaded.remove(name).expect("loaded above");
        let calibration = metadata.models["alert_scorer"].calibration.clone();
        let scorer = AlertScorer::new(take("alert_scorer"), calibration)?;
        let ranker = AlertRanker::new(take("alert_ranker"))?;
        let cluster_scorer = ClusterScorer::new(take("cluster_scorer"))?;
        let memory = memory?;
        let mut bundle = Self::checked(metadata, scorer, ranker, cluster_scorer)?;
        bundle.label_memory = memory;
        // The version is the hash of the metadata as written; re-serialising must give the same
        // bytes, else the file was edited by hand (reformatted or reordered).
        if bundle.metadata.to_json() != text {
            tracing::warn!(
                "{}: metadata.json is not in canonical form; bundle version computed from its canonical form",
                meta_path.display()
            );
        }
        Ok(bundle)
    }

    /// Writes the bundle into `dir` by the miner's one output rule
    /// ([`aml_core::io::write_output_dir`]): `dir` may not be one of `inputs` (the training
    /// history directories) or contain one; an existing `dir` is replaced only when it is a model
    /// bundle (holds `metadata.json`) or empty, otherwise nothing is touched; the files go into a
    /// temporary sibling directory that is renamed into place.
    pub fn save(&self, dir: &Path, inputs: &[&Path]) -> Result<(), BundleError> {
        let metadata = self.metadata.to_json();
        let memory = match &self.label_memory {
            Some(memory) => {
                Some(
                    memory
                        .to_parquet()
                        .map_err(|source| BundleError::LabelMemory {
                            path: dir.join(files::LABEL_MEMORY),
                            source: Box::new(source),
                        })?,
                )
            }
            None => None,
        };
        let mut contents: Vec<(&str, &[u8])> = vec![
            (
                files::ALERT_SCORER,
                self.scorer.model().model_text().as_bytes(),
            ),
            (
                files::ALERT_RANKER,
                self.ranker.model().model_text().as_bytes(),
            ),
            (
                files::CLUSTER_SCORER,
                self.cluster_scorer.model().model_text().as_bytes(),
            ),
            (files::METADATA, metadata.as_bytes()),
        ];
        if let Some(bytes) = &memory {
            contents.push((files::LABEL_MEMORY, bytes));
        }
        aml_core::io::write_output_dir(dir, OUTPUT_KIND, inputs, &contents)?;
        Ok(())
    }
}

impl<M: Model> Bundle<M> {
    /// First 12 hex digits of the SHA-256 of the canonical `metadata.json`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The metadata.
    pub fn metadata(&self) -> &BundleMetadata {
        &self.metadata
    }

    /// The feature spec all three models were trained with.
    pub fn feature_spec(&self) -> &FeatureSpec {
        &self.metadata.feature_spec
    }

    /// The stored label memory, if the bundle has one.
    pub fn label_memory(&self) -> Option<&LabelMemory> {
        self.label_memory.as_ref()
    }

    /// The alert feature matrix of a prepared batch, built with the bundle's feature spec and
    /// label memory: THE way every scoring path (score_batch, the HTTP routes, the examples)
    /// builds alert features, so none of them forgets the memory.
    pub fn alert_features(
        &self,
        prepared: &PreparedBatch<'_>,
    ) -> Result<(FeatureMatrix, Vec<FeatureWarning>), FeatureError> {
        self.feature_spec()
            .transform_prepared_with_memory(prepared, self.label_memory())
    }

    /// [`Bundle::alert_features`] of `batch`, without the warnings.
    pub fn alert_matrix(&self, batch: &aml_core::Batch) -> Result<FeatureMatrix, FeatureError> {
        Ok(self.alert_features(&PreparedBatch::new(batch))?.0)
    }

    /// The alert scorer.
    pub fn scorer(&self) -> &AlertScorer<M> {
        &self.scorer
    }

    /// The alert ranker.
    pub fn ranker(&self) -> &AlertRanker {
        &self.ranker
    }

    /// Which model's score orders the rankings, and why: the recorded choice, or the alert
    /// ranker for bundles trained before the choice was recorded.
    pub fn ranking_source(&self) -> RankingSource {
        match &self.metadata.ranking {
            Some(choice) => choice.source.clone(),
            None => RankingSource {
                model: RankingModel::AlertRanker,
                reason: "the bundle records no ranking choice (trained before it was recorded): \
                         rankings come from the alert ranker"
                    .to_string(),
            },
        }
    }

    /// The cluster scorer.
    pub fn cluster_scorer(&self) -> &ClusterScorer {
        &self.cluster_scorer
    }

    /// Version of each model file, by model name.
    pub fn model_versions(&self) -> BTreeMap<String, String> {
        self.metadata
            .models
            .iter()
            .map(|(k, m)| (k.clone(), m.version.clone()))
            .collect()
    }
}

/// The version of a label memory file: the first 12 hex digits of its SHA-256 (`sha256`).
fn memory_version(mut sha256: String) -> String {
    sha256.truncate(12);
    sha256
}

/// Reads and checks `label_memory.parquet` as `info` records it; with no record, the file must
/// be absent (a memory nothing vouches for is refused, not silently ignored).
fn load_label_memory(
    dir: &Path,
    info: Option<&LabelMemoryInfo>,
) -> Result<Option<LabelMemory>, BundleError> {
    let path = dir.join(files::LABEL_MEMORY);
    let meta_path = dir.join(files::METADATA);
    let Some(info) = info else {
        if path.exists() {
            return Err(BundleError::Metadata {
                path: meta_path,
                reason: format!(
                    "records no label memory, but {} is present",
                    files::LABEL_MEMORY
                ),
            });
        }
        return Ok(None);
    };
    if info.file != files::LABEL_MEMORY {
        return Err(BundleError::Metadata {
            path: meta_path,
            reason: format!(
                "the label memory must be stored as {:?}, metadata says {:?}",
                files::LABEL_MEMORY,
                info.file
            ),
        });
    }
    if !path.is_file() {
        return Err(BundleError::MissingFile { path });
    }
    // Streamed: the file's size is not bounded, its row count is checked before decoding.
    let sha256 = aml_core::io::sha256_file(&path).map_err(|source| BundleError::Io {
        path: path.clone(),
        source,
    })?;
    let found = memory_version(sha256);
    if found != info.version {
        return Err(BundleError::VersionMismatch {
            model: "label_memory".to_string(),
            path,
            expected: info.version.clone(),
            found,
        });
    }
    let memory = LabelMemory::read_parquet(&path, &info.days).map_err(|source| {
        BundleError::LabelMemory {
            path: path.clone(),
            source: Box::new(source),
        }
    })?;
    if LabelMemoryInfo::of(&memory, found) != *info {
        return Err(BundleError::Metadata {
            path: meta_path,
            reason: format!(
                "label_memory records {} rows and days {:?}..{:?}, but {} holds {} rows",
                info.rows,
                info.first_day,
                info.last_day,
                files::LABEL_MEMORY,
                memory.len()
            ),
        });
    }
    Ok(Some(memory))
}

fn spec_mismatch(model: &str, detail: String) -> BundleError {
    BundleError::FeatureSpecMismatch {
        model: model.to_string(),
        detail,
    }
}

fn compare_names(model: &str, expected: &[String], found: &[String]) -> Result<(), BundleError> {
    crate::scorers::check_feature_names("bundle", expected, found)
        .map_err(|e| spec_mismatch(model, e.to_string()))
}

/// Checks metadata against the models and the models against the feature spec.
fn check_consistency<M: Model>(
    metadata: &BundleMetadata,
    scorer: &AlertScorer<M>,
    ranker: &AlertRanker,
    cluster_scorer: &ClusterScorer,
) -> Result<(), BundleError> {
    let spec = &metadata.feature_spec;
    if spec.version != FEATURE_SPEC_VERSION {
        return Err(spec_mismatch(
            "bundle",
            format!(
                "feature spec version {} but this build computes version {FEATURE_SPEC_VERSION}; retrain the bundle",
                spec.version
            ),
        ));
    }
    let alert_names = spec.feature_names();
    compare_names("alert_scorer", &alert_names, scorer.feature_names())?;
    let mut ranker_names = alert_names;
    ranker_names.push(SCORER_FEATURE.to_string());
    compare_names("alert_ranker", &ranker_names, ranker.feature_names())?;
    let cluster_names: Vec<String> = spec
        .describe_cluster_features()
        .into_iter()
        .map(|d| d.name)
        .collect();
    compare_names(
        "cluster_scorer",
        &cluster_names,
        cluster_scorer.feature_names(),
    )?;
    let models: [(&str, &dyn Model); 3] = [
        ("alert_scorer", scorer.model()),
        ("alert_ranker", ranker.model()),
        ("cluster_scorer", cluster_scorer.model()),
    ];
    for (name, model) in models {
        let entry = metadata
            .models
            .get(name)
            .ok_or_else(|| BundleError::Metadata {
                path: PathBuf::from(files::METADATA),
                reason: format!("no entry for model {name:?}"),
            })?;
        if entry.version != model.version() {
            return Err(BundleError::VersionMismatch {
                model: name.to_string(),
                path: PathBuf::from(&entry.file),
                expected: entry.version.clone(),
                found: model.version(),
            });
        }
        compare_names(name, &entry.feature_names, model.feature_names())?;
    }
    if metadata.models.len() != files::MODELS.len() {
        return Err(BundleError::Metadata {
            path: PathBuf::from(files::METADATA),
            reason: format!(
                "expected exactly the models {:?}",
                files::MODELS.map(|m| m.0)
            ),
        });
    }
    Ok(())
}
