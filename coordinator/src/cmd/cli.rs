//! Command-line interface. `run` keeps the reference client's flags and
//! meanings (`tests/test_scaling.py`) so users switch without relearning.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use envload_agent::{CloseMode, Mode, Target};

use crate::values::{
    parse_agents, parse_batch, parse_count, parse_fraction, parse_message_size, parse_name,
    parse_reps, parse_requests_grid, parse_resolution, parse_seconds, parse_wait, parse_wait_grid,
    Grid,
};

/// Measures how many concurrent OpenEnv sessions an infrastructure holds, and
/// at what latency.
#[derive(Debug, Parser)]
#[command(name = "envload", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a load test from this host (starts the embedded benchmark server
    /// when no --url is given).
    Run(Box<RunArgs>),
    /// Serve the OpenEnv benchmark environment.
    Serve(ServeArgs),
    /// Coordinate agents on many hosts: split each phase across them, merge
    /// their histograms, write one set of results.
    Coordinator(Box<CoordinatorArgs>),
    /// Generate load for a coordinator.
    Agent(AgentArgs),
    /// Print a load-balancer configuration (HAProxy or Envoy) for backends.
    LbConfig(LbArgs),
    /// Find the largest batch meeting an SLO (doubling, then bisection).
    Ceiling(Box<CeilingArgs>),
    /// Turn result folders into the experiment tables (tables.md), figures,
    /// index.html and experiment-log entries.
    Report(ReportArgs),
    /// Run one infrastructure's plan from the experiment matrix, writing
    /// results where `report` expects them.
    Experiment(ExperimentArgs),
}

/// `envload experiment`.
#[derive(Debug, Clone, Args)]
pub struct ExperimentArgs {
    /// The experiment matrix (infrastructures and grid, TOML).
    #[arg(long, default_value = "experiments/config/matrix.toml")]
    pub matrix: PathBuf,
    /// Id of the infrastructure to run (an `[[infrastructure]]` of the matrix).
    #[arg(long, value_parser = parse_name)]
    pub infrastructure: String,
    /// Results root [default: the matrix's `results`, else experiments/results].
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Print what would run (deployment, envload run command, results
    /// folder) and stop.
    #[arg(long)]
    pub dry_run: bool,
}

/// `envload report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Results folders (each with a summary.csv; envload's or the reference's).
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Where to write the report.
    #[arg(long)]
    pub out: PathBuf,
    /// Success fraction that counts for the maximum batch.
    #[arg(long, default_value = "0.95", allow_hyphen_values = true, value_parser = parse_fraction)]
    pub success_threshold: f64,
    /// Append a "Run:" entry per folder to this experiment log and update
    /// its Overview table (idempotent).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Cores of an infrastructure, INFRA=N (repeatable or comma-separated),
    /// for the batch-per-core figure; overrides run.json's `cores`.
    #[arg(long, value_delimiter = ',', value_parser = parse_cores)]
    pub cores: Vec<(String, u32)>,
}

fn parse_cores(s: &str) -> Result<(String, u32), String> {
    let (infra, n) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not INFRASTRUCTURE=CORES (e.g. local-uvicorn=8)"))?;
    let n: u32 = n
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("'{n}' in '{s}' is not a positive core count"))?;
    if infra.trim().is_empty() {
        return Err(format!("'{s}' names no infrastructure before '='"));
    }
    Ok((infra.trim().to_string(), n))
}

/// `envload ceiling`.
#[derive(Debug, Clone, Args)]
pub struct CeilingArgs {
    /// Success fraction a batch must reach.
    #[arg(long, default_value = "0.95", allow_hyphen_values = true, value_parser = parse_fraction)]
    pub success_threshold: f64,
    /// Total p99 (seconds) a batch must stay under [default: 2 × (wait + 0.5)].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_seconds)]
    pub max_p99: Option<f64>,
    /// Stop bisecting when the bracket is within this fraction of the
    /// answer (and at least one session).
    #[arg(long, default_value = "0.05", allow_hyphen_values = true, value_parser = parse_resolution)]
    pub resolution: f64,
    /// Largest batch to try.
    #[arg(long, default_value = "65536", allow_hyphen_values = true, value_parser = parse_batch)]
    pub max_n: u64,
    /// The probes' settings (the flags of `envload run`; -n is the first probe).
    #[command(flatten)]
    pub plan: RunArgs,
}

/// Load balancers `lb-config` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LbKind {
    /// HAProxy (Debian's haproxy package).
    Haproxy,
    /// Envoy.
    Envoy,
}

