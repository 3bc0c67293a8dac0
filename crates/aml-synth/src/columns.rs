//! Typed column specs and the Parquet writer shared by every synthetic table.
//!
//! A table is a list of `(name, Col)` pairs where each `Col` says the Arrow type and how to read
//! the value from a row struct. The names and types come from the contract's declaration in
//! [`aml_core::schema`] ([`declared`]): a table's list only says, in declaration order, how to read
//! each value, and arrays are built straight from the rows without an intermediate copy.

use super::SynthError;
use aml_core::io::AtomicFile;
use aml_core::schema::TableSchema;
use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, ListBuilder,
    StringArray, StringBuilder, UInt16Array, UInt16Builder, UInt32Array, UInt64Array, UInt8Array,
};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// How to read one column's value from a row of type `R`, and its Arrow type.
pub(crate) enum Col<R> {
    U8(fn(&R) -> u8),
    U16(fn(&R) -> u16),
    U32(fn(&R) -> u32),
    U64(fn(&R) -> u64),
    F32(fn(&R) -> f32),
    F64(fn(&R) -> f64),
    /// Decimal128(38, 18) from an f64 rounded to 6 decimals.
    Dec(fn(&R) -> f64),
    Bool(fn(&R) -> bool),
    Str(fn(&R) -> &str),
    /// Date32 (days since the Unix epoch).
    Date(fn(&R) -> i32),
    ListStr(fn(&R) -> &[String]),
    ListU16(fn(&R) -> &[u16]),
}

#[cfg(test)]
impl<R> Col<R> {
    /// The contract type this accessor writes.
    pub(crate) fn sot(&self) -> aml_core::schema::SotType {
        use aml_core::schema::SotType;
        match self {
            Col::U8(_) => SotType::UInt8,
            Col::U16(_) => SotType::UInt16,
            Col::U32(_) => SotType::UInt32,
            Col::U64(_) => SotType::UInt64,
            Col::F32(_) => SotType::Float32,
            Col::F64(_) => SotType::Float64,
            Col::Dec(_) => SotType::Decimal,
            Col::Bool(_) => SotType::Boolean,
            Col::Str(_) => SotType::String,
            Col::Date(_) => SotType::Date,
            Col::ListStr(_) => SotType::StringArray,
            Col::ListU16(_) => SotType::UInt16Array,
        }
    }
}

/// The columns of `table`, named by its declaration, paired in order with the accessors `cols` (one per
/// declared column, of the declared type: the tests of this module check every table).
pub(crate) fn declared<R>(table: &TableSchema, cols: Vec<Col<R>>) -> Vec<(&'static str, Col<R>)> {
    table.names().zip(cols).collect()
}

/// Decimal(38,18) precision and scale used for every USD column.
pub(crate) const DECIMAL_PRECISION: u8 = 38;
/// Scale of the decimal USD columns.
pub(crate) const DECIMAL_SCALE: i8 = 18;

/// f64 -> Decimal128(38,18) raw value, rounded to micro-units so the bytes are stable.
pub(crate) fn decimal_raw(value: f64) -> i128 {
    let micros = (value * 1e6).round();
    let micros = micros.clamp(-1e31, 1e31) as i128;
    micros * 1_000_000_000_000
}

fn array_of<R>(col: &Col<R>, rows: &[R]) -> Result<ArrayRef, SynthError> {
    Ok(match col {
        Col::U8(f) => Arc::new(UInt8Array::from_iter_values(rows.iter().map(f))),
        Col::U16(f) => Arc::new(UInt16Array::from_iter_values(rows.iter().map(f))),
        Col::U32(f) => Arc::new(UInt32Array::from_iter_values(rows.iter().map(f))),
        Col::U64(f) => Arc::new(UInt64Array::from_iter_values(rows.iter().map(f))),
        Col::F32(f) => Arc::new(Float32Array::from_iter_values(rows.iter().map(f))),
        Col::F64(f) => Arc::new(Float64Array::from_iter_values(rows.iter().map(f))),
        Col::Dec(f) => Arc::new(
            Decimal128Array::from_iter_values(rows.iter().map(|r| decimal_raw(f(r))))
                .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)?,
        ),
        Col::Bool(f) => Arc::new(rows.iter().map(|r| Some(f(r))).collect::<BooleanArray>()),
        Col::Str(f) => Arc::new(StringArray::from_iter_values(rows.iter().map(f))),
        Col::Date(f) => Arc::new(Date32Array::from_iter_values(rows.iter().map(f))),
        Col::ListStr(f) => {
            let mut b = ListBuilder::new(StringBuilder::new());
            for r in rows {
                for s in f(r) {
                    b.values().append_value(s);
                }
                b.append(true);
            }
            Arc::new(b.finish())
        }
        Col::ListU16(f) => {
            let mut b = ListBuilder::new(UInt16Builder::new());
            for r in rows {
                b.values().append_slice(f(r));
                b.append(true);
            }
            Arc::new(b.finish())
        }
    })
}

