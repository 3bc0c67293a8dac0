//! The daily store: `STORE/<processing_date>/` holds one submission directory per processing date
//! (`scores.parquet`, `rankings.parquet`, `cluster_scores.parquet`, `manifest.json`, `receipt.json`), as
//! written by [`aml_core::submission::write_submission`]. The service serves it read-only.

use std::path::{Path, PathBuf};

use aml_core::date::Date;
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

    /// Directory of one processing date. Taking a [`Date`] (never a string) is what keeps every
    /// store path inside the root: a date displays as ten characters of digits and dashes.
    pub fn day_dir(&self, date: Date) -> PathBuf {
        self.root.join(date.to_string())
    }

    /// True when the root exists and can be listed (or does not exist yet, which is an empty store).
    pub fn readable(&self) -> bool {
        !self.root.exists() || std::fs::read_dir(&self.root).is_ok()
    }

    /// Every stored processing date, ascending: subdirectories named as a date and holding `scores.parquet`.
    /// Temporary directories of an in-progress write are never listed.
    pub fn dates(&self) -> Result<Vec<Date>, StoreError> {
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
        let mut dates: Vec<Date> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| Date::parse(entry.file_name().to_str()?).ok())
            .filter(|&date| self.day_dir(date).join(files::SCORES).is_file())
            .collect();
        dates.sort();
        Ok(dates)
    }

    /// The most recent stored date.
    pub fn latest(&self) -> Result<Date, StoreError> {
        self.dates()?.pop().ok_or(StoreError::Empty)
    }

    /// Turns a path segment (`latest` or a date) into a stored date.
    pub fn resolve(&self, date_or_latest: &str) -> Result<Date, StoreError> {
        if date_or_latest == "latest" {
            return self.latest();
        }
        let date = Date::parse(date_or_latest).map_err(|e| StoreError::NotADate(e.text))?;
        if self.day_dir(date).join(files::SCORES).is_file() {
            Ok(date)
        } else {
            Err(StoreError::UnknownDate(date.to_string()))
        }
    }

    /// Alert scores of a stored date.
    pub fn scores(&self, date: Date) -> Result<Vec<ScoreRow>, StoreError> {
        Ok(submission::read_scores(
            &self.day_dir(date).join(files::SCORES),
        )?)
    }

    /// Alert rankings of a stored date.
    pub fn rankings(&self, date: Date) -> Result<Vec<RankingRow>, StoreError> {
        Ok(submission::read_rankings(
            &self.day_dir(date).join(files::RANKINGS),
        )?)
    }

    /// Cluster scores of a stored date.
    pub fn cluster_scores(&self, date: Date) -> Result<Vec<ClusterScoreRow>, StoreError> {
        Ok(submission::read_cluster_scores(
            &self.day_dir(date).join(files::CLUSTER_SCORES),
        )?)
    }

    /// Manifest of a stored date (`None` when absent or unreadable: it is metadata only).
    pub fn manifest(&self, date: Date) -> Option<Manifest> {
        let bytes = std::fs::read(self.day_dir(date).join(files::MANIFEST)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Receipt of a stored date (`None` when absent or unreadable).
    pub fn receipt(&self, date: Date) -> Option<Receipt> {
        let bytes = std::fs::read(self.day_dir(date).join(files::RECEIPT)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// `receipt.json` of a stored date as written, every key kept (`None` when absent or not JSON).
    pub fn receipt_json(&self, date: Date) -> Option<serde_json::Value> {
        let bytes = std::fs::read(self.day_dir(date).join(files::RECEIPT)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// `manifest.json` of a stored date as written, every key kept (`None` when absent or not JSON).
    pub fn manifest_json(&self, date: Date) -> Option<serde_json::Value> {
        let bytes = std::fs::read(self.day_dir(date).join(files::MANIFEST)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// When the submission of `date` was written, as ISO-8601 UTC (`YYYY-MM-DDTHH:MM:SSZ`): the
    /// receipt's `timestamp` (set when the submission is signed and written), or, for a submission
    /// without a readable receipt timestamp, the modification time of its `scores.parquet`.
    pub fn processed_at(&self, date: Date) -> Option<String> {
        let signed = self
            .receipt_json(date)
            .and_then(|r| r.get("timestamp")?.as_str().map(str::to_string))
            .filter(|t| !t.is_empty());
        signed.or_else(|| {
            let modified = std::fs::metadata(self.day_dir(date).join(files::SCORES))
                .and_then(|m| m.modified())
                .ok()?;
            Some(aml_core::date::utc_timestamp(modified))
        })
    }

    /// Writes a submission for `date` atomically (replacing any previous one) and returns its receipt.
    pub fn write(
        &self,
        date: Date,
        submission: &Submission,
        key: &SigningKey,
        input_hash: &str,
        timestamp: &str,
    ) -> Result<Receipt, StoreError> {
        Ok(submission::write_submission(
            &self.day_dir(date),
            &[],
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
        assert!(store.dates().unwrap().is_empty());
        assert!(matches!(store.latest(), Err(StoreError::Empty)));
        let day = |text: &str| Date::parse(text).unwrap();
        for date in ["2025-10-02", "2025-10-01"] {
            store
                .write(
                    day(date),
                    &Submission::default(),
                    &SigningKey::from_bytes(&[7; 32]),
                    "h",
                    "t",
                )
                .unwrap();
        }
        std::fs::create_dir_all(store.root().join("not-a-date")).unwrap();
        std::fs::create_dir_all(store.day_dir(day("2025-10-03"))).unwrap(); // no scores.parquet
        assert_eq!(
            store.dates().unwrap(),
            vec![day("2025-10-01"), day("2025-10-02")]
        );
        assert_eq!(store.resolve("latest").unwrap(), day("2025-10-02"));
        assert_eq!(store.resolve("2025-10-01").unwrap(), day("2025-10-01"));
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
        assert!(store.scores(day("2025-10-01")).unwrap().is_empty());
        assert_eq!(store.receipt(day("2025-10-01")).unwrap().input_hash, "h");
        assert!(matches!(store.resolve(""), Err(StoreError::NotADate(_))));
    }
}
