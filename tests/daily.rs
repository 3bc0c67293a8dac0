//! `aml-miner run-daily` (issue 17, the daily loop) on object_store's in-memory store: a cycle
//! fetches, verifies and scores into the store, and a second run changes nothing; an unpublished
//! day is "not yet"; a crash between steps is finished by the next run; a retraining switches
//! only when the candidate is not worse, records its decision and prunes to K bundles without
//! touching the active or foreign directories; the ACTIVE pointer cannot leave the bundles
//! directory; one process at a time; the served bundle swaps in place.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use aml_core::date::Date;
use aml_miner::config::MinerConfig;
use aml_miner::daily::{
    decide, is_bundle_name, CycleOutcome, Daily, DailyError, DailyOptions, ACTIVE_FILE,
    DECISION_SUFFIX,
};
use aml_miner::service::{router, AppState, Store};
use aml_models::Bundle;
use aml_synth::write_batch;
use aml_train::pipeline::{load_history, train_bundle, TrainConfig};
use axum::body::Body;
use axum::http::Request;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tower::ServiceExt;

const KEY_HEX: &str = "1111111111111111111111111111111111111111111111111111111111111111";

/// The processing date of synthetic day `index` (the world starts on 2025-10-01).
fn date(index: usize) -> Date {
    Date::from_days_since_epoch(
        i64::from(Date::parse("2025-10-01").unwrap().days_since_epoch()) + index as i64,
    )
    .unwrap()
}

/// A miner's directories under `root`, with `models` as the fallback bundle.
struct Miner {
    root: PathBuf,
    source: Arc<dyn ObjectStore>,
    config: MinerConfig,
}

impl Miner {
    fn new(root: &Path, models: &Path) -> Miner {
        let key = root.join("key");
        std::fs::write(&key, KEY_HEX).unwrap();
        let mut config = MinerConfig {
            store: Some(root.join("store")),
            models: models.to_path_buf(),
            key_file: Some(key),
            ..MinerConfig::default()
        };
        config.source.url = Some("s3://sot-data/torus/".into());
        config.source.batches = root.join("batches");
        config.training.bundles = root.join("bundles");
        config.training.history_days = 2;
        config.training.holdout_days = 1;
        config.training.every_days = 7;
        config.training.keep_bundles = 2;
        Miner {
            root: root.to_path_buf(),
            source: Arc::new(InMemory::new()),
            config,
        }
    }

    /// Publishes synthetic day `index` (labelled or not) under `torus/<date>/`.
    fn publish(&self, index: usize, labels: bool) {
        let dir = write_batch(
            &self.root.join("published").join(index.to_string()),
            &common::world(labels),
            index,
        )
        .unwrap();
        let prefix = ObjectPath::from(format!("torus/{}", date(index)));
        futures::executor::block_on(async {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                let name = entry.file_name().into_string().unwrap();
                let bytes = std::fs::read(entry.path()).unwrap();
                self.source
                    .put(&prefix.clone().join(name.as_str()), PutPayload::from(bytes))
                    .await
                    .unwrap();
            }
        });
    }

    fn daily(&self, train: TrainConfig) -> Daily {
        let options = DailyOptions {
            rescore: false,
            train_config: Some(train),
        };
        Daily::new(
            &self.config,
            self.source.clone(),
            ObjectPath::from("torus"),
            options,
        )
        .unwrap()
    }

    fn bundles(&self) -> &Path {
        &self.config.training.bundles
    }

    fn active_pointer(&self) -> Option<String> {
        std::fs::read_to_string(self.bundles().join(ACTIVE_FILE))
            .ok()
            .map(|s| s.trim().to_string())
    }
}

fn run(daily: &Daily, index: usize) -> aml_miner::daily::CycleReport {
    daily
        .run_cycle(date(index), &AtomicBool::new(false))
        .unwrap()
}

/// Every file below `dir`, with its bytes and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                let modified = entry.metadata().unwrap().modified().unwrap();
                out.insert(path.clone(), (std::fs::read(&path).unwrap(), modified));
            }
        }
    }
    out
}

fn shipped_models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("trained_models")
}

/// Trees cut to 1 round of 2 leaves: a deliberately weak model.
fn weak_config() -> TrainConfig {
    let mut c = common::small_config(5, 1, 1);
    for p in c.model_params_mut() {
        p.num_leaves = 2;
        p.learning_rate = 0.01;
    }
    c
}

fn good_config() -> TrainConfig {
    common::small_config(11, 20, 5)
}

