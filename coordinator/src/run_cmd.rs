//! `envload run`: single-host mode. Without `--agents` the sessions run in
//! this process (the same engine a remote agent runs); with `--agents K`, K
//! local agent processes attach to an in-process coordinator over real gRPC
//! on loopback. Without a URL the embedded benchmark server is the target.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use envload_agent::{limits, Target};

use crate::cli::RunArgs;
use crate::driver::InProcess;
use crate::embedded::Embedded;
use crate::fleet::local::LocalFleet;
use crate::output::prepare_dir;
use crate::phases::{execute, RunContext, RunOutcome};
use crate::plan::PlanSpec;
use crate::UsageError;

/// Runs the plan given on the command line.
pub fn run(args: RunArgs, argv: Vec<String>) -> anyhow::Result<RunOutcome> {
    let spec = PlanSpec::from_args(&args);
    let dir = args
        .output_dir
        .clone()
        .unwrap_or_else(|| default_dir(&args.infrastructure));
    let dir = prepare_dir(&dir).map_err(UsageError)?;

    let mut targets: Vec<Target> = args
        .url
        .iter()
        .cloned()
        .chain(args.urls.iter().cloned())
        .collect();
    let sockets_per_session = if targets.is_empty() { 2 } else { 1 };
    limits::ensure_nofile(
        spec.max_n(),
        limits::needed(spec.max_n(), sockets_per_session),
    )?;

    let embedded = if targets.is_empty() {
        let e = Embedded::start().context("starting the embedded benchmark server")?;
        println!(
            "No --url given: started the embedded benchmark server at {} (envload serve)",
            e.url
        );
        targets.push(Target::parse(&e.url).expect("embedded URL is valid"));
        Some(e)
    } else {
        None
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = rt.block_on(async {
        let ctx = RunContext {
            args: &args,
            spec: &spec,
            targets: &targets,
            dir: &dir,
            argv,
            embedded: embedded.as_ref().map(|e| e.url.clone()),
            records: !args.no_records,
        };
        if args.agents == 0 {
            execute(&mut InProcess, ctx).await
        } else {
            let mut fleet = LocalFleet::start(args.agents, !args.no_records).await?;
            let outcome = execute(fleet.fleet(), ctx).await;
            fleet.stop().await;
            outcome
        }
    });
    drop(embedded);
    outcome
}

/// `experiments/results/<infrastructure>/<YYYY-MM-DD>`.
pub fn default_dir(infrastructure: &str) -> PathBuf {
    PathBuf::from("experiments/results")
        .join(infrastructure)
        .join(Utc::now().format("%Y-%m-%d").to_string())
}
