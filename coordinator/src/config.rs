//! A run's validated configuration: what `run`, `coordinator`, `ceiling`
//! and `experiment` hand the engine. The command line is parsed into it once
//! (`cmd::run_args`), checked with the messages users see; nothing below
//! this point sees a clap type.

use std::path::PathBuf;
use std::time::Duration;

use envload_agent::tls::TlsOptions;
use envload_agent::workload::Workload;
use envload_agent::{Assignment, CloseMode, Target};

use crate::plan::PlanSpec;
use envload_results::slo::SloSpec;
use envload_results::Phase;

/// Everything a run is configured with.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The phases to run.
    pub plan: PlanSpec,
    /// The targets given (`--url`, `--urls`); empty: the embedded server.
    pub targets: Vec<Target>,
    /// Each request's deadline (`--timeout`).
    pub timeout: Duration,
    /// The WebSocket close handshake's bound (`--close-timeout`).
    pub close_timeout: Duration,
    /// Largest message or body accepted (`--max-message-size`).
    pub max_message: usize,
    /// Who closes a WebSocket session first (`--close`).
    pub close: CloseMode,
    /// `--hardware`, recorded in every row.
    pub hardware: String,
    /// `--infrastructure`, recorded in run.json; names the default folder.
    pub infrastructure: String,
    /// Whether `--infrastructure` was given (else "local", and the report
    /// labels the run by its folder).
    pub infrastructure_given: bool,
    /// `--notes`, recorded in run.json.
    pub notes: Option<String>,
    /// `--cores` of the infrastructure under test.
    pub cores: Option<u32>,
    /// `--expected-hosts`.
    pub expected_hosts: Option<u64>,
    /// `--require-hosts`.
    pub require_hosts: bool,
    /// `--output-dir`; `None`: `experiments/results/<infrastructure>/<date>`.
    pub output_dir: Option<PathBuf>,
    /// `--verbose`: a latency summary per phase.
    pub verbose: bool,
    /// `--agents`: local agent processes (`run`) or agents to wait for
    /// (`coordinator`).
    pub agents: u32,
    /// Certificate verification for TLS targets.
    pub tls: TlsOptions,
    /// Per-session records kept (raw.jsonl); `--no-records` turns them off.
    pub records: bool,
    /// `--slo`: every phase must meet it, or the exit code is 1.
    pub slo: Option<SloSpec>,
    /// `--summary-json`: the results as one JSON document.
    pub summary_json: Option<PathBuf>,
    /// `--metrics-listen`: where live metrics are served.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `--web`: where the live page is served.
    pub web_listen: Option<std::net::SocketAddr>,
    /// `--metrics-linger`: how long they outlive the run.
    pub metrics_linger: Duration,
    /// What is known of the server under test (`--server-*`).
    pub server: envload_results::run_doc::ServerInfo,
    /// `--loopback-sources`: 127.0.0.x addresses sessions to a loopback
    /// target come from.
    pub loopback_sources: u8,
    /// When sessions start (`--ramp-up`, `--rate`/`--duration`).
    pub arrival: envload_agent::Arrival,
    /// What each session does (`--steps`, `--think`, `--scenario`, …).
    pub workload: Workload,
    /// `--header`s (and the scenario's), as templates: expanded where the
    /// sessions run.
    pub headers: Vec<envload_agent::headers::HeaderTemplate>,
    /// `--ping-interval` (zero: no keepalive pings).
    pub ping_interval: Duration,
    /// `--ping-timeout`.
    pub ping_timeout: Duration,
    /// `--abort`, `--abort-mode`.
    pub abort: Option<envload_agent::plan::Abort>,
    /// `--leak-probe M` (0: none).
    pub leak_probe: u64,
    /// `--no-pong FRACTION` (0: none).
    pub no_pong: f64,
    /// `--stages`: every phase is this plan of virtual users.
    pub stages: Option<envload_agent::stages::Stages>,
    /// `--interval`: the time series' interval width.
    pub interval: Duration,
}

impl RunConfig {
    /// Most sessions open at once in any phase: the largest N, or the open
    /// model's in-flight bound when lower.
    pub fn max_concurrent(&self) -> u64 {
        let n = self.plan.max_n();
        match self.arrival.max_in_flight {
            0 => n,
            m => n.min(m),
        }
    }

    /// The phase-wide assignment against `targets`: the whole id range;
    /// drivers split it.
    pub fn template(&self, phase: &Phase, targets: &[Target]) -> Assignment {
        Assignment {
            mode: phase.mode,
            targets: targets.to_vec(),
            wait_seconds: phase.wait,
            batch_size: phase.n,
            first_request_id: 0,
            count: phase.n,
            timeout: self.timeout,
            close_timeout: self.close_timeout,
            max_message: self.max_message,
            close: self.close,
            hardware: self.hardware.clone(),
            tls: self.tls.clone(),
            workload: self.workload.clone(),
            arrival: self.arrival,
            loopback_sources: self.loopback_sources,
            headers: self.headers.clone(),
            ping_interval: self.ping_interval,
            ping_timeout: self.ping_timeout,
            abort: self.abort,
            no_pong: self.no_pong,
            stages: self.stages.clone(),
            interval: self.interval,
        }
    }
}
