//! Reading a batch directory: META.json, sha256 verification and the five Parquet tables.
//!
//! Each file is read in parallel per row group (rayon), with only the needed columns projected, and each
//! record batch is converted and dropped before the next, so peak memory is the final columns plus a few
//! record batches. The readers here return tables in FILE order without value checks; [`crate::Batch::load`]
//! adds validation and the canonical sort.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, RecordBatch};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;

use crate::batch::files;
use crate::columns::{push_column, push_numbers, push_texts, Kind, Origin, TextView};
use crate::error::{BatchError, BatchWarning};
use crate::meta::Meta;
use crate::schema::ColumnMut;
use crate::schema::{ColumnSpec, Table, FEATURES, MONEY_FLOWS};
use crate::tables::{
    AddressFeatures, AddressLabels, Alerts, Clusters, MoneyFlows, NumericColumn,
    CONTRACT_FEATURE_COLUMNS, FEATURE_IDENTIFIER_COLUMNS, SCORING_FLOW_COLUMNS,
};

/// Rows per decoded record batch: large enough to amortise per-batch overhead, small enough to bound memory.
const BATCH_ROWS: usize = 65_536;

fn io_error(path: &Path, source: std::io::Error) -> BatchError {
    if source.kind() == std::io::ErrorKind::NotFound {
        BatchError::MissingFile {
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    } else {
        BatchError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Runs one step of a third-party decoder (Parquet footer, pages, Arrow conversion) and turns a
/// panic into `Err(message)`.
///
/// The parquet crate can panic on a corrupt file (a page whose lengths disagree with its data), and a
/// corrupt file with an updated hash reaches it. No input file may end the process, so every Parquet
/// decode in the workspace runs inside this boundary; callers turn the message into their own named
/// error. Whatever `decode` built before the panic is dropped, never used.
pub fn catch_decode_panic<T>(decode: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic without a message".to_string())
    })
}

/// `dir/name` after checking, without opening it, that it is a regular file inside the batch:
/// not a FIFO, device, socket or directory (opening a FIFO blocks, reading a device never ends),
/// and not a symbolic link that resolves outside `dir` (`canonical_dir`, already canonical).
fn batch_file(dir: &Path, canonical_dir: &Path, name: &str) -> Result<PathBuf, BatchError> {
    let path = dir.join(name);
    let refuse = |reason: String| BatchError::UnsafeFile {
        file: name.to_string(),
        reason,
    };
    let mut metadata = std::fs::symlink_metadata(&path).map_err(|e| io_error(&path, e))?;
    if metadata.file_type().is_symlink() {
        let target = path.canonicalize().map_err(|e| io_error(&path, e))?;
        if !target.starts_with(canonical_dir) {
            return Err(refuse(format!(
                "symbolic link to {}, outside the batch directory",
                target.display()
            )));
        }
        metadata = std::fs::metadata(&target).map_err(|e| io_error(&path, e))?;
    }
    if !metadata.is_file() {
        return Err(refuse(format!(
            "{}, not a regular file",
            crate::io::describe(&metadata.file_type())
        )));
    }
    Ok(path)
}

fn canonical(dir: &Path) -> Result<PathBuf, BatchError> {
    dir.canonicalize().map_err(|source| BatchError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// Reads and checks `dir/META.json`: it must be a regular file of the batch, parse, hold a
/// `processing_date` that is a `YYYY-MM-DD` date ([`Meta::date`]), every hash must be 64 hex
/// digits keyed by a plain file name, and the four required tables must be listed.
pub fn read_meta(dir: &Path) -> Result<Meta, BatchError> {
    let path = batch_file(dir, &canonical(dir)?, files::META)?;
    let bytes = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
    let meta = Meta::from_json_bytes(&bytes).map_err(|e| BatchError::BadMeta {
        reason: e.to_string(),
    })?;
    meta.date()?;
    for (name, hash) in &meta.sha256 {
        let plain_name =
            !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..";
        if !plain_name {
            return Err(BatchError::BadMeta {
                reason: format!("sha256 key `{name}` is not a plain file name"),
            });
        }
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BatchError::BadMeta {
                reason: format!("sha256 of `{name}` is not 64 hex digits: `{hash}`"),
            });
        }
    }
    Ok(meta)
}

/// The files META.json lists, each checked to be a regular file of the batch (before it is
/// opened, see [`BatchError::UnsafeFile`]), after checking that the four required tables exist
/// and are listed and that `address_labels.parquet` is listed when present. In META order.
fn listed_files<'m>(
    dir: &Path,
    meta: &'m Meta,
) -> Result<Vec<(PathBuf, &'m str, &'m str)>, BatchError> {
    let canonical_dir = canonical(dir)?;
    for file in files::REQUIRED {
        batch_file(dir, &canonical_dir, file)?;
        if !meta.sha256.contains_key(file) {
            return Err(BatchError::BadMeta {
                reason: format!("no sha256 for `{file}`"),
            });
        }
    }
    let has_labels = meta.sha256.contains_key(files::ADDRESS_LABELS);
    if !has_labels && std::fs::symlink_metadata(dir.join(files::ADDRESS_LABELS)).is_ok() {
        return Err(BatchError::BadMeta {
            reason: format!("`{}` is present but has no sha256", files::ADDRESS_LABELS),
        });
    }
    meta.sha256
        .iter()
        .map(|(name, expected)| {
            Ok((
                batch_file(dir, &canonical_dir, name)?,
                name.as_str(),
                expected.as_str(),
            ))
        })
        .collect()
}

/// `Ok` when `actual` is the sha256 META.json lists for `name`.
fn check_hash(name: &str, expected: &str, actual: String) -> Result<(), BatchError> {
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(BatchError::HashMismatch {
            file: name.to_string(),
            expected: expected.to_string(),
            actual,
        })
    }
}

/// Every entry of `dir` other than META.json and the listed files, as sorted warnings.
fn unlisted_files(dir: &Path, meta: &Meta) -> Result<Vec<BatchWarning>, BatchError> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
    let mut unlisted: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != files::META && !meta.sha256.contains_key(name))
        .collect();
    unlisted.sort();
    Ok(unlisted
        .into_iter()
        .map(|file| BatchWarning::UnlistedFile { file })
        .collect())
}

/// Checks that the required files exist and every file listed in META.json is a regular file of
/// the batch (checked before it is opened, see [`BatchError::UnsafeFile`]) with the listed
/// sha256. Only listed files count: any other entry of `dir` is returned as a
/// [`BatchWarning::UnlistedFile`] (sorted by name) and is never read.
pub fn verify_hashes(dir: &Path, meta: &Meta) -> Result<Vec<BatchWarning>, BatchError> {
    let listed = listed_files(dir, meta)?;
    let results: Vec<Result<(), BatchError>> = listed
        .par_iter()
        .map(|(path, name, expected)| verify_file(path, name, expected))
        .collect();
    results.into_iter().collect::<Result<(), _>>()?;
    unlisted_files(dir, meta)
}

/// Checks that the batch file `name` at `path` has the sha256 `expected` (streamed, nothing kept).
fn verify_file(path: &Path, name: &str, expected: &str) -> Result<(), BatchError> {
    let actual = crate::io::sha256_file(path).map_err(|e| io_error(path, e))?;
    check_hash(name, expected, actual)
}

/// The five tables of a batch, in file order.
pub(crate) type Tables = (
    Alerts,
    LoadedFeatures,
    Clusters,
    MoneyFlows,
    Option<AddressLabels>,
);

/// The tables other than the money flows, each decoded once its file is verified.
type OtherTables = (
    Result<Alerts, BatchError>,
    Result<LoadedFeatures, BatchError>,
    Result<Clusters, BatchError>,
    Option<Result<AddressLabels, BatchError>>,
);

