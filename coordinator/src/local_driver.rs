//! The driver of a single-host command (`run`, `ceiling`): the in-process
//! agent, or with `--agents K` K local agent processes over gRPC.

use envload_agent::Assignment;

use crate::driver::{InProcess, PhaseDriver};
use crate::fleet::local::LocalFleet;
use crate::plan::Phase;
use crate::result::AgentInfo;
use crate::result::PhaseOutcome;

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
