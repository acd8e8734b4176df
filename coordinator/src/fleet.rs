//! A fleet of remote agents: the one owner of the coordinator's run state.
//! gRPC handlers ([`service`]) send it events over a bounded channel; it
//! splits each phase across the live agents, holds the ready barrier, starts
//! them together, merges what they stream, and survives losing some.

pub mod collect;
pub mod link;
pub mod local;
pub mod remote;
pub mod serve;
pub mod served;
pub mod service;
pub mod split;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use envload_agent::convert::assignment_to_proto;
use envload_agent::Assignment;
use envload_proto::v1::{self, agent_message::Msg as Up, coordinator_message::Msg as Down};
use tokio::sync::mpsc;
use tonic::Status;

use crate::driver::PhaseDriver;
use crate::progress::LiveProgress;
use collect::Collector;
use envload_results::model::AgentInfo;
use envload_results::model::PhaseOutcome;
use envload_results::Phase;
use service::{Event, FleetService};
use split::split_groups;

/// Fleet settings.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Required agent token, if any.
    pub token: Option<String>,
    /// How often each side sends a heartbeat.
    pub heartbeat_interval: Duration,
    /// Silence after which a peer counts as gone.
    pub heartbeat_deadline: Duration,
    /// Abort the run when fewer agents than this remain.
    pub min_agents: usize,
    /// Whether agents stream per-session records.
    pub send_records: bool,
    /// How long agents get to report ready.
    pub ready_timeout: Duration,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            token: None,
            heartbeat_interval: Duration::from_millis(500),
            heartbeat_deadline: Duration::from_secs(5),
            min_agents: 1,
            send_records: true,
            ready_timeout: Duration::from_secs(30),
        }
    }
}

struct Conn {
    hello: v1::Hello,
    tx: mpsc::Sender<Result<v1::CoordinatorMessage, Status>>,
}

/// The run-state owner.
pub struct Fleet {
    events: mpsc::Receiver<Event>,
    agents: BTreeMap<u64, Conn>,
    roster: Vec<AgentInfo>,
    config: FleetConfig,
}

impl Fleet {
    /// A fleet and the gRPC service that feeds it.
    pub fn new(config: FleetConfig) -> (Fleet, FleetService) {
        let (tx, rx) = mpsc::channel(4096);
        let service = FleetService {
            events: tx,
            token: config.token.clone(),
            next_id: Arc::new(AtomicU64::new(1)),
            heartbeat_interval: config.heartbeat_interval,
            heartbeat_deadline: config.heartbeat_deadline,
        };
        (
            Fleet {
                events: rx,
                agents: BTreeMap::new(),
                roster: Vec::new(),
                config,
            },
            service,
        )
    }

    /// Waits until `k` agents are attached, or fails after `wait` naming who
    /// joined and how many are missing.
    pub async fn wait_for(&mut self, k: usize, wait: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + wait;
        while self.agents.len() < k {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(ev)) => self.handle(ev, None),
                Ok(None) => bail!("the coordinator's service stopped"),
                Err(_) => {
                    let joined: Vec<String> = self
                        .agents
                        .values()
                        .map(|c| {
                            format!(
                                "{} on {} ({} cpus)",
                                c.hello.name, c.hello.host, c.hello.cpus
                            )
                        })
                        .collect();
                    bail!(
                        "only {} of {k} agents joined within {:.0} s (--agent-wait); joined: [{}]; missing: {}. \
                         Start more with `envload agent --coordinator URL` or lower --agents",
                        joined.len(),
                        wait.as_secs_f64(),
                        joined.join(", "),
                        k - joined.len()
                    );
                }
            }
        }
        Ok(())
    }

    fn handle(&mut self, ev: Event, mut collect: Option<&mut Collector>) {
        match ev {
            Event::Joined { id, hello, tx } => {
                eprintln!(
                    "envload coordinator: agent {} joined from {} ({} cpus, fd limit {})",
                    hello.name, hello.host, hello.cpus, hello.fd_limit
                );
                self.roster.push(AgentInfo::new(
                    &hello.name,
                    &hello.host,
                    hello.cpus as usize,
                ));
                self.agents.insert(id, Conn { hello, tx });
                if let Some(m) = crate::metrics::global() {
                    m.set_agents(self.agents.len());
                }
            }
            Event::Lost { id, reason } => {
                if let Some(conn) = self.agents.remove(&id) {
                    if let Some(m) = crate::metrics::global() {
                        m.set_agents(self.agents.len());
                    }
                    let mid_phase = collect.as_mut().is_some_and(|c| c.lost(id, &reason));
                    let what = if mid_phase {
                        "; its unfinished sessions count as AgentLost"
                    } else {
                        ""
                    };
                    eprintln!(
                        "envload coordinator: agent {} ({}) lost: {reason}{what}",
                        conn.hello.name, conn.hello.host
                    );
                }
            }
            Event::Message { id, msg } => {
                let Some(c) = collect else { return };
                if !c.has(id) {
                    return;
                }
                match *msg {
                    Up::Ready(_) => c.ready(id),
                    Up::Progress(p) => {
                        if let Err(e) = c.progress(id, &p) {
                            self.drop_agent(id, &e, Some(c));
                        }
                    }
                    Up::Records(r) => {
                        if let Err(e) = c.records(id, &r.records) {
                            self.drop_agent(id, &e, Some(c));
                        }
                    }
                    Up::Done(d) => c.done(id, d),
                    Up::Hello(_) | Up::Heartbeat(_) => {}
                }
            }
        }
    }

    fn drop_agent(&mut self, id: u64, reason: &str, collect: Option<&mut Collector>) {
        self.handle(
            Event::Lost {
                id,
                reason: reason.to_string(),
            },
            collect,
        );
    }

    async fn send(&mut self, id: u64, m: Down, collect: &mut Collector) {
        let sent = match self.agents.get(&id) {
            Some(conn) => conn
                .tx
                .send(Ok(v1::CoordinatorMessage { msg: Some(m) }))
                .await
                .is_ok(),
            None => false,
        };
        if !sent {
            self.drop_agent(id, "its stream closed", Some(collect));
        }
    }

    async fn broadcast(&mut self, m: Down) {
        for conn in self.agents.values() {
            let _ = conn
                .tx
                .send(Ok(v1::CoordinatorMessage {
                    msg: Some(m.clone()),
                }))
                .await;
        }
    }

    fn drain_pending(&mut self) {
        while let Ok(ev) = self.events.try_recv() {
            self.handle(ev, None);
        }
    }
}