/// `envload lb-config`.
#[derive(Debug, Clone, Args)]
pub struct LbArgs {
    /// Which load balancer.
    #[arg(long, value_enum, default_value = "haproxy")]
    pub kind: LbKind,
    /// Where the balancer listens.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: String,
    /// Connection limit.
    #[arg(long, default_value = "100000", allow_hyphen_values = true,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub maxconn: u64,
    /// A backend HOST:PORT (repeat for each).
    #[arg(long, value_parser = crate::lb_config::parse_backend)]
    pub backend: Vec<crate::lb_config::Backend>,
}

/// Session protocol flag values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// WebSocket sessions on /ws.
    Ws,
    /// POST /reset then POST /step.
    Http,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Ws => Mode::Ws,
            ModeArg::Http => Mode::Http,
        }
    }
}

/// Close-order flag values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CloseArg {
    /// Send {"type":"close"} and close the socket (the reference's way).
    ClientFirst,
    /// Send {"type":"close"} and wait for the server to close.
    ServerFirst,
}

impl From<CloseArg> for CloseMode {
    fn from(c: CloseArg) -> Self {
        match c {
            CloseArg::ClientFirst => CloseMode::ClientFirst,
            CloseArg::ServerFirst => CloseMode::ServerFirst,
        }
    }
}

/// `envload run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Server URL (http://HOST:PORT or ws://HOST:PORT/ws). Without it (and
    /// without --urls) envload starts its embedded benchmark server.
    #[arg(short = 'u', long, value_parser = Target::parse)]
    pub url: Option<Target>,
    /// Several server URLs, comma-separated; sessions go round-robin.
    #[arg(long, value_delimiter = ',', value_parser = Target::parse, conflicts_with = "url")]
    pub urls: Vec<Target>,
    /// Timeout per request (connect, reset, step), seconds.
    #[arg(short = 't', long, default_value = "120.0", allow_hyphen_values = true, value_parser = parse_seconds)]
    pub timeout: f64,
    /// Seconds to wait for the server to finish a WebSocket close handshake
    /// (Python websockets' close_timeout); past it the session is a
    /// CloseTimeout.
    #[arg(long, default_value = "10.0", allow_hyphen_values = true, value_parser = parse_seconds)]
    pub close_timeout: f64,
    /// Largest WebSocket message or HTTP reply body accepted, bytes (or with
    /// KiB/MiB/GiB); a larger one is a MalformedResponse. Raise it for
    /// environments with big observations (images, screenshots).
    #[arg(long, default_value = "1MiB", allow_hyphen_values = true, value_parser = parse_message_size)]
    pub max_message_size: usize,
    /// Number of concurrent sessions (batch size).
    #[arg(short = 'n', long = "requests", visible_alias = "batch-size", default_value = "10",
          allow_hyphen_values = true, value_parser = parse_batch)]
    pub requests: u64,
    /// Seconds each step waits.
    #[arg(short = 'w', long, default_value = "1.0", allow_hyphen_values = true, value_parser = parse_wait)]
    pub wait: f64,
    /// Session protocol.
    #[arg(short = 'm', long, value_enum, default_value = "ws")]
    pub mode: ModeArg,
    /// Sweep the grid in each of these modes, one after the other
    /// (`ws,http`); replaces --mode (an envload addition).
    #[arg(long, value_enum, value_delimiter = ',', conflicts_with = "compare")]
    pub modes: Vec<ModeArg>,
    /// Comma-separated batch sizes for a grid sweep (e.g. 1,2,4,8).
    #[arg(long, visible_alias = "batch-size-grid", allow_hyphen_values = true, value_parser = parse_requests_grid)]
    pub requests_grid: Option<Grid<u64>>,
    /// Comma-separated wait times for a grid sweep (e.g. 0.1,1.0).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_wait_grid)]
    pub wait_grid: Option<Grid<f64>>,
    /// Repetitions per grid configuration.
    #[arg(long, default_value = "1", allow_hyphen_values = true, value_parser = parse_reps)]
    pub reps: u32,
    /// Compare HTTP and WebSocket at the same N and wait.
    #[arg(long)]
    pub compare: bool,
    /// Hardware tier recorded in results (cpu-basic, cpu-upgrade, t4-small, …).
    #[arg(long, default_value = "cpu-basic")]
    pub hardware: String,
    /// Infrastructure name recorded in run.json (local-uvicorn, slurm-multi, …).
    #[arg(long, default_value = "local", value_parser = parse_name)]
    pub infrastructure: String,
    /// CPU cores of the infrastructure under test, recorded in run.json for
    /// the report's batch-per-core figure [default: this machine's when the
    /// embedded server is the target, else unrecorded].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_count)]
    pub cores: Option<u32>,
    /// Distinct server hosts expected to answer each phase.
    #[arg(long, allow_hyphen_values = true, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub expected_hosts: Option<u64>,
    /// Fail (exit 1) when a phase saw fewer hosts than --expected-hosts.
    #[arg(long, requires = "expected_hosts")]
    pub require_hosts: bool,
    /// Directory for raw.jsonl, summary.csv, run.json [default:
    /// experiments/results/<infrastructure>/<YYYY-MM-DD>]
    #[arg(short = 'o', long)]
    pub output_dir: Option<PathBuf>,
    /// Print a latency summary per phase.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Who closes a WebSocket session first.
    #[arg(long, value_enum, default_value = "client-first")]
    pub close: CloseArg,
    /// `run`: spread the load over this many local agent processes (0: run
    /// it in this process). `coordinator`: agents to wait for.
    #[arg(long, default_value = "0", allow_hyphen_values = true, value_parser = parse_agents)]
    pub agents: u32,
    /// Also trust these CA certificates (PEM) for https:// and wss:// targets.
    #[arg(long, value_parser = parse_ca_cert)]
    pub ca_cert: Option<CaCert>,
    /// Accept any TLS server certificate (self-signed test servers).
    #[arg(long)]
    pub insecure: bool,
    /// Do not collect per-session records: no raw.jsonl, less coordinator
    /// work (unique_* columns come from the agents' distinct sets).
    #[arg(long)]
    pub no_records: bool,
}

