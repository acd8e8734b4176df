//! The flags of `envload run`, shared by `coordinator` and `ceiling`
//! (flattened into theirs), and their one conversion into the engine's
//! [`RunConfig`]. `run` keeps the reference client's flags and meanings
//! (`tests/test_scaling.py`) so users switch without relearning.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use envload_agent::headers::HeaderTemplate;
use envload_agent::plan::Abort;
use envload_agent::{CloseMode, Mode, Target};

use super::arrival_args::ArrivalArgs;
use super::workload_args::WorkloadArgs;
use crate::config::RunConfig;
use crate::error::UsageError;
use crate::plan::PlanSpec;
use crate::values::{
    parse_agents, parse_batch, parse_count, parse_fraction, parse_message_size, parse_name,
    parse_reps, parse_requests_grid, parse_seconds, parse_wait, parse_wait_grid, Grid,
};
use envload_results::slo::SloSpec;

/// Session protocol flag values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// WebSocket sessions on /ws.
    Ws,
    /// POST /reset then POST /step.
    Http,
    /// MCP over WebSocket /mcp: raw JSON-RPC tool calls, one session per
    /// connection.
    McpWs,
    /// MCP over HTTP POST /mcp: openenv/session/create, tool calls,
    /// openenv/session/close (OpenEnv's production MCP client).
    McpHttp,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Ws => Mode::Ws,
            ModeArg::Http => Mode::Http,
            ModeArg::McpWs => Mode::McpWs,
            ModeArg::McpHttp => Mode::McpHttp,
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
    /// Timeout per request (connect, reset, step), seconds [default: 120,
    /// or the scenario's].
    // `--time`, the reference's abbreviation, is kept although
    // `--time-scale` now shares the prefix.
    #[arg(short = 't', long, alias = "time", allow_hyphen_values = true, value_parser = parse_seconds)]
    pub timeout: Option<f64>,
    /// Seconds to wait for the server to finish a WebSocket close handshake
    /// (Python websockets' close_timeout); past it the session is a
    /// CloseTimeout.
    #[arg(long, default_value = "10.0", allow_hyphen_values = true, value_parser = parse_seconds)]
    pub close_timeout: f64,
    /// Largest WebSocket message or HTTP reply body accepted, bytes (or with
    /// KiB/MiB/GiB); a larger one is a MalformedResponse. Raise it for
    /// environments with big observations (images, screenshots)
    /// [default: 1MiB, or the scenario's].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_message_size)]
    pub max_message_size: Option<usize>,
    /// Number of concurrent sessions (batch size) [default: 10, or the
    /// scenario's].
    #[arg(short = 'n', long = "requests", visible_alias = "batch-size",
          allow_hyphen_values = true, value_parser = parse_batch)]
    pub requests: Option<u64>,
    /// Seconds each step waits [default: 1.0, or the scenario's].
    #[arg(short = 'w', long, allow_hyphen_values = true, value_parser = parse_wait)]
    pub wait: Option<f64>,
    /// Session protocol [default: ws, or the scenario's].
    #[arg(short = 'm', long, value_enum)]
    pub mode: Option<ModeArg>,
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
    /// Pause between phases, seconds (the reference matrix's
    /// `cooldown_seconds`) [default: 0.5 between grid phases, 1 between the
    /// two --compare phases].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_cooldown)]
    pub cooldown: Option<f64>,
    /// Hardware tier recorded in results (cpu-basic, cpu-upgrade, t4-small, …).
    #[arg(long, default_value = "cpu-basic")]
    pub hardware: String,
    /// Infrastructure name recorded in run.json (local-uvicorn, slurm-multi,
    /// …) [default: local; the report then labels the run by its folder].
    #[arg(long, value_parser = parse_name)]
    pub infrastructure: Option<String>,
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
    /// Service level every phase must meet, e.g. 'success>=0.95,p99<=3s'
    /// (clauses: success>=F or F%; [connect_|reset_|step_]pNN<=SECONDS,
    /// total by default). A phase that misses is named and the exit code
    /// is 1. `ceiling` searches on it (success and p99 only).
    #[arg(long, value_parser = parse_slo)]
    pub slo: Option<SloSpec>,
    /// Also write the run's results as one JSON document to FILE
    /// (rewritten after every phase).
    #[arg(long, value_parser = parse_summary_json)]
    pub summary_json: Option<PathBuf>,
    /// Serve live metrics in Prometheus' text format at
    /// http://ADDR/metrics while the run goes (HOST:PORT; port 0 picks one).
    #[arg(long, value_parser = parse_listen)]
    pub metrics_listen: Option<SocketAddr>,
    /// Serve a live page of the run at http://ADDR/ while it goes
    /// (HOST:PORT; port 0 picks one): the plan and its progress, sessions
    /// active, success, failures by type and latency over time, updated
    /// every second; with agents on many hosts, served here.
    #[arg(long, value_parser = parse_listen)]
    pub web: Option<SocketAddr>,
    /// Keep serving metrics this many seconds after the run ends, so a last
    /// scrape sees the final values.
    #[arg(long, default_value = "0", allow_hyphen_values = true, value_parser = parse_wait, requires = "metrics_listen")]
    pub metrics_linger: f64,
    /// Free text about the infrastructure, recorded in run.json and the
    /// experiment log's Notes (`envload experiment` passes the matrix's
    /// `notes`).
    #[arg(long)]
    pub notes: Option<String>,
    /// How the server under test was started (a command line), recorded in
    /// run.json and the experiment log's Command block.
    #[arg(long)]
    pub server_start: Option<String>,
    /// The server's worker processes, recorded in run.json and the log.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_count)]
    pub server_workers: Option<u32>,
    /// The server's MAX_CONCURRENT_ENVS, recorded in run.json and the log.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_batch)]
    pub server_max_concurrent_envs: Option<u64>,
    /// Spread sessions to an IPv4 loopback target over this many source
    /// addresses (127.0.0.1…N), each with its own local port range. 1 for
    /// NAT rules that masquerade only 127.0.0.1 (podman's CNI port
    /// forwarding: sessions from 127.0.0.2+ never get an answer).
    #[arg(long, default_value = "32", allow_hyphen_values = true,
          value_parser = clap::value_parser!(u8).range(1..=32))]
    pub loopback_sources: u8,
    /// Do not collect per-session records: no raw.jsonl, less coordinator
    /// work (unique_* columns come from the agents' distinct sets).
    #[arg(long)]
    pub no_records: bool,
    /// A header every WebSocket upgrade and HTTP request carries, 'Name:
    /// value' (repeatable); `${VAR}` in the value is taken from the
    /// environment of the process that sends it (a remote agent's own), and
    /// the value is never written or shown (`Name: <redacted>`).
    // Kept as typed and parsed in `config`, so no parse error (clap's
    // quote the value) can show it.
    #[arg(short = 'H', long = "header", value_name = "'Name: value'")]
    pub headers: Vec<String>,
    /// WebSocket keepalive: a ping every S seconds from the session's start,
    /// as Python websockets (OpenEnv's client) sends them (0: none).
    #[arg(long, default_value = "20", allow_hyphen_values = true, value_parser = parse_wait)]
    pub ping_interval: f64,
    /// A keepalive ping unanswered for S seconds fails the session
    /// (`PingTimeout`).
    #[arg(long, default_value = "20", allow_hyphen_values = true, value_parser = parse_seconds)]
    pub ping_timeout: f64,
    /// Client faults: FRACTION of the WebSocket sessions vanish without a
    /// close frame, at their reset, (first) step or thinking
    /// (`0.01@step`; stage default: step), chosen by --seed.
    #[arg(long, value_parser = crate::values::parse_abort)]
    pub abort: Option<Abort>,
    /// How an aborting session vanishes: a TCP reset, or a FIN without a
    /// WebSocket close frame.
    /// [default: rst]
    #[arg(long, value_enum)]
    pub abort_mode: Option<AbortMode>,
    /// After each phase, M plain WebSocket sessions at once, each holding
    /// its slot for a step of at least 0.5 s: a server whose capacity is M
    /// refuses `leaked_slots` = M − succeeded of them when sessions of the
    /// phase still hold slots they should have given back.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_batch)]
    pub leak_probe: Option<u64>,
    /// Client faults: FRACTION of the rollout sessions (chosen by --seed)
    /// leave their socket unread while they think, as a client whose event
    /// loop is busy generating, so the server's pings go unanswered until
    /// their next request.
    #[arg(long, value_parser = parse_fraction)]
    pub no_pong: Option<f64>,
    /// Seconds per row of the time series (timeseries.csv, latency.hlog):
    /// every interval, the sessions active, started, succeeded and failed,
    /// and each stage's latency, merged exactly across agents.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_interval, default_value = "1")]
    pub interval: f64,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    pub arrival: ArrivalArgs,
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    s.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("'{s}' is not HOST:PORT"))
}