/// Verifies every file META.json lists ([`verify_hashes`]'s checks and errors) and decodes the
/// tables, in file order, with the unlisted-file warnings.
///
/// No Parquet byte of a file is decoded before that file's sha256 matched, and a batch with any
/// mismatch is refused with the [`BatchError::HashMismatch`] (or I/O error) of the first such
/// file in META order, whatever its other files hold. The work is overlapped: one thread hashes
/// the money flows (the big file) and then decodes them, the other hashes the smaller files and
/// decodes them as soon as all of them are verified; each thread helps the other once it is
/// done. Errors come in a fixed order: hashes in META order, then decode errors in file order.
///
/// Hashes are streamed and the tables decoded from the files (read again, from the page cache):
/// reading each file once into memory and decoding that buffer measured slower on a full-size
/// day (the buffers' page faults outweigh the second read) and raised peak memory by the size of
/// the money flows file.
pub(crate) fn load_tables(
    dir: &Path,
    meta: &Meta,
    flow_columns: FlowColumns,
) -> Result<(Tables, Vec<BatchWarning>), BatchError> {
    let listed = listed_files(dir, meta)?;
    let is_flows = |name: &str| name == files::MONEY_FLOWS;
    let (flows, (hashes, others)) = rayon::join(
        || {
            let (path, name, expected) = listed
                .iter()
                .find(|(_, name, _)| is_flows(name))
                .ok_or_else(|| BatchError::MissingFile {
                    file: files::MONEY_FLOWS.to_string(),
                })?;
            verify_file(path, name, expected).map(|()| read_money_flows_with(path, flow_columns))
        },
        || {
            let hashes: Vec<Result<(), BatchError>> = listed
                .iter()
                .filter(|(_, name, _)| !is_flows(name))
                .map(|(path, name, expected)| verify_file(path, name, expected))
                .collect();
            let others = hashes
                .iter()
                .all(Result::is_ok)
                .then(|| decode_others(dir, meta.sha256.contains_key(files::ADDRESS_LABELS)));
            (hashes, others)
        },
    );
    // Hash (and I/O) errors first, in META order.
    let mut hashes = hashes.into_iter();
    let mut flows = Some(flows);
    for (_, name, _) in &listed {
        let hash = if is_flows(name) {
            flows
                .take_if(|flows| flows.is_err())
                .map(|flows| flows.map(drop))
        } else {
            hashes.next()
        };
        if let Some(Err(error)) = hash {
            return Err(error);
        }
    }
    let flows = flows.ok_or_else(|| BatchError::MissingFile {
        file: files::MONEY_FLOWS.to_string(),
    })??;
    let (alerts, features, clusters, labels) = others.ok_or_else(|| BatchError::MissingFile {
        file: files::ALERTS.to_string(),
    })?;
    let tables = (alerts?, features?, clusters?, flows?, labels.transpose()?);
    Ok((tables, unlisted_files(dir, meta)?))
}

/// Decodes the tables other than the money flows in parallel (the labels when `has_labels`).
fn decode_others(dir: &Path, has_labels: bool) -> OtherTables {
    let ((alerts, features), (clusters, labels)) = rayon::join(
        || {
            rayon::join(
                || read_alerts(&dir.join(files::ALERTS)),
                || read_features_for_load(&dir.join(files::FEATURES)),
            )
        },
        || {
            rayon::join(
                || read_clusters(&dir.join(files::CLUSTERS)),
                || has_labels.then(|| read_labels(&dir.join(files::ADDRESS_LABELS))),
            )
        },
    );
    (alerts, features, clusters, labels)
}

/// An opened Parquet file with its parsed footer: THE Parquet reader of the workspace.
///
/// Every decode runs inside [`catch_decode_panic`], row groups are decoded in parallel with only the
/// projected columns, and every error names the file (and the column, or the row, where known).
pub struct ParquetFile {
    name: String,
    path: PathBuf,
    metadata: ArrowReaderMetadata,
}

impl ParquetFile {
    /// Opens `path` and parses its footer.
    pub fn open(path: &Path) -> Result<ParquetFile, BatchError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = File::open(path).map_err(|e| io_error(path, e))?;
        let metadata =
            catch_decode_panic(|| ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()))
                .map_err(|message| BatchError::DecodePanic {
                    file: name.clone(),
                    column: None,
                    message,
                })?
                .map_err(|e| BatchError::CorruptParquet {
                    file: name.clone(),
                    reason: e.to_string(),
                })?;
        Ok(ParquetFile {
            name,
            path: path.to_path_buf(),
            metadata,
        })
    }

    /// The file name, as errors name it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Arrow schema of the file.
    pub fn schema(&self) -> &arrow::datatypes::SchemaRef {
        self.metadata.schema()
    }

    /// Number of rows, from the footer (nothing is decoded): lets a caller refuse an oversized
    /// file before reading it. Summed over the row groups, the counts [`ParquetFile::read`]
    /// decodes (the file-level count is not what the reader follows, so a footer could understate
    /// it); a negative group count adds nothing (reading refuses it as corrupt).
    pub fn num_rows(&self) -> usize {
        self.metadata
            .metadata()
            .row_groups()
            .iter()
            .map(|group| usize::try_from(group.num_rows()).unwrap_or(0))
            .fold(0, usize::saturating_add)
    }

    fn origin<'a>(&'a self, column: &'a str, first_row: usize) -> Origin<'a> {
        Origin {
            file: &self.name,
            column,
            first_row,
        }
    }

    /// Index of `column` in the file schema after checking its type; `None` when absent and optional.
    fn find(&self, column: &str, kind: Kind, required: bool) -> Result<Option<usize>, BatchError> {
        let schema = self.metadata.schema();
        let Ok(index) = schema.index_of(column) else {
            return if required {
                Err(BatchError::MissingColumn {
                    file: self.name.clone(),
                    column: column.to_string(),
                })
            } else {
                Ok(None)
            };
        };
        let data_type = schema.field(index).data_type();
        if !kind.accepts(data_type) {
            return Err(BatchError::WrongType {
                file: self.name.clone(),
                column: column.to_string(),
                found: data_type.to_string(),
                expected: kind.expected().to_string(),
            });
        }
        Ok(Some(index))
    }

    /// The error for a column the caller needs that the file lacks: the file's own decode error when
    /// it does not decode (a corrupt file is reported as corrupt first), else
    /// [`BatchError::MissingColumn`]. Decodes the whole file, so only for the error path.
    pub fn missing_column(&self, column: &str) -> BatchError {
        let every: Vec<usize> = (0..self.schema().fields().len()).collect();
        match self.read(&every, || (), |_, _, _| Ok(())) {
            Err(error) => error,
            Ok(_) => BatchError::MissingColumn {
                file: self.name.clone(),
                column: column.to_string(),
            },
        }
    }

    /// Indices of required columns, checking presence and type of each in the given order.
    fn require<'c>(
        &self,
        columns: impl IntoIterator<Item = &'c ColumnSpec>,
    ) -> Result<Vec<usize>, BatchError> {
        columns
            .into_iter()
            .map(|spec| {
                self.find(spec.name, spec.kind, true)?
                    .ok_or_else(|| BatchError::MissingColumn {
                        file: self.name.clone(),
                        column: spec.name.to_string(),
                    })
            })
            .collect()
    }

    /// Decodes the projected `columns` (indices into [`ParquetFile::schema`]) row group by row group in
    /// parallel. `consume` receives each record batch with the file row of its first row; the parts come
    /// back in row-group order (one part for a file without row groups). A decoder panic is an error
    /// naming the file and the column whose decoding panics.
    pub fn read<A, Init, Consume>(
        &self,
        columns: &[usize],
        init: Init,
        consume: Consume,
    ) -> Result<Vec<A>, BatchError>
    where
        A: Send,
        Init: Fn() -> A + Sync,
        Consume: Fn(&mut A, &RecordBatch, usize) -> Result<(), BatchError> + Sync,
    {
        let corrupt = |e: &dyn std::fmt::Display| BatchError::CorruptParquet {
            file: self.name.clone(),
            reason: e.to_string(),
        };
        let row_groups = self.metadata.metadata().row_groups();
        let mut starts = Vec::with_capacity(row_groups.len());
        let mut total = 0usize;
        for group in row_groups {
            starts.push(total);
            total += usize::try_from(group.num_rows()).map_err(|e| corrupt(&e))?;
        }
        // Fewer row groups than threads (a features file is often one group): each group's
        // columns are split in sets decoded side by side instead.
        let sets = if row_groups.len() < rayon::current_num_threads() {
            rayon::current_num_threads()
        } else {
            1
        };
        let parts: Vec<Result<A, BatchError>> = (0..row_groups.len())
            .into_par_iter()
            .map(|group| {
                let decode = |column_sets: &[Vec<usize>]| {
                    let mut part = init();
                    let mut first_row = starts[group];
                    self.decode_group(group, column_sets, |batch| {
                        consume(&mut part, &batch, first_row)?;
                        first_row += batch.num_rows();
                        Ok(())
                    })?;
                    Ok(part)
                };
                let split = self.column_sets(group, columns, sets);
                if split.len() > 1 {
                    // Any failure is reported by the plain decode below, so a bad file gives the
                    // same error whichever path ran (a failing file costs a second decode).
                    if let Ok(Ok(part)) = catch_decode_panic(|| decode(&split)) {
                        return Ok(part);
                    }
                }
                catch_decode_panic(|| decode(&[columns.to_vec()]))
                    .unwrap_or_else(|message| Err(self.decode_panic(group, columns, message)))
            })
            .collect();
        if parts.is_empty() {
            return Ok(vec![init()]);
        }
        parts.into_iter().collect()
    }
}

