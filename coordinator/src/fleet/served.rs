//! A fleet and the gRPC service its agents attach to — with, for `envload
//! run --agents K`, the agent processes this run started on its own host.
//! The one thing a run drives, wherever its agents are.

use std::time::Duration;

use tokio::process::Child;

use super::serve::GrpcServer;
use super::Fleet;

/// The fleet, its service, and the agent processes started here (none for
/// `envload coordinator`).
pub struct ServedFleet {
    fleet: Fleet,
    server: Option<GrpcServer>,
    children: Vec<Child>,
}

impl ServedFleet {
    pub fn new(fleet: Fleet, server: GrpcServer, children: Vec<Child>) -> Self {
        ServedFleet {
            fleet,
            server: Some(server),
            children,
        }
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

    /// Waits for the agents started here to exit (they were told to shut
    /// down; killed after 5 s) and stops the service.
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
