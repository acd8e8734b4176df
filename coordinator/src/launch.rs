//! Launching a run, one path whoever drives it — `run` and `ceiling` on
//! this host (in-process, or `--agents K` local agent processes),
//! `coordinator` with agents on many hosts, and `experiment` through
//! `run`: the metrics endpoint and the live page, the checks of what this host must hold
//! (descriptors, local ports), the output folder, the targets (the embedded
//! benchmark server when no URL was given), one runtime, the driver started
//! (a signal meanwhile ends the run before any phase), the body (the phase
//! loop or the ceiling search), the driver stopped, and the metrics'
//! last scrape.

use std::path::PathBuf;

use anyhow::Context;
use envload_agent::{limits, ports, Target};
use envload_results::folder::default_dir;
use envload_results::write::prepare_dir;

use crate::config::RunConfig;
use crate::embedded::Embedded;
use crate::error::UsageError;
use crate::phases::RunOutcome;
use crate::recorder::RunContext;
use crate::run_driver::{Agents, RunDriver};
use crate::shutdown::Shutdown;

/// Most local agent processes `run --agents` starts on this host.
pub const MAX_LOCAL_AGENTS: u32 = 256;

/// Launches the run `config` describes with its sessions where `agents`
/// says, prepared for `max_n` sessions at once, and runs `body` (its
/// phases) through the driver.
pub fn launch(
    config: &RunConfig,
    agents: Agents,
    max_n: u64,
    argv: Vec<String>,
    shutdown: Shutdown,
    body: impl AsyncFnOnce(&mut RunDriver, RunContext<'_>) -> anyhow::Result<RunOutcome>,
) -> anyhow::Result<RunOutcome> {
    let metrics = crate::metrics::endpoint::for_run(config)?;
    let web = crate::web::for_run(config)?;
    let Prepared {
        dir,
        targets,
        embedded,
    } = prepare(config, &agents, max_n)?;
    crate::timeseries::open(&dir)
        .with_context(|| format!("cannot write the time series in {}", dir.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = rt.block_on(async {
        let Some(mut driver) =
            RunDriver::start(&agents, config.agents, config.records, &shutdown).await?
        else {
            return Ok(RunOutcome::Interrupted);
        };
        let ctx = RunContext {
            config,
            targets: &targets,
            dir: &dir,
            argv,
            embedded: embedded.as_ref().map(|e| e.url.clone()),
            embedded_pid: embedded.as_ref().map(Embedded::pid),
            shutdown: shutdown.clone(),
        };
        let outcome = body(&mut driver, ctx).await;
        driver.stop().await;
        outcome
    });
    crate::timeseries::close();
    crate::web::run_finished();
    drop(embedded);
    if let Some(m) = metrics.as_ref().or(web.as_ref()) {
        m.linger(config.metrics_linger, &shutdown);
    }
    outcome
}

/// A run's output directory, targets and embedded server.
struct Prepared {
    /// Where results go (created, checked writable).
    dir: PathBuf,
    /// The targets; the embedded server's when no URL was given.
    targets: Vec<Target>,
    /// The embedded server, if one was started (stops when dropped).
    embedded: Option<Embedded>,
}

/// Checks what this host must hold when sessions run here (descriptors
/// for `max_n` sessions, local ports), the output directory, and starts the
/// embedded server when no URL was given to sessions that run here.
fn prepare(config: &RunConfig, agents: &Agents, max_n: u64) -> anyhow::Result<Prepared> {
    let mut targets = config.targets.clone();
    match agents {
        Agents::Here => check_this_host(config, max_n)?,
        Agents::Remote(_) if targets.is_empty() => {
            return Err(UsageError(
                "the coordinator needs a target: --url or --urls (agents run elsewhere)".into(),
            )
            .into())
        }
        Agents::Remote(_) => {}
    }
    let dir = config
        .output_dir
        .clone()
        .unwrap_or_else(|| default_dir(&config.infrastructure));
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

/// Sessions run on this host: the headers' variables set, the local agents
/// bounded, the descriptor limit raised for their share of `max_n`, the
/// local ports checked.
fn check_this_host(config: &RunConfig, max_n: u64) -> anyhow::Result<()> {
    // The headers' variables come from the environment where sessions run:
    // this one. (Remote agents expand them from their own.)
    envload_agent::headers::expand_all(&config.headers)
        .map_err(|e| UsageError(format!("--header: {e}")))?;
    if config.agents > MAX_LOCAL_AGENTS {
        return Err(UsageError(format!(
            "--agents {} is more local agent processes than this host should run (at most {MAX_LOCAL_AGENTS}); on many hosts use envload coordinator + envload agent",
            config.agents
        ))
        .into());
    }
    let targets = &config.targets;
    // Sessions hold descriptors where they run: here, or with `--agents K`
    // in each local agent process (which inherits the limit raised here)
    // for its share of about N/K.
    let per_process = max_n.div_ceil(u64::from(config.agents.max(1)));
    limits::ensure_nofile(per_process).map_err(|e| UsageError(e.to_string()))?;
    // Local ports are per host, whichever process holds them: all N count.
    let embedded_target = [Target::parse("http://127.0.0.1:1").expect("valid")];
    let port_targets = if targets.is_empty() {
        &embedded_target[..]
    } else {
        &targets[..]
    };
    if let Some(warning) = ports::check_with(
        port_targets,
        max_n,
        ports::Kernel::current(),
        config.loopback_sources,
    )
    .map_err(|e| UsageError(e.to_string()))?
    {
        eprintln!("envload: warning: {warning}");
    }
    Ok(())
}
