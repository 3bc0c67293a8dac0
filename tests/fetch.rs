//! `aml-miner fetch` logic against object_store's in-memory store (the S3 client itself is
//! exercised against a real S3-compatible server by scripts/test-fetch-s3.sh): exactly the listed
//! files, verified, resumed, atomic, idempotent, and never over a directory that is not the day.

use std::path::Path;
use std::sync::Arc;

use aml_core::Batch;
use aml_miner::fetch::{fetch_day, staging_dir, FetchError, FetchOptions, S3Url};
use aml_synth::{write_batch, SynthConfig};
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// A small synthetic day written locally and published under `torus/<date>/` of a fresh store.
async fn published(tmp: &Path) -> (Arc<dyn ObjectStore>, ObjectPath, std::path::PathBuf) {
    let config = SynthConfig {
        date: "2025-10-01".into(),
        ..SynthConfig::small()
    };
    let day = write_batch(&tmp.join("published"), &config, 0).expect("synthetic day");
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let prefix = ObjectPath::from("torus/2025-10-01");
    for entry in std::fs::read_dir(&day).unwrap() {
        let entry = entry.unwrap();
        let bytes = std::fs::read(entry.path()).unwrap();
        let name = entry.file_name().into_string().unwrap();
        store
            .put(&prefix.clone().join(name.as_str()), PutPayload::from(bytes))
            .await
            .unwrap();
    }
    (store, prefix, day)
}

fn same_files(a: &Path, b: &Path) {
    let names = |d: &Path| {
        let mut n: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(a), names(b));
    for name in names(a) {
        assert_eq!(
            std::fs::read(a.join(&name)).unwrap(),
            std::fs::read(b.join(&name)).unwrap(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn fetches_a_verified_day_then_does_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, prefix, day) = published(tmp.path()).await;
    let to = tmp.path().join("batches/2025-10-01");
    let report = fetch_day(store.clone(), &prefix, &to, &FetchOptions::default())
        .await
        .unwrap();
    assert!(!report.already_complete);
    assert!(report
        .files
        .iter()
        .all(|f| f.downloaded == f.bytes && !f.resumed));
    same_files(&day, &to);
    Batch::load(&to).expect("a loadable batch");
    assert!(
        !staging_dir(&to).unwrap().exists(),
        "no staging left behind"
    );
    // A second run is a no-op.
    let again = fetch_day(store, &prefix, &to, &FetchOptions::default())
        .await
        .unwrap();
    assert!(again.already_complete && again.files.is_empty());
    same_files(&day, &to);
}

#[tokio::test]
async fn resumes_a_partial_download() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, prefix, day) = published(tmp.path()).await;
    let to = tmp.path().join("2025-10-01");
    // What a run killed mid-download leaves: a META.json cut short, one finished file, half of
    // another.
    let staging = staging_dir(&to).unwrap();
    std::fs::create_dir_all(&staging).unwrap();
    let meta = std::fs::read(day.join("META.json")).unwrap();
    std::fs::write(staging.join("META.json"), &meta[..meta.len() / 3]).unwrap();
    std::fs::copy(day.join("alerts.parquet"), staging.join("alerts.parquet")).unwrap();
    let flows = std::fs::read(day.join("money_flows.parquet")).unwrap();
    let half = flows.len() / 2;
    std::fs::write(staging.join("money_flows.parquet.part"), &flows[..half]).unwrap();
    let report = fetch_day(store, &prefix, &to, &FetchOptions::default())
        .await
        .unwrap();
    let by_name = |n: &str| report.files.iter().find(|f| f.name == n).unwrap().clone();
    assert_eq!(by_name("alerts.parquet").downloaded, 0);
    let resumed = by_name("money_flows.parquet");
    assert!(resumed.resumed);
    assert_eq!(resumed.downloaded, (flows.len() - half) as u64);
    same_files(&day, &to);
}

#[tokio::test]
async fn a_bad_partial_file_is_downloaded_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, prefix, day) = published(tmp.path()).await;
    let to = tmp.path().join("2025-10-01");
    let staging = staging_dir(&to).unwrap();
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("features.parquet.part"), b"garbage").unwrap();
    let report = fetch_day(store, &prefix, &to, &FetchOptions::default())
        .await
        .unwrap();
    let features = report
        .files
        .iter()
        .find(|f| f.name == "features.parquet")
        .unwrap();
    assert_eq!(features.downloaded, features.bytes - 7 + features.bytes);
    same_files(&day, &to);
}

