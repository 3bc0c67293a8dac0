//! Collects feature columns together with their names and meanings.
//!
//! Every feature block declares each column through a [`ColumnSink`]: in "describe" mode only
//! the declarations are kept (this generates `docs/features.md` and the name list), in
//! "compute" mode the closures run too. One declaration site for names, meanings and values
//! keeps the documentation from drifting away from the code.

use crate::error::FeatureError;
use serde::{Deserialize, Serialize};

/// A feature's stable name, its family and a one-line meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureDef {
    /// Column name (stable across versions of the same spec).
    pub name: String,
    /// Family, e.g. `alert`, `address`, `graph`.
    pub group: String,
    /// One-line meaning.
    pub meaning: String,
}

/// Converts a computed value to the matrix type; non-finite values become NaN ("missing"),
/// so models never see infinities.
pub fn to_matrix_value(x: f64) -> f32 {
    let y = x as f32;
    if y.is_finite() {
        y
    } else {
        f32::NAN
    }
}

/// Receives column declarations and (in compute mode) their values.
pub struct ColumnSink<'c, C> {
    ctx: Option<&'c C>,
    group: &'static str,
    /// Declared features, in column order.
    pub defs: Vec<FeatureDef>,
    /// Computed columns (compute mode only), parallel to `defs`.
    pub columns: Vec<Vec<f32>>,
    error: Option<FeatureError>,
}

impl<'c, C> ColumnSink<'c, C> {
    /// A sink that computes values from `ctx`, or only collects declarations when `ctx` is None.
    pub fn new(ctx: Option<&'c C>) -> Self {
        ColumnSink {
            ctx,
            group: "",
            defs: Vec::new(),
            columns: Vec::new(),
            error: None,
        }
    }

    /// Sets the family recorded for the next declarations.
    pub fn group(&mut self, group: &'static str) {
        self.group = group;
    }

    fn declare(&mut self, name: String, meaning: String) {
        self.defs.push(FeatureDef {
            name,
            group: self.group.to_string(),
            meaning,
        });
    }

    /// Declares one column; `compute` runs only in compute mode.
    pub fn add(
        &mut self,
        name: impl Into<String>,
        meaning: impl Into<String>,
        compute: impl FnOnce(&C) -> Vec<f64>,
    ) {
        self.declare(name.into(), meaning.into());
        if let Some(ctx) = self.ctx {
            self.columns
                .push(compute(ctx).into_iter().map(to_matrix_value).collect());
        }
    }

    /// Declares several columns computed together (they share intermediate work).
    pub fn add_group<N: Into<String>, M: Into<String>>(
        &mut self,
        block: &'static str,
        defs: impl IntoIterator<Item = (N, M)>,
        compute: impl FnOnce(&C) -> Vec<Vec<f64>>,
    ) {
        let defs: Vec<(String, String)> = defs
            .into_iter()
            .map(|(name, meaning)| (name.into(), meaning.into()))
            .collect();
        let declared = defs.len();
        for (name, meaning) in defs {
            self.declare(name, meaning);
        }
        if let Some(ctx) = self.ctx {
            let cols = compute(ctx);
            if cols.len() != declared && self.error.is_none() {
                self.error = Some(FeatureError::BlockShape {
                    block,
                    declared,
                    produced: cols.len(),
                });
            }
            for col in cols.into_iter().take(declared) {
                self.columns
                    .push(col.into_iter().map(to_matrix_value).collect());
            }
        }
    }

    /// The first internal inconsistency met, if any.
    pub fn finish(self) -> Result<(Vec<FeatureDef>, Vec<Vec<f32>>), FeatureError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok((self.defs, self.columns)),
        }
    }
}
