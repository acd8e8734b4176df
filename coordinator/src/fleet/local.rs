//! `envload run --agents K`: K agent processes on this host attached over
//! real gRPC on loopback to an in-process coordinator, so one machine can
//! spread its load over several processes.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use rand::Rng;
use tokio::process::Command;

use super::serve::GrpcServer;
use super::served::ServedFleet;
use super::{Fleet, FleetConfig};

/// Silence after which a local agent process counts as lost.
const LOCAL_HEARTBEAT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// Starts the service on 127.0.0.1 and `k` agent processes, and waits for
/// them.
pub async fn start(k: u32, send_records: bool) -> anyhow::Result<ServedFleet> {
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
    let server = GrpcServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), service, None).await?;
    let url = format!("http://{}", server.addr);
    let exe =
        std::env::current_exe().context("cannot find the envload executable to start agents")?;
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
    let mut served = ServedFleet::new(fleet, server, children);
    served
        .fleet()
        .wait_for(k as usize, Duration::from_secs(30))
        .await?;
    println!("Started {k} local agent processes on {url}");
    Ok(served)
}