/// A weak bundle trained on three labelled days of another seed, saved under a temp directory.
fn weak_bundle() -> &'static (tempfile::TempDir, PathBuf) {
    static WEAK: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    WEAK.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        let world = aml_synth::SynthConfig {
            seed: 77,
            ..common::world(true)
        };
        let days: Vec<PathBuf> = (0..3)
            .map(|d| write_batch(&root.path().join(format!("h{d}")), &world, d).unwrap())
            .collect();
        let report =
            train_bundle(load_history(&days).unwrap(), &weak_config(), &mut |_| {}).unwrap();
        let dir = root.path().join("weak");
        report.bundle.save(&dir, &[]).unwrap();
        (root, dir)
    })
}

/// A miner with the shipped fallback bundle and unlabelled day 0 published.
fn one_published_day(root: &Path) -> (Miner, Daily) {
    let miner = Miner::new(root, &shipped_models());
    miner.publish(0, false);
    let daily = miner.daily(good_config());
    (miner, daily)
}

#[test]
fn a_cycle_fetches_and_scores_then_a_second_run_does_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (_miner, daily) = one_published_day(tmp.path());
    let report = run(&daily, 0);
    assert_eq!(report.outcome, CycleOutcome::Done);
    assert!(report.step("fetch").unwrap().outcome.starts_with("fetched"));
    assert!(report.step("score").unwrap().outcome.starts_with("scored"));
    // No labelled day: a retraining is due (no trained bundle yet) but cannot run.
    assert!(
        report
            .step("retrain")
            .unwrap()
            .outcome
            .starts_with("skipped"),
        "{:?}",
        report.steps
    );
    let shipped = Bundle::load(&shipped_models()).unwrap();
    let store = Store::new(tmp.path().join("store"));
    assert_eq!(store.dates().unwrap(), vec![date(0)]);
    let receipt = store.receipt(date(0)).unwrap();
    assert_eq!(receipt.model_version, shipped.version());
    assert_eq!(
        receipt.batch_hash(),
        Some(
            aml_core::io::batch_hash(&tmp.path().join("batches").join(date(0).to_string()))
                .unwrap()
                .as_str()
        )
    );
    let before = snapshot(tmp.path());
    let again = run(&daily, 0);
    assert_eq!(again.outcome, CycleOutcome::Done);
    assert_eq!(again.step("fetch").unwrap().outcome, "present, verified");
    assert!(again.step("score").unwrap().outcome.starts_with("skipped"));
    assert_eq!(snapshot(tmp.path()), before, "a second run changes no file");
}

#[test]
fn an_unpublished_day_is_not_yet_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (_miner, daily) = one_published_day(tmp.path());
    let report = run(&daily, 1);
    assert_eq!(report.outcome, CycleOutcome::NotYetPublished);
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.steps[0].outcome, "not yet published");
    assert!(!tmp
        .path()
        .join("batches")
        .join(date(1).to_string())
        .exists());
    assert!(!tmp.path().join("store").exists());
}

#[test]
fn a_day_published_under_another_date_is_refused_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (miner, daily) = one_published_day(tmp.path());
    // Day 0's files, misplaced under day 1's prefix.
    futures::executor::block_on(async {
        let from = ObjectPath::from(format!("torus/{}", date(0)));
        let to = ObjectPath::from(format!("torus/{}", date(1)));
        let objects: Vec<_> = futures::TryStreamExt::try_collect(miner.source.list(Some(&from)))
            .await
            .unwrap();
        assert!(objects.len() >= 5, "META.json and the four tables");
        for object in objects {
            let name = object.location.filename().unwrap().to_string();
            let bytes = miner
                .source
                .get(&object.location)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            miner
                .source
                .put(&to.clone().join(name.as_str()), PutPayload::from(bytes))
                .await
                .unwrap();
        }
    });
    let err = daily
        .run_cycle(date(1), &AtomicBool::new(false))
        .unwrap_err();
    assert!(
        matches!(&err, DailyError::Fetch(e) if matches!(**e, aml_miner::fetch::FetchError::WrongDay { .. })),
        "{err}"
    );
    let batches = tmp.path().join("batches");
    assert!(!batches.join(date(1).to_string()).exists());
    assert!(
        !aml_miner::fetch::staging_dir(&batches.join(date(1).to_string()))
            .unwrap()
            .exists()
    );
    assert!(!tmp.path().join("store").exists());
}

#[test]
fn a_stopped_cycle_ends_between_steps_and_the_next_run_finishes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (_miner, daily) = one_published_day(tmp.path());
    let report = daily.run_cycle(date(0), &AtomicBool::new(true)).unwrap();
    assert_eq!(report.outcome, CycleOutcome::Stopped);
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.steps[0].outcome, "stopped");
    assert!(!tmp.path().join("store").exists());
    let report = run(&daily, 0);
    assert_eq!(report.outcome, CycleOutcome::Done);
    assert!(report.step("score").unwrap().outcome.starts_with("scored"));
}

