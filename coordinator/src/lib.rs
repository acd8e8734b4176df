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

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::phases::RunOutcome;

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
    let result = match cli.command {
        Command::Run(args) => run_cmd::run(*args, argv),
        Command::Serve(args) => serve_cmd::run(args).map(|()| RunOutcome::Complete),
        Command::Coordinator(args) => coordinator_cmd::run(*args, argv),
        Command::Agent(args) => agent_cmd::run(args).map(|()| RunOutcome::Complete),
        Command::Ceiling(args) => ceiling::run(*args, argv),
        Command::Report(args) => report::run(args).map(|()| RunOutcome::Complete),
        Command::Experiment(args) => experiment::run(args),
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
