//! `envload agent`: the remote agent process.

use std::time::Duration;

use envload_agent::remote::{self, AgentOpts};

use clap::Args;

use super::run_args::parse_ca_cert;
use crate::error::UsageError;
use crate::phases::RunOutcome;
use crate::shutdown::Shutdown;
use crate::values::{parse_count, parse_seconds};

/// `envload agent`.
#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// The coordinator's URL (http://HOST:PORT, https:// for one with TLS).
    #[arg(long)]
    pub coordinator: String,
    /// Agent name [default: HOSTNAME-PID].
    #[arg(long)]
    pub name: Option<String>,
    /// The coordinator's token.
    #[arg(long, env = "ENVLOAD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Read the token from this file's first line (the coordinator's
    /// --token-file on a shared file system), so it is not on a command
    /// line every user of the host can read.
    #[arg(long, conflicts_with = "token")]
    pub token_file: Option<std::path::PathBuf>,
    /// Capacity declared to the coordinator [default: CPU count].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_count)]
    pub cpus: Option<u32>,
    /// Seconds to keep trying to reach the coordinator.
    #[arg(long, default_value = "120", allow_hyphen_values = true, value_parser = parse_seconds)]
    pub connect_for: f64,
    /// PEM CA certificate trusted for an https:// coordinator (beside the
    /// system's roots): the CA that signed its --tls-cert, or that
    /// certificate itself.
    #[arg(long)]
    pub ca_cert: Option<std::path::PathBuf>,
    /// Test hook: announce another protocol version.
    #[arg(long, hide = true)]
    pub protocol_version: Option<u32>,
}

/// Runs the agent until the coordinator shuts it down.
pub fn run(args: AgentArgs, shutdown: Shutdown) -> anyhow::Result<RunOutcome> {
    if !(args.coordinator.starts_with("http://") || args.coordinator.starts_with("https://")) {
        return Err(UsageError(format!(
            "--coordinator '{}' must be a URL like http://HOST:PORT",
            args.coordinator
        ))
        .into());
    }
    let ca_pem = match &args.ca_cert {
        Some(_) if !args.coordinator.starts_with("https://") => {
            return Err(UsageError(format!(
                "--ca-cert is for a coordinator listening with TLS: write --coordinator https://… (not '{}')",
                args.coordinator
            ))
            .into())
        }
        Some(p) => Some(
            parse_ca_cert(&p.to_string_lossy())
                .map_err(|e| UsageError(format!("--ca-cert {}: {e}", p.display())))?
                .0,
        ),
        None => None,
    };
    let token = match &args.token_file {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                UsageError(format!("--token-file {}: cannot read it: {e}", p.display()))
            })?;
            let t = text.lines().next().unwrap_or("").trim().to_string();
            if t.is_empty() {
                return Err(UsageError(format!(
                    "--token-file {}: its first line holds no token",
                    p.display()
                ))
                .into());
            }
            Some(t)
        }
        None => args.token.clone(),
    };
    let host = envload_agent::host::hostname();
    let opts = AgentOpts {
        coordinator: args.coordinator,
        name: args
            .name
            .unwrap_or_else(|| format!("{host}-{}", std::process::id())),
        host,
        token,
        cpus: args.cpus.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1)
        }),
        protocol_version: args
            .protocol_version
            .unwrap_or(envload_proto::PROTOCOL_VERSION),
        connect_for: Duration::from_secs_f64(args.connect_for),
        ca_pem,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        tokio::select! {
            biased;
            // Dropping the agent's future aborts its sessions (every socket
            // closes) and ends its stream, so the coordinator counts it lost.
            _ = shutdown.requested() => {
                eprintln!("envload agent: interrupted; stopped all sessions");
                Ok(RunOutcome::Interrupted)
            }
            r = remote::run(opts) => r.map(|()| RunOutcome::Complete).map_err(Into::into),
        }
    })
}