#[test]
fn a_crash_between_steps_is_finished_by_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (_miner, daily) = one_published_day(tmp.path());
    run(&daily, 0);
    let day_dir = tmp.path().join("batches").join(date(0).to_string());
    let store_day = tmp.path().join("store").join(date(0).to_string());
    let scores = std::fs::read(store_day.join("scores.parquet")).unwrap();

    // Crash after the fetch, before the score: the store day is missing.
    std::fs::remove_dir_all(&store_day).unwrap();
    let report = run(&daily, 0);
    assert_eq!(report.step("fetch").unwrap().outcome, "present, verified");
    assert!(report.step("score").unwrap().outcome.starts_with("scored"));
    assert_eq!(
        std::fs::read(store_day.join("scores.parquet")).unwrap(),
        scores
    );

    // Crash in the middle of the fetch: a staging directory with META.json and half a file.
    let staging = aml_miner::fetch::staging_dir(&day_dir).unwrap();
    std::fs::create_dir(&staging).unwrap();
    std::fs::copy(day_dir.join("META.json"), staging.join("META.json")).unwrap();
    let alerts = std::fs::read(day_dir.join("alerts.parquet")).unwrap();
    std::fs::write(
        staging.join("alerts.parquet.part"),
        &alerts[..alerts.len() / 2],
    )
    .unwrap();
    std::fs::remove_dir_all(&day_dir).unwrap();
    std::fs::remove_dir_all(&store_day).unwrap();
    let report = run(&daily, 0);
    assert!(report.step("fetch").unwrap().outcome.starts_with("fetched"));
    assert!(!staging.exists());
    assert_eq!(
        std::fs::read(day_dir.join("alerts.parquet")).unwrap(),
        alerts
    );
    assert_eq!(
        std::fs::read(store_day.join("scores.parquet")).unwrap(),
        scores
    );
}

