//! Stable feature names: category values become name fragments that are safe for
//! every model format (LightGBM text models reject some punctuation), and names never collide.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Lower-cases `raw` and keeps only `[a-z0-9_]`, mapping every other character to `_`,
/// so a category value can be embedded in a feature name. An empty value becomes `empty`.
pub fn sanitize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.trim().chars() {
        let c = c.to_ascii_lowercase();
        out.push(if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        });
    }
    if out.is_empty() {
        out.push_str("empty");
    }
    out
}

/// Makes every name in `names` unique by appending `_2`, `_3`, ... to later repeats,
/// keeping the first occurrence unchanged (so names stay stable when a vocabulary grows at its end).
pub fn dedupe(names: &mut [String]) {
    let mut seen: BTreeSet<String> = names.iter().cloned().collect();
    let mut first: BTreeSet<String> = BTreeSet::new();
    for name in names.iter_mut() {
        if first.insert(name.clone()) {
            continue;
        }
        let mut k = 2usize;
        loop {
            let candidate = format!("{name}_{k}");
            if seen.insert(candidate.clone()) {
                first.insert(candidate.clone());
                *name = candidate;
                break;
            }
            k += 1;
        }
    }
}

/// The normalised form under which category values are counted and matched:
/// trimmed and lower-cased, so `Layering` and ` layering` are one category.
pub fn normalise_category(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// A fitted categorical vocabulary: the kept values (most frequent first, ties by value)
/// and the name fragment used for each one's indicator column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Vocab {
    /// Normalised category values, in column order.
    pub values: Vec<String>,
    /// Name fragment for each value (same length as `values`), unique within the vocabulary.
    pub names: Vec<String>,
}

impl Vocab {
    /// Keeps the `max_size` most frequent values seen at least `min_count` times.
    /// Counting in a `BTreeMap` and breaking ties by value makes the result independent of row order.
    pub fn fit<'s>(
        values: impl IntoIterator<Item = &'s str>,
        max_size: usize,
        min_count: usize,
    ) -> Vocab {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for v in values {
            *counts.entry(normalise_category(v)).or_default() += 1;
        }
        Self::from_counts(&counts, max_size, min_count)
    }

    /// Same as [`Vocab::fit`] from already accumulated counts (keys must be normalised).
    pub fn from_counts(
        counts: &BTreeMap<String, usize>,
        max_size: usize,
        min_count: usize,
    ) -> Vocab {
        let mut ranked: Vec<(&String, usize)> = counts
            .iter()
            .filter(|(_, &c)| c >= min_count.max(1))
            .map(|(k, &c)| (k, c))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        ranked.truncate(max_size);
        let values: Vec<String> = ranked.into_iter().map(|(k, _)| k.clone()).collect();
        let mut names: Vec<String> = values.iter().map(|v| sanitize(v)).collect();
        dedupe(&mut names);
        Vocab { values, names }
    }

    /// Number of kept values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no value was kept (only the `other` bucket remains).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// A lookup table from normalised value to column position (used only for lookups,
    /// never iterated, so hash order cannot leak into outputs).
    pub fn index(&self) -> HashMap<&str, usize> {
        self.values
            .iter()
            .enumerate()
            .map(|(i, v)| (v.as_str(), i))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_maps_punctuation_and_empty() {
        assert_eq!(sanitize(" Peel-Chain "), "peel_chain");
        assert_eq!(sanitize(""), "empty");
        assert_eq!(sanitize("a.b:c"), "a_b_c");
    }

    #[test]
    fn dedupe_suffixes_later_repeats() {
        let mut v = vec!["a".to_string(), "a".into(), "a_2".into(), "b".into()];
        dedupe(&mut v);
        assert_eq!(v, vec!["a", "a_3", "a_2", "b"]);
    }

    #[test]
    fn vocab_ranks_by_count_then_value() {
        let vocab = Vocab::fit(["b", "a", "B", "c", "a", "c"], 2, 1);
        assert_eq!(vocab.values, vec!["a", "b"]);
        let vocab = Vocab::fit(["x", "y", "y"], 10, 2);
        assert_eq!(vocab.values, vec!["y"]);
    }
}