/// A pause: seconds in [0, 86400].
pub fn parse_cooldown(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=86_400.0).contains(v))
        .ok_or_else(|| format!("'{s}' is not a pause in seconds in [0, 86400]"))
}

fn parse_slo(s: &str) -> Result<SloSpec, String> {
    s.parse()
}

/// A file path whose folder exists (the file itself is written as the run
/// goes).
fn parse_summary_json(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    if path.is_dir() {
        return Err(format!("'{s}' is a folder; give a file name"));
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !parent.is_dir() {
        return Err(format!(
            "'{s}': folder '{}' does not exist",
            parent.display()
        ));
    }
    Ok(path)
}

/// The contents of a `--ca-cert` file, checked to hold certificates.
#[derive(Debug, Clone, PartialEq)]
pub struct CaCert(pub Vec<u8>);

/// A PEM CA certificate file, read and checked (`--ca-cert`).
pub fn parse_ca_cert(path: &str) -> Result<CaCert, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read '{path}': {e}"))?;
    envload_agent::tls::parse_ca(&pem).map_err(|e| format!("'{path}': {e}"))?;
    Ok(CaCert(pem))
}

impl RunArgs {
    /// The validated configuration (plan length checked; every value was
    /// bounded by its parser).
    pub fn config(&self) -> Result<RunConfig, UsageError> {
        let scenario = self.workload.scenario()?;
        let mode: Mode = match (self.modes.first().copied(), self.mode) {
            (Some(m), _) | (None, Some(m)) => m.into(),
            (None, None) => scenario.mode.unwrap_or(Mode::Ws),
        };
        // Every mode the plan runs: --modes, else --mode; --compare adds HTTP.
        let mut modes: Vec<Mode> = self.modes.iter().map(|m| (*m).into()).collect();
        modes.push(mode);
        if self.compare {
            modes.push(Mode::Http);
        }
        let workload = self.workload.workload(&scenario, &modes)?;
        // A replay speaks as its trace did.
        let mode = match &workload.replay {
            None => mode,
            Some(r) => {
                let theirs = match r.transport {
                    envload_agent::replay::Transport::Ws => Mode::Ws,
                    envload_agent::replay::Transport::McpWs => Mode::McpWs,
                    envload_agent::replay::Transport::Http => Mode::Http,
                };
                if (self.mode.is_some() || !self.modes.is_empty() || self.compare)
                    && modes.iter().any(|m| *m != theirs)
                {
                    return Err(UsageError(format!(
                        "--replay: the trace's sessions are {}; drop --mode/--modes/--compare (the replay speaks as recorded)",
                        theirs.as_str()
                    )));
                }
                theirs
            }
        };
        let plan = PlanSpec {
            mode,
            modes: self.modes.iter().map(|m| (*m).into()).collect(),
            n: match (self.arrival.sessions()?, &scenario.stages) {
                (Some(n), _) => n,
                (None, Some(plan)) if self.requests.is_none() && self.arrival.rate.is_none() => {
                    plan.peak()
                }
                (None, Some(_)) => {
                    return Err(UsageError(format!(
                        "the scenario's stages set the users over time: it takes no -n/--rate ({})",
                        self.workload
                            .scenario
                            .as_deref()
                            .unwrap_or(std::path::Path::new(""))
                            .display()
                    )))
                }
                (None, None) => self.requests.or(scenario.requests).unwrap_or(10),
            },
            wait: self.wait.or(scenario.wait).unwrap_or(1.0),
            requests_grid: self.requests_grid.clone().map(|g| g.0),
            wait_grid: self.wait_grid.clone().map(|g| g.0),
            reps: self.reps,
            compare: self.compare,
            cooldown: self.cooldown.map(Duration::from_secs_f64),
        };
        plan.validate().map_err(UsageError)?;
        let abort = self.abort.or(scenario.abort).map(|a| Abort {
            fin: match self.abort_mode {
                Some(m) => m == AbortMode::Fin,
                None => scenario.abort_fin,
            },
            ..a
        });
        if abort.is_none() && self.abort_mode.is_some() {
            return Err(UsageError(
                "--abort-mode says how aborting sessions vanish: give --abort too".into(),
            ));
        }
        if abort.is_some() && modes.contains(&Mode::Http) {
            return Err(UsageError(
                "--abort makes WebSocket sessions vanish without a close frame (and HTTP MCP sessions leave theirs unclosed); plain HTTP sessions (--mode/--modes http, --compare) hold no slot to leak".into(),
            ));
        }
        let arrival = self.arrival.arrival(plan.n, workload.seed);
        let group = workload.group;
        if group > 1
            && arrival.max_in_flight > 0
            && arrival.max_in_flight < group * u64::from(self.agents.max(1))
        {
            return Err(UsageError(format!(
                "--max-in-flight {} cannot hold a whole --group {group} on each of {} agent(s): the members in flight would wait for ones that cannot start",
                arrival.max_in_flight,
                self.agents.max(1)
            )));
        }
        let stages = self.arrival.stages.clone().or(scenario.stages.clone());
        if stages.is_some() && (group > 1 || self.compare || self.reps > 1) {
            return Err(UsageError(
                "--stages is one phase of virtual users running sessions back to back: it takes no --group, --compare or --reps".into(),
            ));
        }
        if arrival.max_in_flight > 0 && arrival.max_in_flight < u64::from(self.agents) {
            return Err(UsageError(format!(
                "--max-in-flight {} is below --agents {}: each agent needs at least one session in flight",
                arrival.max_in_flight, self.agents
            )));
        }
        Ok(RunConfig {
            plan,
            targets: self.url.iter().chain(&self.urls).cloned().collect(),
            timeout: Duration::from_secs_f64(self.timeout.or(scenario.timeout).unwrap_or(120.0)),
            close_timeout: Duration::from_secs_f64(self.close_timeout),
            max_message: self
                .max_message_size
                .or(scenario.max_message)
                .unwrap_or(envload_agent::plan::DEFAULT_MAX_MESSAGE),
            close: self.close.into(),
            hardware: self.hardware.clone(),
            infrastructure: self
                .infrastructure
                .clone()
                .unwrap_or_else(|| "local".into()),
            infrastructure_given: self.infrastructure.is_some(),
            notes: self.notes.clone(),
            cores: self.cores,
            expected_hosts: self.expected_hosts,
            require_hosts: self.require_hosts,
            output_dir: self.output_dir.clone(),
            verbose: self.verbose,
            agents: self.agents,
            tls: envload_agent::tls::TlsOptions {
                ca_pem: self.ca_cert.as_ref().map(|c| c.0.clone()),
                insecure: self.insecure,
            },
            records: !self.no_records,
            slo: self.slo.clone(),
            summary_json: self.summary_json.clone(),
            server: envload_results::run_doc::ServerInfo {
                start: self.server_start.clone(),
                workers: self.server_workers,
                max_concurrent_envs: self.server_max_concurrent_envs,
            },
            metrics_listen: self.metrics_listen,
            web_listen: self.web,
            metrics_linger: Duration::from_secs_f64(self.metrics_linger),
            arrival,
            loopback_sources: self.loopback_sources,
            workload,
            headers: headers(&scenario.headers, &self.header_templates()?),
            ping_interval: Duration::from_secs_f64(self.ping_interval),
            ping_timeout: Duration::from_secs_f64(self.ping_timeout),
            abort,
            leak_probe: self.leak_probe.or(scenario.leak_probe).unwrap_or(0),
            no_pong: self.no_pong.unwrap_or(0.0),
            stages,
            interval: Duration::from_secs_f64(self.interval),
        })
    }
}

