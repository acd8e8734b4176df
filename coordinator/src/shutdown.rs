//! The one place SIGINT and SIGTERM are turned into a shutdown future.

use tokio::signal::unix::{signal, SignalKind};

/// Resolves on the first SIGINT or SIGTERM.
pub async fn signalled() {
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler installs");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
