//! Runs one agent's share of a phase: every session at once, each recorded
//! as it ends. [`Sessions`] is the running share (the remote agent polls it
//! while it streams progress); [`run_share`] runs one to completion.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::FutureExt;
use tokio::task::JoinSet;

use crate::failure::{ErrorType, Failure};
use crate::plan::{Assignment, Mode};
use crate::record::SessionRecord;
use crate::stats::PhaseStats;
use crate::{http, ws};

/// What a share produced.
#[derive(Debug)]
pub struct ShareResult {
    /// One record per session, in order of completion.
    pub records: Vec<SessionRecord>,
    /// Merged statistics of those records.
    pub stats: PhaseStats,
    /// From the share's start to its last session's end.
    pub wall: Duration,
}

/// A share in flight: its sessions run as tasks; dropping it aborts them
/// (their sockets close), which is how a phase is cancelled.
pub struct Sessions {
    set: JoinSet<SessionRecord>,
}

impl Sessions {
    /// Starts every session of `a` now.
    pub fn spawn(a: &Assignment) -> Self {
        let start = Instant::now();
        // One TLS configuration per share, when any target needs it; a bad
        // one fails every session with the reason rather than panicking.
        let tls = if a.targets.iter().any(|t| t.tls) {
            crate::tls::client_config(&a.tls)
                .map(Some)
                .map_err(|e| e.to_string())
        } else {
            Ok(None)
        };
        let client = match (&tls, a.mode) {
            (Ok(cfg), Mode::Http) => Some(http::client(cfg.clone())),
            _ => None,
        };
        let mut set = JoinSet::new();
        for i in 0..a.count {
            let request_id = a.first_request_id + i;
            let target_index = (request_id % a.targets.len() as u64) as usize;
            let target = a.targets[target_index].clone();
            let (mode, wait, limits, close) = (a.mode, a.wait_seconds, a.limits(), a.close);
            let client = client.clone();
            let tls = tls.clone();
            let hardware = a.hardware.clone();
            let batch_size = a.batch_size;
            set.spawn(async move {
                let timestamp = Utc::now();
                let session = async {
                    match (mode, client, &tls) {
                        (_, _, Err(e)) => (
                            Default::default(),
                            Err(Failure::new(ErrorType::TlsError, e.clone())),
                        ),
                        (Mode::Http, Some(c), _) => {
                            http::run_session(&c, &target, wait, limits).await
                        }
                        (_, _, Ok(cfg)) => {
                            ws::run_session(&target, cfg.as_ref(), request_id, wait, limits, close)
                                .await
                        }
                    }
                };
                // A panic inside envload still yields this session's record,
                // as a failure that says so.
                let (timings, outcome) = AssertUnwindSafe(session)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| {
                        let f = Failure::new(
                            ErrorType::ConnectionError,
                            "session task panicked inside envload",
                        );
                        (Default::default(), Err(f))
                    });
                let (observed, failure) = match outcome {
                    Ok(o) => (o, None),
                    Err(f) => (Default::default(), Some(f)),
                };
                SessionRecord {
                    request_id,
                    mode,
                    timestamp,
                    wait_requested: wait,
                    batch_size,
                    hardware,
                    target_index,
                    timings,
                    observed,
                    failure,
                    ended_after: start.elapsed(),
                }
            });
        }
        Sessions { set }
    }

    /// The next session to finish, or `None` when all have.
    pub async fn next(&mut self) -> Option<SessionRecord> {
        let joined = self.set.join_next().await?;
        // Tasks catch their own panics and are cancelled only by dropping
        // `Sessions`, so every join succeeds.
        Some(joined.expect("session tasks never fail to join"))
    }
}

/// Runs every session of `a` concurrently and waits for all of them.
pub async fn run_share(a: &Assignment) -> ShareResult {
    run_share_with(a, |_, _| {}).await
}

/// [`run_share`], calling `progress` with each finished session and the
/// statistics so far (the in-process driver's live view).
pub async fn run_share_with(
    a: &Assignment,
    mut progress: impl FnMut(&SessionRecord, &PhaseStats),
) -> ShareResult {
    let mut sessions = Sessions::spawn(a);
    let mut records = Vec::with_capacity(a.count as usize);
    let mut stats = PhaseStats::default();
    while let Some(rec) = sessions.next().await {
        stats.record(&rec);
        progress(&rec, &stats);
        records.push(rec);
    }
    let wall = records
        .iter()
        .map(|r| r.ended_after)
        .max()
        .unwrap_or_default();
    ShareResult {
        records,
        stats,
        wall,
    }
}
