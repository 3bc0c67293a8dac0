//! The daily store: `STORE/<processing_date>/` holds one submission directory per processing date
//! (`scores.parquet`, `rankings.parquet`, `cluster_scores.parquet`, `manifest.json`, `receipt.json`), as
//! written by [`aml_core::submission::write_submission`]. The service serves it read-only.

use std::path::{Path, PathBuf};

use aml_core::submission::{
    self, files, ClusterScoreRow, Manifest, RankingRow, Receipt, ScoreRow, Submission,
};
use ed25519_dalek::SigningKey;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The requested date is not a `YYYY-MM-DD` calendar date.
    #[error("{0:?} is not a date (expected YYYY-MM-DD or `latest`)")]
    NotADate(String),
    /// No submission is stored for this date.
    #[error("no scores stored for {0}")]
    UnknownDate(String),
    /// The store holds no date at all (for `latest`).
    #[error("the store holds no processing date yet")]
    Empty,
    /// The store directory could not be listed.
    #[error("{path}: {source}")]
    Io {
        /// Directory.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A stored file could not be read.
    #[error(transparent)]
    Submission(#[from] aml_core::SubmissionError),
}

/// True when `text` is a real `YYYY-MM-DD` calendar date.
pub fn is_date(text: &str) -> bool {
    aml_core::synth::parse_date(text).is_ok()
}

/// A store rooted at one directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store at `root` (need not exist yet: it is then empty).
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// Root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory of one processing date.
    pub fn day_dir(&self, date: &str) -> PathBuf {
        self.root.join(date)
    }

    /// True when the root exists and can be listed (or does not exist yet, which is an empty store).
    pub fn readable(&self) -> bool {
        !self.root.exists() || std::fs::read_dir(&self.root).is_ok()
    }

    /// Every stored processing date, ascending: subdirectories named as a date and holding `scores.parquet`.
    /// Temporary directories of an in-progress write are never listed.
    pub fn dates(&self) -> Result<Vec<String>, StoreError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StoreError::Io {
                    path: self.root.clone(),
                    source,
                })
            }
        };
        let mut dates: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| is_date(name) && self.day_dir(name).join(files::SCORES).is_file())
            .collect();
        dates.sort();
        Ok(dates)
    }

    /// The most recent stored date.
    pub fn latest(&self) -> Result<String, StoreError> {
        self.dates()?.pop().ok_or(StoreError::Empty)
    }

    /// Turns a path segment (`latest` or a date) into a stored date.
    pub fn resolve(&self, date_or_latest: &str) -> Result<String, StoreError> {
        if date_or_latest == "latest" {
            return self.latest();
        }
        if !is_date(date_or_latest) {
            return Err(StoreError::NotADate(date_or_latest.to_string()));
        }
        if self.day_dir(date_or_latest).join(files::SCORES).is_file() {
            Ok(date_or_latest.to_string())
        } else {
            Err(StoreError::UnknownDate(date_or_latest.to_string()))
        }
    }

    /// Alert scores of a stored date.
    pub fn scores(&self, date: &str) -> Result<Vec<ScoreRow>, StoreError> {
        Ok(submission::read_scores(
            &self.day_dir(date).join(files::SCORES),
        )?)
    }

    /// Alert rankings of a stored date.
    pub fn rankings(&self, date: &str) -> Result<Vec<RankingRow>, StoreError> {
        Ok(submission::read_rankings(
            &self.day_dir(date).join(files::RANKINGS),
        )?)
    }

    /// Cluster scores of a stored date.
    pub fn cluster_scores(&self, date: &str) -> Result<Vec<ClusterScoreRow>, StoreError> {
        Ok(submission::read_cluster_scores(
            &self.day_dir(date).join(files::CLUSTER_SCORES),
        )?)
    }

    /// Manifest of a stored date (`None` when absent or unreadable: it is metadata only).
    pub fn manifest(&self, date: &str) -> Option<Manifest> {
        let bytes = std::fs::read(self.day_dir(date).join(files::MANIFEST)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Receipt of a stored date (`None` when absent or unreadable).
    pub fn receipt(&self, date: &str) -> Option<Receipt> {
        let bytes = std::fs::read(self.day_dir(date).join(files::RECEIPT)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes a submission for `date` atomically (replacing any previous one) and returns its receipt.
    pub fn write(
        &self,
        date: &str,
        submission: &Submission,
        key: &SigningKey,
        input_hash: &str,
        timestamp: &str,
    ) -> Result<Receipt, StoreError> {
        if !is_date(date) {
            return Err(StoreError::NotADate(date.to_string()));
        }
        Ok(submission::write_submission(
            &self.day_dir(date),
            submission,
            key,
            input_hash,
            timestamp,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_resolve_and_errors() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path().join("store"));
        assert_eq!(store.dates().unwrap(), Vec::<String>::new());
        assert!(matches!(store.latest(), Err(StoreError::Empty)));
        for date in ["2025-10-02", "2025-10-01"] {
            store
                .write(
                    date,
                    &Submission::default(),
                    &SigningKey::from_bytes(&[7; 32]),
                    "h",
                    "t",
                )
                .unwrap();
        }
        std::fs::create_dir_all(store.day_dir("not-a-date")).unwrap();
        std::fs::create_dir_all(store.day_dir("2025-10-03")).unwrap(); // no scores.parquet
        assert_eq!(store.dates().unwrap(), vec!["2025-10-01", "2025-10-02"]);
        assert_eq!(store.resolve("latest").unwrap(), "2025-10-02");
        assert_eq!(store.resolve("2025-10-01").unwrap(), "2025-10-01");
        assert!(matches!(
            store.resolve("2025-10-03"),
            Err(StoreError::UnknownDate(_))
        ));
        assert!(matches!(
            store.resolve("2025-13-01"),
            Err(StoreError::NotADate(_))
        ));
        assert!(matches!(
            store.resolve("../etc"),
            Err(StoreError::NotADate(_))
        ));
        assert!(store.scores("2025-10-01").unwrap().is_empty());
        assert_eq!(store.receipt("2025-10-01").unwrap().input_hash, "h");
        assert!(matches!(
            store.write(
                "x",
                &Submission::default(),
                &SigningKey::from_bytes(&[7; 32]),
                "h",
                "t"
            ),
            Err(StoreError::NotADate(_))
        ));
    }
}
