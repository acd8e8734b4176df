//! An OpenEnv-compatible benchmark environment server.
//!
//! It speaks the OpenEnv wire protocol (HTTP `/health`, `/reset`, `/step`,
//! `/state`, `/schema`, `/metadata`, the `/ws` session protocol, and MCP:
//! `/mcp` over WebSocket and `POST /mcp` with OpenEnv's session methods) for the
//! benchmark environment the reference deploys: a step waits `wait_seconds`
//! and reports `pid`, `session_hash`, `host_url`, `step_count`. Steps wait on
//! a timer, so a sleeping session holds no thread, and the server is never
//! the bottleneck of a test that measures the load generator.

pub mod bind;
pub mod capacity;
mod config;
mod counters;
mod docs;
pub mod env;
mod http_api;
mod mcp;
mod mcp_http;
pub mod mcp_sessions;
mod mcp_ws;
mod reply;
mod server;
pub mod tls;
mod upgrade;
mod wire;
pub mod workers;
mod ws_api;
mod ws_conn;

pub use bind::bind_listener;
pub use config::ServerConfig;
pub use server::serve;
pub use upgrade::switching_protocols;