/// `envload coordinator`.
#[derive(Debug, Clone, Args)]
pub struct CoordinatorArgs {
    /// Address to listen on for agents.
    #[arg(long, default_value = "0.0.0.0:7700")]
    pub listen: String,
    /// Seconds to wait for --agents agents to join.
    #[arg(long, default_value = "120", allow_hyphen_values = true, value_parser = parse_seconds)]
    pub agent_wait: f64,
    /// Abort the run when fewer agents than this remain.
    #[arg(long, default_value = "1", allow_hyphen_values = true, value_parser = parse_count)]
    pub min_agents: u32,
    /// Token agents must present.
    #[arg(long, env = "ENVLOAD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Seconds of silence after which an agent counts as lost.
    #[arg(long, default_value = "5", allow_hyphen_values = true, value_parser = parse_seconds)]
    pub heartbeat_deadline: f64,
    /// The plan (the flags of `envload run`).
    #[command(flatten)]
    pub plan: RunArgs,
}

/// `envload agent`.
#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// The coordinator's URL (http://HOST:PORT).
    #[arg(long)]
    pub coordinator: String,
    /// Agent name [default: HOSTNAME-PID].
    #[arg(long)]
    pub name: Option<String>,
    /// The coordinator's token.
    #[arg(long, env = "ENVLOAD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Capacity declared to the coordinator [default: CPU count].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_count)]
    pub cpus: Option<u32>,
    /// Seconds to keep trying to reach the coordinator.
    #[arg(long, default_value = "120", allow_hyphen_values = true, value_parser = parse_seconds)]
    pub connect_for: f64,
    /// Test hook: announce another protocol version.
    #[arg(long, hide = true)]
    pub protocol_version: Option<u32>,
}

/// `envload serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to bind.
    #[arg(long, default_value = "0.0.0.0")]
    pub host: String,
    /// Port to bind (0 picks a free one).
    #[arg(long, env = "PORT", default_value = "8000", allow_hyphen_values = true)]
    pub port: u16,
    /// Worker processes sharing the port.
    #[arg(long, env = "WORKERS", default_value = "1", allow_hyphen_values = true,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub workers: u32,
    /// WebSocket sessions allowed at once per worker process.
    #[arg(long, env = "MAX_CONCURRENT_ENVS", default_value = "100000", allow_hyphen_values = true,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_concurrent_envs: u64,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Internal: run as one worker of a --workers supervisor.
    #[arg(long, hide = true)]
    pub worker: bool,
    /// Test hook: every session fails with FACTORY_ERROR.
    #[arg(long, hide = true)]
    pub inject_factory_error: bool,
}

/// The contents of a `--ca-cert` file, checked to hold certificates.
#[derive(Debug, Clone, PartialEq)]
pub struct CaCert(pub Vec<u8>);

fn parse_ca_cert(path: &str) -> Result<CaCert, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read '{path}': {e}"))?;
    envload_agent::tls::parse_ca(&pem).map_err(|e| format!("'{path}': {e}"))?;
    Ok(CaCert(pem))
}
