//! Serve scores over HTTP.
//!
//! ```text
//! cargo run --release --example serve -- --models DIR --store DIR [--addr 127.0.0.1:8000] [--max-body BYTES]
//! ```
//! Models are loaded once. Stops gracefully on SIGINT / SIGTERM (in-flight requests finish).

use std::path::PathBuf;
use std::sync::Arc;

use aml_miner::service::server::DEFAULT_MAX_BODY_BYTES;
use aml_miner::service::{serve, shutdown_signal, AppState, Store};
use aml_models::Bundle;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    about = "aml-miner HTTP service: scoring routes, the daily store, health, metrics, OpenAPI"
)]
struct Args {
    /// Model bundle directory.
    #[arg(long, default_value = "trained_models")]
    models: PathBuf,
    /// Store root: one submission directory per processing date.
    #[arg(long)]
    store: PathBuf,
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: String,
    /// Request body limit in bytes (larger bodies get 413).
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let bundle = Bundle::load(&args.models)?;
    let mut state = AppState::new(bundle, Store::new(&args.store));
    state.max_body_bytes = args.max_body;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.addr).await?;
        eprintln!(
            "aml-miner service on http://{} (models {}, store {})",
            listener.local_addr()?,
            args.models.display(),
            args.store.display()
        );
        serve(listener, Arc::new(state), shutdown_signal()).await?;
        eprintln!("shut down cleanly");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
