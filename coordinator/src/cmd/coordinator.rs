//! `envload coordinator`: waits for agents on many hosts, runs the plan
//! across them and writes one set of results.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::Context;

use clap::Args;

use super::run_args::RunArgs;
use crate::error::UsageError;
use crate::fleet::serve::GrpcServer;
use crate::fleet::{Fleet, FleetConfig};
use crate::output::prepare_dir;
use crate::phases::{execute, RunOutcome};
use crate::recorder::RunContext;
use crate::shutdown::Shutdown;
use crate::single_host::default_dir;
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
    /// Token agents must present.
    #[arg(long, env = "ENVLOAD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
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
    if run.targets.is_empty() {
        return Err(UsageError(
            "the coordinator needs a target: --url or --urls (agents run elsewhere)".into(),
        )
        .into());
    }
    let listen: SocketAddr = args
        .listen
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| UsageError(format!("--listen '{}' is not HOST:PORT", args.listen)))?;
    let dir = run
        .output_dir
        .clone()
        .unwrap_or_else(|| default_dir(&run.infrastructure));
    let dir = prepare_dir(&dir, "--output-dir").map_err(UsageError)?;
    let metrics = crate::metrics::endpoint::for_run(&run)?;

    let config = FleetConfig {
        token: args.token.clone().filter(|t| !t.is_empty()),
        heartbeat_deadline: Duration::from_secs_f64(args.heartbeat_deadline),
        min_agents: args.min_agents as usize,
        send_records: run.records,
        ..FleetConfig::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let after = shutdown.clone();
    let outcome = rt.block_on(async {
        let (mut fleet, service) = Fleet::new(config);
        let server = GrpcServer::start(listen, service)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let shown = if server.addr.ip().is_unspecified() {
            format!(
                "http://{}:{}",
                envload_agent::host::hostname(),
                server.addr.port()
            )
        } else {
            format!("http://{}", server.addr)
        };
        println!(
            "envload coordinator: listening on {}; waiting for {} agent(s)",
            server.addr, run.agents
        );
        println!("  start agents with: envload agent --coordinator {shown}");
        let wait = Duration::from_secs_f64(args.agent_wait);
        tokio::select! {
            biased;
            _ = shutdown.requested() => {
                eprintln!("envload: interrupted while waiting for agents");
                server.stop().await;
                return Ok(RunOutcome::Interrupted);
            }
            r = fleet.wait_for(run.agents as usize, wait) => r?,
        }
        let ctx = RunContext {
            config: &run,
            targets: &run.targets,
            dir: &dir,
            argv,
            embedded: None,
            embedded_pid: None,
            shutdown,
        };
        let outcome = execute(&mut fleet, ctx).await;
        server.stop().await;
        outcome
    });
    if let Some(m) = &metrics {
        m.linger(run.metrics_linger, &after);
    }
    outcome
}
