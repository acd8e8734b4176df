//! `envload coordinator`: the gRPC service listening for agents on many
//! hosts, and the fleet they join (a [`ServedFleet`] with no processes of
//! its own).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use super::link::LinkTls;
use super::serve::GrpcServer;
use super::served::ServedFleet;
use super::{Fleet, FleetConfig};

/// Where and how the coordinator waits for its agents.
#[derive(Debug, Clone)]
pub struct RemoteAgents {
    /// `--listen`.
    pub listen: SocketAddr,
    /// `--agent-wait`: how long the agents get to join.
    pub wait: Duration,
    /// Token, heartbeats, the agents that must remain.
    pub fleet: FleetConfig,
    /// `--tls-cert`/`--tls-key`: the link over TLS.
    pub tls: Option<LinkTls>,
}

/// Listens for agents and says how to start them.
pub async fn listen(how: &RemoteAgents, agents: u32) -> anyhow::Result<ServedFleet> {
    let (fleet, service) = Fleet::new(how.fleet.clone());
    let tls = how.tls.as_ref().map(LinkTls::server_config);
    let server = GrpcServer::start(how.listen, service, tls)
        .await
        .with_context(|| format!("cannot listen on {}", how.listen))?;
    let scheme = if how.tls.is_some() { "https" } else { "http" };
    let shown = if server.addr.ip().is_unspecified() {
        format!(
            "{scheme}://{}:{}",
            envload_agent::host::hostname(),
            server.addr.port()
        )
    } else {
        format!("{scheme}://{}", server.addr)
    };
    println!(
        "envload coordinator: listening on {}; waiting for {agents} agent(s){}",
        server.addr,
        if how.tls.is_some() { " over TLS" } else { "" }
    );
    let mut hint = format!("envload agent --coordinator {shown}");
    if how.tls.is_some() {
        hint.push_str(" --ca-cert <the CA of --tls-cert>");
    }
    if how.fleet.token.is_some() {
        hint.push_str(" --token <the run's token>");
    }
    println!("  start agents with: {hint}");
    Ok(ServedFleet::new(fleet, server, Vec::new()))
}