impl ParquetFile {
    /// `columns` split in at most `sets` non-empty sets of about equal compressed size in row
    /// group `group`, each in the order of `columns` (one set when `sets` is 1).
    fn column_sets(&self, group: usize, columns: &[usize], sets: usize) -> Vec<Vec<usize>> {
        let sets = sets.clamp(1, columns.len().max(1));
        if sets == 1 {
            return vec![columns.to_vec()];
        }
        let descriptor = self.metadata.parquet_schema();
        let chunks = self.metadata.metadata().row_group(group).columns();
        let mut root_bytes = vec![0u64; self.schema().fields().len()];
        for (leaf, chunk) in chunks.iter().enumerate() {
            if leaf < descriptor.num_columns() {
                let root = descriptor.get_column_root_idx(leaf);
                if let Some(bytes) = root_bytes.get_mut(root) {
                    *bytes += u64::try_from(chunk.compressed_size()).unwrap_or(0);
                }
            }
        }
        // Largest first into the lightest set (ties: lower set, lower column): a fixed split.
        let mut by_size: Vec<usize> = columns.to_vec();
        by_size
            .sort_by_key(|&column| std::cmp::Reverse(root_bytes.get(column).copied().unwrap_or(0)));
        let mut load = vec![0u64; sets];
        let mut set_of = HashMap::new();
        for column in by_size {
            let lightest = (0..sets).min_by_key(|&set| load[set]).unwrap_or(0);
            load[lightest] += root_bytes.get(column).copied().unwrap_or(0);
            set_of.insert(column, lightest);
        }
        let mut split = vec![Vec::new(); sets];
        for &column in columns {
            split[set_of[&column]].push(column);
        }
        split.retain(|set| !set.is_empty());
        split
    }

    /// Decodes row group `group`, one reader per set of `column_sets` (decoded in parallel when
    /// there are several), handing `each` the record batches with every set's columns in turn.
    fn decode_group(
        &self,
        group: usize,
        column_sets: &[Vec<usize>],
        mut each: impl FnMut(RecordBatch) -> Result<(), BatchError>,
    ) -> Result<(), BatchError> {
        let corrupt = |reason: String| BatchError::CorruptParquet {
            file: self.name.clone(),
            reason,
        };
        let mut readers = column_sets
            .iter()
            .map(|set| self.group_reader(group, set))
            .collect::<Result<Vec<_>, _>>()?;
        if let [reader] = readers.as_mut_slice() {
            for batch in reader {
                each(batch.map_err(|e| corrupt(e.to_string()))?)?;
            }
            return Ok(());
        }
        loop {
            let batches: Vec<_> = readers.par_iter_mut().map(Iterator::next).collect();
            if batches.iter().all(Option::is_none) {
                return Ok(());
            }
            let mut fields = Vec::new();
            let mut arrays = Vec::new();
            for batch in batches {
                let batch = batch
                    .ok_or_else(|| corrupt("columns of unequal length".to_string()))?
                    .map_err(|e| corrupt(e.to_string()))?;
                fields.extend(batch.schema().fields().iter().cloned());
                arrays.extend(batch.columns().iter().cloned());
            }
            let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(fields));
            each(RecordBatch::try_new(schema, arrays).map_err(|e| corrupt(e.to_string()))?)?;
        }
    }

    /// A reader of the projected `columns` of one row group.
    fn group_reader(
        &self,
        group: usize,
        columns: &[usize],
    ) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, BatchError> {
        self.group_reader_with(&self.metadata, group, columns)
    }

    /// [`Self::group_reader`] with text columns `views` decoded as `Utf8View`: each value a view
    /// into the decoded page instead of a copy appended to a growing buffer. On a full-size day
    /// the copies of the flows' 10 million addresses, with the regrowth of their buffers and
    /// its fresh pages, were about 5% of the run's CPU. The values read are the same.
    fn group_reader_views(
        &self,
        group: usize,
        columns: &[usize],
        views: &[usize],
    ) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, BatchError> {
        let schema = self.metadata.schema();
        let fields: Vec<arrow::datatypes::FieldRef> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(index, field)| match field.data_type() {
                arrow::datatypes::DataType::Utf8 | arrow::datatypes::DataType::LargeUtf8
                    if views.contains(&index) =>
                {
                    std::sync::Arc::new(
                        field
                            .as_ref()
                            .clone()
                            .with_data_type(arrow::datatypes::DataType::Utf8View),
                    )
                }
                _ => field.clone(),
            })
            .collect();
        let hinted = arrow::datatypes::Schema::new_with_metadata(fields, schema.metadata().clone());
        let metadata = ArrowReaderMetadata::try_new(
            self.metadata.metadata().clone(),
            ArrowReaderOptions::new().with_schema(std::sync::Arc::new(hinted)),
        )
        .map_err(|e| BatchError::CorruptParquet {
            file: self.name.clone(),
            reason: e.to_string(),
        })?;
        self.group_reader_with(&metadata, group, columns)
    }

    fn group_reader_with(
        &self,
        metadata: &ArrowReaderMetadata,
        group: usize,
        columns: &[usize],
    ) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, BatchError> {
        let file = File::open(&self.path).map_err(|e| io_error(&self.path, e))?;
        let mask = ProjectionMask::roots(metadata.parquet_schema(), columns.iter().copied());
        ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone())
            .with_row_groups(vec![group])
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| BatchError::CorruptParquet {
                file: self.name.clone(),
                reason: e.to_string(),
            })
    }

    /// The error for a decoder panic in row group `group`: the group's columns are decoded again one at
    /// a time (error path only) to name the first one whose decoding panics on its own.
    fn decode_panic(&self, group: usize, columns: &[usize], message: String) -> BatchError {
        let panics_alone = |index: usize| {
            catch_decode_panic(|| {
                if let Ok(reader) = self.group_reader(group, &[index]) {
                    // A reader can keep yielding the same error: stop at the first one.
                    reader.take_while(Result::is_ok).for_each(drop);
                }
            })
            .is_err()
        };
        let column = columns
            .iter()
            .copied()
            .find(|&index| panics_alone(index))
            .map(|index| self.metadata.schema().field(index).name().clone());
        BatchError::DecodePanic {
            file: self.name.clone(),
            column,
            message,
        }
    }
}

/// The column `name` of a projected record batch.
fn column<'a>(
    file: &ParquetFile,
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a ArrayRef, BatchError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| BatchError::MissingColumn {
            file: file.name.clone(),
            column: name.to_string(),
        })
}

