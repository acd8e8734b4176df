//! `envload run --agents K`: K agent processes on this host attached over
//! real gRPC on loopback to an in-process coordinator, so one machine can
//! spread its load over several processes.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use rand::Rng;
use tokio::process::{Child, Command};

use super::serve::GrpcServer;
use super::{Fleet, FleetConfig};

/// The coordinator side and its child agents.
pub struct LocalFleet {
    fleet: Fleet,
    server: Option<GrpcServer>,
    children: Vec<Child>,
}

/// Silence after which a local agent process counts as lost.
const LOCAL_HEARTBEAT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

impl LocalFleet {
    /// Starts the service on 127.0.0.1 and `k` agents, and waits for them.
    pub async fn start(k: u32, send_records: bool) -> anyhow::Result<Self> {
        let token: String = (0..24)
            .map(|_| rand::rng().sample(rand::distr::Alphanumeric) as char)
            .collect();
        let config = FleetConfig {
            token: Some(token.clone()),
            send_records,
            // Local agents share this host's cores with each other (and often
            // with the server): at tens of thousands of sessions one can be
            // starved past 5 s without being gone. A crashed one closes its
            // stream and is lost at once; the deadline only catches a hung one.
            heartbeat_deadline: LOCAL_HEARTBEAT_DEADLINE,
            ..FleetConfig::default()
        };
        let (fleet, service) = Fleet::new(config);
        let server =
            GrpcServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), service, None).await?;
        let url = format!("http://{}", server.addr);
        let exe = std::env::current_exe()
            .context("cannot find the envload executable to start agents")?;
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let per_agent = (cpus as u32 / k).max(1);
        let mut children = Vec::new();
        for i in 0..k {
            let child = Command::new(&exe)
                .args([
                    "agent",
                    "--coordinator",
                    &url,
                    "--name",
                    &format!("local-{}", i + 1),
                ])
                .args(["--cpus", &per_agent.to_string()])
                .env("ENVLOAD_TOKEN", &token)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .context("starting a local agent process")?;
            children.push(child);
        }
        let mut lf = LocalFleet {
            fleet,
            server: Some(server),
            children,
        };
        lf.fleet
            .wait_for(k as usize, Duration::from_secs(30))
            .await?;
        println!("Started {k} local agent processes on {url}");
        Ok(lf)
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

    /// Waits for the agents to exit (they were told to shut down) and stops
    /// the service.
    pub async fn stop(&mut self) {
        for c in &mut self.children {
            if tokio::time::timeout(Duration::from_secs(5), c.wait())
                .await
                .is_err()
            {
                let _ = c.kill().await;
            }
        }
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }
}
