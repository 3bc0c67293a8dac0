//! Fetching a published day from object storage (`aml-miner fetch`).
//!
//! The data owner publishes each day as `s3://BUCKET/PREFIX/<YYYY-MM-DD>/` (META.json and the
//! Parquet files it lists). [`fetch_day`] downloads exactly the files META.json lists, in
//! parallel, into a hidden staging directory beside the destination
//! (`PARENT/.<name>.fetching/`), resuming any `*.part` file a crashed run left there, checks
//! every file against META's sha256 and then renames the staging directory to the destination in
//! one step. So the destination either does not exist or holds a complete, verified day; a
//! re-run after a crash resumes, and a re-run after success does nothing.
//!
//! Nothing from the remote side becomes a path unchecked: file names come from META.json and
//! must be plain file names ([`aml_core::read::read_meta`]); sizes are checked against a limit
//! before a byte is written; unlisted remote objects are never fetched.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use tokio::io::AsyncWriteExt;

use crate::config::SourceConfig;
use aml_core::batch::files;
use aml_core::date::Date;

/// Largest META.json accepted (it lists a handful of files and traps).
pub const MAX_META_BYTES: u64 = 4 << 20;
/// Default largest data file accepted (a full-size day's money flows are ~0.5 GB).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 16 << 30;

/// Why a day could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The source is not an `s3://BUCKET/PREFIX/` URL, or the store cannot be built from it.
    #[error("source `{url}`: {reason}")]
    Source {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The object store refused or failed a request.
    #[error("{file}: {source}")]
    Store {
        /// The file being fetched.
        file: String,
        /// The store's error.
        source: Box<object_store::Error>,
    },
    /// A local file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The published META.json is not a valid batch manifest.
    #[error("published META.json: {0}")]
    Meta(Box<aml_core::BatchError>),
    /// A published file is larger than the limit.
    #[error("{file}: {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The file.
        file: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A published file's bytes do not hash to META's sha256 (after a fresh download).
    #[error("{file}: sha256 {actual} but META.json lists {expected}")]
    HashMismatch {
        /// The file.
        file: String,
        /// The listed hash.
        expected: String,
        /// The hash of the downloaded bytes.
        actual: String,
    },
    /// The server sent more bytes than the object's size.
    #[error("{file}: the server sent more than the {size} bytes it announced")]
    Oversent {
        /// The file.
        file: String,
        /// The announced size.
        size: u64,
    },
    /// The published META.json names another day than the one asked for: nothing is written.
    #[error(
        "published META.json says processing_date {found}, but the day asked for is {expected}"
    )]
    WrongDay {
        /// The day asked for.
        expected: Date,
        /// The day META.json names.
        found: Date,
    },
    /// The destination exists but is not this day, complete (it is never replaced).
    #[error("{}: {reason}", path.display())]
    Destination {
        /// The destination or staging directory.
        path: PathBuf,
        /// Why it is left alone.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What [`fetch_day`] did with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedFile {
    /// File name.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// Bytes downloaded by this run (0 when a verified copy was already staged).
    pub downloaded: u64,
    /// True when the download continued a partial file of an earlier run.
    pub resumed: bool,
}

/// What [`fetch_day`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// The destination directory.
    pub dir: PathBuf,
    /// True when the destination already held this day, verified: nothing was downloaded.
    pub already_complete: bool,
    /// Every file META.json lists, by name (empty when `already_complete`).
    pub files: Vec<FetchedFile>,
}

/// Options of [`fetch_day`].
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Files downloaded at once.
    pub concurrency: usize,
    /// Largest file accepted, in bytes.
    pub max_file_bytes: u64,
    /// The day being fetched, when the caller knows it: a published META.json naming another
    /// `processing_date` is refused before anything is staged or renamed into place.
    pub expected_date: Option<Date>,
}

impl Default for FetchOptions {
    fn default() -> FetchOptions {
        FetchOptions {
            concurrency: 4,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            expected_date: None,
        }
    }
}