/// Reads the table `T` from `path` in file order: every column of `T::SCHEMA` is required with an
/// accepted type, and decoded by its kind.
pub fn read_table<T: Table>(path: &Path) -> Result<T, BatchError> {
    read_table_columns(path, &T::SCHEMA.names().collect::<Vec<_>>())
}

/// Reads only the columns `names` of the table `T` (each required with an accepted type); the other
/// columns of `T` are filled with empty values (`""`, NaN, 0) so the table stays aligned.
pub fn read_table_columns<T: Table>(path: &Path, names: &[&str]) -> Result<T, BatchError> {
    let file = ParquetFile::open(path)?;
    let specs: Vec<&ColumnSpec> = T::SCHEMA
        .columns
        .iter()
        .filter(|spec| names.contains(&spec.name))
        .collect();
    let missing = names
        .iter()
        .find(|name| T::SCHEMA.column(name).is_none() || file.schema().index_of(name).is_err());
    if let Some(name) = missing {
        return Err(file.missing_column(name));
    }
    let projection = file.require(specs.iter().copied())?;
    let parts = file.read(
        &projection,
        T::default,
        |table: &mut T, batch, first_row| {
            for (spec, target) in T::SCHEMA.columns.iter().zip(table.columns_mut()) {
                if names.contains(&spec.name) {
                    let array = column(&file, batch, spec.name)?;
                    push_column(array.as_ref(), file.origin(spec.name, first_row), target)?;
                } else {
                    target.fill_empty(batch.num_rows());
                }
            }
            Ok(())
        },
    )?;
    let mut whole = T::default();
    for mut part in parts {
        for (target, source) in whole.columns_mut().into_iter().zip(part.columns_mut()) {
            target.append(source);
        }
    }
    Ok(whole)
}

/// Reads `alerts.parquet` (every contract column required), in file order.
pub fn read_alerts(path: &Path) -> Result<Alerts, BatchError> {
    read_table(path)
}

/// Reads `clusters.parquet` (every contract column required), in file order.
pub fn read_clusters(path: &Path) -> Result<Clusters, BatchError> {
    read_table(path)
}

/// Reads `address_labels.parquet` (every contract column required), in file order.
pub fn read_labels(path: &Path) -> Result<AddressLabels, BatchError> {
    read_table(path)
}

/// The columns of `features.parquet` to decode: their indices, the fixed (non-numeric) contract
/// columns present, and the numeric columns' names in table order.
struct FeaturesPlan {
    file: ParquetFile,
    projection: Vec<usize>,
    present: Vec<&'static str>,
    names: Vec<String>,
}

impl FeaturesPlan {
    /// Opens `path` and checks its columns: `window_days`, `processing_date` and `address` are
    /// required; every contract numeric column present, plus every extra numeric or boolean one.
    fn open(path: &Path) -> Result<FeaturesPlan, BatchError> {
        let file = ParquetFile::open(path)?;
        // The identifier, text and array columns of the contract: required unless declared optional.
        let mut projection = Vec::new();
        let mut present: Vec<&'static str> = Vec::new();
        for spec in FEATURES
            .columns
            .iter()
            .filter(|spec| spec.kind != Kind::Number)
        {
            if let Some(index) = file.find(spec.name, spec.kind, !spec.optional)? {
                projection.push(index);
                present.push(spec.name);
            }
        }
        let schema = file.metadata.schema().clone();
        let mut numeric_names: Vec<String> = Vec::new();
        for (index, field) in schema.fields().iter().enumerate() {
            let name = field.name().as_str();
            if FEATURE_IDENTIFIER_COLUMNS.contains(&name) {
                continue;
            }
            let is_contract = CONTRACT_FEATURE_COLUMNS.contains(&name);
            let data_type = field.data_type();
            let numeric_type =
                data_type.is_numeric() || matches!(data_type, arrow::datatypes::DataType::Boolean);
            if is_contract {
                file.find(name, Kind::Number, true)?;
            } else if !numeric_type {
                continue;
            }
            projection.push(index);
            numeric_names.push(name.to_string());
        }
        let mut ordered: Vec<NumericColumn> = numeric_names
            .iter()
            .map(|name| NumericColumn {
                name: name.clone(),
                values: Vec::new(),
            })
            .collect();
        crate::validate::order_numeric_columns(&mut ordered);
        let names = ordered.into_iter().map(|column| column.name).collect();
        Ok(FeaturesPlan {
            file,
            projection,
            present,
            names,
        })
    }

    /// An empty table with the plan's numeric columns.
    fn empty(&self) -> AddressFeatures {
        AddressFeatures {
            numeric: self
                .names
                .iter()
                .map(|name| NumericColumn {
                    name: name.clone(),
                    values: Vec::new(),
                })
                .collect(),
            ..AddressFeatures::default()
        }
    }
}

/// Reads `features.parquet`, in file order. `window_days`, `processing_date` and `address` are required;
/// the activity arrays and dominant assets are optional (empty when absent). Every contract numeric column
/// present is read (digit strings included), plus every extra column of a numeric or boolean type; extra
/// text or nested columns are ignored. Numeric columns are in contract order, then extras by name.
pub fn read_features(path: &Path) -> Result<AddressFeatures, BatchError> {
    let plan = FeaturesPlan::open(path)?;
    let file = &plan.file;
    let parts = file.read(
        &plan.projection,
        || plan.empty(),
        |part: &mut AddressFeatures, batch, first_row| {
            for (name, target) in part.fixed_columns_mut() {
                if plan.present.contains(&name) {
                    let array = column(file, batch, name)?;
                    push_column(array.as_ref(), file.origin(name, first_row), target)?;
                } else {
                    target.fill_empty(batch.num_rows());
                }
            }
            for numeric in &mut part.numeric {
                let array = column(file, batch, &numeric.name)?;
                push_numbers(
                    array.as_ref(),
                    file.origin(&numeric.name, first_row),
                    &mut numeric.values,
                )?;
            }
            Ok(())
        },
    )?;
    // One row group (the common case): the part is the table, no copy.
    if parts.len() == 1 {
        return Ok(parts.into_iter().next().unwrap_or_else(|| plan.empty()));
    }
    let mut whole = plan.empty();
    for mut part in parts {
        for ((_, target), (_, source)) in whole
            .fixed_columns_mut()
            .into_iter()
            .zip(part.fixed_columns_mut())
        {
            target.append(source);
        }
        for (target, source) in whole.numeric.iter_mut().zip(&mut part.numeric) {
            target.values.append(&mut source.values);
        }
    }
    Ok(whole)
}

/// `features.parquet` as [`crate::Batch::load`] reads it: either in file order (`file_rows` is
/// `None`), or already in canonical order, sorted by address, with the file row of each row.
pub(crate) struct LoadedFeatures {
    pub(crate) features: AddressFeatures,
    pub(crate) file_rows: Option<Vec<u32>>,
}

/// Reads `features.parquet` for [`crate::Batch::load`]: a file of one row group whose addresses
/// decode and are distinct comes back sorted by address, each value decoded straight into its
/// sorted row (no permuted copy of the columns, each column allocated once at its final
/// length); anything else (several row groups, a repeated address, any decode error) is read by
/// [`read_features`] in file order, so every error is the one it gives.
pub(crate) fn read_features_for_load(path: &Path) -> Result<LoadedFeatures, BatchError> {
    if let Some(sorted) = read_features_sorted(path) {
        return Ok(sorted);
    }
    Ok(LoadedFeatures {
        features: read_features(path)?,
        file_rows: None,
    })
}

