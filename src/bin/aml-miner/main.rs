//! The `aml-miner` command: one subcommand per task, each a thin call into `aml_miner::cli`.
//!
//! ```text
//! cargo install --path .
//! aml-miner generate --out DIR --days 1 [--labels]
//! aml-miner verify DIR/2025-10-30
//! aml-miner score [--batch DIR] [--models trained_models] [--out DIR | --store DIR] [--key FILE]
//! aml-miner validate --batch DIR --submission DIR
//! aml-miner train --history DIR... --out MODEL_DIR
//! aml-miner serve --models trained_models --store DIR
//! aml-miner features --batch DIR --out matrix.parquet
//! aml-miner gbdt train|predict|resave ...
//! aml-miner fetch --from s3://BUCKET/PREFIX/DATE/ --to DIR
//! aml-miner config --print
//! aml-miner run-daily [--once [--date D]] [--rescore]
//! ```
//!
//! Every subcommand reads the configuration first (`--config FILE`, else `./aml-miner.toml` when
//! present, then `AML_MINER__*` variables; see `aml_miner::config`); flags win over it.

#![deny(unsafe_code)]

use std::fmt::Display;
use std::process::ExitCode;

use aml_miner::cli::{
    config, daily, features, fetch, gbdt, generate, score, serve, train, validate, verify,
};
use aml_miner::config::MinerConfig;
use clap::{Parser, Subcommand};

mod allocator;
mod logging;

#[derive(Parser)]
#[command(
    name = "aml-miner",
    version,
    about = "Deterministic AML alert scoring for blockchain miners",
    propagate_version = true
)]
struct Cli {
    /// Miner configuration file, given before the subcommand (`aml-miner --config FILE score ...`)
    /// [default: ./aml-miner.toml when it exists]. (`train --config` is the training configuration.)
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Score(score::Args),
    Train(train::Args),
    Serve(serve::Args),
    Validate(validate::Args),
    Generate(generate::Args),
    Verify(verify::Args),
    Features(features::Args),
    /// LightGBM-style GBDT: train, predict, resave (`aml-miner gbdt --help`).
    Gbdt(gbdt::Args),
    Fetch(fetch::Args),
    Config(config::Args),
    RunDaily(daily::Args),
}

/// Exit code 0 on success; otherwise the error after the subcommand's name on stderr, and 1.
fn finish<T>(command: &str, result: Result<T, impl Display>) -> ExitCode {
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aml-miner {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    aml_miner::cli::exit_cleanly_on_closed_stdout();
    let cli = Cli::parse();
    let settings = match MinerConfig::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => return finish("config", Err::<(), _>(e)),
    };
    logging::init_with(&settings.logging);
    // Every command but the two that keep running (the service, the daily loop) does one job
    // and exits: its freed memory is kept for its own later allocations.
    let keeps_running = match &cli.command {
        Command::Serve(_) => true,
        Command::RunDaily(args) => !args.once,
        _ => false,
    };
    if !keeps_running {
        allocator::keep_freed_memory_until_exit();
    }
    match &cli.command {
        Command::Score(args) => finish("score", score::run(&args.clone().with_config(&settings))),
        Command::Train(args) => finish("train", train::run(args)),
        Command::Serve(args) => finish("serve", serve::run_with_config(args, &settings)),
        Command::Validate(args) => ExitCode::from(validate::run(args)),
        Command::Generate(args) => finish("generate", generate::run(args)),
        Command::Verify(args) => finish("verify", verify::run(args)),
        Command::Features(args) => finish("features", features::run(args)),
        Command::Gbdt(args) => finish("gbdt", gbdt::run(args)),
        Command::Fetch(args) => finish("fetch", fetch::run(args, &settings)),
        Command::Config(args) => finish("config", config::run(args, &settings)),
        Command::RunDaily(args) => match daily::run(args, &settings) {
            Ok(daily::Ran::NotYetPublished(date)) => {
                eprintln!("aml-miner run-daily: {date} is not published yet; try again later");
                ExitCode::from(daily::EXIT_NOT_YET_PUBLISHED)
            }
            Ok(daily::Ran::Stopped(date)) => {
                eprintln!("aml-miner run-daily: {date}: stopped by a signal between two steps; run again to finish");
                ExitCode::from(daily::EXIT_NOT_YET_PUBLISHED)
            }
            result => finish("run-daily", result),
        },
    }
}
