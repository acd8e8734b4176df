//! One session's outcome: the row that becomes a `raw.jsonl` line.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::failure::{ErrorType, Failure};
use crate::observation::Observed;
use crate::plan::Mode;

/// Per-stage latencies of one session, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// TCP connect + WebSocket handshake (0 for HTTP).
    pub connect_us: u64,
    /// Reset request to its reply.
    pub reset_us: u64,
    /// Step request to its reply.
    pub step_us: u64,
    /// Session start to end (close included for WebSocket).
    pub total_us: u64,
}

impl Timings {
    /// Closes a session's timings: total from `t0`; a failed session keeps
    /// only its total (the reference's rule).
    pub fn settle(self, t0: std::time::Instant, failed: bool) -> Timings {
        let total_us = micros(t0.elapsed());
        if failed {
            Timings {
                total_us,
                ..Timings::default()
            }
        } else {
            Timings { total_us, ..self }
        }
    }
}

/// Everything recorded about one session.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// Globally unique id within the phase, 0-based.
    pub request_id: u64,
    /// Session protocol.
    pub mode: Mode,
    /// When the session started (UTC).
    pub timestamp: DateTime<Utc>,
    /// Seconds the step asked for.
    pub wait_requested: f64,
    /// N of the phase.
    pub batch_size: u64,
    /// `--hardware` label.
    pub hardware: String,
    /// Which of the assignment's targets served the session.
    pub target_index: usize,
    /// Stage latencies; a failed session keeps only `total_us`.
    pub timings: Timings,
    /// What the step observation reported (empty on failure).
    pub observed: Observed,
    /// `None` when the session succeeded.
    pub failure: Option<Failure>,
    /// When the session ended, measured from the share's start.
    pub ended_after: Duration,
    /// What a rollout session did beyond the benchmark's one step (`None`
    /// for the benchmark session).
    pub rollout: Option<Box<Rollout>>,
    /// Scheduled arrivals only: from the session's scheduled start to its
    /// actual one (timer lateness, the in-flight bound).
    pub start_lag: Option<Duration>,
}

/// One answered step: its index within its episode (0-based) and latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepTime {
    pub index: u32,
    pub us: u64,
}

/// What a rollout session did: its episodes, steps, thinking and bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rollout {
    /// Episodes started.
    pub episodes: u32,
    /// Episodes that ended without a failure.
    pub episodes_ok: u32,
    /// Failure class of each failed episode, in order.
    pub episode_errors: Vec<ErrorType>,
    /// Every answered step, in order.
    pub steps: Vec<StepTime>,
    /// Every answered `state` request, with the index of the step it
    /// came at, in order.
    pub states: Vec<StepTime>,
    /// Every answered MCP call, with its index within its episode, in order.
    pub mcp: Vec<StepTime>,
    /// An HTTP MCP session this session created and never closed (it
    /// failed before its close, or `--abort` made it vanish): the server
    /// holds its slot until an idle timeout, if it has one.
    pub unclosed: bool,
    /// Every answered reset's latency (µs), in order.
    pub resets_us: Vec<u64>,
    /// Each successful episode's latency (µs), reset to its last reply.
    pub episodes_us: Vec<u64>,
    /// Time spent thinking (µs).
    pub think_us: u64,
    /// Message bytes sent and received (WebSocket text payloads; HTTP
    /// request and response bodies).
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Connections opened again after a failed episode.
    pub reconnects: u32,
}

impl Rollout {
    /// Records a request of `kind` at step `index`, sent at `sent`.
    pub fn timed(&mut self, kind: crate::workload::StepKind, index: u32, sent: std::time::Instant) {
        use crate::workload::StepKind;
        let at = StepTime {
            index,
            us: micros(sent.elapsed()),
        };
        match kind {
            StepKind::Step => self.steps.push(at),
            StepKind::State => self.states.push(at),
            StepKind::Mcp => self.mcp.push(at),
        }
    }

    /// Mean of `values` (µs), 0 when empty.
    pub fn mean(values: impl Iterator<Item = u64>) -> u64 {
        let (sum, n) = values.fold((0u128, 0u64), |(s, n), v| (s + u128::from(v), n + 1));
        if n == 0 {
            0
        } else {
            (sum / u128::from(n)) as u64
        }
    }
}

impl SessionRecord {
    /// Whether the session completed reset and step.
    pub fn success(&self) -> bool {
        self.failure.is_none()
    }
}

/// Microseconds in a duration, saturating.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::failure::{ErrorType, Failure};

    /// A session that ended `ended_ms` after the share's start, successful
    /// or timed out.
    pub(crate) fn rec(ended_ms: u64, ok: bool) -> SessionRecord {
        SessionRecord {
            request_id: 0,
            mode: crate::Mode::Ws,
            timestamp: chrono::Utc::now(),
            wait_requested: 0.0,
            batch_size: 1,
            hardware: String::new(),
            target_index: 0,
            timings: Timings {
                total_us: 1000,
                ..Default::default()
            },
            observed: Default::default(),
            failure: (!ok).then(|| Failure::new(ErrorType::ReadTimeout, "slow")),
            ended_after: Duration::from_millis(ended_ms),
            rollout: None,
            start_lag: None,
        }
    }
}