#[tokio::test]
async fn a_tampered_file_is_refused_and_nothing_is_published() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, prefix, _) = published(tmp.path()).await;
    let clusters = prefix.clone().join("clusters.parquet");
    let mut bytes = store
        .get(&clusters)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let last = bytes.len() - 10;
    bytes[last] ^= 0xff;
    store.put(&clusters, PutPayload::from(bytes)).await.unwrap();
    let to = tmp.path().join("2025-10-01");
    let err = fetch_day(store, &prefix, &to, &FetchOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::HashMismatch { file, .. } if file == "clusters.parquet"),
        "{err}"
    );
    assert!(
        !to.exists(),
        "a day that does not verify is never renamed into place"
    );
}

#[tokio::test]
async fn a_day_whose_meta_names_another_date_is_refused_before_anything_is_staged() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, prefix, day) = published(tmp.path()).await;
    let to = tmp.path().join("batches/2025-10-02");
    let asked = |date: &str| FetchOptions {
        expected_date: Some(aml_core::date::Date::parse(date).unwrap()),
        ..FetchOptions::default()
    };
    let err = fetch_day(store.clone(), &prefix, &to, &asked("2025-10-02"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::WrongDay { expected, found }
            if expected.to_string() == "2025-10-02" && found.to_string() == "2025-10-01"),
        "{err}"
    );
    assert!(!to.exists(), "nothing renamed into place");
    assert!(!staging_dir(&to).unwrap().exists(), "nothing staged");
    // The same day asked for by its own date is fetched.
    let to = tmp.path().join("batches/2025-10-01");
    fetch_day(store, &prefix, &to, &asked("2025-10-01"))
        .await
        .unwrap();
    same_files(&day, &to);
}

#[tokio::test]
async fn limits_and_unsafe_names() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, prefix, _) = published(tmp.path()).await;
    let to = tmp.path().join("2025-10-01");
    let small = FetchOptions {
        max_file_bytes: 1000,
        ..FetchOptions::default()
    };
    let err = fetch_day(store.clone(), &prefix, &to, &small)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
    assert!(!to.exists());
    // A META.json naming a path outside the day is refused before anything is fetched.
    let meta_path = prefix.clone().join("META.json");
    let meta = store.get(&meta_path).await.unwrap().bytes().await.unwrap();
    let text = String::from_utf8(meta.to_vec())
        .unwrap()
        .replace("\"alerts.parquet\"", "\"../alerts.parquet\"");
    store
        .put(&meta_path, PutPayload::from(text.into_bytes()))
        .await
        .unwrap();
    let other = tmp.path().join("other/2025-10-01");
    let err = fetch_day(store, &prefix, &other, &FetchOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Meta(_)), "{err}");
    assert!(!tmp.path().join("other/alerts.parquet").exists());
}

#[tokio::test]
async fn never_replaces_what_is_not_the_day() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, prefix, _) = published(tmp.path()).await;
    let to = tmp.path().join("2025-10-01");
    std::fs::create_dir_all(&to).unwrap();
    std::fs::write(to.join("notes.txt"), b"operator's file").unwrap();
    let err = fetch_day(store.clone(), &prefix, &to, &FetchOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Destination { .. }), "{err}");
    assert_eq!(
        std::fs::read(to.join("notes.txt")).unwrap(),
        b"operator's file"
    );
    // A staging directory holding a foreign file is left alone too.
    let fresh = tmp.path().join("fresh");
    let staging = staging_dir(&fresh).unwrap();
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("keep.me"), b"x").unwrap();
    let err = fetch_day(store, &prefix, &fresh, &FetchOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("keep.me"), "{err}");
    assert!(staging.join("keep.me").exists() && !fresh.exists());
}

#[test]
fn s3_urls() {
    let url = S3Url::parse("s3://sot-data/torus/").unwrap();
    assert_eq!(url.bucket, "sot-data");
    assert_eq!(url.day("2025-10-08").prefix, "torus/2025-10-08");
    assert_eq!(S3Url::parse("s3://b").unwrap().day("d").prefix, "d");
    for bad in ["http://b/p", "s3://", "s3:///p", "s3://b/../p"] {
        assert!(S3Url::parse(bad).is_err(), "{bad}");
    }
}
