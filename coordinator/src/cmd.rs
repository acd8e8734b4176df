//! The `envload` command line: one module per subcommand (its flags and
//! what it does with them), over the engine, which never sees a clap type.
//! [`main_with`] parses, listens for signals, dispatches and maps the
//! outcome to the exit code.

pub mod agent;
pub mod arrival_args;
pub mod ceiling;
pub mod coordinator;
pub mod experiment;
pub mod lab_delay;
pub mod lb_config;
pub mod matrix_run;
pub mod record;
pub mod reference_flags;
pub mod report;
pub mod run;
pub mod run_args;
pub mod serve;
pub mod workload_args;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use envload_agent::headers::redact_text;

use crate::error::UsageError;
use crate::phases::RunOutcome;
use crate::shutdown::Shutdown;
use agent::AgentArgs;
use ceiling::CeilingArgs;
use coordinator::CoordinatorArgs;
use experiment::ExperimentArgs;
use lb_config::LbArgs;
use record::RecordArgs;
use report::ReportArgs;
use run_args::RunArgs;
use serve::ServeArgs;

/// Measures how many concurrent OpenEnv sessions an infrastructure holds, and
/// at what latency.
#[derive(Debug, Parser)]
#[command(
    name = "envload",
    version,
    about,
    propagate_version = true,
    infer_long_args = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a load test from this host (starts the embedded benchmark server
    /// when no --url is given).
    Run(Box<RunArgs>),
    /// Serve the OpenEnv benchmark environment.
    Serve(ServeArgs),
    /// Coordinate agents on many hosts: split each phase across them, merge
    /// their histograms, write one set of results.
    Coordinator(Box<CoordinatorArgs>),
    /// Generate load for a coordinator.
    Agent(AgentArgs),
    /// Print a load-balancer configuration (HAProxy or Envoy) for backends.
    LbConfig(LbArgs),
    /// Find the largest batch meeting an SLO (doubling, then bisection).
    Ceiling(Box<CeilingArgs>),
    /// Turn result folders into the experiment tables (tables.md), figures,
    /// index.html and experiment-log entries.
    Report(ReportArgs),
    /// Run one infrastructure's plan from the experiment matrix, writing
    /// results where `report` expects them.
    Experiment(ExperimentArgs),
    /// Record what real clients send an OpenEnv server, through a
    /// transparent proxy, as a session trace (docs/TRACE.md).
    Record(RecordArgs),
    /// The Slurm test lab's delaying relay (for kernels without netem).
    #[command(hide = true)]
    LabDelay(lab_delay::LabDelayArgs),
}

/// Set (to anything): parse and check the arguments, run nothing — for
/// command lines written elsewhere (Kubernetes manifests, job scripts).
pub const CHECK_ARGS: &str = "ENVLOAD_CHECK_ARGS";

/// [`CHECK_ARGS`]: the checks a run makes of its flags before anything
/// starts (the validated configuration, scenario files included), exit 0
/// or 2 with the message a real run would give.
fn check_only(command: &Command) -> ExitCode {
    let checked = match command {
        Command::Run(a) => a.config().map(drop),
        Command::Coordinator(a) => a.plan.config().map(drop),
        Command::Ceiling(a) => a.plan.config().map(drop),
        _ => Ok(()),
    };
    match checked {
        Ok(()) => {
            println!("envload: arguments OK");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("envload: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The command line as run.json records it and the experiment log shows
/// it: every `--header` value (`headers`, as typed) redacted (`Name:
/// <redacted>`), however the flag was spelt (`--header X`, `--header=X`,
/// `-H X`, `-HX`, a prefix).
pub fn redacted_argv(argv: Vec<String>, headers: &[String]) -> Vec<String> {
    let is_header = |text: &str| headers.iter().any(|h| h == text);
    argv.into_iter()
        .map(|a| {
            if is_header(&a) {
                return redact_text(&a);
            }
            let flag_and_value = a
                .strip_prefix("-H")
                .map(|rest| ("-H", rest))
                .or_else(|| a.starts_with("--").then(|| a.split_once('=')).flatten());
            match flag_and_value {
                Some((flag, value)) if is_header(value) => {
                    let eq = if flag == "-H" { "" } else { "=" };
                    format!("{flag}{eq}{}", redact_text(value))
                }
                _ => a,
            }
        })
        .collect()
}

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
    if std::env::var_os(CHECK_ARGS).is_some() {
        return check_only(&cli.command);
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("ENVLOAD_LOG"))
        .with_writer(std::io::stderr)
        .try_init();
    let argv: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let argv = match &cli.command {
        Command::Run(a) => redacted_argv(argv, &a.headers),
        Command::Coordinator(a) => redacted_argv(argv, &a.plan.headers),
        Command::Ceiling(a) => redacted_argv(argv, &a.plan.headers),
        _ => argv,
    };
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
        Command::Run(args) => run::run(*args, argv, shutdown),
        Command::Serve(args) => serve::run(args, shutdown).map(|()| RunOutcome::Complete),
        Command::Coordinator(args) => coordinator::run(*args, argv, shutdown),
        Command::Agent(args) => agent::run(args, shutdown),
        Command::Ceiling(args) => ceiling::run(*args, argv, shutdown),
        Command::Report(args) => report::run(args).map(|()| RunOutcome::Complete),
        Command::Experiment(args) => experiment::run(args, shutdown),
        Command::Record(args) => record::run(args, shutdown).map(|()| RunOutcome::Complete),
        Command::LabDelay(args) => lab_delay::run(args, shutdown).map(|()| RunOutcome::Complete),
        Command::LbConfig(args) => lb_config::render(&args).map_err(Into::into).map(|cfg| {
            print!("{cfg}");
            RunOutcome::Complete
        }),
    };
    match result {
        Ok(RunOutcome::Complete) => ExitCode::SUCCESS,
        Ok(RunOutcome::HostsMissing | RunOutcome::SloMissed) => ExitCode::from(1),
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