/// The sorted read of [`read_features_for_load`], `None` when it does not apply or fails.
fn read_features_sorted(path: &Path) -> Option<LoadedFeatures> {
    let plan = FeaturesPlan::open(path).ok()?;
    let file = &plan.file;
    if file.metadata.metadata().num_row_groups() != 1 {
        return None;
    }
    let rows = file.num_rows();
    // Rows are numbered in u32 (the flows' ids are too).
    u32::try_from(rows).ok()?;
    let address = file.schema().index_of("address").ok()?;
    // The addresses first, alone: their order places every other value.
    let mut addresses = file
        .read(&[address], Vec::new, |addresses, batch, first_row| {
            let array = column(file, batch, "address")?;
            push_texts(array.as_ref(), file.origin("address", first_row), addresses)
        })
        .ok()?
        .pop()?;
    if addresses.len() != rows {
        return None;
    }
    let order = crate::batch::unique_key_order(&addresses, files::FEATURES, "address").ok()?;
    // An already sorted file is in canonical order as it is: `Batch::from_tables` finds it sorted
    // and its errors name the file rows, so no row map is kept for it.
    let (file_rows, sorted_row) = match order {
        None => (None, None),
        Some(order) => {
            let file_rows: Vec<u32> = order.iter().map(|&row| row as u32).collect();
            let mut sorted_row = vec![0u32; rows];
            for (position, &row) in order.iter().enumerate() {
                sorted_row[row] = position as u32;
            }
            addresses = order
                .iter()
                .map(|&row| std::mem::take(&mut addresses[row]))
                .collect();
            (Some(file_rows), Some(sorted_row))
        }
    };
    // Every other column is decoded on its own, straight into its sorted rows, two columns at a
    // time (one per thread): only one column's pages and one record batch per thread are alive.
    // Decoding all the columns side by side, as `ParquetFile::read` does, kept every column's
    // current pages and a 65,536-row batch of each alive at once: on a full-size day about a
    // quarter of the load's fresh memory, whose first touch costs more than the decode.
    let mut features = plan.empty();
    for (name, target) in features.fixed_columns_mut() {
        if name != "address" {
            target.fill_empty(rows);
        }
    }
    let mut numeric = std::mem::take(&mut features.numeric);
    // Zeroed memory comes from the allocator untouched: each page is written once, by the
    // values placed in it (every row is: the rows placed are counted).
    for column in &mut numeric {
        column.values = vec![0.0; rows];
    }
    let mut tasks: Vec<(&str, FeatureTarget)> = features
        .fixed_columns_mut()
        .into_iter()
        .filter(|&(name, _)| name != "address" && plan.present.contains(&name))
        .map(|(name, target)| (name, FeatureTarget::Fixed(target)))
        .collect();
    tasks.extend(numeric.iter_mut().map(|column| {
        (
            column.name.as_str(),
            FeatureTarget::Numbers(&mut column.values),
        )
    }));
    let sorted_row = sorted_row.as_deref();
    let decoded = tasks
        .into_par_iter()
        .map(|(name, mut target)| {
            let index = file.schema().index_of(name).ok()?;
            catch_decode_panic(|| {
                decode_sorted_column(file, (name, index), &mut target, rows, sorted_row)
            })
            .ok()?
            .ok()
            .filter(|&placed| placed == rows)
        })
        .collect::<Vec<Option<usize>>>();
    if decoded.iter().any(Option::is_none) {
        return None;
    }
    features.numeric = numeric;
    features.address = addresses;
    Some(LoadedFeatures {
        features,
        file_rows,
    })
}

/// Where the rows of one record batch go in a table sorted while it is decoded.
struct Placement<'a> {
    /// File row of the batch's first row.
    first_row: usize,
    /// Sorted row of each of the batch's rows; `None` when the file is already sorted.
    sorted_row: Option<&'a [u32]>,
}

impl Placement<'_> {
    /// Moves the batch's decoded `values` to their rows of `target` (a column of every row).
    fn place<T>(&self, target: &mut [T], values: impl IntoIterator<Item = T>) {
        match self.sorted_row {
            None => {
                for (slot, value) in target[self.first_row..].iter_mut().zip(values) {
                    *slot = value;
                }
            }
            Some(sorted_row) => {
                for (&row, value) in sorted_row.iter().zip(values) {
                    target[row as usize] = value;
                }
            }
        }
    }
}

/// A column of the sorted features table that one decode task fills.
enum FeatureTarget<'a> {
    Fixed(ColumnMut<'a>),
    Numbers(&'a mut [f64]),
}

/// Decodes the column `name` (file schema index `index`) of a one-row-group features file of
/// `rows` rows into `target`, at the sorted rows `sorted_row` (file order when `None`); the
/// number of rows placed.
fn decode_sorted_column(
    file: &ParquetFile,
    (name, index): (&str, usize),
    target: &mut FeatureTarget,
    rows: usize,
    sorted_row: Option<&[u32]>,
) -> Result<usize, BatchError> {
    let mut first_row = 0;
    let mut scratch = Vec::new();
    for batch in file.group_reader(0, &[index])? {
        let batch = batch.map_err(|e| BatchError::CorruptParquet {
            file: file.name.clone(),
            reason: e.to_string(),
        })?;
        let end = first_row + batch.num_rows();
        if end > rows {
            return Err(BatchError::CorruptParquet {
                file: file.name.clone(),
                reason: "more rows than the footer declares".to_string(),
            });
        }
        let at = Placement {
            first_row,
            sorted_row: sorted_row.map(|sorted| &sorted[first_row..end]),
        };
        let array = column(file, &batch, name)?;
        let origin = file.origin(name, first_row);
        match target {
            FeatureTarget::Fixed(target) => place_column(array.as_ref(), origin, target, &at)?,
            FeatureTarget::Numbers(values) => {
                scratch.clear();
                push_numbers(array.as_ref(), origin, &mut scratch)?;
                at.place(values, scratch.drain(..));
            }
        }
        first_row = end;
    }
    Ok(first_row)
}

/// Decodes `array` by the kind of `target` (a column of every row) and places its rows.
fn place_column(
    array: &dyn Array,
    origin: Origin,
    target: &mut ColumnMut<'_>,
    at: &Placement,
) -> Result<(), BatchError> {
    macro_rules! place {
        ($out:expr, $kind:ident) => {{
            let mut values = Vec::with_capacity(array.len());
            push_column(array, origin, ColumnMut::$kind(&mut values))?;
            at.place(&mut $out[..], values);
        }};
    }
    match target {
        ColumnMut::Texts(out) => place!(out, Texts),
        ColumnMut::Dates(out) => place!(out, Dates),
        ColumnMut::Numbers(out) => place!(out, Numbers),
        ColumnMut::Integers(out) => place!(out, Integers),
        ColumnMut::Windows(out) => place!(out, Windows),
        ColumnMut::TextLists(out) => place!(out, TextLists),
        ColumnMut::IntLists(out) => place!(out, IntLists),
        ColumnMut::Flags(out) => place!(out, Flags),
    }
    Ok(())
}

/// Hash state for address interning: aHash with fixed seeds. Output never depends on it (ids are
/// renumbered by sorted name, and equal hashes are always confirmed by comparing bytes), only
/// speed: the standard SipHash costs several times more per lookup on 10 million flow endpoints.
fn address_hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    )
}

/// Name `id` of an arena's `bytes`, delimited by `offsets`.
fn arena_name<'a>(bytes: &'a str, offsets: &[usize], id: u32) -> &'a str {
    let id = id as usize;
    &bytes[offsets[id]..offsets[id + 1]]
}

/// The distinct addresses of one row group without a heap allocation per name: their bytes in one
/// arena, ids in first-seen order, and each name's hash kept so that the table grows without
/// hashing a name again and the merge of the row groups never hashes at all.
struct AddressArena {
    hasher: ahash::RandomState,
    /// Ids, found by hash and confirmed by comparing bytes.
    table: hashbrown::HashTable<u32>,
    /// Hash of each id's name.
    hashes: Vec<u64>,
    /// [`crate::batch::key_prefix`] of each id's name: the merge sorts by it without reading names.
    prefixes: Vec<u64>,
    /// The names' text, one after another (a `String`: each name is a `str` without checking).
    bytes: String,
    /// Name `id` is `bytes[offsets[id]..offsets[id + 1]]`.
    offsets: Vec<usize>,
}