impl PhaseDriver for Fleet {
    async fn run_phase(
        &mut self,
        phase: &Phase,
        template: &Assignment,
    ) -> anyhow::Result<PhaseOutcome> {
        self.drain_pending();
        if self.agents.len() < self.config.min_agents.max(1) {
            bail!(
                "{} agent(s) left, fewer than --min-agents {}: aborting the run",
                self.agents.len(),
                self.config.min_agents.max(1)
            );
        }
        let phase_no = phase.index as u64;
        let ids: Vec<u64> = self.agents.keys().copied().collect();
        let caps: Vec<u64> = self
            .agents
            .values()
            .map(|c| u64::from(c.hello.cpus))
            .collect();
        let mut collect = Collector::new(self.config.send_records);
        let mut assignments = Vec::new();
        let shares = split_groups(template.count, template.workload.group, &caps);
        for (id, (first, count)) in ids.iter().zip(shares) {
            if count == 0 {
                continue;
            }
            let a = Assignment {
                first_request_id: first,
                count,
                ..template.clone()
            };
            let hello = &self.agents[id].hello;
            collect.add(*id, &hello.name, &hello.host, a.clone());
            assignments.push((
                *id,
                assignment_to_proto(phase_no, &a, self.config.send_records),
            ));
        }
        for (id, a) in assignments {
            self.send(id, Down::Assignment(a), &mut collect).await;
        }

        // Barrier: everyone ready (or lost) before anyone starts.
        let deadline = tokio::time::Instant::now() + self.config.ready_timeout;
        while !collect.barrier_passed() {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(ev)) => self.handle(ev, Some(&mut collect)),
                Ok(None) => bail!("the coordinator's service stopped"),
                Err(_) => {
                    for id in collect.unready() {
                        self.drop_agent(
                            id,
                            "not ready within the barrier timeout",
                            Some(&mut collect),
                        );
                    }
                }
            }
        }
        collect.start();
        for id in collect.ready_ids() {
            self.send(id, Down::Start(v1::Start { phase: phase_no }), &mut collect)
                .await;
        }

        let mut live = LiveProgress::start(phase);
        let mut shown = Instant::now();
        while !collect.finished() {
            match tokio::time::timeout(Duration::from_millis(250), self.events.recv()).await {
                Ok(Some(ev)) => self.handle(ev, Some(&mut collect)),
                Ok(None) => bail!("the coordinator's service stopped"),
                Err(_) => {}
            }
            if shown.elapsed() >= Duration::from_millis(250) {
                shown = Instant::now();
                let (started, stats) = collect.live();
                live.update(started, stats);
                live.rows(&collect.rows());
            }
        }
        live.rows(&collect.rows());
        live.finish();
        Ok(collect.finish())
    }

    async fn abort(&mut self, phase: &Phase) {
        let reason = "the coordinator stopped the phase".to_string();
        self.broadcast(Down::Abort(v1::Abort {
            phase: phase.index as u64,
            reason,
        }))
        .await;
    }

    fn agents(&self) -> Vec<AgentInfo> {
        self.roster.clone()
    }

    async fn finish(&mut self, reason: &str) {
        self.broadcast(Down::Shutdown(v1::Shutdown {
            reason: reason.to_string(),
        }))
        .await;
        // Give the streams a moment to carry the Shutdown out.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
