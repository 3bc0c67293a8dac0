//! `aml-miner config --print`: the effective configuration (defaults, file, `AML_MINER__*`
//! variables) as TOML, secrets redacted.

use super::CliError;
use crate::config::MinerConfig;

/// Options of `config`.
#[derive(clap::Parser, Debug, Clone)]
#[command(about = "Show the effective configuration (secrets redacted)")]
pub struct Args {
    /// Print the effective configuration as TOML.
    #[arg(long)]
    pub print: bool,
}

/// Prints `config` (already loaded and checked) when asked; without `--print` it only says the
/// configuration is valid.
pub fn run(args: &Args, config: &MinerConfig) -> Result<(), CliError> {
    if args.print {
        print!("{}", config.to_toml_redacted());
    } else {
        println!("configuration is valid (show it with `aml-miner config --print`)");
    }
    Ok(())
}
