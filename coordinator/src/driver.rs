//! Who runs a phase's sessions: the in-process agent, local agent processes
//! or remote agents (`run_driver`, `fleet`), behind one trait, so the phase loop
//! (`phases`), the ceiling search and their tests (with a fake driver) are
//! the same for all.

use std::future::Future;

use envload_agent::Assignment;

use envload_results::model::{AgentInfo, PhaseOutcome};
use envload_results::Phase;

/// Runs phases.
pub trait PhaseDriver {
    /// Runs every session of `phase` (split as the driver sees fit) and
    /// merges the results. `template` carries the phase-wide settings; its
    /// id range covers the whole phase.
    fn run_phase(
        &mut self,
        phase: &Phase,
        template: &Assignment,
    ) -> impl Future<Output = anyhow::Result<PhaseOutcome>>;
    /// Stops the phase in flight (after its `run_phase` future was dropped).
    fn abort(&mut self, phase: &Phase) -> impl Future<Output = ()>;
    /// The agents, for `run.json`.
    fn agents(&self) -> Vec<AgentInfo>;
    /// Ends the run (remote agents are told to shut down).
    fn finish(&mut self, reason: &str) -> impl Future<Output = ()>;
}

#[cfg(test)]
pub mod fake;
