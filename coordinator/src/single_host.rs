//! Single-host runs (`run`, `ceiling`): the descriptor limit raised for the
//! largest batch, the output folder checked, the embedded benchmark server
//! started when no URL was given, one runtime, and the local driver
//! (in-process, or `--agents K` local agent processes over gRPC).

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use envload_agent::{limits, ports, Target};

use crate::config::RunConfig;
use crate::embedded::Embedded;
use crate::error::UsageError;
use crate::local_driver::LocalDriver;
use crate::output::prepare_dir;
use crate::phases::RunOutcome;
use crate::recorder::RunContext;
use crate::shutdown::Shutdown;

/// Most local agent processes `run --agents` starts on this host.
pub const MAX_LOCAL_AGENTS: u32 = 256;

/// What `run` and `ceiling` share: the output folder, targets and embedded
/// server prepared for `max_n` sessions, a runtime, and the local driver
/// (in-process, or `--agents K` local agent processes) that `body` runs
/// its phases through.
pub fn run_locally(
    config: &RunConfig,
    max_n: u64,
    argv: Vec<String>,
    shutdown: Shutdown,
    body: impl AsyncFnOnce(&mut LocalDriver, RunContext<'_>) -> anyhow::Result<RunOutcome>,
) -> anyhow::Result<RunOutcome> {
    let metrics = crate::metrics::endpoint::for_run(config)?;
    let Prepared {
        dir,
        targets,
        embedded,
    } = prepare(config, max_n)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = rt.block_on(async {
        let ctx = RunContext {
            config,
            targets: &targets,
            dir: &dir,
            argv,
            embedded: embedded.as_ref().map(|e| e.url.clone()),
            embedded_pid: embedded.as_ref().map(Embedded::pid),
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
            d = LocalDriver::start(config.agents, config.records) => d?,
        };
        let outcome = body(&mut driver, ctx).await;
        driver.stop().await;
        outcome
    });
    drop(embedded);
    if let Some(m) = &metrics {
        m.linger(config.metrics_linger, &shutdown);
    }
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
fn prepare(config: &RunConfig, max_n: u64) -> anyhow::Result<Prepared> {
    if config.agents > MAX_LOCAL_AGENTS {
        return Err(UsageError(format!(
            "--agents {} is more local agent processes than this host should run (at most {MAX_LOCAL_AGENTS}); on many hosts use envload coordinator + envload agent",
            config.agents
        ))
        .into());
    }
    let mut targets = config.targets.clone();
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
