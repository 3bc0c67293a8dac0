//! Feature blocks: each module declares and computes one family of columns.

pub(crate) mod address;
pub(crate) mod alert;
pub(crate) mod cluster;
pub(crate) mod community;
pub(crate) mod context;
pub(crate) mod flow;

use crate::names::{normalise_category, Vocab};

/// Declarations for a one-hot family: `{prefix}_is_{value}` per vocabulary entry, then
/// `{prefix}_is_other`.
pub(crate) fn one_hot_defs(prefix: &str, vocab: &Vocab, what: &str) -> Vec<(String, String)> {
    let mut defs: Vec<(String, String)> = vocab
        .values
        .iter()
        .zip(&vocab.names)
        .map(|(value, name)| {
            (
                format!("{prefix}_is_{name}"),
                format!("1 if {what} is `{value}`, else 0"),
            )
        })
        .collect();
    defs.push((
        format!("{prefix}_is_other"),
        format!("1 if {what} is outside the fitted vocabulary, else 0"),
    ));
    defs
}

/// Multi-hot columns over `vocab` (+ `other`) for rows given as lists of values.
/// `None` rows are NaN in every column; an empty list, or only empty strings when
/// `empty_is_nothing`, sets no column.
pub(crate) fn multi_hot_columns<'v, I, L>(
    vocab: &Vocab,
    rows: I,
    empty_is_nothing: bool,
) -> Vec<Vec<f64>>
where
    I: ExactSizeIterator<Item = Option<L>>,
    L: IntoIterator<Item = &'v str>,
{
    let index = vocab.index();
    let n = rows.len();
    let mut cols = vec![vec![0.0f64; n]; vocab.len() + 1];
    for (i, row) in rows.enumerate() {
        match row {
            None => {
                for col in cols.iter_mut() {
                    col[i] = f64::NAN;
                }
            }
            Some(values) => {
                for raw in values {
                    let value = normalise_category(raw);
                    if empty_is_nothing && value.is_empty() {
                        continue;
                    }
                    let j = index.get(value.as_str()).copied().unwrap_or(vocab.len());
                    cols[j][i] = 1.0;
                }
            }
        }
    }
    cols
}
