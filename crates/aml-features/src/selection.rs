//! Feature selection helpers: drop columns that cannot help a model, rank by importance.

use crate::error::FeatureError;
use crate::matrix::FeatureMatrix;
use std::collections::BTreeMap;

/// Indices of columns whose values are all bitwise equal (NaN counts as one value), so a
/// model cannot split on them. An empty matrix has only constant columns.
pub fn constant_columns(matrix: &FeatureMatrix) -> Vec<usize> {
    (0..matrix.n_features())
        .filter(|&j| {
            let col = matrix.values.column(j);
            let mut values = col.iter().map(|v| canonical_bits(*v));
            match values.next() {
                None => true,
                Some(first) => values.all(|b| b == first),
            }
        })
        .collect()
}

/// Bits with every NaN mapped to one pattern, so NaN payloads do not make columns differ.
fn canonical_bits(v: f32) -> u32 {
    if v.is_nan() {
        f32::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

/// Indices of columns identical (bitwise, NaN = NaN) to an earlier column.
pub fn duplicate_columns(matrix: &FeatureMatrix) -> Vec<usize> {
    // Group columns by a cheap fingerprint, then compare exactly within a group.
    let mut groups: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    let mut duplicates = Vec::new();
    for j in 0..matrix.n_features() {
        let col = matrix.values.column(j);
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for v in col.iter() {
            h = (h ^ u64::from(canonical_bits(*v))).wrapping_mul(0x0100_0000_01b3);
        }
        let group = groups.entry(h).or_default();
        let same = group.iter().any(|&k| {
            matrix
                .values
                .column(k)
                .iter()
                .zip(col.iter())
                .all(|(a, b)| canonical_bits(*a) == canonical_bits(*b))
        });
        if same {
            duplicates.push(j);
        } else {
            group.push(j);
        }
    }
    duplicates
}

/// The matrix without constant and duplicate columns, plus the names of the dropped columns.
pub fn drop_constant_and_duplicate(
    matrix: &FeatureMatrix,
) -> Result<(FeatureMatrix, Vec<String>), FeatureError> {
    let mut drop: Vec<usize> = constant_columns(matrix);
    drop.extend(duplicate_columns(matrix));
    drop.sort_unstable();
    drop.dedup();
    let keep: Vec<usize> = (0..matrix.n_features())
        .filter(|j| drop.binary_search(j).is_err())
        .collect();
    let dropped = drop
        .iter()
        .map(|&j| matrix.feature_names[j].clone())
        .collect();
    Ok((matrix.select_columns(&keep)?, dropped))
}

/// Feature names ranked by importance (e.g. a model's total gain per feature), highest first;
/// ties by name, NaN importances last.
pub fn rank_by_importance(
    feature_names: &[String],
    importance: &[f64],
) -> Result<Vec<(String, f64)>, FeatureError> {
    if feature_names.len() != importance.len() {
        return Err(FeatureError::ImportanceLengthMismatch {
            expected: feature_names.len(),
            got: importance.len(),
        });
    }
    let mut ranked: Vec<(String, f64)> = feature_names
        .iter()
        .cloned()
        .zip(importance.iter().copied())
        .collect();
    ranked.sort_by(|a, b| {
        a.1.is_nan()
            .cmp(&b.1.is_nan())
            .then(b.1.total_cmp(&a.1))
            .then_with(|| a.0.cmp(&b.0))
    });
    Ok(ranked)
}

/// Column indices of the `k` most important features, in ranking order.
pub fn top_k_by_importance(
    matrix: &FeatureMatrix,
    importance: &[f64],
    k: usize,
) -> Result<Vec<usize>, FeatureError> {
    let ranked = rank_by_importance(&matrix.feature_names, importance)?;
    Ok(ranked
        .iter()
        .take(k)
        .filter_map(|(name, _)| matrix.column_index(name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn matrix() -> FeatureMatrix {
        FeatureMatrix {
            values: array![
                [1.0, 5.0, 1.0, f32::NAN, 2.0],
                [2.0, 5.0, 2.0, f32::NAN, f32::NAN],
                [3.0, 5.0, 3.0, f32::NAN, 2.0]
            ],
            feature_names: ["a", "const", "a_copy", "all_nan", "b"]
                .map(String::from)
                .to_vec(),
            row_ids: ["r1", "r2", "r3"].map(String::from).to_vec(),
        }
    }

    #[test]
    fn drops_constant_and_duplicate_columns() {
        let m = matrix();
        assert_eq!(constant_columns(&m), vec![1, 3]);
        assert_eq!(duplicate_columns(&m), vec![2]);
        let (kept, dropped) = drop_constant_and_duplicate(&m).unwrap();
        assert_eq!(kept.feature_names, vec!["a", "b"]);
        assert_eq!(dropped, vec!["const", "a_copy", "all_nan"]);
        assert!(kept.values[[1, 1]].is_nan());
    }

    #[test]
    fn ranks_by_importance_with_ties_and_nan() {
        let names: Vec<String> = ["x", "y", "z", "w"].map(String::from).to_vec();
        let ranked = rank_by_importance(&names, &[1.0, f64::NAN, 3.0, 1.0]).unwrap();
        let order: Vec<&str> = ranked.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(order, vec!["z", "w", "x", "y"]);
        assert!(rank_by_importance(&names, &[1.0]).is_err());
        assert_eq!(
            top_k_by_importance(&matrix(), &[0.0, 0.0, 0.0, 0.0, 9.0], 2).unwrap(),
            vec![4, 0]
        );
    }
}
