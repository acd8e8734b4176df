//! One `summary.csv` row per phase, with the reference's columns, order and
//! semantics; percentiles come from merged HDR histograms.

use std::time::Duration;

use chrono::{DateTime, Utc};
use envload_agent::{Distinct, PhaseStats, SessionRecord};

use crate::phase::Phase;

/// The `summary.csv` header: the reference's 33 columns in its order, then
/// envload's own stages (`state_*`, `mcp_*`; empty in a phase that did not
/// send them). Pinned by a test.
pub const COLUMNS: [&str; 39] = [
    "mode",
    "url",
    "num_requests",
    "batch_size",
    "wait_seconds",
    "repetition",
    "timestamp",
    "hardware",
    "successful",
    "failed",
    "error_rate",
    "total_wall_time",
    "connect_p50",
    "connect_p95",
    "connect_p99",
    "reset_p50",
    "reset_p95",
    "reset_p99",
    "step_p50",
    "step_p95",
    "step_p99",
    "total_min",
    "total_max",
    "total_avg",
    "total_p50",
    "total_p90",
    "total_p95",
    "total_p99",
    "requests_per_second",
    "effective_concurrency",
    "unique_pids",
    "unique_sessions",
    "unique_hosts",
    "state_p50",
    "state_p95",
    "state_p99",
    "mcp_p50",
    "mcp_p95",
    "mcp_p99",
];

/// How many of [`COLUMNS`] are the reference's.
pub const REFERENCE_COLUMNS: usize = 33;

/// One phase's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub mode: String,
    pub url: String,
    pub num_requests: u64,
    pub batch_size: u64,
    pub wait_seconds: f64,
    pub repetition: u32,
    pub timestamp: DateTime<Utc>,
    pub hardware: String,
    pub successful: u64,
    pub failed: u64,
    pub error_rate: f64,
    pub total_wall_time: f64,
    /// connect p50, p95, p99.
    pub connect: [f64; 3],
    /// reset p50, p95, p99.
    pub reset: [f64; 3],
    /// step p50, p95, p99.
    pub step: [f64; 3],
    pub total_min: f64,
    pub total_max: f64,
    pub total_avg: f64,
    /// total p50, p90, p95, p99.
    pub total: [f64; 4],
    pub requests_per_second: f64,
    pub effective_concurrency: f64,
    pub unique_pids: u64,
    pub unique_sessions: u64,
    pub unique_hosts: u64,
    /// state p50, p95, p99 (`None`: the phase asked no state).
    pub state: Option<[f64; 3]>,
    /// MCP call p50, p95, p99 (`None`: the phase made no MCP call).
    pub mcp: Option<[f64; 3]>,
}

/// Distinct non-empty `pid`, `session_hash` and `host_url` values over the
/// successful sessions of a phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Uniques {
    pub pids: u64,
    pub sessions: u64,
    pub hosts: u64,
}

impl Uniques {
    /// Counts them from session records ([`Distinct`]'s rule).
    pub fn from_records(records: &[SessionRecord]) -> Self {
        Uniques::from(&Distinct::of(records))
    }
}

impl From<&Distinct> for Uniques {
    fn from(d: &Distinct) -> Self {
        Uniques {
            pids: d.pids.len() as u64,
            sessions: d.hashes.len() as u64,
            hosts: d.hosts.len() as u64,
        }
    }
}

/// Computes a phase's row from its merged statistics and session records.
pub fn summarize(
    phase: &Phase,
    url: &str,
    hardware: &str,
    stats: &PhaseStats,
    uniques: &Uniques,
    wall: Duration,
) -> SummaryRow {
    let wall_s = wall.as_secs_f64();
    let q3 =
        |l: &envload_agent::Latency| [l.quantile_s(0.50), l.quantile_s(0.95), l.quantile_s(0.99)];
    SummaryRow {
        mode: phase.mode.as_str().to_string(),
        url: url.to_string(),
        // A stage plan's phase runs more sessions than its peak users (N).
        num_requests: phase.n.max(stats.sessions),
        batch_size: phase.n,
        wait_seconds: phase.wait,
        repetition: phase.rep,
        timestamp: Utc::now(),
        hardware: hardware.to_string(),
        successful: stats.successful,
        failed: stats.failed,
        error_rate: if stats.sessions > 0 {
            stats.failed as f64 / stats.sessions as f64
        } else {
            0.0
        },
        total_wall_time: wall_s,
        connect: q3(&stats.connect),
        reset: q3(&stats.reset),
        step: q3(&stats.step),
        total_min: stats.total.min_s(),
        total_max: stats.total.max_s(),
        total_avg: stats.total.mean_s(),
        total: [0.50, 0.90, 0.95, 0.99].map(|q| stats.total.quantile_s(q)),
        requests_per_second: if wall_s > 0.0 {
            stats.successful as f64 / wall_s
        } else {
            0.0
        },
        // The reference's 0.0 when nothing succeeded: no session held the
        // server for its wait.
        effective_concurrency: if wall_s > 0.0 && stats.successful > 0 {
            phase.n as f64 * phase.wait / wall_s
        } else {
            0.0
        },
        unique_pids: uniques.pids,
        unique_sessions: uniques.sessions,
        unique_hosts: uniques.hosts,
        state: (stats.state.count() > 0).then(|| q3(&stats.state)),
        mcp: (stats.mcp.count() > 0).then(|| q3(&stats.mcp)),
    }
}

impl SummaryRow {
    /// Success rate in percent.
    pub fn success_pct(&self) -> f64 {
        (1.0 - self.error_rate) * 100.0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A row of 10 sessions, all successful, 1 s each.
    pub fn row() -> SummaryRow {
        SummaryRow {
            mode: "ws".into(),
            url: "ws://127.0.0.1:1/ws".into(),
            num_requests: 10,
            batch_size: 10,
            wait_seconds: 1.0,
            repetition: 1,
            timestamp: Utc::now(),
            hardware: "cpu-basic".into(),
            successful: 10,
            failed: 0,
            error_rate: 0.0,
            total_wall_time: 1.0,
            connect: [0.0; 3],
            reset: [0.0; 3],
            step: [1.0; 3],
            total_min: 1.0,
            total_max: 1.0,
            total_avg: 1.0,
            total: [1.0; 4],
            requests_per_second: 10.0,
            effective_concurrency: 10.0,
            unique_pids: 1,
            unique_sessions: 10,
            unique_hosts: 1,
            state: None,
            mcp: None,
        }
    }
}