/// `--interval`: seconds in [0.1, 3600].
fn parse_interval(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.1..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "'{s}' is not an interval in seconds in [0.1, 3600]"
        )),
    }
}

/// `--abort-mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AbortMode {
    /// A TCP reset (SO_LINGER 0), as a killed process leaves it.
    Rst,
    /// A plain FIN, without a WebSocket close frame.
    Fin,
}

impl RunArgs {
    /// The `--header`s, parsed; an error never shows a value.
    pub fn header_templates(&self) -> Result<Vec<HeaderTemplate>, UsageError> {
        self.headers
            .iter()
            .map(|h| HeaderTemplate::parse(h).map_err(|e| UsageError(format!("--header: {e}"))))
            .collect()
    }
}

/// A scenario's headers with the flags' over them: a header given as a
/// flag replaces the scenario's of the same name.
fn headers(scenario: &[HeaderTemplate], flags: &[HeaderTemplate]) -> Vec<HeaderTemplate> {
    let given = |h: &&HeaderTemplate| flags.iter().any(|f| f.name.eq_ignore_ascii_case(&h.name));
    scenario
        .iter()
        .filter(|h| !given(h))
        .chain(flags)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_flag_replaces_the_scenarios_of_that_name() {
        let t = |s: &str| HeaderTemplate::parse(s).unwrap();
        let merged = headers(
            &[t("Authorization: Bearer old"), t("X-Team: rl")],
            &[t("authorization: Bearer new")],
        );
        let shown: Vec<String> = merged
            .iter()
            .map(|h| format!("{}: {}", h.name, h.value))
            .collect();
        assert_eq!(shown, ["X-Team: rl", "authorization: Bearer new"]);
    }
}