#[test]
fn retraining_switches_only_when_not_worse_and_prunes_to_k() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, weak_dir) = weak_bundle();
    let weak_version = Bundle::load(weak_dir).unwrap().version().to_string();
    let mut miner = Miner::new(tmp.path(), weak_dir);
    for index in 0..4 {
        miner.publish(index, true);
    }
    {
        let daily = miner.daily(good_config());
        // Days 0 and 1: too few labelled days for a retraining (held-out + validation + fit).
        for index in 0..2 {
            let report = run(&daily, index);
            assert_eq!(report.outcome, CycleOutcome::Done, "{:?}", report.steps);
            assert!(report
                .step("retrain")
                .unwrap()
                .outcome
                .starts_with("skipped"));
        }
        assert_eq!(miner.active_pointer(), None);
        // Day 2: train on days 0-1 (history 2), hold day 2 out, beat the weak fallback.
        let report = run(&daily, 2);
        let decision = report.decision.clone().expect("a decision");
        assert!(decision.switches(), "{decision:?}");
        assert_eq!(decision.active, format!("models:{}", weak_dir.display()));
        assert_eq!(decision.active_metrics.version, weak_version);
        assert_eq!(decision.held_out_days, vec![date(2).to_string()]);
        assert_eq!(
            decision.train_days,
            vec![date(0).to_string(), date(1).to_string()]
        );
        assert!(decision.candidate_metrics.tau >= decision.active_metrics.tau);
        let name = miner.active_pointer().expect("ACTIVE written");
        assert_eq!(name, decision.candidate);
        assert!(is_bundle_name(&name) && name.starts_with(&date(2).to_string()));
        assert_eq!(report.active_version, &name[11..]);
        let file = miner.bundles().join(format!("{name}{DECISION_SUFFIX}"));
        let recorded: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(recorded["decision"], "switch");
        assert!(recorded["candidate_metrics"]["days"][0]["auc"].is_number());
        assert!(recorded["active_metrics"]["tau"].is_number());

        // Crash after the decision, before ACTIVE moved: the next run only finishes the switch.
        std::fs::remove_file(miner.bundles().join(ACTIVE_FILE)).unwrap();
        let bundle_files = snapshot(&miner.bundles().join(&name));
        let report = run(&daily, 2);
        assert!(report
            .step("retrain")
            .unwrap()
            .outcome
            .starts_with("skipped: decided today"));
        assert!(report.step("switch").is_some());
        assert_eq!(miner.active_pointer().as_deref(), Some(name.as_str()));

        // Crash after saving the candidate, before deciding: the saved bundle is judged, not
        // trained again.
        std::fs::remove_file(miner.bundles().join(ACTIVE_FILE)).unwrap();
        std::fs::remove_file(&file).unwrap();
        let report = run(&daily, 2);
        assert!(report.decision.as_ref().unwrap().switches());
        assert_eq!(miner.active_pointer().as_deref(), Some(name.as_str()));
        assert_eq!(snapshot(&miner.bundles().join(&name)), bundle_files);

        // Decided today: a re-run changes nothing.
        let before = snapshot(tmp.path());
        let report = run(&daily, 2);
        assert!(report.decision.is_none());
        assert_eq!(snapshot(tmp.path()), before);

        // Day 3 with the weekly schedule: not due (the active bundle's last day is day 1).
        let report = run(&daily, 3);
        assert!(
            report
                .step("retrain")
                .unwrap()
                .outcome
                .starts_with("not due"),
            "{:?}",
            report.steps
        );
    }
    let good = miner.active_pointer().unwrap();

    // Day 3 with the schedule cut to 1 day and a weak training: the candidate is worse.
    miner.config.training.every_days = 1;
    // Foreign things in the bundles directory, and an old bundle of ours.
    let foreign = [
        "notes",
        "2025-09-01-zzzzzzzzzzzz",
        "2025-09-02-aaaaaaaaaaaa",
    ];
    for name in foreign {
        std::fs::create_dir_all(miner.bundles().join(name)).unwrap();
        std::fs::write(miner.bundles().join(name).join("keep.txt"), "mine").unwrap();
    }
    let old = miner.bundles().join("2025-09-03-aaaaaaaaaaaa");
    Bundle::load(weak_dir).unwrap().save(&old, &[]).unwrap();
    {
        let daily = miner.daily(weak_config());
        let report = run(&daily, 3);
        let decision = report.decision.clone().expect("a decision");
        assert!(!decision.switches(), "{decision:?}");
        assert!(decision.reason.contains("worse"), "{}", decision.reason);
        assert_eq!(decision.active, good);
        assert_eq!(miner.active_pointer().as_deref(), Some(good.as_str()));
        let recorded: serde_json::Value = serde_json::from_slice(
            &std::fs::read(
                miner
                    .bundles()
                    .join(format!("{}{DECISION_SUFFIX}", decision.candidate)),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(recorded["decision"], "keep");
        // keep_bundles 2: the active and the newer (rejected) candidate; the old one goes.
        assert!(!old.exists());
        assert!(miner.bundles().join(&good).is_dir());
        assert!(miner.bundles().join(&decision.candidate).is_dir());
    }
    // keep_bundles 1: only the active one stays, though the rejected candidate is newer.
    miner.config.training.keep_bundles = 1;
    {
        let daily = miner.daily(weak_config());
        run(&daily, 3);
    }
    let mut ours: Vec<String> = std::fs::read_dir(miner.bundles())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| is_bundle_name(n) && miner.bundles().join(n).join("metadata.json").is_file())
        .collect();
    ours.sort();
    assert_eq!(ours, vec![good.clone()]);
    for name in foreign {
        assert_eq!(
            std::fs::read_to_string(miner.bundles().join(name).join("keep.txt")).unwrap(),
            "mine",
            "{name} is not ours and stays"
        );
    }

    // Every 2 days: on day 4 the active bundle's last training day (day 1) is old enough, but a
    // candidate was judged (and kept out) on day 3, so the next retraining waits for day 5.
    miner.config.training.every_days = 2;
    miner.publish(4, true);
    let decisions = |miner: &Miner| {
        std::fs::read_dir(miner.bundles())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_str().unwrap().ends_with(DECISION_SUFFIX)
            })
            .count()
    };
    let before = decisions(&miner);
    let report = run(&miner.daily(weak_config()), 4);
    let retrain = &report.step("retrain").unwrap().outcome;
    assert!(
        retrain.starts_with(&format!("not due: last decision on {}", date(3))),
        "{retrain}"
    );
    assert!(report.decision.is_none());
    assert_eq!(decisions(&miner), before);
    assert_eq!(miner.active_pointer().as_deref(), Some(good.as_str()));
}

