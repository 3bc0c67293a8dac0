//! Tier 1 checks on what the rows of a submission say, beyond their schema: rankings and cluster scores
//! cover exactly the batch's alerts and clusters, ranks follow the ranking scores, cluster scores are
//! probabilities, every `explain_json` has the documented shape, and every row carries the receipt's
//! model version. Each failing check names the file row (0-based, in file order) of its problems.

use std::collections::{BTreeMap, BTreeSet};

use aml_core::submission::{files, ClusterScoreRow, RankingRow, ScoreRow};
use aml_explain::DEFAULT_TOP_K;
use aml_models::competition_ranks;
use serde_json::Value;

use super::Check;

/// Largest difference allowed between a row's score and the `score` inside its `explain_json`.
pub const EXPLAIN_SCORE_TOLERANCE: f64 = 1e-9;

/// At most this many problems are spelled out in a check's detail (the count covers all of them).
const SHOWN_PROBLEMS: usize = 3;

/// A check that passes when `problems` is empty, else counts them and spells out the first few.
pub fn problems_check(name: &str, ok: impl Into<String>, problems: &[String]) -> Check {
    if problems.is_empty() {
        return Check::new(name, true, ok);
    }
    let shown = problems[..problems.len().min(SHOWN_PROBLEMS)].join("; ");
    let more = problems.len() - problems.len().min(SHOWN_PROBLEMS);
    let tail = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    Check::new(
        name,
        false,
        format!("{} problem(s): {shown}{tail}", problems.len()),
    )
}

/// A submission row with a key column.
pub trait KeyedRow {
    /// File the row lives in.
    const FILE: &'static str;
    /// Name of the key column.
    const COLUMN: &'static str;
    /// The row's key.
    fn key(&self) -> &str;
    /// `<file> row <row> (<column> <key>)`, as problems name the row at position `row` of its file.
    fn place(&self, row: usize) -> String {
        format!("{} row {row} ({} {})", Self::FILE, Self::COLUMN, self.key())
    }
}

macro_rules! keyed_row {
    ($row:ty, $file:expr, $column:ident) => {
        impl KeyedRow for $row {
            const FILE: &'static str = $file;
            const COLUMN: &'static str = stringify!($column);
            fn key(&self) -> &str {
                &self.$column
            }
        }
    };
}

keyed_row!(ScoreRow, files::SCORES, alert_id);
keyed_row!(RankingRow, files::RANKINGS, alert_id);
keyed_row!(ClusterScoreRow, files::CLUSTER_SCORES, cluster_id);

/// The rows' keys (in file order) must be exactly `batch_ids`: no unknown key, none twice, none missing.
pub fn id_coverage<R: KeyedRow>(name: &str, rows: &[R], batch_ids: &[String]) -> Check {
    let batch: BTreeSet<&str> = batch_ids.iter().map(String::as_str).collect();
    let mut first_row: BTreeMap<&str, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for (row, r) in rows.iter().enumerate() {
        if !batch.contains(r.key()) {
            problems.push(format!("{}: not in the batch", r.place(row)));
        } else if let Some(first) = first_row.get(r.key()) {
            problems.push(format!("{}: already on row {first}", r.place(row)));
        } else {
            first_row.insert(r.key(), row);
        }
    }
    let (file, column) = (R::FILE, R::COLUMN);
    problems.extend(
        batch_ids
            .iter()
            .filter(|id| !first_row.contains_key(id.as_str()))
            .map(|id| format!("{file}: batch {column} {id} has no row")),
    );
    problems_check(
        name,
        format!(
            "{} rows, each of the batch's {} {column}s once",
            rows.len(),
            batch_ids.len()
        ),
        &problems,
    )
}

/// Ranks follow the ranking scores exactly as the miner writes them ([`competition_ranks`]): 1 plus the
/// number of strictly higher ranking scores, so ties share the lowest rank and a higher ranking score
/// never has a larger rank; every ranking score is finite and every rank in `1..=n`.
pub fn ranking_order(rows: &[RankingRow]) -> Check {
    let n = rows.len();
    let expected = competition_ranks(&rows.iter().map(|r| r.ranking_score).collect::<Vec<_>>());
    let mut problems = Vec::new();
    for (row, (r, &want)) in rows.iter().zip(&expected).enumerate() {
        let place = r.place(row);
        if !r.ranking_score.is_finite() {
            problems.push(format!(
                "{place}: ranking_score {} is not finite",
                r.ranking_score
            ));
        } else if !(1..=n as i64).contains(&i64::from(r.rank)) {
            problems.push(format!("{place}: rank {} outside 1..={n}", r.rank));
        } else if r.rank != want {
            problems.push(format!(
                "{place}: rank {} but ranking_score {} gives rank {want} (1 + the number of higher ranking scores)",
                r.rank, r.ranking_score
            ));
        }
    }
    problems_check(
        "rankings_order",
        format!("{n} ranks follow the ranking scores (ties share the lowest rank)"),
        &problems,
    )
}

