//! What one agent is asked to run: its share of one phase.

use std::time::Duration;

use crate::target::Target;

/// Session protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `/ws`: connect, reset, step, close.
    Ws,
    /// `POST /reset` then `POST /step`.
    Http,
    /// `/mcp` over WebSocket: raw JSON-RPC tool calls, one session per
    /// connection (an agent harness's MCP client).
    McpWs,
    /// `POST /mcp`: `openenv/session/create`, tool calls naming the
    /// session, `openenv/session/close` (OpenEnv's production MCP client).
    McpHttp,
}

impl Mode {
    /// Every mode, in the order `--mode` lists them.
    pub const ALL: [Mode; 4] = [Mode::Ws, Mode::Http, Mode::McpWs, Mode::McpHttp];

    /// The name used in results and on the command line (`"ws"`, `"http"`,
    /// `"mcp-ws"`, `"mcp-http"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Ws => "ws",
            Mode::Http => "http",
            Mode::McpWs => "mcp-ws",
            Mode::McpHttp => "mcp-http",
        }
    }

    /// The mode named `s` ([`Mode::as_str`]).
    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether sessions of this mode are MCP sessions (JSON-RPC calls,
    /// no reset or step).
    pub fn is_mcp(self) -> bool {
        matches!(self, Mode::McpWs | Mode::McpHttp)
    }

    /// Whether sessions of this mode speak over a WebSocket.
    pub fn is_websocket(self) -> bool {
        matches!(self, Mode::Ws | Mode::McpWs)
    }
}

/// Who closes a WebSocket session first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseMode {
    /// Send `{"type":"close"}` and close the socket at once (the reference
    /// client's way).
    ClientFirst,
    /// Send `{"type":"close"}` and wait for the server's close frame (spares
    /// openenv-core 0.3.0 a traceback per session).
    ServerFirst,
}

/// Default `--close-timeout`: Python websockets' `close_timeout`.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--max-message-size`: 1 MiB, the benchmark's replies are ~200 B.
pub const DEFAULT_MAX_MESSAGE: usize = 1 << 20;

/// What bounds one session's time and memory, whatever the server does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Each request's deadline, from when it is sent (`--timeout`).
    pub request: Duration,
    /// The close handshake's own bound (`--close-timeout`).
    pub close: Duration,
    /// Largest WebSocket message or HTTP body accepted (`--max-message-size`).
    pub max_message: usize,
    /// Client keepalive pings this often (`--ping-interval`; `None`: off).
    pub ping_interval: Option<Duration>,
    /// Each ping's pong due within this (`--ping-timeout`).
    pub ping_timeout: Duration,
}

/// When the sessions of a phase start: all at once (the reference's way),
/// spread evenly over a ramp (`--ramp-up`), or on a fixed schedule whatever
/// the server does (`--rate`/`--duration`, the open model). The schedule is
/// phase-wide — session `k` of the phase starts `spread × k / N` after the
/// start, or with Poisson arrivals (`--arrival poisson`) after the sum of
/// `k` exponential gaps of mean `spread / N` drawn from the seed — so agents
/// running shares of one phase keep one schedule.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Arrival {
    /// The starts span this (zero: all at once).
    pub spread: Duration,
    /// Open model: a session's total latency counts from its scheduled
    /// start, so time spent waiting to start (client lag, the in-flight
    /// bound) is not omitted (coordinated omission corrected, as wrk2 does).
    pub open: bool,
    /// Most sessions in flight across the phase (0: no bound); a session
    /// due while the bound is reached waits for one to end.
    pub max_in_flight: u64,
    /// Poisson arrivals, drawn from this seed (`None`: evenly spaced).
    pub poisson: Option<u64>,
}

impl Arrival {
    /// Whether sessions start on a schedule.
    pub fn scheduled(&self) -> bool {
        !self.spread.is_zero()
    }

    /// When sessions `first..first + count` of a phase of `n` start, after
    /// the phase start (empty when they all start at once). Sessions arrive
    /// in units of `group` (a GRPO group starts together; 1: one by one).
    /// Poisson gaps are drawn in phase-wide order from the seed, so every
    /// share of the phase draws the same schedule.
    pub fn schedule(&self, first: u64, count: u64, n: u64, group: u64) -> Vec<Duration> {
        if !self.scheduled() || count == 0 {
            return Vec::new();
        }
        let group = group.max(1);
        let n = u128::from(n.max(1));
        let Some(seed) = self.poisson else {
            return (first..first + count)
                .map(|id| {
                    let lead = u128::from(id - id % group);
                    let ns = self.spread.as_nanos() * lead / n;
                    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
                })
                .collect();
        };
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5EED_A441_7A15_0000);
        let mean = self.spread.as_secs_f64() * group as f64 / n as f64;
        let last_unit = (first + count - 1) / group;
        let mut at = 0.0f64;
        let mut units = Vec::with_capacity((last_unit - first / group + 1) as usize);
        for unit in 0..=last_unit {
            if unit >= first / group {
                units.push(Duration::from_secs_f64(at.min(1e9)));
            }
            // The gap to the next arrival: exponential, u in (0, 1].
            at += -mean * (1.0 - rng.random::<f64>()).ln();
        }
        (first..first + count)
            .map(|id| units[(id / group - first / group) as usize])
            .collect()
    }
}

