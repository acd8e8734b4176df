//! What one benchmark server process is configured with.

use std::sync::Arc;
use std::time::Duration;

use crate::capacity::Capacity;
use crate::counters::Counters;
use crate::env::Identity;
use crate::mcp_sessions::McpSessions;

/// What one server process needs to answer requests.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// pid and `host:port` reported in observations.
    pub identity: Identity,
    /// This process's WebSocket session limit.
    pub capacity: Arc<Capacity>,
    /// Test hook: every environment constructor fails (`FACTORY_ERROR`).
    pub factory_error: bool,
    /// Serve TLS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Ping every WebSocket session this often, and close one that has not
    /// answered by the next ping (Python websockets' ping_interval and
    /// ping_timeout; `None`: no pings).
    pub ping_interval: Option<Duration>,
    /// How long a reset takes (an environment's construction time).
    pub reset_delay: Duration,
    /// What this process served.
    pub counters: Arc<Counters>,
    /// Every request but `/health` and `/envload/counters` must carry `Authorization: Bearer
    /// <token>` (401 otherwise), as a private Space or an auth proxy asks.
    pub auth_token: Option<Arc<str>>,
    /// Open HTTP MCP sessions (`openenv/session/create`).
    pub mcp_sessions: Arc<McpSessions>,
    /// Every K-th session (of this process) keeps its slot when it ends
    /// (`--leak-every`; 0: none): a server that leaks, for soak tests.
    pub leak_every: u64,
    /// Test hook: a session whose client vanished keeps its slot.
    pub leak_vanished_slots: bool,
}