impl AddressArena {
    fn new() -> AddressArena {
        AddressArena {
            hasher: address_hasher(),
            table: hashbrown::HashTable::new(),
            hashes: Vec::new(),
            prefixes: Vec::new(),
            bytes: String::new(),
            offsets: vec![0],
        }
    }

    /// Number of distinct names.
    fn len(&self) -> usize {
        self.hashes.len()
    }

    fn name(&self, id: u32) -> &str {
        arena_name(&self.bytes, &self.offsets, id)
    }

    /// The id of `name`, a new one (the next in first-seen order) when it was not seen before.
    fn intern(&mut self, name: &str) -> u32 {
        let hash = self.hasher.hash_one(name);
        let AddressArena {
            table,
            hashes,
            prefixes,
            bytes,
            offsets,
            ..
        } = self;
        let entry = table.entry(
            hash,
            |&id| arena_name(bytes, offsets, id) == name,
            |&id| hashes[id as usize],
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(found) => *found.get(),
            hashbrown::hash_table::Entry::Vacant(slot) => {
                let id = hashes.len() as u32;
                slot.insert(id);
                hashes.push(hash);
                prefixes.push(crate::batch::key_prefix(name.as_bytes()));
                bytes.push_str(name);
                offsets.push(bytes.len());
                id
            }
        }
    }
}

/// Interns every address of a text column into the part's arena.
///
/// A row repeating the address of the row before it takes that row's id without a hash lookup:
/// exporters write flows grouped by sender, so most `from_address` rows are such repeats.
fn intern(
    addresses: &mut AddressArena,
    view: &TextView,
    origin: Origin,
    ids: &mut Vec<u32>,
) -> Result<(), BatchError> {
    ids.reserve(view.len());
    let mut previous: Option<(&str, u32)> = None;
    for row in 0..view.len() {
        let address = view
            .get(row)
            .filter(|text| !text.is_empty())
            .ok_or_else(|| {
                BatchError::InvalidValue(crate::error::InvalidValue {
                    file: origin.file.to_string(),
                    column: origin.column.to_string(),
                    row: origin.first_row + row,
                    value: "\"\"".to_string(),
                    reason: "empty or null address".to_string(),
                })
            })?;
        let id = match previous {
            Some((text, id)) if text == address => id,
            _ => addresses.intern(address),
        };
        previous = Some((address, id));
        ids.push(id);
    }
    Ok(())
}

/// Which value columns of `money_flows.parquet` to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlowColumns {
    /// Every contract column (verification, training, tools).
    #[default]
    All,
    /// Only what features use: `from_address`, `to_address`, `tx_count`, `amount_usd_sum`;
    /// the other value columns of [`MoneyFlows`] stay empty.
    Scoring,
}

/// Reads `money_flows.parquet` completely ([`FlowColumns::All`]).
pub fn read_money_flows(path: &Path) -> Result<MoneyFlows, BatchError> {
    read_money_flows_with(path, FlowColumns::All)
}

/// Reads `money_flows.parquet`, in file order, interning addresses into a sorted dictionary.
/// Every contract column must be present with its contract type; `dominant_asset`,
/// `hourly_pattern` and `weekly_pattern` are never decoded (features do not use them), and the
/// value columns only with [`FlowColumns::All`].
///
/// Each column is allocated once at its final length (row-group row counts are in the footer)
/// and each row group decodes straight into its rows, in two tasks run in parallel: the
/// `from_address` ids with the value columns, and the `to_address` ids, each task interning
/// into its own arena. The arenas are merged into the sorted dictionary and the ids remapped in
/// place. Any failure (a decode error or panic, rows disagreeing with the footer) is reported by
/// decoding the file again row group by row group, as one reader of every column, so an error
/// names the same file, column and row whichever path ran.
pub fn read_money_flows_with(path: &Path, columns: FlowColumns) -> Result<MoneyFlows, BatchError> {
    let file = ParquetFile::open(path)?;
    let indices = file.require(MONEY_FLOWS.columns)?;
    let all = columns == FlowColumns::All;
    // The value columns MoneyFlows keeps that `columns` asks for.
    let kept = MoneyFlows::default().value_columns().map(|(name, _)| name);
    let decoded =
        |name: &str| kept.contains(&name) && (all || SCORING_FLOW_COLUMNS.contains(&name));
    let index_of = |name: &str| {
        MONEY_FLOWS
            .columns
            .iter()
            .position(|spec| spec.name == name)
            .map(|position| indices[position])
    };
    let plan = FlowPlan {
        file: &file,
        from: index_of("from_address"),
        to: index_of("to_address"),
        values: kept
            .iter()
            .filter(|name| decoded(name))
            .map(|&name| (name, index_of(name)))
            .collect(),
    };
    match plan.read_in_place() {
        Ok(flows) => Ok(flows),
        Err(error) => Err(plan.row_group_error().unwrap_or(error)),
    }
}

/// The projected columns of `money_flows.parquet`: indices into the file schema.
struct FlowPlan<'f> {
    file: &'f ParquetFile,
    from: Option<usize>,
    to: Option<usize>,
    /// The value columns decoded, in [`MoneyFlows::value_columns`] order.
    values: Vec<(&'static str, Option<usize>)>,
}

/// One value column's rows of one row group (the types [`MoneyFlows`] holds values in).
enum FlowSlice<'a> {
    Numbers(&'a mut [f64]),
    Integers(&'a mut [u64]),
    Flags(&'a mut [bool]),
}

/// Reused decode buffers of one task: a record batch's values before they are copied to their rows.
#[derive(Default)]
struct FlowScratch {
    ids: Vec<u32>,
    numbers: Vec<f64>,
    integers: Vec<u64>,
    flags: Vec<bool>,
}

/// Copies `values` (the decoded record batch) to `out[at..]`, refusing more rows than `out` has.
fn copy_rows<T: Copy>(out: &mut [T], at: usize, values: &[T]) -> Result<(), String> {
    out.get_mut(at..at + values.len())
        .ok_or_else(|| "more rows than the footer declares".to_string())?
        .copy_from_slice(values);
    Ok(())
}

impl FlowSlice<'_> {
    /// Decodes `array` (as [`push_column`] does) into the rows from `at`.
    fn place(
        &mut self,
        array: &dyn Array,
        origin: Origin,
        at: usize,
        scratch: &mut FlowScratch,
    ) -> Result<Result<(), String>, BatchError> {
        Ok(match self {
            FlowSlice::Numbers(out) => {
                scratch.numbers.clear();
                push_column(array, origin, ColumnMut::Numbers(&mut scratch.numbers))?;
                copy_rows(out, at, &scratch.numbers)
            }
            FlowSlice::Integers(out) => {
                scratch.integers.clear();
                push_column(array, origin, ColumnMut::Integers(&mut scratch.integers))?;
                copy_rows(out, at, &scratch.integers)
            }
            FlowSlice::Flags(out) => {
                scratch.flags.clear();
                push_column(array, origin, ColumnMut::Flags(&mut scratch.flags))?;
                copy_rows(out, at, &scratch.flags)
            }
        })
    }
}

/// `column` cut in consecutive slices of `rows[i]` rows (their sum is its length).
fn split_rows<'a, T>(mut column: &'a mut [T], rows: &[usize]) -> Vec<&'a mut [T]> {
    rows.iter()
        .map(|&n| {
            let (head, tail) = std::mem::take(&mut column).split_at_mut(n);
            column = tail;
            head
        })
        .collect()
}

/// One decode task of one row group: an address column (interned into the task's own arena,
/// ids written to `ids`) and some value columns, each written to its slice of the group's rows.
struct FlowTask<'a> {
    group: usize,
    /// File row of the group's first row.
    first_row: usize,
    address: &'static str,
    /// Index of `address` in the file schema.
    address_index: usize,
    ids: &'a mut [u32],
    values: Vec<(&'static str, FlowSlice<'a>)>,
}