/// Client faults (`--abort FRACTION[@reset|@step|@think]`): that fraction
/// of a phase's WebSocket sessions vanish without a close frame — as a
/// trainer's crashed worker does — so a server that leaks their slots shows
/// it. Which sessions is decided by the seed and each session's id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Abort {
    /// Of the sessions, this fraction vanish.
    pub fraction: f64,
    /// When.
    pub stage: AbortStage,
    /// FIN without a close frame (`--abort-mode fin`) rather than RST.
    pub fin: bool,
}

/// When an aborting session vanishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortStage {
    /// Its reset sent, before the reply.
    Reset,
    /// Its (first) step sent, before the reply.
    Step,
    /// After the reset's reply, while the agent would think.
    Think,
}

impl AbortStage {
    /// As the flag names it.
    pub fn as_str(self) -> &'static str {
        match self {
            AbortStage::Reset => "reset",
            AbortStage::Step => "step",
            AbortStage::Think => "think",
        }
    }
}

impl Abort {
    /// Whether session `request_id` vanishes, as `seed` decides.
    pub fn chosen(&self, seed: u64, request_id: u64) -> bool {
        chosen(self.fraction, seed ^ 0xAB0_27AB_0127, request_id)
    }
}

/// Whether session `request_id` is among `fraction` of a phase's, as
/// `seed` decides (the same sessions whatever the agents).
pub fn chosen(fraction: f64, seed: u64, request_id: u64) -> bool {
    use rand::{Rng, SeedableRng};
    let mut rng =
        rand::rngs::StdRng::seed_from_u64(seed ^ request_id.wrapping_mul(0xD1B5_4A32_D192_ED03));
    rng.random::<f64>() < fraction
}

/// Python websockets' keepalive, which OpenEnv's client inherits: a ping
/// every 20 s, each answered within 20 s.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
/// See [`DEFAULT_PING_INTERVAL`].
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// One agent's share of one phase.
#[derive(Debug, Clone)]
pub struct Assignment {
    /// Session protocol.
    pub mode: Mode,
    /// Targets; session `request_id` goes to `targets[request_id % len]`.
    pub targets: Vec<Target>,
    /// Seconds each step asks the environment to wait.
    pub wait_seconds: f64,
    /// N of the whole phase (the `batch_size` column).
    pub batch_size: u64,
    /// First `request_id` of this share.
    pub first_request_id: u64,
    /// Sessions in this share (ids `first..first+count`).
    pub count: u64,
    /// Per-request timeout (connect, reset, step each).
    pub timeout: Duration,
    /// Bound of the WebSocket close handshake.
    pub close_timeout: Duration,
    /// Largest WebSocket message or HTTP body accepted, bytes.
    pub max_message: usize,
    /// Close order for WebSocket sessions.
    pub close: CloseMode,
    /// `hardware` label copied into every record.
    pub hardware: String,
    /// Certificate verification for TLS targets.
    pub tls: crate::tls::TlsOptions,
    /// What each session does once connected (default: the benchmark's
    /// one step).
    pub workload: crate::workload::Workload,
    /// When its sessions start.
    pub arrival: Arrival,
    /// How many 127.0.0.x addresses sessions to an IPv4 loopback target
    /// come from (1..=32; `--loopback-sources`).
    pub loopback_sources: u8,
    /// The user's headers (`--header`), expanded where sessions run.
    pub headers: Vec<crate::headers::HeaderTemplate>,
    /// WebSocket keepalive pings this often (zero: none; `--ping-interval`).
    pub ping_interval: Duration,
    /// Each ping's pong due within this (`--ping-timeout`).
    pub ping_timeout: Duration,
    /// Sessions that vanish (`--abort`).
    pub abort: Option<Abort>,
    /// This fraction of the sessions (chosen by the seed) leave their socket
    /// unread while they think, so server pings go unanswered (`--no-pong`).
    pub no_pong: f64,
    /// A stage plan (`--stages`): `count` virtual users of the phase's
    /// `batch_size`, each running sessions back to back while the plan
    /// holds it.
    pub stages: Option<crate::stages::Stages>,
    /// The width of the time series' intervals (`--interval`).
    pub interval: Duration,
}

/// Default `--interval`: one row of the time series a second.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

impl Assignment {
    /// The bounds every session of this share runs under.
    pub fn limits(&self) -> Limits {
        Limits {
            request: self.timeout,
            close: self.close_timeout,
            max_message: self.max_message,
            ping_interval: (!self.ping_interval.is_zero()).then_some(self.ping_interval),
            ping_timeout: self.ping_timeout,
        }
    }
}
