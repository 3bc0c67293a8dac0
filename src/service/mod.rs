//! The miner's HTTP service (axum + tokio), its date-keyed score store, and a tiny HTTP/1.1 client for
//! tests and the load generator.
//!
//! Start it with `cargo run --release --example serve -- --models DIR --store DIR`.

#[doc(hidden)]
pub mod client;
#[doc(hidden)]
pub mod load;
pub mod metrics;
pub mod request;
pub mod server;
pub mod store;

pub use server::{router, serve, shutdown_signal, AppState, ServiceLimits, ROUTES};
pub use store::Store;
