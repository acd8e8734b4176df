//! A driver for unit tests: every phase finishes at once against an
//! imagined server that holds `capacity` sessions (the rest fail with
//! `CapacityReached`), each taking `latency`; it can raise the shutdown
//! signal while a given phase finishes. No sockets, no processes. And
//! [`Setup`]: a run's configuration and a fresh results folder for it.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use envload_agent::record::Timings;
use envload_agent::{
    Assignment, CloseMode, ErrorType, Failure, Mode, PhaseStats, SessionRecord, Target,
};
use tokio::sync::watch;

use super::PhaseDriver;
use crate::config::RunConfig;
use crate::plan::PlanSpec;
use crate::recorder::RunContext;
use crate::shutdown::Shutdown;
use envload_results::model::{AgentInfo, AgentPhase, PhaseOutcome};
use envload_results::summary::Uniques;
use envload_results::Phase;

/// The imagined server and what happened to it.
pub struct Fake {
    /// Sessions it holds; more fail.
    pub capacity: u64,
    /// Each successful session's total latency.
    pub latency: Duration,
    /// The N of every phase run, in order.
    pub ran: Vec<u64>,
    /// Raise the signal while phase `index` finishes (its results are then
    /// written before the signal is seen).
    pub signal_at: Option<(usize, watch::Sender<bool>)>,
}

impl Fake {
    /// A server of `capacity` sessions answering in 10 ms.
    pub fn new(capacity: u64) -> Fake {
        Fake {
            capacity,
            latency: Duration::from_millis(10),
            ran: Vec::new(),
            signal_at: None,
        }
    }
}

impl PhaseDriver for Fake {
    async fn run_phase(
        &mut self,
        phase: &Phase,
        template: &Assignment,
    ) -> anyhow::Result<PhaseOutcome> {
        self.ran.push(phase.n);
        if let Some((at, tx)) = &self.signal_at {
            if *at == phase.index {
                tx.send(true).unwrap();
            }
        }
        let mut records = Vec::new();
        let mut stats = PhaseStats::default();
        for id in 0..template.count {
            let ok = id < self.capacity;
            let rec = SessionRecord {
                request_id: id,
                mode: template.mode,
                timestamp: Utc::now(),
                wait_requested: template.wait_seconds,
                batch_size: template.batch_size,
                hardware: template.hardware.clone(),
                target_index: 0,
                timings: Timings {
                    total_us: envload_agent::record::micros(self.latency),
                    ..Default::default()
                },
                observed: Default::default(),
                failure: (!ok).then(|| Failure::new(ErrorType::CapacityReached, "full")),
                ended_after: self.latency,
                rollout: None,
                start_lag: None,
            };
            stats.record(&rec);
            records.push(rec);
        }
        Ok(PhaseOutcome {
            uniques: Uniques::from_records(&records),
            agents: vec![AgentPhase {
                name: "fake".into(),
                host: "here".into(),
                assigned: template.count,
                successful: stats.successful,
                failed: stats.failed,
                lost: None,
                start_skew_ms: None,
            }],
            records,
            stats,
            wall: self.latency,
        })
    }

    async fn abort(&mut self, _phase: &Phase) {}

    fn agents(&self) -> Vec<AgentInfo> {
        vec![AgentInfo::new("fake", "here", 1)]
    }

    async fn finish(&mut self, _reason: &str) {}
}

/// A run of `plan` against a target nothing serves (the fake never dials
/// it), writing into a fresh temporary folder removed on drop.
pub struct Setup {
    pub config: RunConfig,
    pub targets: Vec<Target>,
    pub dir: PathBuf,
}

impl Setup {
    /// WebSocket phases of `ns` sessions (a grid when more than one), wait 0.
    pub fn grid(ns: &[u64]) -> Setup {
        static RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let k = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("envload-fake-{}-{k}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let plan = PlanSpec {
            mode: Mode::Ws,
            modes: Vec::new(),
            n: ns[0],
            wait: 0.0,
            requests_grid: (ns.len() > 1).then(|| ns.to_vec()),
            wait_grid: None,
            reps: 1,
            compare: false,
            cooldown: None,
        };
        let targets = vec![Target::parse("http://127.0.0.1:9").unwrap()];
        let config = RunConfig {
            plan,
            targets: targets.clone(),
            timeout: Duration::from_secs(120),
            close_timeout: Duration::from_secs(10),
            max_message: 1 << 20,
            close: CloseMode::ClientFirst,
            hardware: "cpu-basic".into(),
            infrastructure: "fake".into(),
            infrastructure_given: true,
            notes: None,
            cores: None,
            expected_hosts: None,
            require_hosts: false,
            output_dir: Some(dir.clone()),
            verbose: false,
            agents: 0,
            tls: Default::default(),
            records: true,
            slo: None,
            summary_json: None,
            server: Default::default(),
            metrics_listen: None,
            web_listen: None,
            metrics_linger: Default::default(),
            arrival: Default::default(),
            loopback_sources: 32,
            headers: Vec::new(),
            ping_interval: Duration::ZERO,
            ping_timeout: Duration::from_secs(20),
            abort: None,
            leak_probe: 0,
            no_pong: 0.0,
            stages: None,
            interval: envload_agent::plan::DEFAULT_INTERVAL,
            workload: Default::default(),
        };
        Setup {
            config,
            targets,
            dir,
        }
    }

    /// The run's context, listening to `shutdown`.
    pub fn context(&self, shutdown: Shutdown) -> RunContext<'_> {
        RunContext {
            config: &self.config,
            targets: &self.targets,
            dir: &self.dir,
            argv: Vec::new(),
            embedded: None,
            embedded_pid: None,
            shutdown,
        }
    }

    /// A result file of the run.
    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
