//! Reads a standalone `address_labels.parquet` (the `--labels FILE` of the validator), keeping only what
//! tier 3 needs: address and risk level.

use std::path::Path;

use aml_core::tables::AddressLabels;
use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Why a labels file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    /// The file could not be opened.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Parquet decoding failed.
    #[error("{path}: parquet error: {reason}")]
    Parquet {
        /// File.
        path: String,
        /// Decoder message.
        reason: String,
    },
    /// A required column is missing, not text, or null.
    #[error("{path}: column `{column}`: {reason}")]
    Column {
        /// File.
        path: String,
        /// Column.
        column: String,
        /// What is wrong.
        reason: String,
    },
}

fn text_column(
    path: &Path,
    batch: &arrow::array::RecordBatch,
    column: &str,
) -> Result<Vec<String>, LabelsError> {
    let fail = |reason: &str| LabelsError::Column {
        path: path.display().to_string(),
        column: column.to_string(),
        reason: reason.to_string(),
    };
    let array = batch
        .column_by_name(column)
        .ok_or_else(|| fail("missing column"))?;
    let array = arrow::compute::cast(array, &DataType::Utf8).map_err(|_| fail("not text"))?;
    if array.null_count() > 0 {
        return Err(fail("contains nulls"));
    }
    Ok(array
        .as_string::<i32>()
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

/// Reads `address` and `risk_level` from `path` into [`AddressLabels`] sorted by (address, risk level),
/// so `label_of` / `relevance_of` work; other fields are left at their defaults.
pub fn read_labels_file(path: &Path) -> Result<AddressLabels, LabelsError> {
    let file = std::fs::File::open(path).map_err(|source| LabelsError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let parquet_error = |e: parquet::errors::ParquetError| LabelsError::Parquet {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    // The parquet crate can panic on a corrupt file: decode inside the boundary that reports it.
    let decode = || -> Result<Vec<(String, String)>, LabelsError> {
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(parquet_error)?;
        let mut pairs = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|e| LabelsError::Parquet {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            let address = text_column(path, &batch, "address")?;
            let risk = text_column(path, &batch, "risk_level")?;
            pairs.extend(address.into_iter().zip(risk));
        }
        Ok(pairs)
    };
    let mut pairs =
        aml_core::read::catch_decode_panic(decode).map_err(|message| LabelsError::Parquet {
            path: path.display().to_string(),
            reason: format!("decoder panicked: {message}"),
        })??;
    pairs.sort();
    let n = pairs.len();
    let (address, risk_level) = pairs.into_iter().unzip();
    Ok(AddressLabels {
        network: vec![String::new(); n],
        address,
        label: vec![String::new(); n],
        address_type: vec![String::new(); n],
        address_subtype: vec![String::new(); n],
        trust_level: vec![String::new(); n],
        source: vec![String::new(); n],
        risk_level,
        confidence_score: vec![f64::NAN; n],
        created_timestamp: vec![0; n],
        updated_timestamp: vec![0; n],
    })
}