/// An `s3://BUCKET/PREFIX/` URL split into the bucket and the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix without leading or trailing `/` (may be empty).
    pub prefix: String,
}

impl S3Url {
    /// Parses `s3://BUCKET[/PREFIX][/]`.
    pub fn parse(url: &str) -> Result<S3Url, FetchError> {
        let bad = |reason: &str| FetchError::Source {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("not an s3:// URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket"));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|part| part == ".." || part == ".") {
            return Err(bad("`.` and `..` are not key segments"));
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The URL of day `date` below this one (`s3://BUCKET/PREFIX/<date>/`).
    pub fn day(&self, date: &str) -> S3Url {
        let prefix = if self.prefix.is_empty() {
            date.to_string()
        } else {
            format!("{}/{date}", self.prefix)
        };
        S3Url {
            bucket: self.bucket.clone(),
            prefix,
        }
    }

    /// The object-store path of the prefix.
    pub fn path(&self) -> ObjectPath {
        ObjectPath::from(self.prefix.as_str())
    }
}

/// An S3 client for `url`'s bucket: credentials, region and endpoint from the usual AWS
/// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
/// `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, ...), each overridden by `source` when set there.
pub fn s3_store(url: &S3Url, source: &SourceConfig) -> Result<Arc<dyn ObjectStore>, FetchError> {
    // TLS through rustls with ring (no C toolchain needed, static builds stay simple); installing
    // the provider twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(&url.bucket);
    if let Some(endpoint) = &source.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &source.region {
        builder = builder.with_region(region);
    }
    if source.allow_http {
        builder = builder.with_allow_http(true);
    }
    if let Some(id) = &source.access_key_id {
        builder = builder.with_access_key_id(id);
    }
    if let Some(secret) = &source.secret_access_key {
        builder = builder.with_secret_access_key(secret.expose());
    }
    let store = builder.build().map_err(|e| FetchError::Source {
        url: format!("s3://{}/{}", url.bucket, url.prefix),
        reason: e.to_string(),
    })?;
    Ok(Arc::new(store))
}

/// The staging directory of destination `to`: a hidden sibling, so the rename is on one file
/// system.
pub fn staging_dir(to: &Path) -> Result<PathBuf, FetchError> {
    let name = to
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .ok_or_else(|| FetchError::Destination {
            path: to.to_path_buf(),
            reason: "the destination must end in a directory name".into(),
        })?;
    Ok(to.with_file_name(format!(".{name}.fetching")))
}

/// Downloads the day published under `prefix` of `store` into `to` (see the module docs).
pub async fn fetch_day(
    store: Arc<dyn ObjectStore>,
    prefix: &ObjectPath,
    to: &Path,
    options: &FetchOptions,
) -> Result<FetchReport, FetchError> {
    let staging = staging_dir(to)?;
    let meta_path = prefix.clone().join(files::META);
    let meta_bytes = get_small(&store, &meta_path, files::META, MAX_META_BYTES).await?;
    if let Some(expected) = options.expected_date {
        // Only the date is read here; the whole manifest is checked once it is staged.
        let found = aml_core::meta::Meta::from_json_bytes(&meta_bytes)
            .map_err(|e| aml_core::BatchError::BadMeta {
                reason: e.to_string(),
            })
            .and_then(|meta| meta.date())
            .map_err(|e| FetchError::Meta(Box::new(e)))?;
        if found != expected {
            return Err(FetchError::WrongDay { expected, found });
        }
    }
    if to.exists() {
        return check_existing(to, &meta_bytes);
    }
    if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    match std::fs::create_dir(&staging) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(&staging)(e)),
    }
    // One fetch per day at a time: a second run fails fast instead of writing the same files.
    let lock_path = staging.join(".lock");
    let lock = std::fs::File::create(&lock_path).map_err(io(&lock_path))?;
    lock.try_lock().map_err(|_| FetchError::Destination {
        path: staging.clone(),
        reason: "another fetch of this day is running".into(),
    })?;
    // Rewritten on every run from the published bytes, so a plain write is enough: a run that
    // crashes mid-write leaves a truncated META.json that the next run replaces (an atomic write's
    // temporary file would instead be a stray name in the staging directory).
    let meta_file = staging.join(files::META);
    std::fs::write(&meta_file, &meta_bytes).map_err(io(&meta_file))?;
    let meta = aml_core::read::read_meta(&staging).map_err(|e| FetchError::Meta(Box::new(e)))?;
    check_staging(&staging, &meta)?;
    let listed: Vec<(String, String)> = meta
        .sha256
        .iter()
        .map(|(name, hash)| (name.clone(), hash.to_ascii_lowercase()))
        .collect();
    let mut fetched: Vec<FetchedFile> = futures::stream::iter(listed)
        .map(|(name, expected)| {
            let store = Arc::clone(&store);
            let location = prefix.clone().join(name.as_str());
            let staging = staging.clone();
            let limit = options.max_file_bytes;
            async move { fetch_file(store, location, staging, name, expected, limit).await }
        })
        .buffer_unordered(options.concurrency.max(1))
        .try_collect()
        .await?;
    fetched.sort_by(|a, b| a.name.cmp(&b.name));
    drop(lock);
    std::fs::remove_file(&lock_path).map_err(io(&lock_path))?;
    sync_dir(&staging).map_err(io(&staging))?;
    std::fs::rename(&staging, to).map_err(io(to))?;
    if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent).map_err(io(parent))?;
    }
    Ok(FetchReport {
        dir: to.to_path_buf(),
        already_complete: false,
        files: fetched,
    })
}

