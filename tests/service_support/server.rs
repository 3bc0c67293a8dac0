//! An in-process server on a loopback port, for the service tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aml_miner::service::{serve, AppState, ServiceLimits, Store};

use super::fixture;

pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    stop: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
    /// Receives `serve`'s result once it has returned.
    done: std::sync::Mutex<std::sync::mpsc::Receiver<std::io::Result<()>>>,
}

impl Server {
    /// Sends the shutdown signal and waits at most `deadline` for `serve` to return.
    pub fn shut_down(&self, deadline: Duration) -> std::io::Result<()> {
        if let Some(stop) = self.stop.lock().unwrap().take() {
            stop.send(()).unwrap();
        }
        self.done
            .lock()
            .unwrap()
            .recv_timeout(deadline)
            .expect("serve returned before the deadline")
    }
}

/// Serves the fixture's bundle and the store at `store` with `limits` on a runtime of its own.
pub fn start_with(store: &std::path::Path, limits: ServiceLimits) -> Server {
    let state = Arc::new(AppState::with_limits(
        fixture().bundle.clone(),
        Store::new(store),
        limits,
    ));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let served = state.clone();
    std::thread::spawn(move || {
        let result = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .and_then(|runtime| {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                    addr_tx.send(listener.local_addr()?).unwrap();
                    serve(listener, served, async move {
                        let _ = tokio::task::spawn_blocking(move || rx.recv()).await;
                    })
                    .await
                })
            });
        let _ = done_tx.send(result);
    });
    Server {
        addr: addr_rx.recv().unwrap(),
        state,
        stop: std::sync::Mutex::new(Some(tx)),
        done: std::sync::Mutex::new(done_rx),
    }
}