/// Every cluster score is finite and in `[0, 1]`.
pub fn cluster_score_range(rows: &[ClusterScoreRow]) -> Check {
    let problems: Vec<String> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| !(r.score.is_finite() && (0.0..=1.0).contains(&r.score)))
        .map(|(row, r)| {
            format!(
                "{}: score {} not finite or outside [0, 1]",
                r.place(row),
                r.score
            )
        })
        .collect();
    problems_check(
        "cluster_score_range",
        "every cluster score is finite and in [0, 1]",
        &problems,
    )
}

/// The fields of one `top_features` entry: name, test, and what the test wants.
type FieldRule = (&'static str, fn(&Value) -> bool, &'static str);

const FEATURE_FIELDS: [FieldRule; 3] = [
    ("feature", Value::is_string, "text"),
    (
        "value",
        |v| v.is_number() || v.is_null(),
        "a number or null",
    ),
    ("impact", Value::is_number, "a number"),
];

/// What is wrong with one `explain_json` (see `aml_explain::Explanation::to_explain_json`):
/// `{"score": <the row's score>, "top_features": [{"feature": text, "value": number|null,
/// "impact": number}, ...]}` with at most [`DEFAULT_TOP_K`] features. Other keys are tolerated.
pub fn explain_json_problem(text: &str, score: f64) -> Option<String> {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => return Some(format!("not valid JSON: {e}")),
    };
    let Some(object) = value.as_object() else {
        return Some("not a JSON object".to_string());
    };
    match object.get("score").and_then(Value::as_f64) {
        None => return Some("`score` missing or not a number".to_string()),
        Some(s) if (s - score).abs() > EXPLAIN_SCORE_TOLERANCE => {
            return Some(format!("`score` {s} differs from the row's score {score}"))
        }
        Some(_) => {}
    }
    let Some(features) = object.get("top_features").and_then(Value::as_array) else {
        return Some("`top_features` missing or not an array".to_string());
    };
    if features.len() > DEFAULT_TOP_K {
        return Some(format!(
            "`top_features` has {} entries, at most {DEFAULT_TOP_K} allowed",
            features.len()
        ));
    }
    for (index, feature) in features.iter().enumerate() {
        let Some(feature) = feature.as_object() else {
            return Some(format!("top_features[{index}] is not an object"));
        };
        for (key, valid, wanted) in FEATURE_FIELDS {
            if !feature.get(key).is_some_and(valid) {
                return Some(format!(
                    "top_features[{index}].{key} missing or not {wanted}"
                ));
            }
        }
    }
    None
}

/// Every score row's `explain_json` has the documented shape ([`explain_json_problem`]).
pub fn explain_json(scores: &[ScoreRow]) -> Check {
    let problems: Vec<String> = scores
        .iter()
        .enumerate()
        .filter_map(|(row, r)| {
            explain_json_problem(&r.explain_json, r.score)
                .map(|problem| format!("{}: explain_json {problem}", r.place(row)))
        })
        .collect();
    problems_check(
        "explain_json",
        format!(
            "{} explanations with score and top_features (feature, value, impact)",
            scores.len()
        ),
        &problems,
    )
}

/// Problems of the `rows` whose `version` is not the receipt's.
fn version_problems<'a, R: KeyedRow>(
    rows: &'a [R],
    version: fn(&R) -> &str,
    receipt: &'a str,
) -> impl Iterator<Item = String> + 'a {
    rows.iter()
        .enumerate()
        .filter(move |(_, r)| version(r) != receipt)
        .map(move |(row, r)| {
            format!(
                "{}: model_version `{}` differs from the receipt's `{receipt}`",
                r.place(row),
                version(r)
            )
        })
}

/// Every score and cluster score row names the receipt's model version.
pub fn model_version(scores: &[ScoreRow], clusters: &[ClusterScoreRow], receipt: &str) -> Check {
    let problems: Vec<String> = version_problems(scores, |r| &r.model_version, receipt)
        .chain(version_problems(clusters, |r| &r.model_version, receipt))
        .collect();
    problems_check(
        "model_version",
        format!("every score and cluster score row has the receipt's model_version {receipt}"),
        &problems,
    )
}
