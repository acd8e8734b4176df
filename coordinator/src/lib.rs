//! envload's coordinator: plans phases, drives agents, merges their
//! histograms and writes results. Owns the `envload` binary.

pub mod agent_cmd;
pub mod ceiling;
pub mod cli;
pub mod console;
pub mod coordinator_cmd;
pub mod driver;
pub mod embedded;
pub mod experiment;
pub mod fleet;
pub mod lb_config;
pub mod local_driver;
pub mod output;
pub mod phases;
pub mod plan;
pub mod progress;
pub mod recorder;
pub mod report;
pub mod run_cmd;
pub mod serve_cmd;
pub mod shutdown;
pub mod summary;
pub mod values;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::phases::RunOutcome;
use crate::shutdown::Shutdown;

/// A usage error: bad input that exits with code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Parses `args` and runs the subcommand; returns the process exit code
/// (0 success, 1 failure, 2 usage error, 130 interrupted).
pub fn main_with<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("ENVLOAD_LOG"))
        .with_writer(std::io::stderr)
        .try_init();
    let argv: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // Commands that run for long listen to SIGINT/SIGTERM from here to exit;
    // the quick ones keep the default action (Ctrl-C ends them at once).
    let long_running = !matches!(cli.command, Command::Report(_) | Command::LbConfig(_));
    let shutdown = if long_running {
        match Shutdown::listen() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("envload: error: cannot listen for SIGINT/SIGTERM: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        Shutdown::never()
    };
    let result = match cli.command {
        Command::Run(args) => run_cmd::run(*args, argv, shutdown),
        Command::Serve(args) => serve_cmd::run(args, shutdown).map(|()| RunOutcome::Complete),
        Command::Coordinator(args) => coordinator_cmd::run(*args, argv, shutdown),
        Command::Agent(args) => agent_cmd::run(args, shutdown),
        Command::Ceiling(args) => ceiling::run(*args, argv, shutdown),
        Command::Report(args) => report::run(args).map(|()| RunOutcome::Complete),
        Command::Experiment(args) => experiment::run(args, shutdown),
        Command::LbConfig(args) => lb_config::render(&args).map_err(Into::into).map(|cfg| {
            print!("{cfg}");
            RunOutcome::Complete
        }),
    };
    match result {
        Ok(RunOutcome::Complete) => ExitCode::SUCCESS,
        Ok(RunOutcome::HostsMissing) => ExitCode::from(1),
        Ok(RunOutcome::Interrupted) => ExitCode::from(130),
        Err(e) => {
            eprintln!("envload: error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
