//! The one shutdown signal of a process. SIGINT and SIGTERM are listened to
//! from start-up to exit by one small thread, and everything long-running
//! (phase loop and pauses, writers, ceiling probes, the coordinator's wait
//! for agents, agents, experiment readiness waits, serve) is handed the same
//! [`Shutdown`]. A signal is never lost between phases: it sets a flag that
//! stays set, so whoever asks next sees it, however late (mini-redis's
//! `Shutdown`, linkerd's `signal`). A later signal — one at least
//! [`FORCE_AFTER`] after the first, from someone whose stop seems stuck —
//! exits at once (130); closer ones are duplicates (Slurm's `scancel --full`
//! signals the step while the batch script forwards the same signal) and are
//! ignored, so they cannot cut the orderly stop short.

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// Exit code of an interrupted run (128 + SIGINT, what shells expect).
pub const INTERRUPTED_EXIT: i32 = 130;

/// How long after the first signal another one forces the exit.
pub const FORCE_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// Whether SIGINT/SIGTERM has been received; cheap to clone and hand down.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    /// Installs the handlers now (signals from this moment on are caught)
    /// and listens on a thread of its own, independent of any runtime the
    /// command builds later.
    pub fn listen() -> std::io::Result<Shutdown> {
        let (tx, rx) = watch::channel(false);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let (mut term, mut int) = rt.block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
            ))
        })?;
        std::thread::Builder::new()
            .name("envload-signals".into())
            .spawn(move || {
                rt.block_on(async {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                    let _ = tx.send(true);
                    let first = std::time::Instant::now();
                    loop {
                        tokio::select! {
                            _ = term.recv() => {}
                            _ = int.recv() => {}
                        }
                        if first.elapsed() >= FORCE_AFTER {
                            eprintln!("envload: another signal: exiting now");
                            std::process::exit(INTERRUPTED_EXIT);
                        }
                    }
                })
            })?;
        Ok(Shutdown { rx })
    }

    /// A shutdown that never comes (library callers and tests that do not
    /// listen to signals).
    pub fn never() -> Shutdown {
        // With the sender gone the flag can never change: `requested` pends.
        let (_, rx) = watch::channel(false);
        Shutdown { rx }
    }

    /// A shutdown triggered by hand, for tests of the paths that react to it.
    pub fn manual() -> (watch::Sender<bool>, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown { rx })
    }

    /// Whether a signal has arrived.
    pub fn is_requested(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once a signal has arrived (at once if one already has).
    pub async fn requested(&self) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|v| *v).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_before_anyone_waits_is_not_lost() {
        let (tx, s) = Shutdown::manual();
        tx.send(true).unwrap();
        assert!(s.is_requested());
        tokio::time::timeout(std::time::Duration::from_secs(1), s.clone().requested())
            .await
            .expect("an earlier request resolves at once");
    }

    #[tokio::test]
    async fn never_stays_pending() {
        let s = Shutdown::never();
        assert!(!s.is_requested());
        let r = tokio::time::timeout(std::time::Duration::from_millis(100), s.requested()).await;
        assert!(r.is_err());
    }
}
