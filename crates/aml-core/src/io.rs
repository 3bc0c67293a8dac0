//! Small file primitives: atomic writes, the one rule for replacing an output directory, and
//! sha256 of files.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::OutputError;

/// A temporary sibling path of `path` for `write_output_dir`'s staging and retired directories
/// (same directory, so the final rename stays on one filesystem and is atomic); the pid in the
/// name lets a later run recognise leftovers of a killed one (`remove_leftovers`).
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

/// A file written in place of `path` that readers see only once it is whole: the bytes go to a
/// temporary file with a unique name in the same directory (so the final rename stays on one
/// file system and is atomic), and [`AtomicFile::commit`] flushes it to disk and renames it over
/// `path`. Dropped without `commit` (a write failed, a panic unwound), the temporary file is
/// removed and `path` is left as it was.
///
/// The temporary name comes from the `tempfile` crate (`.{name}.XXXXXX.tmp`, created exclusively),
/// so any number of writers of the same path, threads of one process or several processes, never
/// share a temporary file: the last one to commit wins and the others' files are never seen.
///
/// ```
/// use std::io::Write;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("rows.tsv");
/// let mut out = aml_core::io::AtomicFile::create(&path).unwrap();
/// writeln!(out, "1\t2").unwrap();
/// assert!(!path.exists()); // nothing visible before the commit
/// out.commit().unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\t2\n");
/// ```
#[derive(Debug)]
pub struct AtomicFile {
    temp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl AtomicFile {
    /// Creates the temporary sibling of `path`. Fails when `path` has no file name or its
    /// directory refuses a new file.
    pub fn create(path: &Path) -> std::io::Result<AtomicFile> {
        let name = path.file_name().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} has no file name", path.display()),
            )
        })?;
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // The mode `File::create` gives (0o666 less the umask), not tempfile's private 0o600:
        // outputs are read by other users (a server, a validator).
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        Ok(AtomicFile {
            temp: builder.tempfile_in(dir)?,
            path: path.to_path_buf(),
        })
    }

    /// Flushes the bytes to disk and renames the file over the target path. On failure the
    /// temporary file is removed.
    pub fn commit(self) -> std::io::Result<()> {
        self.temp.as_file().sync_all()?;
        self.temp
            .persist(&self.path)
            .map(drop)
            .map_err(|failed| failed.error)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.temp.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.temp.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.temp.flush()
    }
}

/// Writes `bytes` to `path` atomically ([`AtomicFile`]): readers see either the old file or the
/// whole new one, concurrent writers of the same path never collide, and a failed write leaves no
/// temporary file behind. THE atomic writer of the workspace; callers only map its error.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("hello.txt");
/// aml_core::io::atomic_write(&path, b"hello").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
/// ```
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// A kind of output directory a writer owns: what it is called in errors, the file that
/// identifies it and every file it may hold. An existing directory is replaced only when it is
/// empty, or holds `marker` and nothing but `files`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputKind {
    /// Name in messages, e.g. `submission`.
    pub name: &'static str,
    /// File whose presence marks a directory as this kind, e.g. `receipt.json`.
    pub marker: &'static str,
    /// Every file name a directory of this kind holds (the marker included); anything else in
    /// an existing output is somebody else's, and the output is then not replaced.
    pub files: &'static [&'static str],
}

fn output_io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `path` made absolute and free of symbolic links and `.`/`..`: its longest existing prefix is
/// canonicalised and the remaining (not yet existing, so link-free) components are applied to it.
fn resolve(path: &Path) -> Result<PathBuf, OutputError> {
    let absolute = std::path::absolute(path).map_err(output_io(path))?;
    let components: Vec<Component> = absolute.components().collect();
    for split in (1..=components.len()).rev() {
        let prefix: PathBuf = components[..split].iter().collect();
        if let Ok(mut resolved) = prefix.canonicalize() {
            for component in &components[split..] {
                match component {
                    Component::ParentDir => {
                        resolved.pop();
                    }
                    Component::Normal(name) => resolved.push(name),
                    _ => {}
                }
            }
            return Ok(resolved);
        }
    }
    Ok(absolute)
}

/// What sits at an output location, as far as the replacement rule cares.
enum Existing {
    Nothing,
    Replaceable,
}

/// Checks that `out` may be written as a `kind` directory, without touching anything, and returns
/// where it resolves to (the parent made canonical, the last component kept, so a symbolic link
/// at `out` is refused rather than followed).
///
/// Refused: `out` being one of `inputs` or a directory containing one (compared after resolving
/// symbolic links); a file, symbolic link or device at `out`; a non-empty directory without
/// `kind.marker`; a directory with the marker that also holds an entry not in `kind.files`
/// (replacing it would delete that entry). An absent `out`, an empty directory and a directory
/// holding the marker and only `kind.files` pass.
pub fn check_output(
    out: &Path,
    kind: OutputKind,
    inputs: &[&Path],
) -> Result<PathBuf, OutputError> {
    check(out, kind, inputs).map(|(location, _)| location)
}