#[test]
fn the_active_pointer_never_leaves_the_bundles_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let miner = Miner::new(tmp.path(), &shipped_models());
    let daily = miner.daily(good_config());
    let outside = tmp.path().join("outside");
    Bundle::load(&shipped_models())
        .unwrap()
        .save(&outside, &[])
        .unwrap();
    for pointer in [
        "../outside".to_string(),
        outside.display().to_string(),
        "2025-10-01-aaaaaaaaaaaa/../../outside".into(),
        "2025-10-01-aaaaaaaaaaaa".into(), // the right shape, but no such bundle
    ] {
        std::fs::write(miner.bundles().join(ACTIVE_FILE), &pointer).unwrap();
        match daily.active() {
            Err(DailyError::ActivePointer { .. }) => {}
            other => panic!("{pointer}: expected a refusal, got {other:?}"),
        }
    }
}

#[test]
fn a_second_run_daily_fails_fast() {
    let tmp = tempfile::tempdir().unwrap();
    let miner = Miner::new(tmp.path(), &shipped_models());
    let first = miner.daily(good_config());
    let second = Daily::new(
        &miner.config,
        miner.source.clone(),
        ObjectPath::from("torus"),
        DailyOptions::default(),
    );
    assert!(
        matches!(second, Err(DailyError::Locked { .. })),
        "{second:?}"
    );
    drop(first);
    miner.daily(good_config());
}

fn served_version(app: &axum::Router, runtime: &tokio::runtime::Runtime) -> String {
    runtime.block_on(async {
        let response = app
            .clone()
            .oneshot(Request::get("/version").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        value["bundle_version"].as_str().unwrap().to_string()
    })
}

#[test]
fn the_served_bundle_swaps_in_place_after_a_switch() {
    let tmp = tempfile::tempdir().unwrap();
    let miner = Miner::new(tmp.path(), &shipped_models());
    let daily = miner.daily(good_config());
    let shipped = Bundle::load(&shipped_models()).unwrap();
    let state = Arc::new(AppState::new(
        daily.active().unwrap().bundle,
        daily.store().clone(),
    ));
    let app = router(state.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(served_version(&app, &runtime), shipped.version());
    assert!(
        !daily.refresh_served(&state).unwrap(),
        "nothing to swap yet"
    );
    // A switch: ACTIVE now names another bundle.
    let weak = Bundle::load(&weak_bundle().1).unwrap();
    let in_flight = state.bundle();
    let name = format!("2025-10-05-{}", weak.version());
    weak.save(&miner.bundles().join(&name), &[]).unwrap();
    aml_core::io::atomic_write(&miner.bundles().join(ACTIVE_FILE), name.as_bytes()).unwrap();
    assert!(daily.refresh_served(&state).unwrap());
    assert_eq!(served_version(&app, &runtime), weak.version());
    // A request that started before keeps its snapshot.
    assert_eq!(in_flight.version(), shipped.version());
}

#[test]
fn not_worse_is_tau_at_least_the_active_one() {
    assert!(decide(0.8, 0.8).0);
    assert!(decide(0.81, 0.8).0);
    assert!(!decide(0.79, 0.8).0);
    assert!(!decide(f64::NAN, 0.8).0);
    assert!(!decide(f64::NAN, f64::NAN).0);
    assert!(decide(0.5, f64::NAN).0);
}

#[test]
fn config_keys_of_the_loop() {
    let config = MinerConfig::from_toml_str(
        "[daily]\npoll_minutes = 5\n[training]\nholdout_days = 2\nconfig = \"train.json\"\n",
    )
    .unwrap();
    assert_eq!(config.daily.poll_minutes, 5);
    assert_eq!(config.training.holdout_days, 2);
    assert_eq!(
        config.training.config.as_deref(),
        Some(Path::new("train.json"))
    );
    for bad in [
        "[daily]\npoll_minutes = 0\n",
        "[training]\nholdout_days = 0\n",
    ] {
        let err = MinerConfig::from_toml_str(bad).unwrap_err().to_string();
        assert!(err.contains("must be at least 1"), "{err}");
    }
    let err = MinerConfig::from_toml_str("[daily]\npoll = 5\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("poll"), "{err}");
}

#[test]
fn missing_store_or_unreadable_key_is_a_config_error_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let miner = Miner::new(tmp.path(), &shipped_models());
    let new = |config: &MinerConfig| {
        Daily::new(
            config,
            miner.source.clone(),
            ObjectPath::from("torus"),
            DailyOptions::default(),
        )
    };
    let mut no_store = miner.config.clone();
    no_store.store = None;
    let mut no_key = miner.config.clone();
    no_key.key_file = Some(tmp.path().join("missing-key"));
    for (config, key) in [(no_store, "store"), (no_key, "key_file")] {
        match new(&config) {
            Err(e @ DailyError::Config { .. }) => {
                assert!(e.to_string().contains(&format!("`{key}`")), "{e}")
            }
            other => panic!("{key}: expected a config error, got {other:?}"),
        }
    }
}
