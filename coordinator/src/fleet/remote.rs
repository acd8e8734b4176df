//! `envload coordinator`: the gRPC service listening for agents on many
//! hosts, and the fleet they join.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use super::link::LinkTls;
use super::serve::GrpcServer;
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

/// The service and the fleet of agents that joined it.
pub struct RemoteFleet {
    fleet: Fleet,
    server: Option<GrpcServer>,
}

impl RemoteFleet {
    /// Listens for agents and says how to start them.
    pub async fn listen(how: &RemoteAgents, agents: u32) -> anyhow::Result<Self> {
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
        Ok(RemoteFleet {
            fleet,
            server: Some(server),
        })
    }

    /// Waits until `agents` have joined, for at most `wait`.
    pub async fn wait_for(&mut self, agents: u32, wait: Duration) -> anyhow::Result<()> {
        self.fleet.wait_for(agents as usize, wait).await
    }

    /// The fleet, to run phases on.
    pub fn fleet(&mut self) -> &mut Fleet {
        &mut self.fleet
    }

    /// The agents attached.
    pub fn agents(&self) -> Vec<envload_results::model::AgentInfo> {
        use crate::driver::PhaseDriver;
        self.fleet.agents()
    }

    /// Stops the service.
    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }
}
