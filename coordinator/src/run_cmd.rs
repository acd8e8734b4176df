//! `envload run`: single-host mode. Without `--agents` the sessions run in
//! this process (the same engine a remote agent runs); with `--agents K`, K
//! local agent processes attach to an in-process coordinator over real gRPC
//! on loopback. Without a URL the embedded benchmark server is the target.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use envload_agent::{limits, Target};

use crate::cli::RunArgs;
use crate::embedded::Embedded;
use crate::local_driver::LocalDriver;
use crate::output::prepare_dir;
use crate::phases::{execute, RunContext, RunOutcome};
use crate::plan::PlanSpec;
use crate::shutdown::Shutdown;
use crate::values::MAX_LOCAL_AGENTS;
use crate::UsageError;

/// Runs the plan given on the command line.
pub fn run(args: RunArgs, argv: Vec<String>, shutdown: Shutdown) -> anyhow::Result<RunOutcome> {
    let spec = PlanSpec::from_args(&args);
    spec.validate().map_err(UsageError)?;
    run_locally(
        &args,
        &spec,
        spec.max_n(),
        argv,
        shutdown,
        async |driver, ctx| execute(driver, ctx).await,
    )
}

/// What `run` and `ceiling` share: the output folder, targets and embedded
/// server prepared for `max_n` sessions, a runtime, and the local driver
/// (in-process, or `--agents K` local agent processes) that `body` runs
/// its phases through.
pub fn run_locally(
    args: &RunArgs,
    spec: &PlanSpec,
    max_n: u64,
    argv: Vec<String>,
    shutdown: Shutdown,
    body: impl AsyncFnOnce(&mut LocalDriver, RunContext<'_>) -> anyhow::Result<RunOutcome>,
) -> anyhow::Result<RunOutcome> {
    let Prepared {
        dir,
        targets,
        embedded,
    } = prepare(args, max_n)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = rt.block_on(async {
        let ctx = RunContext {
            args,
            spec,
            targets: &targets,
            dir: &dir,
            argv,
            embedded: embedded.as_ref().map(|e| e.url.clone()),
            records: !args.no_records,
            shutdown: shutdown.clone(),
        };
        // Starting local agents takes a moment; a signal meanwhile ends the
        // run before any phase (dropping the half-started fleet stops it).
        let mut driver = tokio::select! {
            biased;
            _ = shutdown.requested() => {
                eprintln!("envload: interrupted while starting");
                return Ok(RunOutcome::Interrupted);
            }
            d = LocalDriver::start(args.agents, !args.no_records) => d?,
        };
        let outcome = body(&mut driver, ctx).await;
        driver.stop().await;
        outcome
    });
    drop(embedded);
    outcome
}

/// A single-host run's output directory, targets and embedded server.
struct Prepared {
    /// Where results go (created, checked writable).
    dir: PathBuf,
    /// The targets; the embedded server's when no URL was given.
    targets: Vec<Target>,
    /// The embedded server, if one was started (stops when dropped).
    embedded: Option<Embedded>,
}

/// Raises the descriptor limit for `max_n` sessions, checks the output
/// directory, and starts the embedded server when no URL was given.
fn prepare(args: &RunArgs, max_n: u64) -> anyhow::Result<Prepared> {
    if args.agents > MAX_LOCAL_AGENTS {
        return Err(UsageError(format!(
            "--agents {} is more local agent processes than this host should run (at most {MAX_LOCAL_AGENTS}); on many hosts use envload coordinator + envload agent",
            args.agents
        ))
        .into());
    }
    let mut targets: Vec<Target> = args
        .url
        .iter()
        .cloned()
        .chain(args.urls.iter().cloned())
        .collect();
    let sockets_per_session = if targets.is_empty() { 2 } else { 1 };
    limits::ensure_nofile(max_n, limits::needed(max_n, sockets_per_session))
        .map_err(|e| UsageError(e.to_string()))?;
    let dir = args
        .output_dir
        .clone()
        .unwrap_or_else(|| default_dir(&args.infrastructure));
    let dir = prepare_dir(&dir, "--output-dir").map_err(UsageError)?;
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
    Ok(Prepared {
        dir,
        targets,
        embedded,
    })
}

/// `experiments/results/<infrastructure>/<YYYY-MM-DD>` (`-2`, `-3`, … when
/// taken).
pub fn default_dir(infrastructure: &str) -> PathBuf {
    fresh_dir(
        &PathBuf::from("experiments/results").join(infrastructure),
        &Utc::now().format("%Y-%m-%d").to_string(),
    )
}

/// `<infra dir>/<day>`, or `<day>-2`, `-3`, … when that one already holds
/// results: a second run the same day never overwrites the first.
pub fn fresh_dir(infra_dir: &std::path::Path, day: &str) -> PathBuf {
    let taken = |d: &std::path::Path| d.join("summary.csv").exists() || d.join("run.json").exists();
    let first = infra_dir.join(day);
    if !taken(&first) {
        return first;
    }
    (2..)
        .map(|k| infra_dir.join(format!("{day}-{k}")))
        .find(|d| !taken(d))
        .expect("some suffix is free")
}
