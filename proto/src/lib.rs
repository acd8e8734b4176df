//! envload's wire contract.
//!
//! The `envload.v1` gRPC service an agent attaches to (one bidirectional
//! stream for the agent's whole life), generated from
//! `proto/envload/v1/envload.proto` and checked in, and the conversion both
//! sides share: latency histograms to and from HdrHistogram V2+DEFLATE bytes.
//! Consumers `use envload_proto as proto;`.

pub mod histogram;

/// The generated `envload.v1` messages, client and server.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    include!("generated/envload.v1.rs");
}

/// Version of the agent ⇄ coordinator protocol; both sides must agree.
/// 2: an assignment carries a rollout workload and an arrival schedule, and
/// progress the sessions really started — an agent of version 1 would
/// silently run every session at once as the benchmark's one step.
/// 3: an assignment carries the user's headers — an agent of version 2
/// would silently send none.
pub const PROTOCOL_VERSION: u32 = 5;