fn check(
    out: &Path,
    kind: OutputKind,
    inputs: &[&Path],
) -> Result<(PathBuf, Existing), OutputError> {
    let mut components = out.components();
    let Some(Component::Normal(name)) = components.next_back() else {
        return Err(OutputError::NoName {
            path: out.to_path_buf(),
        });
    };
    let parent = match components.as_path() {
        p if p.as_os_str().is_empty() => Path::new("."),
        p => p,
    };
    let location = resolve(parent)?.join(name);
    let target = resolve(&location)?;
    for input in inputs {
        if resolve(input)?.starts_with(&target) {
            return Err(OutputError::ContainsInput {
                output: out.to_path_buf(),
                input: input.to_path_buf(),
            });
        }
    }
    let not_a_directory = |found: &str| OutputError::NotADirectory {
        path: out.to_path_buf(),
        kind: kind.name.to_string(),
        found: found.to_string(),
    };
    let metadata = match std::fs::symlink_metadata(&location) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((location, Existing::Nothing))
        }
        Err(source) => {
            return Err(OutputError::Io {
                path: location,
                source,
            })
        }
    };
    if metadata.file_type().is_symlink() {
        return Err(not_a_directory("a symbolic link"));
    }
    if !metadata.is_dir() {
        return Err(not_a_directory(describe(&metadata.file_type())));
    }
    let empty = std::fs::read_dir(&location)
        .map_err(output_io(&location))?
        .next()
        .is_none();
    let marked = std::fs::symlink_metadata(location.join(kind.marker))
        .is_ok_and(|m| m.file_type().is_file());
    if !(empty || marked) {
        return Err(OutputError::Foreign {
            path: out.to_path_buf(),
            kind: kind.name.to_string(),
            marker: kind.marker.to_string(),
        });
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&location).map_err(output_io(&location))? {
        names.push(entry.map_err(output_io(&location))?.file_name());
    }
    names.sort();
    if let Some(entry) = names.iter().find(|name| {
        !kind
            .files
            .iter()
            .any(|f| name.as_os_str() == std::ffi::OsStr::new(f))
    }) {
        return Err(OutputError::UnexpectedEntry {
            path: out.to_path_buf(),
            kind: kind.name.to_string(),
            entry: entry.to_string_lossy().into_owned(),
        });
    }
    Ok((location, Existing::Replaceable))
}

/// A human name for a file type (`a FIFO`, `a directory`, `a regular file`, ...) for error messages.
pub(crate) fn describe(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// True when `name` is a [`temp_sibling`] of the output called `output` with one of `tags`:
/// `.{output}.{tag}.{pid}.{nanos}`. Returns the pid.
fn temp_sibling_pid(name: &str, output: &str, tags: &[&str]) -> Option<u32> {
    let rest = name
        .strip_prefix('.')?
        .strip_prefix(output)?
        .strip_prefix('.')?;
    let rest = tags
        .iter()
        .find_map(|tag| rest.strip_prefix(tag)?.strip_prefix('.'))?;
    let (pid, nanos) = rest.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(pid) && digits(nanos)).then(|| pid.parse().ok())?
}

/// Removes `.staging` / `.old` siblings of `location` left by a killed run of a writer of the same
/// output (names made by [`temp_sibling`]); a sibling of a process that is still running is kept.
fn remove_leftovers(location: &Path) -> Result<(), OutputError> {
    let (Some(parent), Some(name)) = (location.parent(), location.file_name()) else {
        return Ok(());
    };
    let name = name.to_string_lossy();
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Ok(());
    };
    for entry in entries.filter_map(Result::ok) {
        let file_name = entry.file_name();
        let Some(pid) = temp_sibling_pid(&file_name.to_string_lossy(), &name, &["staging", "old"])
        else {
            continue;
        };
        if process_is_running(pid) {
            continue;
        }
        let path = entry.path();
        let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        let removed = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(output_io(&path))?;
    }
    Ok(())
}

/// Whether process `pid` may still be using its temporary directories: this process, or (on
/// Linux) any process listed in `/proc`.
fn process_is_running(pid: u32) -> bool {
    pid == std::process::id()
        || (cfg!(target_os = "linux") && Path::new("/proc").join(pid.to_string()).exists())
}

