//! `envload run`: single-host mode. Without `--agents` the sessions run in
//! this process (the same engine a remote agent runs); with `--agents K`, K
//! local agent processes attach to an in-process coordinator over real gRPC
//! on loopback. Without a URL the embedded benchmark server is the target.

use super::run_args::RunArgs;
use crate::config::RunConfig;
use crate::launch::launch;
use crate::phases::{execute, RunOutcome};
use crate::run_driver::Agents;
use crate::shutdown::Shutdown;

/// Runs the plan given on the command line.
pub fn run(args: RunArgs, argv: Vec<String>, shutdown: Shutdown) -> anyhow::Result<RunOutcome> {
    run_config(&args.config()?, argv, shutdown)
}

/// Runs `config` on this host (`argv` is the command recorded for it).
pub fn run_config(
    config: &RunConfig,
    argv: Vec<String>,
    shutdown: Shutdown,
) -> anyhow::Result<RunOutcome> {
    launch(
        config,
        Agents::Here,
        config.max_concurrent(),
        argv,
        shutdown,
        async |driver, ctx| execute(driver, ctx).await,
    )
}
