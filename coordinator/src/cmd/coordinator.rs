//! `envload coordinator`: waits for agents on many hosts, runs the plan
//! across them and writes one set of results.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::run_args::RunArgs;
use crate::error::UsageError;
use crate::fleet::link::{default_token_file, run_token, LinkTls};
use crate::fleet::remote::RemoteAgents;
use crate::fleet::FleetConfig;
use crate::launch::launch;
use crate::phases::{execute, RunOutcome};
use crate::run_driver::Agents;
use crate::shutdown::Shutdown;
use crate::values::{parse_count, parse_seconds};

/// `envload coordinator`.
#[derive(Debug, Clone, Args)]
pub struct CoordinatorArgs {
    /// Address to listen on for agents.
    #[arg(long, default_value = "0.0.0.0:7700")]
    pub listen: String,
    /// Seconds to wait for --agents agents to join.
    #[arg(long, default_value = "120", allow_hyphen_values = true, value_parser = parse_seconds)]
    pub agent_wait: f64,
    /// Abort the run when fewer agents than this remain.
    #[arg(long, default_value = "1", allow_hyphen_values = true, value_parser = parse_count)]
    pub min_agents: u32,
    /// Token agents must present [default, listening beyond loopback: a
    /// random one, printed and written to --token-file].
    #[arg(long, env = "ENVLOAD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Where a token the coordinator makes is written (mode 0600)
    /// [default: ~/.envload/coordinator.token].
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// PEM certificate (chain) for the agents' link over TLS.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Seconds of silence after which an agent counts as lost.
    #[arg(long, default_value = "5", allow_hyphen_values = true, value_parser = parse_seconds)]
    pub heartbeat_deadline: f64,
    /// The plan (the flags of `envload run`).
    #[command(flatten)]
    pub plan: RunArgs,
}

/// Runs the coordinator.
pub fn run(
    args: CoordinatorArgs,
    argv: Vec<String>,
    shutdown: Shutdown,
) -> anyhow::Result<RunOutcome> {
    let run = args.plan.config()?;
    if run.agents == 0 {
        return Err(
            UsageError("--agents must be at least 1: how many agents to wait for".into()).into(),
        );
    }
    if args.min_agents > run.agents {
        return Err(UsageError(format!(
            "--min-agents {} is more than --agents {}",
            args.min_agents, run.agents
        ))
        .into());
    }
    let listen: SocketAddr = args
        .listen
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| UsageError(format!("--listen '{}' is not HOST:PORT", args.listen)))?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(LinkTls::load(c, k)?),
        _ => None,
    };
    let token_file = args.token_file.clone().unwrap_or_else(default_token_file);
    let token = run_token(args.token.clone(), listen, &token_file)?;
    let agents = Agents::Remote(RemoteAgents {
        listen,
        wait: Duration::from_secs_f64(args.agent_wait),
        tls,
        fleet: FleetConfig {
            token,
            heartbeat_deadline: Duration::from_secs_f64(args.heartbeat_deadline),
            min_agents: args.min_agents as usize,
            send_records: run.records,
            ..FleetConfig::default()
        },
    });
    launch(
        &run,
        agents,
        run.max_concurrent(),
        argv,
        shutdown,
        async |driver, ctx| execute(driver, ctx).await,
    )
}