/// A column of `len` default values, or `None` when the allocator cannot give `len` values.
/// The values are written by every rayon thread, so the column's pages are faulted in parallel.
fn zeroed_column<T: Copy + Default + Send + Sync>(len: usize) -> Option<Vec<T>> {
    let mut column = Vec::new();
    column.try_reserve_exact(len).ok()?;
    column.par_extend(rayon::iter::repeat_n(T::default(), len));
    Some(column)
}

/// Drops `value` on a new thread nobody waits for (freeing big buffers costs page unmapping),
/// or here when no thread can be started.
pub(crate) fn drop_in_background<T: Send + 'static>(value: T) {
    // On a failed spawn the closure, and `value` with it, is dropped here.
    let _ = std::thread::Builder::new().spawn(move || drop(value));
}

impl FlowPlan<'_> {
    /// The file's flows, every column decoded into its final place (see
    /// [`read_money_flows_with`]); an error here is only a signal to decode again for the error.
    fn read_in_place(&self) -> Result<MoneyFlows, BatchError> {
        let file = self.file;
        let corrupt = |reason: String| BatchError::CorruptParquet {
            file: file.name.clone(),
            reason,
        };
        let (Some(from_index), Some(to_index)) = (self.from, self.to) else {
            return Err(corrupt("no address columns".to_string()));
        };
        let groups = file.metadata.metadata().row_groups();
        let rows = groups
            .iter()
            .map(|group| usize::try_from(group.num_rows()).map_err(|e| corrupt(e.to_string())))
            .collect::<Result<Vec<usize>, _>>()?;
        // The row counts are the footer's word: a sum that overflows or columns the allocator
        // cannot give are an error, never an abort.
        let total = rows
            .iter()
            .try_fold(0usize, |sum, &group| sum.checked_add(group))
            .ok_or_else(|| corrupt("the row groups' row counts overflow".to_string()))?;
        let too_big = |what: &str| {
            corrupt(format!(
                "the footer's {total} rows do not fit in memory ({what})"
            ))
        };
        let mut from = zeroed_column::<u32>(total).ok_or_else(|| too_big("from_address"))?;
        let mut to = zeroed_column::<u32>(total).ok_or_else(|| too_big("to_address"))?;
        let mut values = MoneyFlows::default();
        let mut group_values: Vec<Vec<(&'static str, FlowSlice)>> =
            rows.iter().map(|_| Vec::new()).collect();
        for (name, column) in values.value_columns_mut() {
            if !self.values.iter().any(|&(decoded, _)| decoded == name) {
                continue;
            }
            let slices: Vec<FlowSlice> = match column {
                ColumnMut::Numbers(out) => {
                    *out = zeroed_column(total).ok_or_else(|| too_big(name))?;
                    let slices = split_rows(out, &rows);
                    slices.into_iter().map(FlowSlice::Numbers).collect()
                }
                ColumnMut::Integers(out) => {
                    *out = zeroed_column(total).ok_or_else(|| too_big(name))?;
                    let slices = split_rows(out, &rows);
                    slices.into_iter().map(FlowSlice::Integers).collect()
                }
                ColumnMut::Flags(out) => {
                    *out = zeroed_column(total).ok_or_else(|| too_big(name))?;
                    let slices = split_rows(out, &rows);
                    slices.into_iter().map(FlowSlice::Flags).collect()
                }
                _ => return Err(corrupt(format!("no flow values of the type of `{name}`"))),
            };
            for (group, slice) in group_values.iter_mut().zip(slices) {
                group.push((name, slice));
            }
        }
        let mut tasks = Vec::with_capacity(2 * rows.len());
        let mut first_row = 0;
        let from_groups = split_rows(&mut from, &rows);
        let to_groups = split_rows(&mut to, &rows);
        for (group, ((from_ids, to_ids), values)) in from_groups
            .into_iter()
            .zip(to_groups)
            .zip(group_values)
            .enumerate()
        {
            tasks.push(FlowTask {
                group,
                first_row,
                address: "from_address",
                address_index: from_index,
                ids: from_ids,
                values,
            });
            tasks.push(FlowTask {
                group,
                first_row,
                address: "to_address",
                address_index: to_index,
                ids: to_ids,
                values: Vec::new(),
            });
            first_row += rows[group];
        }
        let arenas: Vec<Result<AddressArena, BatchError>> = tasks
            .into_par_iter()
            .map(|task| {
                let mut projection = vec![task.address_index];
                projection.extend(task.values.iter().filter_map(|&(name, _)| {
                    self.values
                        .iter()
                        .find(|&&(decoded, _)| decoded == name)
                        .and_then(|&(_, index)| index)
                }));
                catch_decode_panic(|| self.run(task, &projection)).unwrap_or_else(|message| {
                    Err(BatchError::DecodePanic {
                        file: file.name.clone(),
                        column: None,
                        message,
                    })
                })
            })
            .collect();
        let arenas = arenas.into_iter().collect::<Result<Vec<_>, _>>()?;
        let (addresses, remaps) = merge_dictionaries(&arenas);
        // Arena 2g holds the senders of group g, arena 2g + 1 its receivers.
        let from_groups = split_rows(&mut from, &rows);
        let to_groups = split_rows(&mut to, &rows);
        from_groups
            .into_iter()
            .zip(to_groups)
            .flat_map(|(from_ids, to_ids)| [from_ids, to_ids])
            .zip(&remaps)
            .collect::<Vec<_>>()
            .into_par_iter()
            .for_each(|(ids, remap)| ids.iter_mut().for_each(|id| *id = remap[*id as usize]));
        drop_in_background((arenas, remaps));
        Ok(MoneyFlows {
            addresses,
            from,
            to,
            ..values
        })
    }

    /// Decodes one task's columns of its row group: its arena, ids and values written in place.
    fn run(&self, mut task: FlowTask, projection: &[usize]) -> Result<AddressArena, BatchError> {
        let file = self.file;
        let corrupt = |reason: String| BatchError::CorruptParquet {
            file: file.name.clone(),
            reason,
        };
        let mut arena = AddressArena::new();
        let mut scratch = FlowScratch::default();
        let mut at = 0;
        for batch in file.group_reader_views(task.group, projection, &[task.address_index])? {
            let batch = batch.map_err(|e| corrupt(e.to_string()))?;
            let first_row = task.first_row + at;
            let array = column(file, &batch, task.address)?;
            let view = text_view(file, task.address, array.as_ref())?;
            scratch.ids.clear();
            intern(
                &mut arena,
                &view,
                file.origin(task.address, first_row),
                &mut scratch.ids,
            )?;
            copy_rows(task.ids, at, &scratch.ids).map_err(corrupt)?;
            for (name, slice) in &mut task.values {
                let array = column(file, &batch, name)?;
                slice
                    .place(
                        array.as_ref(),
                        file.origin(name, first_row),
                        at,
                        &mut scratch,
                    )?
                    .map_err(corrupt)?;
            }
            at += batch.num_rows();
        }
        if at != task.ids.len() {
            return Err(corrupt("fewer rows than the footer declares".to_string()));
        }
        Ok(arena)
    }

    /// The error of decoding the file as one reader of every projected column per row group
    /// (each address interned, each value decoded, in that order per record batch), `None` when
    /// it decodes.
    fn row_group_error(&self) -> Option<BatchError> {
        let file = self.file;
        // The contract's column order, as `decode_panic` tries them one at a time.
        let projection: Vec<usize> = MONEY_FLOWS
            .columns
            .iter()
            .filter_map(|spec| match spec.name {
                "from_address" => self.from,
                "to_address" => self.to,
                name => self
                    .values
                    .iter()
                    .find(|&&(decoded, _)| decoded == name)
                    .and_then(|&(_, index)| index),
            })
            .collect();
        let init = || (AddressArena::new(), Vec::new(), MoneyFlows::default());
        file.read(
            &projection,
            init,
            |(arena, ids, values): &mut (AddressArena, Vec<u32>, MoneyFlows), batch, first_row| {
                for name in ["from_address", "to_address"] {
                    let array = column(file, batch, name)?;
                    let view = text_view(file, name, array.as_ref())?;
                    ids.clear();
                    intern(arena, &view, file.origin(name, first_row), ids)?;
                }
                for (name, target) in values.value_columns_mut() {
                    if self.values.iter().any(|&(decoded, _)| decoded == name) {
                        let array = column(file, batch, name)?;
                        push_column(array.as_ref(), file.origin(name, first_row), target)?;
                    }
                }
                Ok(())
            },
        )
        .err()
    }
}

