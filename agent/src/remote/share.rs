//! The share an agent is running for the coordinator: what it has streamed
//! and what it still owes (a progress delta, a batch of records).

use std::time::Duration;

use envload_proto::v1;

use crate::convert::{interval_to_proto, record_to_proto, stats_to_proto};
use crate::distinct::Distinct;
use crate::intervals::Intervals;
use crate::plan::Assignment;
use crate::record::SessionRecord;
use crate::runner::Sessions;
use crate::stats::PhaseStats;

/// Records are sent in batches of at most this many.
pub const RECORD_BATCH: usize = 512;

/// One phase's share on this agent.
pub struct Share {
    /// Phase number the coordinator gave.
    pub phase: u64,
    /// What to run.
    pub assignment: Assignment,
    /// Whether per-session records go to the coordinator.
    pub send_records: bool,
    /// Running sessions (after Start).
    pub sessions: Option<Sessions>,
    delta: PhaseStats,
    batch: Vec<v1::SessionRecord>,
    distinct: Distinct,
    wall: Duration,
    started_sent: u64,
    intervals: Intervals,
    /// When `start` ran (unix µs).
    started_unix_us: u64,
}

impl Share {
    /// A share prepared but not started.
    pub fn new(phase: u64, assignment: Assignment, send_records: bool) -> Self {
        Share {
            phase,
            send_records,
            sessions: None,
            delta: PhaseStats::default(),
            batch: Vec::new(),
            distinct: Distinct::default(),
            wall: Duration::ZERO,
            started_sent: 0,
            intervals: Intervals::new(assignment.interval),
            started_unix_us: 0,
            assignment,
        }
    }

    /// Starts every session.
    pub fn start(&mut self) {
        self.started_unix_us = unix_us();
        self.sessions = Some(Sessions::spawn(&self.assignment));
    }

    /// Adds a finished session.
    pub fn record(&mut self, rec: &SessionRecord) {
        self.delta.record(rec);
        self.intervals.record(rec);
        self.wall = self.wall.max(rec.ended_after);
        self.distinct.add(rec);
        if self.send_records {
            self.batch.push(record_to_proto(rec));
        }
    }

    /// Whether a full batch of records is waiting.
    pub fn batch_full(&self) -> bool {
        self.batch.len() >= RECORD_BATCH
    }

    /// The records waiting, if any.
    pub fn take_records(&mut self) -> Option<v1::AgentMessage> {
        if self.batch.is_empty() {
            return None;
        }
        let records = std::mem::take(&mut self.batch);
        Some(msg(v1::agent_message::Msg::Records(v1::SessionRecords {
            phase: self.phase,
            records,
        })))
    }

    /// The progress delta since the last one, with the sessions started so
    /// far and the time-series intervals closed since (all that are left
    /// when `last`); None when nothing finished, started or closed since.
    pub fn take_progress(&mut self, last: bool) -> Option<v1::AgentMessage> {
        let (started, elapsed) = self
            .sessions
            .as_ref()
            .map_or((0, Duration::ZERO), |s| (s.started(), s.elapsed()));
        let sessions = self.sessions.as_ref();
        let in_k = |k: u64| sessions.map_or(0, |s| s.started_in(k));
        let closed = if last {
            self.intervals.close_all(elapsed, in_k)
        } else {
            self.intervals.close(elapsed, in_k)
        };
        if self.delta.sessions == 0 && started == self.started_sent && closed.is_empty() {
            return None;
        }
        self.started_sent = started;
        let delta = std::mem::take(&mut self.delta);
        Some(msg(v1::agent_message::Msg::Progress(v1::Progress {
            phase: self.phase,
            started,
            delta: Some(stats_to_proto(&delta)),
            intervals: closed.iter().map(interval_to_proto).collect(),
        })))
    }

    /// The closing message of the share.
    pub fn done(&self) -> v1::AgentMessage {
        msg(v1::agent_message::Msg::Done(v1::PhaseDone {
            phase: self.phase,
            wall_us: u64::try_from(self.wall.as_micros()).unwrap_or(u64::MAX),
            pids: self.distinct.pids.iter().copied().collect(),
            hosts: self.distinct.hosts.iter().cloned().collect(),
            unique_sessions: self.distinct.hashes.len() as u64,
            first_start_unix_us: self.started_unix_us,
        }))
    }
}

/// Now, in microseconds since the Unix epoch.
fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Wraps an agent message body.
pub fn msg(m: v1::agent_message::Msg) -> v1::AgentMessage {
    v1::AgentMessage { msg: Some(m) }
}
