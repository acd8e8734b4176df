//! Runs one agent's share of a phase: every session at once, each recorded
//! as it ends.

use std::time::{Duration, Instant};

use chrono::Utc;
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

/// Runs every session of `a` concurrently and waits for all of them.
pub async fn run_share(a: &Assignment) -> ShareResult {
    let start = Instant::now();
    let client = (a.mode == Mode::Http).then(http::client);
    let mut set = JoinSet::new();
    let mut ids = std::collections::HashMap::new();
    for i in 0..a.count {
        let request_id = a.first_request_id + i;
        let target_index = (request_id % a.targets.len() as u64) as usize;
        let target = a.targets[target_index].clone();
        let (mode, wait, limit, close) = (a.mode, a.wait_seconds, a.timeout, a.close);
        let client = client.clone();
        let hardware = a.hardware.clone();
        let batch_size = a.batch_size;
        let handle = set.spawn(async move {
            let timestamp = Utc::now();
            let (timings, outcome) = match (mode, client) {
                (Mode::Http, Some(c)) => http::run_session(&c, &target, wait, limit).await,
                _ => ws::run_session(&target, request_id, wait, limit, close).await,
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
    let mut records = Vec::with_capacity(a.count as usize);
    let mut stats = PhaseStats::default();
    while let Some(joined) = set.join_next().await {
        let rec = joined.unwrap_or_else(|e| {
            let id = ids.get(&e.id()).copied().unwrap_or_default();
            panicked_session(a, id, e, start.elapsed())
        });
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
