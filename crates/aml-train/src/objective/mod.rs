//! Loss functions: each turns current raw scores into per-row gradients and
//! hessians (stored as `f32` pairs, like LightGBM's `score_t`) and supplies the
//! initial score the boosting starts from.

mod binary;
mod lambdarank;
mod regression;
mod xendcg;

pub use binary::BinaryLogLoss;
pub use lambdarank::LambdaRank;
pub use regression::SquaredError;
pub use xendcg::XeNdcg;

use rayon::prelude::*;

use crate::dataset::Dataset;
use crate::error::TrainError;
use crate::params::{GbdtParams, Objective};

/// Rows per parallel chunk of element-wise gradient loops (results do not depend on it).
pub(crate) const CHUNK: usize = 4096;

/// A differentiable training loss.
pub trait ObjectiveFunction: Sync {
    /// The constant raw score boosting starts from (LightGBM's `BoostFromScore`).
    fn init_score(&self) -> f64;
    /// Writes `[gradient, hessian]` of every row for the raw `scores`.
    fn gradients(&self, scores: &[f64], out: &mut [[f32; 2]]);
}

/// Builds the objective for `params`, checking the labels it needs.
pub fn build(
    params: &GbdtParams,
    data: &Dataset,
) -> Result<Box<dyn ObjectiveFunction>, TrainError> {
    Ok(match params.objective {
        Objective::Binary => Box::new(BinaryLogLoss::new(
            data,
            params.sigmoid,
            params.scale_pos_weight,
        )?),
        Objective::Regression => Box::new(SquaredError::new(data)),
        Objective::LambdaRank => Box::new(LambdaRank::new(data, params)?),
        Objective::RankXendcg => Box::new(XeNdcg::new(data, params)?),
    })
}

/// Fills `out[i] = f(i)` in parallel, element-wise (deterministic).
pub(crate) fn fill_rows(out: &mut [[f32; 2]], f: impl Fn(usize) -> [f32; 2] + Sync) {
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| {
            for (j, o) in chunk.iter_mut().enumerate() {
                *o = f(c * CHUNK + j);
            }
        });
}

/// Runs `f(query, first_row, rows_out)` for every query in parallel; query `q` owns rows
/// `bounds[q]..bounds[q + 1]` of `out` (each query writes only its own rows: deterministic).
pub(crate) fn for_each_query(
    bounds: &[usize],
    out: &mut [[f32; 2]],
    f: impl Fn(usize, usize, &mut [[f32; 2]]) + Sync,
) {
    let mut slices = Vec::with_capacity(bounds.len().saturating_sub(1));
    let mut rest = out;
    for w in bounds.windows(2) {
        let (head, tail) = rest.split_at_mut(w[1] - w[0]);
        slices.push((w[0], head));
        rest = tail;
    }
    slices
        .into_par_iter()
        .enumerate()
        .for_each(|(q, (start, o))| f(q, start, o));
}

/// Weighted mean of `values` (sequential, so it never depends on thread count).
pub(crate) fn weighted_mean(data: &Dataset) -> f64 {
    let (mut sw, mut swy) = (0.0, 0.0);
    for (i, &y) in data.labels.iter().enumerate() {
        let w = data.weight(i);
        sw += w;
        swy += w * y;
    }
    if sw > 0.0 {
        swy / sw
    } else {
        0.0
    }
}
