//! envload's session engine.
//!
//! One agent runs its share of a phase: it opens every session of the share
//! at once against the target (WebSocket or HTTP, exactly as the OpenEnv wire
//! protocol), times connect, reset, step and total per session, classifies
//! every failure, and records latencies in HDR histograms. The same code runs
//! in-process for `envload run` and as a remote agent process.

mod conn;
pub mod convert;
mod dial;
mod distinct;
mod failure;
mod group;
pub mod headers;
pub mod host;
mod http;
mod http_conn;
mod http_wire;
pub mod intervals;
pub mod jsonrpc;
mod keepalive;
pub mod limits;
mod mcp_http;
mod observation;
pub mod plan;
pub mod ports;
pub mod record;
pub mod remote;
pub mod replay;
mod replaying;
mod resolve;
mod rollout;
mod runner;
mod session;
mod shard;
mod source;
pub mod stages;
pub mod stats;
mod target;
pub mod template;
pub mod tls;
pub mod trace;
mod upgrade;
mod users;
pub mod workload;
mod ws;

pub use distinct::Distinct;
pub use failure::{ErrorType, Failure};
pub use plan::{Arrival, Assignment, CloseMode, Mode};
pub use record::SessionRecord;
pub use runner::{run_share, run_share_with, ShareResult};
pub use stats::{Latency, PhaseStats};
pub use target::{Target, TargetError};
