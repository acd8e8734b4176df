//! The driver a run starts, whoever drives it: the in-process agent (the
//! agent's own share runner, in this process), `--agents K` local agent
//! processes over gRPC on loopback, or the remote agents of `envload
//! coordinator` — one type, so the launch, the phase loop and the ceiling
//! search are the same for all.

use envload_agent::{run_share_with, Assignment, ShareResult};
use envload_results::model::{AgentInfo, AgentPhase, PhaseOutcome};
use envload_results::summary::Uniques;
use envload_results::Phase;

use crate::driver::PhaseDriver;
use crate::fleet::remote::{self, RemoteAgents};
use crate::fleet::served::ServedFleet;
use crate::progress::LiveProgress;
use crate::shutdown::Shutdown;
use crate::timeseries::Series;

/// Where the sessions run.
#[derive(Debug, Clone)]
pub enum Agents {
    /// On this host: in this process (`--agents 0`) or in `--agents K`
    /// local agent processes.
    Here,
    /// On the agents that join `envload coordinator` (`--agents K` of them).
    Remote(RemoteAgents),
}

/// In-process, or a fleet of agents (local processes or remote ones).
pub enum RunDriver {
    /// `--agents 0`.
    InProcess(InProcess),
    /// `--agents K` on this host, or `envload coordinator`'s agents.
    Fleet(Box<ServedFleet>),
}

impl RunDriver {
    /// Starts what `agents` and `count` (`--agents`) ask for; `None` when a
    /// signal came first (what was half started is stopped).
    pub async fn start(
        agents: &Agents,
        count: u32,
        send_records: bool,
        shutdown: &Shutdown,
    ) -> anyhow::Result<Option<Self>> {
        Ok(match agents {
            Agents::Here if count == 0 => Some(RunDriver::InProcess(InProcess {
                records: send_records,
            })),
            // Starting local agents takes a moment; dropping the half-started
            // fleet stops it.
            Agents::Here => tokio::select! {
                biased;
                _ = shutdown.requested() => {
                    eprintln!("envload: interrupted while starting");
                    None
                }
                f = crate::fleet::local::start(count, send_records) => Some(RunDriver::Fleet(Box::new(f?))),
            },
            Agents::Remote(how) => {
                let mut remote = remote::listen(how, count).await?;
                tokio::select! {
                    biased;
                    _ = shutdown.requested() => {
                        eprintln!("envload: interrupted while waiting for agents");
                        remote.stop().await;
                        None
                    }
                    r = remote.fleet().wait_for(count as usize, how.wait) => {
                        r?;
                        Some(RunDriver::Fleet(Box::new(remote)))
                    }
                }
            }
        })
    }

    /// Stops the local agents or the service, if any.
    pub async fn stop(&mut self) {
        match self {
            RunDriver::InProcess(_) => {}
            RunDriver::Fleet(f) => f.stop().await,
        }
    }
}

impl PhaseDriver for RunDriver {
    async fn run_phase(
        &mut self,
        phase: &Phase,
        template: &Assignment,
    ) -> anyhow::Result<PhaseOutcome> {
        match self {
            RunDriver::InProcess(d) => d.run_phase(phase, template).await,
            RunDriver::Fleet(f) => f.fleet().run_phase(phase, template).await,
        }
    }

    async fn abort(&mut self, phase: &Phase) {
        match self {
            RunDriver::InProcess(d) => d.abort(phase).await,
            RunDriver::Fleet(f) => f.fleet().abort(phase).await,
        }
    }

    fn agents(&self) -> Vec<AgentInfo> {
        match self {
            RunDriver::InProcess(d) => d.agents(),
            RunDriver::Fleet(f) => f.agents(),
        }
    }

    async fn finish(&mut self, reason: &str) {
        match self {
            RunDriver::InProcess(d) => d.finish(reason).await,
            RunDriver::Fleet(f) => f.fleet().finish(reason).await,
        }
    }
}

/// The in-process agent of `envload run`.
pub struct InProcess {
    /// Per-session records kept for raw.jsonl (`--no-records`: none, so a
    /// soak's memory does not grow with its sessions).
    pub records: bool,
}

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
        let mut series = Series::new(template.interval, [0]);
        let share = run_share_with(template, self.records, |started, stats, closed| {
            for iv in closed {
                series.add(0, iv);
            }
            live.update(started, stats);
            live.rows(&series.ready());
        })
        .await;
        live.rows(&series.rest());
        live.finish();
        let ShareResult {
            mut records,
            stats,
            wall,
            distinct,
        } = share;
        records.sort_by_key(|r| r.request_id);
        let uniques = Uniques::from(&distinct);
        let me = &self.agents()[0];
        let agents = vec![AgentPhase {
            name: me.name.clone(),
            host: me.host.clone(),
            assigned: template.count,
            successful: stats.successful,
            failed: stats.failed,
            lost: None,
            start_skew_ms: None,
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
