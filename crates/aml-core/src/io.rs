//! Small file primitives: atomic writes and sha256 of files.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A temporary sibling path of `path` (same directory, so the final rename stays on one filesystem and is atomic).
pub(crate) fn temp_sibling(path: &Path, tag: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unique = format!(
        ".{name}.{tag}.{}.{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    path.with_file_name(unique)
}

/// Writes `bytes` to `path` atomically: the bytes go to a temporary file in the same directory, are flushed
/// to disk, and the file is renamed over `path`. Readers see either the old file or the whole new one.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("hello.txt");
/// aml_core::io::atomic_write(&path, b"hello").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
/// ```
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temp = temp_sibling(path, "tmp");
    let result = (|| {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Lower-case hex sha256 of the bytes of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lower-case hex sha256 of a file's content, streamed in 1 MiB chunks so big files need no big buffer.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The input hash a receipt commits to: the sha256 of the batch's `META.json` bytes exactly as published.
///
/// META.json lists the sha256 of every data file, so hashing it commits to the whole batch (data and
/// metadata, including the pattern traps) with one small read, and any validator holding the same batch
/// gets the same value without re-hashing gigabytes.
pub fn input_hash(batch_dir: &Path) -> std::io::Result<String> {
    sha256_file(&batch_dir.join(crate::batch::files::META))
}

/// Encodes record batches as Parquet with fixed writer properties (fixed `created_by`, Snappy, no
/// timestamps), so the same rows always produce the same bytes. `row_group_rows` bounds each row group
/// (several row groups let readers decode in parallel).
pub(crate) fn encode_parquet(
    schema: arrow::datatypes::SchemaRef,
    batches: &[arrow::array::RecordBatch],
    row_group_rows: usize,
) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_created_by(concat!("aml-core ", env!("CARGO_PKG_VERSION")).to_string())
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group_rows))
        .build();
    let mut bytes = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, schema, Some(properties))?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.close()?;
    Ok(bytes)
}
