//! Runs one agent's share of a phase: every session at once, each recorded
//! as it ends. [`Sessions`] is the running share (the remote agent polls it
//! while it streams progress); [`run_share`] runs one to completion.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::task::{Id, JoinSet};

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
    ids: HashMap<Id, u64>,
    start: Instant,
    assignment: Assignment,
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
        let mut ids = HashMap::with_capacity(a.count as usize);
        for i in 0..a.count {
            let request_id = a.first_request_id + i;
            let target_index = (request_id % a.targets.len() as u64) as usize;
            let target = a.targets[target_index].clone();
            let (mode, wait, limit, close) = (a.mode, a.wait_seconds, a.timeout, a.close);
            let client = client.clone();
            let tls = tls.clone();
            let hardware = a.hardware.clone();
            let batch_size = a.batch_size;
            let handle = set.spawn(async move {
                let timestamp = Utc::now();
                let (timings, outcome) = match (mode, client, &tls) {
                    (_, _, Err(e)) => (
                        Default::default(),
                        Err(Failure::new(ErrorType::TlsError, e.clone())),
                    ),
                    (Mode::Http, Some(c), _) => http::run_session(&c, &target, wait, limit).await,
                    (_, _, Ok(cfg)) => {
                        ws::run_session(&target, cfg.as_ref(), request_id, wait, limit, close).await
                    }
                };
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
            ids.insert(handle.id(), request_id);
        }
        Sessions {
            set,
            ids,
            start,
            assignment: a.clone(),
        }
    }

    /// The next session to finish, or `None` when all have.
    pub async fn next(&mut self) -> Option<SessionRecord> {
        let joined = self.set.join_next().await?;
        Some(joined.unwrap_or_else(|e| {
            let id = self.ids.get(&e.id()).copied().unwrap_or_default();
            panicked_session(&self.assignment, id, e, self.start.elapsed())
        }))
    }

    /// Sessions not finished yet.
    pub fn remaining(&self) -> usize {
        self.set.len()
    }

    /// When the share started.
    pub fn started_at(&self) -> Instant {
        self.start
    }
}

/// Runs every session of `a` concurrently and waits for all of them.
pub async fn run_share(a: &Assignment) -> ShareResult {
    let mut sessions = Sessions::spawn(a);
    let mut records = Vec::with_capacity(a.count as usize);
    let mut stats = PhaseStats::default();
    while let Some(rec) = sessions.next().await {
        stats.record(&rec);
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

/// A session task that panicked still counts, as a failure that says so.
fn panicked_session(
    a: &Assignment,
    request_id: u64,
    e: tokio::task::JoinError,
    ended_after: Duration,
) -> SessionRecord {
    SessionRecord {
        request_id,
        mode: a.mode,
        timestamp: Utc::now(),
        wait_requested: a.wait_seconds,
        batch_size: a.batch_size,
        hardware: a.hardware.clone(),
        target_index: 0,
        timings: Default::default(),
        observed: Default::default(),
        failure: Some(Failure::new(
            ErrorType::ConnectionError,
            format!("session task failed inside envload: {e}"),
        )),
        ended_after,
    }
}
