//! Runs one agent's share of a phase: every session at once, each recorded
//! as it ends. [`Sessions`] is the running share (the remote agent polls it
//! while it streams progress); [`run_share`] runs one to completion.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::distinct::Distinct;
use crate::intervals::{Interval, Intervals};
use crate::plan::Assignment;
use crate::record::SessionRecord;
use crate::session::ShareSpec;
use crate::shard::Shard;
use crate::stats::PhaseStats;

/// What a share produced.
#[derive(Debug)]
pub struct ShareResult {
    /// One record per session, in order of completion.
    pub records: Vec<SessionRecord>,
    /// Merged statistics of those records.
    pub stats: PhaseStats,
    /// From the share's start to its last session's end.
    pub wall: Duration,
    /// Distinct pids, hosts and session hashes of its successful sessions.
    pub distinct: Distinct,
}

/// A share in flight: its sessions run in one shard per core the process
/// may use (`shard`); dropping it aborts them (their sockets close), which
/// is how a phase is cancelled.
pub struct Sessions {
    spec: Arc<ShareSpec>,
    finished: mpsc::UnboundedReceiver<Vec<SessionRecord>>,
    ready: VecDeque<SessionRecord>,
    _shards: Vec<Shard>,
}

impl Sessions {
    /// Starts every session of `a` now.
    pub fn spawn(a: &Assignment) -> Self {
        let spec = Arc::new(ShareSpec::new(a));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        let shards = cores.min(a.count).max(1);
        let (out, finished) = mpsc::unbounded_channel();
        let shards = (0..shards)
            .map(|k| Shard::start(spec.clone(), k, shards, out.clone()))
            .collect();
        Sessions {
            spec,
            finished,
            ready: VecDeque::new(),
            _shards: shards,
        }
    }

    /// Sessions started so far (with scheduled arrivals, fewer than the
    /// share until its schedule ends).
    pub fn started(&self) -> u64 {
        self.spec.started.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sessions started in intervals `k` of the time series.
    pub fn started_in(&self, k: u64) -> u64 {
        self.spec.started_in(k, k + 1)
    }

    /// Time since the share started (its clock: what `ended_after` counts).
    pub fn elapsed(&self) -> Duration {
        self.spec.start.elapsed()
    }

    /// The next session to finish, or `None` when all have.
    pub async fn next(&mut self) -> Option<SessionRecord> {
        loop {
            if let Some(rec) = self.ready.pop_front() {
                return Some(rec);
            }
            self.ready.extend(self.finished.recv().await?);
        }
    }
}

/// How often [`run_share_with`] reports progress.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Runs every session of `a` concurrently and waits for all of them.
pub async fn run_share(a: &Assignment) -> ShareResult {
    run_share_with(a, true, |_, _, _| {}).await
}

/// [`run_share`], calling `progress` every [`PROGRESS_EVERY`] — whether or
/// not a session ended (long steps, scheduled starts) — with the sessions
/// started, the statistics so far and the time-series intervals closed
/// since the last call (the in-process driver's live view); once more at
/// the end with the last intervals. Records are kept when `keep_records`
/// (without, memory stays flat however many sessions a stage plan runs).
pub async fn run_share_with(
    a: &Assignment,
    keep_records: bool,
    mut progress: impl FnMut(u64, &PhaseStats, Vec<Interval>),
) -> ShareResult {
    let mut sessions = Sessions::spawn(a);
    let mut records = Vec::with_capacity(if keep_records {
        a.count.min(1 << 20) as usize
    } else {
        0
    });
    let mut stats = PhaseStats::default();
    let mut distinct = Distinct::default();
    let mut wall = Duration::ZERO;
    let mut intervals = Intervals::new(a.interval);
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            rec = sessions.next() => match rec {
                Some(rec) => {
                    stats.record(&rec);
                    intervals.record(&rec);
                    distinct.add(&rec);
                    wall = wall.max(rec.ended_after);
                    if keep_records {
                        records.push(rec);
                    }
                }
                None => break,
            },
            _ = tick.tick() => {
                let closed = intervals.close(sessions.elapsed(), |k| sessions.started_in(k));
                progress(sessions.started(), &stats, closed);
            }
        }
    }
    let closed = intervals.close_all(sessions.elapsed(), |k| sessions.started_in(k));
    progress(sessions.started(), &stats, closed);
    ShareResult {
        records,
        stats,
        wall,
        distinct,
    }
}
