//! The miner's HTTP service (axum + tokio) and its date-keyed score store.
//!
//! Start it with `aml-miner serve --models DIR --store DIR` (or
//! `cargo run --release --example serve -- --models DIR --store DIR`).

pub mod metrics;
pub mod request;
pub mod server;
pub mod store;

pub use server::{router, serve, shutdown_signal, AppState, ServiceLimits, ROUTES};
pub use store::Store;
