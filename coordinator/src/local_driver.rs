//! The driver of a single-host command (`run`, `ceiling`): the in-process
//! agent (the agent's own share runner, in this process), or with
//! `--agents K` K local agent processes over gRPC.

use envload_agent::{run_share_with, Assignment, ShareResult};

use crate::driver::PhaseDriver;
use crate::fleet::local::LocalFleet;
use crate::plan::Phase;
use crate::progress::LiveProgress;
use crate::result::AgentInfo;
use crate::result::{AgentPhase, PhaseOutcome};
use crate::summary::Uniques;

/// In-process, or a local fleet.
pub enum LocalDriver {
    /// `--agents 0`.
    InProcess(InProcess),
    /// `--agents K`.
    Fleet(Box<LocalFleet>),
}

impl LocalDriver {
    /// Starts what `agents` asks for.
    pub async fn start(agents: u32, send_records: bool) -> anyhow::Result<Self> {
        Ok(if agents == 0 {
            LocalDriver::InProcess(InProcess)
        } else {
            LocalDriver::Fleet(Box::new(LocalFleet::start(agents, send_records).await?))
        })
    }

    /// Stops the local agents, if any.
    pub async fn stop(&mut self) {
        if let LocalDriver::Fleet(f) = self {
            f.stop().await;
        }
    }
}

impl PhaseDriver for LocalDriver {
    async fn run_phase(
        &mut self,
        phase: &Phase,
        template: &Assignment,
    ) -> anyhow::Result<PhaseOutcome> {
        match self {
            LocalDriver::InProcess(d) => d.run_phase(phase, template).await,
            LocalDriver::Fleet(f) => f.fleet().run_phase(phase, template).await,
        }
    }

    async fn abort(&mut self, phase: &Phase) {
        match self {
            LocalDriver::InProcess(d) => d.abort(phase).await,
            LocalDriver::Fleet(f) => f.fleet().abort(phase).await,
        }
    }

    fn agents(&self) -> Vec<AgentInfo> {
        match self {
            LocalDriver::InProcess(d) => d.agents(),
            LocalDriver::Fleet(f) => f.agents(),
        }
    }

    async fn finish(&mut self, reason: &str) {
        match self {
            LocalDriver::InProcess(d) => d.finish(reason).await,
            LocalDriver::Fleet(f) => f.fleet().finish(reason).await,
        }
    }
}

/// The in-process agent of `envload run`.
pub struct InProcess;

impl PhaseDriver for InProcess {
    async fn run_phase(
        &mut self,
        phase: &Phase,
        template: &Assignment,
    ) -> anyhow::Result<PhaseOutcome> {
        if let Some(m) = crate::metrics::global() {
            m.set_agents(1);
        }
        let mut live = LiveProgress::start(phase);
        let share = run_share_with(template, |started, stats| live.update(started, stats)).await;
        live.finish();
        let ShareResult {
            mut records,
            stats,
            wall,
        } = share;
        records.sort_by_key(|r| r.request_id);
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
            &envload_agent::host::hostname(),
            cpus,
        )]
    }

    async fn finish(&mut self, _reason: &str) {}
}
