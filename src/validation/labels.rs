//! Reads a standalone `address_labels.parquet` (the `--labels FILE` of the validator), keeping only what
//! tier 3 needs: address and risk level. The file is read by aml-core's labels reader
//! ([`aml_core::read::read_table_columns`] over [`aml_core::schema::ADDRESS_LABELS`]), the same one a
//! batch's labels go through.

use std::path::Path;

use aml_core::tables::AddressLabels;

/// Why a labels file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    /// The file could not be opened or decoded, or lacks `address` or `risk_level` (the message names
    /// the file and the column).
    #[error(transparent)]
    Read(#[from] aml_core::BatchError),
}

/// Reads `address` and `risk_level` from `path` into [`AddressLabels`] sorted by (address, risk level),
/// so `label_of` / `relevance_of` work; the other columns may be absent and are left empty.
pub fn read_labels_file(path: &Path) -> Result<AddressLabels, LabelsError> {
    let read: AddressLabels = aml_core::read::read_table_columns(path, &["address", "risk_level"])?;
    if let Some(row) = read.address.iter().position(String::is_empty) {
        return Err(aml_core::BatchError::InvalidValue(aml_core::InvalidValue {
            file: path.display().to_string(),
            column: "address".to_string(),
            row,
            value: "\"\"".to_string(),
            reason: "empty or null address".to_string(),
        })
        .into());
    }
    let mut pairs: Vec<(String, String)> = read.address.into_iter().zip(read.risk_level).collect();
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
