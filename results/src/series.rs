//! The run as a time series: one row per interval of a phase (`--interval`,
//! 1 s by default), merged exactly across agents — what `timeseries.csv`
//! and `latency.hlog` hold, and the report's drift figures read.

use std::time::Duration;

use envload_agent::PhaseStats;

/// One interval of one phase, every agent's part added.
#[derive(Debug, Clone, Default)]
pub struct IntervalRow {
    /// `[index·width, (index+1)·width)` after the phase's start.
    pub index: u64,
    pub width: Duration,
    /// Sessions started in it.
    pub started: u64,
    /// Sessions running at its end (started by then, not yet ended).
    pub active: u64,
    /// Sessions that ended in it.
    pub stats: PhaseStats,
}

impl IntervalRow {
    /// Its end, seconds after the phase's start.
    pub fn end_s(&self) -> f64 {
        (self.index + 1) as f64 * self.width.as_secs_f64()
    }

    /// Episodes completed per second (a session without a rollout workload
    /// is one episode).
    pub fn episodes_per_second(&self) -> f64 {
        let done = match &self.stats.rollout {
            Some(r) => r.episodes_ok,
            None => self.stats.successful,
        };
        done as f64 / self.width.as_secs_f64().max(1e-9)
    }
}
