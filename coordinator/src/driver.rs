//! Who runs a phase's sessions: the in-process agent here, or a fleet of
//! remote agents (`fleet`). The phase loop (`phases`) is the same for both.

use std::future::Future;
use std::time::{Duration, Instant};

use envload_agent::runner::Sessions;
use envload_agent::{Assignment, PhaseStats};

use crate::plan::Phase;
use crate::progress::LiveProgress;
use crate::result::{AgentInfo, AgentPhase, PhaseOutcome};
use crate::summary::Uniques;

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

/// The in-process agent of `envload run`.
pub struct InProcess;

impl PhaseDriver for InProcess {
    async fn run_phase(
        &mut self,
        phase: &Phase,
        template: &Assignment,
    ) -> anyhow::Result<PhaseOutcome> {
        let mut sessions = Sessions::spawn(template);
        let mut live = LiveProgress::start(phase);
        let mut records = Vec::with_capacity(template.count as usize);
        let mut stats = PhaseStats::default();
        let mut shown = Instant::now();
        while let Some(rec) = sessions.next().await {
            stats.record(&rec);
            records.push(rec);
            if shown.elapsed() >= Duration::from_millis(250) {
                shown = Instant::now();
                live.update(
                    template.count,
                    stats.sessions,
                    stats.failed,
                    stats.total.quantile_s(0.99),
                );
            }
        }
        live.finish();
        records.sort_by_key(|r| r.request_id);
        let wall = records
            .iter()
            .map(|r| r.ended_after)
            .max()
            .unwrap_or_default();
        let uniques = Uniques::from_records(&records);
        let me = &self.agents()[0];
        let agents = vec![AgentPhase {
            name: me.name.clone(),
            host: me.host.clone(),
            assigned: template.count,
            successful: stats.successful,
            failed: stats.failed,
            lost: None,
        }];
        Ok(PhaseOutcome {
            records,
            stats,
            wall,
            uniques,
            agents,
        })
    }

    async fn abort(&mut self, _phase: &Phase) {}

    fn agents(&self) -> Vec<AgentInfo> {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        vec![AgentInfo::new(
            "local",
            &envload_benchenv::env::hostname(),
            cpus,
        )]
    }

    async fn finish(&mut self, _reason: &str) {}
}
