//! `aml-miner fetch`: download a published day from S3 into a verified batch directory.
//!
//! `--from s3://BUCKET/PREFIX/DATE/ --to DIR`, or `--date DATE` with the config's `source.url`
//! (`s3://BUCKET/PREFIX/`, the day is `DATE/` below it) and `source.batches` (the day goes to
//! `BATCHES/DATE`). See [`crate::fetch`] for resuming, verification and atomicity.

use std::path::PathBuf;

use aml_core::date::Date;

use super::CliError;
use crate::config::MinerConfig;
use crate::fetch::{fetch_day, s3_store, FetchOptions, FetchReport, S3Url};

/// Options of `fetch`.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    about = "Download a published day from S3, resume, verify META.json hashes, write atomically"
)]
pub struct Args {
    /// The day's URL, `s3://BUCKET/PREFIX/DATE/` [default: `source.url` of the config + --date].
    #[arg(long, conflicts_with = "date")]
    pub from: Option<String>,
    /// The day (`YYYY-MM-DD`) below the config's `source.url`.
    #[arg(long)]
    pub date: Option<String>,
    /// Destination batch directory [default: `source.batches` of the config / DATE].
    #[arg(long)]
    pub to: Option<PathBuf>,
    /// Files downloaded at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
}

/// Where `args` and `config` say to fetch from and to, and the day asked for (with `--date`).
pub fn plan(args: &Args, config: &MinerConfig) -> Result<(S3Url, PathBuf, Option<Date>), CliError> {
    let usage = |m: &str| CliError::Usage(m.to_string());
    let (url, date) = match (&args.from, &args.date) {
        (Some(from), _) => (S3Url::parse(from)?, None),
        (None, Some(date)) => {
            let date = Date::parse(date).map_err(|e| usage(&format!("--date {date}: {e}")))?;
            let base =
                config.source.url.as_deref().ok_or_else(|| {
                    usage("--date needs `source.url` in the config (or pass --from)")
                })?;
            let base = S3Url::parse(base)?;
            (base.day(&date.to_string()), Some(date))
        }
        (None, None) => return Err(usage("pass --from s3://BUCKET/PREFIX/DATE/ or --date DATE")),
    };
    let to = match (&args.to, date) {
        (Some(to), _) => to.clone(),
        (None, Some(date)) => config.source.batches.join(date.to_string()),
        (None, None) => return Err(usage("--from needs --to DIR")),
    };
    Ok((url, to, date))
}

/// Fetches the day and prints what was done.
pub fn run(args: &Args, config: &MinerConfig) -> Result<FetchReport, CliError> {
    let (url, to, expected_date) = plan(args, config)?;
    let store = s3_store(&url, &config.source)?;
    let options = FetchOptions {
        concurrency: args.jobs.max(1),
        expected_date,
        ..FetchOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(fetch_day(store, &url.path(), &to, &options))?;
    if report.already_complete {
        println!(
            "{}: already complete and verified; nothing fetched",
            to.display()
        );
    } else {
        for f in &report.files {
            let how = match (f.downloaded, f.resumed) {
                (0, _) => "already staged, verified".to_string(),
                (n, true) => format!("resumed, {n} bytes downloaded"),
                (n, false) => format!("{n} bytes downloaded"),
            };
            println!("{}: {} bytes ({how})", f.name, f.bytes);
        }
        println!(
            "{}: complete, every file verified against META.json",
            to.display()
        );
    }
    Ok(report)
}
