//! Which phase a result is of: its place in the plan, protocol, batch
//! size, wait and repetition (the key every result file repeats).

use std::time::Duration;

use envload_agent::Mode;

/// One measured batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// 0-based position in the plan.
    pub index: usize,
    /// Session protocol.
    pub mode: Mode,
    /// Batch size N.
    pub n: u64,
    /// Seconds each step waits.
    pub wait: f64,
    /// 1-based repetition.
    pub rep: u32,
    /// Pause before the phase starts.
    pub pause_before: Duration,
}
