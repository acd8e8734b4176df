//! `envload coordinator`: waits for agents on many hosts, runs the plan
//! across them and writes one set of results.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::Context;
use envload_agent::Target;

use crate::cli::CoordinatorArgs;
use crate::fleet::serve::GrpcServer;
use crate::fleet::{Fleet, FleetConfig};
use crate::output::prepare_dir;
use crate::phases::{execute, RunContext, RunOutcome};
use crate::plan::PlanSpec;
use crate::run_cmd::default_dir;
use crate::shutdown::Shutdown;
use crate::UsageError;

/// Runs the coordinator.
pub fn run(
    args: CoordinatorArgs,
    argv: Vec<String>,
    shutdown: Shutdown,
) -> anyhow::Result<RunOutcome> {
    let plan = &args.plan;
    if plan.agents == 0 {
        return Err(
            UsageError("--agents must be at least 1: how many agents to wait for".into()).into(),
        );
    }
    if args.min_agents > plan.agents {
        return Err(UsageError(format!(
            "--min-agents {} is more than --agents {}",
            args.min_agents, plan.agents
        ))
        .into());
    }
    let targets: Vec<Target> = plan
        .url
        .iter()
        .cloned()
        .chain(plan.urls.iter().cloned())
        .collect();
    if targets.is_empty() {
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
    let spec = PlanSpec::from_args(plan);
    spec.validate().map_err(UsageError)?;
    let dir = plan
        .output_dir
        .clone()
        .unwrap_or_else(|| default_dir(&plan.infrastructure));
    let dir = prepare_dir(&dir, "--output-dir").map_err(UsageError)?;

    let config = FleetConfig {
        token: args.token.clone().filter(|t| !t.is_empty()),
        heartbeat_deadline: Duration::from_secs_f64(args.heartbeat_deadline),
        min_agents: args.min_agents as usize,
        send_records: !plan.no_records,
        ..FleetConfig::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (mut fleet, service) = Fleet::new(config);
        let server = GrpcServer::start(listen, service)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let shown = if server.addr.ip().is_unspecified() {
            format!(
                "http://{}:{}",
                envload_benchenv::env::hostname(),
                server.addr.port()
            )
        } else {
            format!("http://{}", server.addr)
        };
        println!(
            "envload coordinator: listening on {}; waiting for {} agent(s)",
            server.addr, plan.agents
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
            r = fleet.wait_for(plan.agents as usize, wait) => r?,
        }
        let ctx = RunContext {
            args: plan,
            spec: &spec,
            targets: &targets,
            dir: &dir,
            argv,
            embedded: None,
            records: !plan.no_records,
            shutdown,
        };
        let outcome = execute(&mut fleet, ctx).await;
        server.stop().await;
        outcome
    })
}