/// Makes a directory's entries (a rename into it) durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// An existing destination is accepted only when it is this very day, complete and verified.
fn check_existing(to: &Path, meta_bytes: &[u8]) -> Result<FetchReport, FetchError> {
    let refuse = |reason: String| FetchError::Destination {
        path: to.to_path_buf(),
        reason,
    };
    let local = std::fs::read(to.join(files::META)).map_err(|e| {
        refuse(format!(
            "exists but has no readable META.json ({e}); not replaced"
        ))
    })?;
    if local != meta_bytes {
        return Err(refuse(
            "exists with another META.json than the published one; not replaced (move it away to fetch again)"
                .into(),
        ));
    }
    let meta = aml_core::read::read_meta(to).map_err(|e| refuse(e.to_string()))?;
    aml_core::read::verify_hashes(to, &meta).map_err(|e| refuse(format!("{e}; not replaced")))?;
    Ok(FetchReport {
        dir: to.to_path_buf(),
        already_complete: true,
        files: Vec::new(),
    })
}

/// The staging directory may hold only what a fetch writes there: META.json, the listed files,
/// their `.part` files and the lock. Anything else means it is not ours: leave it alone.
fn check_staging(staging: &Path, meta: &aml_core::meta::Meta) -> Result<(), FetchError> {
    for entry in std::fs::read_dir(staging).map_err(io(staging))? {
        let entry = entry.map_err(io(staging))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let base = name.strip_suffix(".part").unwrap_or(&name);
        let ours = name == files::META || name == ".lock" || meta.sha256.contains_key(base);
        if !ours || !entry.file_type().map_err(io(staging))?.is_file() {
            return Err(FetchError::Destination {
                path: staging.to_path_buf(),
                reason: format!("holds `{name}`, which a fetch never writes; remove it by hand"),
            });
        }
    }
    Ok(())
}

fn store_error(file: &str) -> impl FnOnce(object_store::Error) -> FetchError + '_ {
    move |e| FetchError::Store {
        file: file.to_string(),
        source: Box::new(e),
    }
}

