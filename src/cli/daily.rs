//! `aml-miner run-daily`: the unattended miner's daily loop (see [`crate::daily`]).
//!
//! Without `--once` it serves HTTP (the `serve` service, `[server]` of the config) and runs a
//! cycle for today (UTC) on a schedule: every `daily.poll_minutes` minutes until today is done,
//! then again when the next UTC day begins. After a retraining switched bundles the served bundle
//! is swapped in place, without a restart. SIGINT / SIGTERM stop the server and end the running
//! cycle between two steps. `--once [--date D]` runs one cycle and exits (cron, systemd timers):
//! a day not published yet, or a cycle stopped by a signal, exits with [`EXIT_NOT_YET_PUBLISHED`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aml_core::date::Date;

use super::CliError;
use crate::config::MinerConfig;
use crate::daily::{CycleOutcome, CycleReport, Daily, DailyOptions};
use crate::service::{serve, shutdown_signal, AppState};

/// Exit code of `run-daily --once` when the day is not published yet or a signal stopped the
/// cycle (sysexits' `EX_TEMPFAIL`: try again later).
pub const EXIT_NOT_YET_PUBLISHED: u8 = 75;

/// Options of `run-daily`.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    about = "The daily loop: fetch, verify, score into the store, retrain when due, keep serving"
)]
pub struct Args {
    /// Run one cycle and exit (no server).
    #[arg(long)]
    pub once: bool,
    /// The processing date of the cycle (`YYYY-MM-DD`) [default: today, UTC].
    #[arg(long, requires = "once")]
    pub date: Option<String>,
    /// Re-score a stored day that another bundle scored, with the active bundle.
    #[arg(long)]
    pub rescore: bool,
}

/// How `run-daily` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// The cycle (or the loop) ended normally.
    Done,
    /// `--once`: the day is not published yet.
    NotYetPublished(Date),
    /// `--once`: a signal stopped the cycle between two steps; running it again finishes it.
    Stopped(Date),
}

/// Runs `run-daily` as `args` and `config` say.
pub fn run(args: &Args, config: &MinerConfig) -> Result<Ran, CliError> {
    let date = match &args.date {
        Some(text) => {
            Date::parse(text).map_err(|e| CliError::Usage(format!("--date {text}: {e}")))?
        }
        None => Date::today_utc(),
    };
    let daily = Daily::from_config(
        config,
        DailyOptions {
            rescore: args.rescore,
            train_config: None,
        },
    )?;
    if args.once {
        return once(&daily, date);
    }
    serve_and_loop(daily, config)
}

fn once(daily: &Daily, date: Date) -> Result<Ran, CliError> {
    // SIGINT / SIGTERM set the stop flag: the cycle ends after its current step.
    let stop = Arc::new(AtomicBool::new(false));
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            signals.block_on(shutdown_signal());
            tracing::warn!("signal received: run-daily stops after the current step");
            stop.store(true, Ordering::SeqCst);
        });
    }
    let report = daily.run_cycle(date, &stop)?;
    print_report(&report);
    Ok(match report.outcome {
        CycleOutcome::NotYetPublished => Ran::NotYetPublished(date),
        CycleOutcome::Stopped => Ran::Stopped(date),
        CycleOutcome::Done => Ran::Done,
    })
}

fn print_report(report: &CycleReport) {
    for step in &report.steps {
        println!(
            "{} {:<8} {:>8.3} s  {}",
            report.date, step.step, step.seconds, step.outcome
        );
    }
    println!(
        "{} {:?}; active bundle {}",
        report.date, report.outcome, report.active_version
    );
}

/// Seconds until the next UTC midnight (at least 1).
fn until_next_day() -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Duration::from_secs((86_400 - now % 86_400).max(1))
}

/// The scheduler: a cycle for today until it is done, then wait for the next day. Runs on its own
/// thread (cycles are long, blocking work); `wake` ends a wait early, `stop` ends the loop.
fn schedule(
    daily: Daily,
    state: Arc<AppState>,
    stop: Arc<AtomicBool>,
    wake: Receiver<()>,
    poll: Duration,
) {
    let mut done: Option<Date> = None;
    while !stop.load(Ordering::SeqCst) {
        let today = Date::today_utc();
        let wait = if done == Some(today) {
            until_next_day()
        } else {
            match daily.run_cycle(today, &stop) {
                Ok(report) => {
                    match daily.refresh_served(&state) {
                        Ok(true) => tracing::info!(
                            date = %today,
                            step = "serve",
                            outcome = "swapped the served bundle",
                            bundle = %state.bundle().version(),
                            "run-daily step"
                        ),
                        Ok(false) => {}
                        Err(e) => {
                            tracing::error!(date = %today, step = "serve", error = %e, "run-daily step failed")
                        }
                    }
                    match report.outcome {
                        CycleOutcome::Done => {
                            done = Some(today);
                            until_next_day()
                        }
                        CycleOutcome::NotYetPublished => poll,
                        CycleOutcome::Stopped => break,
                    }
                }
                Err(e) => {
                    tracing::error!(date = %today, error = %e, "run-daily cycle failed; retrying after the poll interval");
                    poll
                }
            }
        };
        match wake.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
        }
    }
}

fn serve_and_loop(daily: Daily, config: &MinerConfig) -> Result<Ran, CliError> {
    let active = daily.active()?;
    let state = Arc::new(AppState::with_limits(
        active.bundle,
        daily.store().clone(),
        config.limits(),
    ));
    let addr = config.server.addr.clone();
    let poll = Duration::from_secs(u64::from(config.daily.poll_minutes) * 60);
    let stop = Arc::new(AtomicBool::new(false));
    let (wake_tx, wake_rx) = channel();
    let scheduler = {
        let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
        std::thread::spawn(move || schedule(daily, state, stop, wake_rx, poll))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let shutdown = {
        let (stop, wake) = (Arc::clone(&stop), wake_tx.clone());
        async move {
            shutdown_signal().await;
            stop.store(true, Ordering::SeqCst);
            let _ = wake.send(());
        }
    };
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| CliError::Usage(format!("cannot listen on {addr}: {e}")))?;
        eprintln!(
            "aml-miner run-daily: service on http://{}, store {}",
            listener.local_addr()?,
            state.store.root().display()
        );
        serve(listener, state, shutdown).await?;
        Ok::<(), CliError>(())
    });
    // Also when the server could not start: end the scheduler between two steps.
    stop.store(true, Ordering::SeqCst);
    let _ = wake_tx.send(());
    if scheduler.join().is_err() {
        return Err(CliError::Usage("the daily scheduler panicked".into()));
    }
    served?;
    eprintln!("shut down");
    Ok(Ran::Done)
}