/// Writes the directory `out` holding exactly `contents` (file name, bytes), replacing what was
/// there, by the one rule every output of the miner follows:
///
/// 1. [`check_output`] first (nothing is touched when it refuses): the output is never an input
///    or a parent of one, and an existing output is replaced only when it is `kind`'s own
///    (holds `kind.marker` and nothing but `kind.files`) or empty;
/// 2. `.staging` / `.old` siblings left by a killed run for the same output are removed;
/// 3. the files are written and fsynced in a temporary sibling directory, which is renamed into
///    place (a previous output is moved aside first and removed after), so `out` holds either the
///    old complete output or the new one, never a mix.
///
/// ```
/// use aml_core::io::{write_output_dir, OutputKind};
/// let kind = OutputKind { name: "example", marker: "done.txt", files: &["done.txt"] };
/// let root = tempfile::tempdir().unwrap();
/// let out = root.path().join("out");
/// write_output_dir(&out, kind, &[], &[("done.txt", b"1".as_slice())]).unwrap();
/// write_output_dir(&out, kind, &[], &[("done.txt", b"2".as_slice())]).unwrap();
/// assert_eq!(std::fs::read(out.join("done.txt")).unwrap(), b"2");
/// // Never over the input, nor over somebody else's directory.
/// assert!(write_output_dir(root.path(), kind, &[&out], &[]).is_err());
/// std::fs::write(out.join("notes.txt"), "mine").unwrap();
/// // Our own output, but it holds a file we never write: refused, nothing deleted.
/// assert!(write_output_dir(&out, kind, &[], &[("done.txt", b"3".as_slice())]).is_err());
/// std::fs::remove_file(out.join("done.txt")).unwrap();
/// assert!(write_output_dir(&out, kind, &[], &[]).is_err());
/// assert!(out.join("notes.txt").exists());
/// ```
pub fn write_output_dir(
    out: &Path,
    kind: OutputKind,
    inputs: &[&Path],
    contents: &[(&str, &[u8])],
) -> Result<(), OutputError> {
    let (location, existing) = check(out, kind, inputs)?;
    remove_leftovers(&location)?;
    if let Some(parent) = location.parent() {
        std::fs::create_dir_all(parent).map_err(output_io(parent))?;
    }
    let staging = temp_sibling(&location, "staging");
    let result = (|| {
        std::fs::create_dir(&staging).map_err(output_io(&staging))?;
        for (name, bytes) in contents {
            let path = staging.join(name);
            let mut file = File::create(&path).map_err(output_io(&path))?;
            file.write_all(bytes).map_err(output_io(&path))?;
            file.sync_all().map_err(output_io(&path))?;
        }
        let retired = temp_sibling(&location, "old");
        let had_old = matches!(existing, Existing::Replaceable);
        if had_old {
            std::fs::rename(&location, &retired).map_err(output_io(&location))?;
        }
        std::fs::rename(&staging, &location).map_err(output_io(&location))?;
        if had_old {
            std::fs::remove_dir_all(&retired).map_err(output_io(&retired))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
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

#[cfg(feature = "tables")]
/// The receipt's `input_hash`, as the miner template computes it: the sha256 of the batch's
/// `alerts.parquet` bytes.
pub fn input_hash(batch_dir: &Path) -> std::io::Result<String> {
    sha256_file(&batch_dir.join(crate::batch::files::ALERTS))
}

#[cfg(feature = "tables")]
/// The receipt's extra `batch_hash`: the sha256 of the batch's `META.json` bytes exactly as published.
///
/// META.json lists the sha256 of every data file (checked when the batch is loaded), so this one hash
/// commits to the whole batch, data and metadata including the pattern traps, where `input_hash`
/// covers the alerts only.
pub fn batch_hash(batch_dir: &Path) -> std::io::Result<String> {
    sha256_file(&batch_dir.join(crate::batch::files::META))
}

#[cfg(feature = "tables")]
/// Encodes `batch` as Parquet with fixed writer properties (fixed `created_by`, Snappy, no
/// timestamps), so the same rows always produce the same bytes: THE Parquet writer of the
/// workspace (tables, submission files, feature matrices). `row_group_rows` bounds each row
/// group (several row groups let readers decode in parallel).
///
/// Encoding the columns of a row group in parallel (arrow-rs' `ArrowColumnWriter`s) gave the
/// same bytes and no measurable gain: a full-size day's 200-column feature matrix took
/// 0.27-0.31 s to write either way, most of it outside the encoder.
pub fn encode_parquet(
    batch: &arrow::array::RecordBatch,
    row_group_rows: usize,
) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_created_by(concat!("aml-core ", env!("CARGO_PKG_VERSION")).to_string())
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group_rows))
        .build();
    let mut bytes = Vec::new();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), Some(properties))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(bytes)
}