/// A whole small object, refused above `limit` bytes.
async fn get_small(
    store: &Arc<dyn ObjectStore>,
    location: &ObjectPath,
    file: &str,
    limit: u64,
) -> Result<Vec<u8>, FetchError> {
    let head = store.head(location).await.map_err(store_error(file))?;
    if head.size > limit {
        return Err(FetchError::TooLarge {
            file: file.to_string(),
            size: head.size,
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(head.size as usize);
    let mut stream = store
        .get(location)
        .await
        .map_err(store_error(file))?
        .into_stream();
    while let Some(chunk) = stream.try_next().await.map_err(store_error(file))? {
        if bytes.len() as u64 + chunk.len() as u64 > limit {
            return Err(FetchError::Oversent {
                file: file.to_string(),
                size: head.size,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The sha256 of a local file, off the async threads.
async fn sha256_of(path: PathBuf) -> Result<String, FetchError> {
    let result = tokio::task::spawn_blocking({
        let path = path.clone();
        move || aml_core::io::sha256_file(&path)
    })
    .await
    .map_err(|e| io(&path)(std::io::Error::other(e)))?;
    result.map_err(io(&path))
}

/// One listed file into `staging/name`: kept when a verified copy is there, else downloaded
/// into `name.part` (continuing an earlier partial download), verified, then renamed.
async fn fetch_file(
    store: Arc<dyn ObjectStore>,
    location: ObjectPath,
    staging: PathBuf,
    name: String,
    expected: String,
    limit: u64,
) -> Result<FetchedFile, FetchError> {
    let head = store.head(&location).await.map_err(store_error(&name))?;
    let size = head.size;
    if size > limit {
        return Err(FetchError::TooLarge {
            file: name,
            size,
            limit,
        });
    }
    let done = staging.join(&name);
    let part = staging.join(format!("{name}.part"));
    if done.is_file() && sha256_of(done.clone()).await? == expected {
        return Ok(FetchedFile {
            name,
            bytes: size,
            downloaded: 0,
            resumed: false,
        });
    }
    let mut downloaded = 0;
    let mut resumed = false;
    // A partial file continues where it stopped; if the result does not verify (the object
    // changed, or the partial bytes were bad), the whole file is downloaded once more.
    let mut first_attempt = true;
    loop {
        let have = match std::fs::metadata(&part) {
            Ok(m) if first_attempt && m.len() <= size => m.len(),
            Ok(_) => {
                std::fs::remove_file(&part).map_err(io(&part))?;
                0
            }
            Err(_) => 0,
        };
        resumed |= have > 0;
        if have < size {
            downloaded +=
                download(&store, &location, &part, &name, have, size, &head.e_tag).await?;
        }
        let actual = sha256_of(part.clone()).await?;
        if actual == expected {
            std::fs::File::open(&part)
                .and_then(|f| f.sync_all())
                .map_err(io(&part))?;
            std::fs::rename(&part, &done).map_err(io(&done))?;
            return Ok(FetchedFile {
                name,
                bytes: size,
                downloaded,
                resumed,
            });
        }
        if !first_attempt || have == 0 {
            std::fs::remove_file(&part).map_err(io(&part))?;
            return Err(FetchError::HashMismatch {
                file: name,
                expected,
                actual,
            });
        }
        first_attempt = false;
    }
}

/// Appends bytes `have..size` of `location` to `part`; returns the number written.
async fn download(
    store: &Arc<dyn ObjectStore>,
    location: &ObjectPath,
    part: &Path,
    name: &str,
    have: u64,
    size: u64,
    e_tag: &Option<String>,
) -> Result<u64, FetchError> {
    let options = GetOptions {
        range: (have > 0).then_some(GetRange::Offset(have)),
        // The object must still be the one whose size was checked.
        if_match: e_tag.clone(),
        ..GetOptions::default()
    };
    let mut stream = store
        .get_opts(location, options)
        .await
        .map_err(store_error(name))?
        .into_stream();
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(part)
        .await
        .map_err(io(part))?;
    let mut written = 0u64;
    while let Some(chunk) = stream.try_next().await.map_err(store_error(name))? {
        if have + written + chunk.len() as u64 > size {
            return Err(FetchError::Oversent {
                file: name.to_string(),
                size,
            });
        }
        file.write_all(&chunk).await.map_err(io(part))?;
        written += chunk.len() as u64;
    }
    file.flush().await.map_err(io(part))?;
    Ok(written)
}