/// Record batch of `rows` with the given columns (no nulls; fields non-nullable).
pub(crate) fn record_batch<R>(
    cols: &[(&'static str, Col<R>)],
    rows: &[R],
) -> Result<RecordBatch, SynthError> {
    let arrays: Vec<ArrayRef> = cols
        .iter()
        .map(|(_, c)| array_of(c, rows))
        .collect::<Result<_, _>>()?;
    let fields: Vec<Field> = cols
        .iter()
        .zip(&arrays)
        .map(|((name, _), a)| Field::new(*name, a.data_type().clone(), false))
        .collect();
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    Ok(RecordBatch::try_new(schema, arrays)?)
}

/// Fixed writer properties: no timestamps, fixed row groups, so bytes depend only on the rows.
fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by("aml-miner synth".to_string())
        .set_max_row_group_row_count(Some(1 << 20))
        .build()
}

/// Write adaptor that hashes everything passing through.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn io_error(path: &Path, source: std::io::Error) -> SynthError {
    SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Streams record batches into `path` atomically ([`aml_core::io::AtomicFile`]); returns the
/// sha256 hex.
pub(crate) struct TableWriter {
    path: std::path::PathBuf,
    writer: ArrowWriter<HashingWriter<std::io::BufWriter<AtomicFile>>>,
}

impl TableWriter {
    pub(crate) fn create(path: &Path, schema: SchemaRef) -> Result<TableWriter, SynthError> {
        let file = AtomicFile::create(path).map_err(|e| io_error(path, e))?;
        let sink = HashingWriter {
            inner: std::io::BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
        };
        let writer = ArrowWriter::try_new(sink, schema, Some(writer_properties()))?;
        Ok(TableWriter {
            path: path.to_path_buf(),
            writer,
        })
    }

    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), SynthError> {
        Ok(self.writer.write(batch)?)
    }

    pub(crate) fn finish(self) -> Result<String, SynthError> {
        let mut sink = self.writer.into_inner()?;
        sink.flush().map_err(|e| io_error(&self.path, e))?;
        let digest = hex::encode(sink.hasher.finalize());
        let file = sink
            .inner
            .into_inner()
            .map_err(|e| io_error(&self.path, e.into_error()))?;
        file.commit().map_err(|e| io_error(&self.path, e))?;
        Ok(digest)
    }
}

/// Write a whole table in row chunks of `chunk_rows`; returns the sha256 hex of the file.
pub(crate) fn write_table<R>(
    path: &Path,
    cols: &[(&'static str, Col<R>)],
    rows: &[R],
    chunk_rows: usize,
) -> Result<String, SynthError> {
    let first = record_batch(cols, &rows[..0])?;
    let mut writer = TableWriter::create(path, first.schema())?;
    for chunk in rows.chunks(chunk_rows.max(1)) {
        writer.write(&record_batch(cols, chunk)?)?;
    }
    writer.finish()
}

/// Atomic write of a small file ([`aml_core::io::atomic_write`]); returns the sha256 hex.
pub(crate) fn write_bytes(path: &Path, bytes: &[u8]) -> Result<String, SynthError> {
    aml_core::io::atomic_write(path, bytes).map_err(|e| io_error(path, e))?;
    Ok(aml_core::io::sha256_hex(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every synthetic table has one accessor per declared column, of the declared contract type.
    #[test]
    fn every_table_writes_its_declared_columns_and_types() {
        use aml_core::schema::SotType;
        fn check<R>(table: &TableSchema, cols: &[(&'static str, Col<R>)]) {
            let written: Vec<(&str, SotType)> = cols.iter().map(|(n, c)| (*n, c.sot())).collect();
            let declared: Vec<(&str, SotType)> =
                table.columns.iter().map(|c| (c.name, c.sot)).collect();
            assert_eq!(written, declared, "{}", table.file);
        }
        use aml_core::schema as s;
        check(&s::ALERTS, &crate::alerts::alert_columns());
        check(&s::CLUSTERS, &crate::alerts::cluster_columns());
        check(&s::ADDRESS_LABELS, &crate::alerts::label_columns());
        check(&s::FEATURES, &crate::features::columns());
        check(&s::MONEY_FLOWS, &crate::flows::columns());
    }

    #[test]
    fn decimal_is_rounded_to_micro_units() {
        assert_eq!(decimal_raw(1.5), 1_500_000_000_000_000_000);
        assert_eq!(decimal_raw(-0.0000004), 0);
        assert_eq!(decimal_raw(2.0000006), 2_000_001_000_000_000_000);
    }
}