/// A text view of the address column `name`, or the wrong-type error naming it.
fn text_view<'a>(
    file: &ParquetFile,
    name: &str,
    array: &'a dyn Array,
) -> Result<TextView<'a>, BatchError> {
    TextView::new(array).ok_or_else(|| BatchError::WrongType {
        file: file.name.clone(),
        column: name.to_string(),
        found: array.data_type().to_string(),
        expected: Kind::Text.expected().to_string(),
    })
}

/// The distinct names of one piece of the sorted (hash, part, local id) entries: each entry's
/// index among them, and one (part, local id) per name.
type PieceNames = (Vec<u32>, Vec<(u32, u32)>);

/// Merges the arenas into one sorted dictionary: the names, and for each arena the rank of each
/// of its local ids. Every pass runs in parallel.
///
/// No name is hashed again or allocated before the final dictionary: every arena's (stored hash,
/// part, local id) is sorted, so equal names are neighbours; runs of equal hashes are split by
/// comparing bytes (in parallel, over pieces cut at run boundaries), which gives the distinct
/// names; those are sorted by (8-byte big-endian prefix, full bytes on equal prefixes). The
/// `String`s are made in parallel buckets of sorted positions, each reading the arenas in
/// increasing order (reading them in sorted-name order, at random, is several times slower).
fn merge_dictionaries(arenas: &[AddressArena]) -> (Vec<String>, Vec<Vec<u32>>) {
    use rayon::slice::ParallelSliceMut;
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    let name = |(part, local): (u32, u32)| arenas[part as usize].name(local);
    let mut starts = Vec::with_capacity(arenas.len() + 1);
    starts.push(0usize);
    for arena in arenas {
        starts.push(starts[starts.len() - 1] + arena.len());
    }
    let mut entries: Vec<(u64, u32, u32)> = Vec::new();
    (0..starts[arenas.len()])
        .into_par_iter()
        .map(|entry| {
            let part = starts.partition_point(|&start| start <= entry) - 1;
            let local = entry - starts[part];
            (arenas[part].hashes[local], part as u32, local as u32)
        })
        .collect_into_vec(&mut entries);
    entries.par_sort_unstable();
    let ranges = hash_run_pieces(&entries);
    // Distinct names of each piece: the entry's index among them, and one (part, local) per name.
    let pieces: Vec<PieceNames> = ranges
        .par_iter()
        .map(|range| {
            let entries = &entries[range.clone()];
            let mut of_entry = Vec::with_capacity(entries.len());
            let mut names: Vec<(u32, u32)> = Vec::new();
            let mut run_start = 0;
            for (i, &(hash, part, local)) in entries.iter().enumerate() {
                if i == 0 || entries[i - 1].0 != hash {
                    run_start = names.len();
                }
                // The first name of a run is new: its bytes are not read (a random access).
                let known = (run_start < names.len())
                    .then(|| {
                        let bytes = name((part, local));
                        (run_start..names.len()).find(|&n| name(names[n]) == bytes)
                    })
                    .flatten();
                of_entry.push(known.unwrap_or_else(|| {
                    names.push((part, local));
                    names.len() - 1
                }) as u32);
            }
            (of_entry, names)
        })
        .collect();
    let mut bases = Vec::with_capacity(pieces.len());
    let mut distinct_count = 0u32;
    for (_, names) in &pieces {
        bases.push(distinct_count);
        distinct_count += names.len() as u32;
    }
    // Each (part, local) is one entry, so every slot is written exactly once.
    let local_to_distinct: Vec<Vec<AtomicU32>> = arenas
        .par_iter()
        .map(|arena| (0..arena.len()).map(|_| AtomicU32::new(0)).collect())
        .collect();
    ranges
        .par_iter()
        .zip(&pieces)
        .zip(&bases)
        .for_each(|((range, (of_entry, _)), &base)| {
            for (&(_, part, local), index) in entries[range.clone()].iter().zip(of_entry) {
                local_to_distinct[part as usize][local as usize].store(base + index, Relaxed);
            }
        });
    drop_in_background(entries);
    let distinct: Vec<(u32, u32)> = pieces.into_iter().flat_map(|(_, names)| names).collect();
    let mut by_name: Vec<(u64, u32)> = distinct
        .par_iter()
        .enumerate()
        .map(|(index, &(part, local))| {
            (arenas[part as usize].prefixes[local as usize], index as u32)
        })
        .collect();
    by_name.par_sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| name(distinct[a.1 as usize]).cmp(name(distinct[b.1 as usize])))
    });
    let rank: Vec<AtomicU32> = (0..distinct.len())
        .into_par_iter()
        .map(|_| AtomicU32::new(0))
        .collect();
    by_name
        .par_iter()
        .enumerate()
        .for_each(|(position, &(_, index))| rank[index as usize].store(position as u32, Relaxed));
    // Sorted positions cut in buckets; each bucket's names are made in arena order.
    let bucket_len = distinct
        .len()
        .div_ceil(4 * rayon::current_num_threads().max(1))
        .max(1);
    let mut in_arena_order: Vec<(u32, u32, u32, u32)> = by_name
        .par_iter()
        .enumerate()
        .map(|(position, &(_, index))| {
            let (part, local) = distinct[index as usize];
            ((position / bucket_len) as u32, part, local, position as u32)
        })
        .collect();
    drop(by_name);
    in_arena_order.par_sort_unstable();
    let mut addresses: Vec<String> = (0..distinct.len())
        .into_par_iter()
        .map(|_| String::new())
        .collect();
    // Bucket b holds exactly the positions b * bucket_len.. (sorted by bucket first), so it
    // lines up with the b-th chunk of `addresses`.
    addresses
        .par_chunks_mut(bucket_len)
        .zip(in_arena_order.par_chunks(bucket_len))
        .enumerate()
        .for_each(|(bucket, (out, names))| {
            for &(_, part, local, position) in names {
                out[position as usize - bucket * bucket_len] = name((part, local)).to_owned();
            }
        });
    let remaps = local_to_distinct
        .into_par_iter()
        .map(|ids| {
            ids.into_iter()
                .map(|id| rank[id.into_inner() as usize].load(Relaxed))
                .collect()
        })
        .collect();
    (addresses, remaps)
}

/// `entries` (sorted by hash) cut in about four pieces per thread, never inside a run of equal
/// hashes, so each piece finds its distinct names on its own.
fn hash_run_pieces(entries: &[(u64, u32, u32)]) -> Vec<std::ops::Range<usize>> {
    let pieces = 4 * rayon::current_num_threads().max(1);
    let mut ranges = Vec::with_capacity(pieces);
    let mut start = 0;
    for piece in 1..=pieces {
        let mut end = (entries.len() * piece / pieces).max(start);
        while end > 0 && end < entries.len() && entries[end].0 == entries[end - 1].0 {
            end += 1;
        }
        if end > start {
            ranges.push(start..end);
            start = end;
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::zeroed_column;

    #[test]
    fn a_column_the_allocator_cannot_give_is_none_not_an_abort() {
        // A footer may claim any row count: more than the address space is refused.
        assert!(zeroed_column::<u64>(usize::MAX / 4).is_none());
        assert!(zeroed_column::<u32>(isize::MAX as usize).is_none());
        let column = zeroed_column::<f64>(100_003).unwrap();
        assert_eq!(column.len(), 100_003);
        assert!(column.iter().all(|&v| v == 0.0));
        assert_eq!(zeroed_column::<bool>(0), Some(Vec::new()));
    }
}
