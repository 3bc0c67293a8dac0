//! Writing predictions: one line per row, values tab-separated.
//!
//! Values use Rust's shortest round-trip formatting (`{:?}`: `0.25`, `1.0`,
//! `1e-7`, `NaN`), so reading the file back gives the exact `f64`s.

use std::io::{BufWriter, Write};
use std::path::Path;

use ndarray::ArrayView2;

use super::{io_error, DataFileError};

/// Writes `rows` (one output row per data row: a prediction, or several
/// values such as per-feature contributions) as tab-separated lines.
///
/// ```
/// let preds = ndarray::array![[0.25, 1.0], [f64::NAN, -3e-9]];
/// let mut out = Vec::new();
/// aml_train::data_file::format_predictions(&mut out, preds.view()).unwrap();
/// assert_eq!(String::from_utf8(out).unwrap(), "0.25\t1.0\nNaN\t-3e-9\n");
/// ```
pub fn format_predictions(out: &mut impl Write, rows: ArrayView2<f64>) -> std::io::Result<()> {
    for row in rows.rows() {
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                out.write_all(b"\t")?;
            }
            write!(out, "{value:?}")?;
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes predictions to `path` atomically ([`aml_core::io::AtomicFile`]): a
/// temporary file in the same directory is written, flushed to disk and renamed
/// over `path`, so readers never see a half-written file, and a failed write
/// leaves no temporary file.
pub fn write_predictions(path: &Path, rows: ArrayView2<f64>) -> Result<(), DataFileError> {
    let write = || -> std::io::Result<()> {
        let mut out = BufWriter::new(aml_core::io::AtomicFile::create(path)?);
        format_predictions(&mut out, rows)?;
        out.into_inner().map_err(|e| e.into_error())?.commit()
    };
    write().map_err(|source| io_error(path, source))
}
