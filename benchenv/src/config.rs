//! What one benchmark server process is configured with.

use std::sync::Arc;

use crate::capacity::Capacity;
use crate::env::Identity;

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
}
