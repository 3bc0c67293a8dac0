//! The `aml-miner` command line: one module per subcommand, each an `Args` struct (clap) and a
//! `run` function. The `aml-miner` binary and the example programs are thin wrappers over these, so
//! `aml-miner score` and `cargo run --example score_batch` run the same code. Nothing here installs a
//! logging subscriber: the binaries do.

use std::io::ErrorKind;
use std::path::PathBuf;

pub mod config;
pub mod daily;
pub mod features;
pub mod fetch;
pub mod gbdt;
pub mod generate;
pub mod score;
pub mod serve;
pub mod train;
pub mod validate;
pub mod verify;

/// Why a subcommand failed (its message is what the program prints after its name).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Scoring failed.
    #[error(transparent)]
    Miner(Box<crate::pipeline::MinerError>),
    /// A batch could not be read or failed its checks.
    #[error(transparent)]
    Batch(Box<aml_core::BatchError>),
    /// The output may not be written there.
    #[error(transparent)]
    Output(Box<aml_core::OutputError>),
    /// The synthetic generator failed.
    #[error(transparent)]
    Synth(Box<aml_synth::SynthError>),
    /// Featurisation failed.
    #[error(transparent)]
    Features(Box<aml_features::FeatureError>),
    /// A model bundle could not be loaded or saved.
    #[error(transparent)]
    Bundle(Box<aml_models::BundleError>),
    /// Training failed.
    #[error(transparent)]
    Train(Box<aml_train::pipeline::PipelineError>),
    /// A data or predictions file of `gbdt` could not be read or written.
    #[error(transparent)]
    DataFile(Box<aml_train::data_file::DataFileError>),
    /// GBDT training failed.
    #[error(transparent)]
    Gbdt(Box<aml_train::TrainError>),
    /// A model file could not be loaded, built or saved.
    #[error(transparent)]
    Model(Box<aml_models::ModelError>),
    /// A model could not predict.
    #[error(transparent)]
    Predict(Box<aml_models::PredictError>),
    /// A model could not be explained.
    #[error(transparent)]
    Explain(Box<aml_explain::ExplainError>),
    /// A day could not be fetched from object storage.
    #[error(transparent)]
    Fetch(Box<crate::fetch::FetchError>),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(Box<crate::config::ConfigError>),
    /// A cycle of the daily loop failed.
    #[error(transparent)]
    Daily(Box<crate::daily::DailyError>),
    /// A progress bar template is invalid.
    #[error(transparent)]
    Progress(Box<indicatif::style::TemplateError>),
    /// A JSON document could not be written.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    File {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A runtime or network failure of the service.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A flag's value is unusable.
    #[error("{0}")]
    Usage(String),
}

/// `From` for the boxed variants (boxed to keep `Result<_, CliError>` small).
macro_rules! from_boxed {
    ($($variant:ident($source:ty)),* $(,)?) => {
        $(impl From<$source> for CliError {
            fn from(source: $source) -> CliError {
                CliError::$variant(Box::new(source))
            }
        })*
    };
}

from_boxed!(
    Miner(crate::pipeline::MinerError),
    Batch(aml_core::BatchError),
    Output(aml_core::OutputError),
    Synth(aml_synth::SynthError),
    Features(aml_features::FeatureError),
    Bundle(aml_models::BundleError),
    Train(aml_train::pipeline::PipelineError),
    DataFile(aml_train::data_file::DataFileError),
    Gbdt(aml_train::TrainError),
    Model(aml_models::ModelError),
    Predict(aml_models::PredictError),
    Explain(aml_explain::ExplainError),
    Progress(indicatif::style::TemplateError),
    Fetch(crate::fetch::FetchError),
    Config(crate::config::ConfigError),
    Daily(crate::daily::DailyError),
);

impl CliError {
    /// An I/O error on `path`.
    pub fn file(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
        move |source| CliError::File {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Makes a closed or failing stdout end the program cleanly instead of with a panic.
///
/// Rust ignores `SIGPIPE`, so `println!` panics ("failed printing to stdout: Broken pipe") when the
/// reader has gone away, as in `verify_batch DIR | head -1`. Call this first in `main`: a failed
/// print then ends the process from the panic hook, before any panic message: with exit code 0 when
/// the reader closed the pipe (it has read what it wanted, like `head`), with a one-line error and
/// exit code 1 for any other write failure (disk full, I/O error). Every other panic is reported by
/// the previous hook as before.
pub fn exit_cleanly_on_closed_stdout() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if let Some(failure) = message.and_then(stdout_failure) {
            if failure.kind == Some(ErrorKind::BrokenPipe) {
                std::process::exit(0);
            }
            eprintln!("error: cannot write to stdout: {}", failure.message);
            std::process::exit(1);
        }
        previous(info);
    }));
}

/// A failed write to stdout, recognised from the panic of `print!`/`println!`.
#[derive(Debug, PartialEq)]
struct StdoutFailure<'a> {
    /// The I/O error's text.
    message: &'a str,
    /// Its kind, when the text carries the OS error code.
    kind: Option<ErrorKind>,
}

/// Parses the message of the panic `print!` raises on a write error:
/// `failed printing to stdout: <io error>`, where an OS error ends in `(os error N)`.
fn stdout_failure(panic_message: &str) -> Option<StdoutFailure<'_>> {
    let message = panic_message.strip_prefix("failed printing to stdout: ")?;
    let kind = message
        .strip_suffix(')')
        .and_then(|m| m.rsplit_once("(os error "))
        .and_then(|(_, code)| code.parse::<i32>().ok())
        .map(|code| std::io::Error::from_raw_os_error(code).kind());
    Some(StdoutFailure { message, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_print_failures_only() {
        let broken = std::io::Error::from(ErrorKind::BrokenPipe);
        let os_broken = std::io::Error::from_raw_os_error(
            // EPIPE is 32 on Linux and macOS.
            32,
        );
        if os_broken.kind() == ErrorKind::BrokenPipe {
            let text = format!("failed printing to stdout: {os_broken}");
            assert_eq!(
                stdout_failure(&text).and_then(|f| f.kind),
                Some(ErrorKind::BrokenPipe)
            );
        }
        let text = format!("failed printing to stdout: {broken}");
        assert_eq!(stdout_failure(&text).map(|f| f.kind), Some(None));
        assert_eq!(stdout_failure("index out of bounds"), None);
        assert_eq!(stdout_failure("failed printing to stderr: x"), None);
    }
}
