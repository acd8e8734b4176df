//! `envload serve`: the benchmark environment server, as one process or as
//! `--workers N` processes sharing the port.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{anyhow, Context};
use envload_benchenv::capacity::Capacity;
use envload_benchenv::env::Identity;
use envload_benchenv::workers::{WorkerSet, READY_LINE};
use envload_benchenv::{bind_listener, serve, ServerConfig};

use crate::error::UsageError;
use crate::shutdown::Shutdown;
use crate::values::parse_wait;
use clap::Args;
use envload_agent::limits;
use std::path::PathBuf;

/// `envload serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to bind.
    #[arg(long, default_value = "0.0.0.0")]
    pub host: String,
    /// Port to bind (0 picks a free one).
    #[arg(long, env = "PORT", default_value = "8000", allow_hyphen_values = true)]
    pub port: u16,
    /// Worker processes sharing the port.
    #[arg(long, env = "WORKERS", default_value = "1", allow_hyphen_values = true,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub workers: u32,
    /// WebSocket sessions allowed at once per worker process.
    #[arg(long, env = "MAX_CONCURRENT_ENVS", default_value = "100000", allow_hyphen_values = true,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_concurrent_envs: u64,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Ping every WebSocket session this often, seconds, and close one whose
    /// previous ping is still unanswered (0: never; Python websockets and
    /// uvicorn ping every 20 s).
    #[arg(long, default_value = "0", allow_hyphen_values = true, value_parser = parse_wait)]
    pub ping_interval: f64,
    /// Seconds a reset takes (an environment's construction time), so reset
    /// waves show at the server.
    #[arg(long, default_value = "0", allow_hyphen_values = true, value_parser = parse_wait)]
    pub reset_seconds: f64,
    /// Require `Authorization: Bearer <token>` on every request but
    /// /health and /envload/counters (401 otherwise), the token read from
    /// this file (one line), as a private Space or an auth proxy does.
    #[arg(long)]
    pub auth_token_file: Option<PathBuf>,
    /// Internal: run as one worker of a --workers supervisor.
    #[arg(long, hide = true)]
    pub worker: bool,
    /// Test hook: every session fails with FACTORY_ERROR.
    #[arg(long, hide = true)]
    pub inject_factory_error: bool,
    /// Test hook: a session whose client vanished (no close frame) keeps
    /// its slot, as servers did before OpenEnv's PR #1000.
    #[arg(long, hide = true)]
    pub inject_slot_leak: bool,
    /// A leaking server, for soak tests: every K-th WebSocket session (per
    /// worker) keeps its slot when it ends, so capacity shrinks as the run
    /// goes (0: none).
    #[arg(long, default_value = "0", value_name = "K")]
    pub leak_every: u64,
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: ServeArgs, shutdown: Shutdown) -> anyhow::Result<()> {
    let addr = resolve(&args.host, args.port)?;
    // Each session is a socket: take as many descriptors as allowed.
    limits::raise_to_max();
    if args.worker {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return rt.block_on(serve_here(&args, addr, true, shutdown));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.workers == 1 {
        return rt.block_on(serve_here(&args, addr, false, shutdown));
    }
    rt.block_on(supervise(&args, addr, shutdown))
}

/// The token of `--auth-token-file`: its first line, trimmed; an unreadable
/// or empty file is bad input.
fn auth_token(args: &ServeArgs) -> anyhow::Result<Option<std::sync::Arc<str>>> {
    let Some(file) = &args.auth_token_file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| UsageError(format!("--auth-token-file '{}': {e}", file.display())))?;
    let token = text.lines().next().unwrap_or_default().trim();
    if token.is_empty() {
        return Err(UsageError(format!(
            "--auth-token-file '{}' holds no token",
            file.display()
        ))
        .into());
    }
    Ok(Some(token.into()))
}

fn resolve(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            anyhow!(UsageError(format!(
                "--host '{host}' does not resolve to an address"
            )))
        })
}

async fn serve_here(
    args: &ServeArgs,
    addr: SocketAddr,
    worker: bool,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let std_listener =
        bind_listener(addr, worker, true).with_context(|| format!("cannot listen on {addr}"))?;
    let port = std_listener.local_addr()?.port();
    let listener = tokio::net::TcpListener::from_std(std_listener)?;
    let config = ServerConfig {
        identity: Identity::current(&envload_agent::host::hostname(), port),
        capacity: Capacity::new(args.max_concurrent_envs as usize),
        factory_error: args.inject_factory_error,
        tls: tls_config(args)?,
        ping_interval: (args.ping_interval > 0.0)
            .then(|| std::time::Duration::from_secs_f64(args.ping_interval)),
        reset_delay: std::time::Duration::from_secs_f64(args.reset_seconds),
        counters: Default::default(),
        auth_token: auth_token(args)?,
        leak_vanished_slots: args.inject_slot_leak,
        leak_every: args.leak_every,
        mcp_sessions: Default::default(),
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    if worker {
        println!("{READY_LINE}");
    } else {
        println!(
            "envload serve: listening on {scheme}://{}:{port} (workers: 1, pids: {}, max_concurrent_envs per worker: {}, {})",
            addr.ip(),
            std::process::id(),
            args.max_concurrent_envs,
            backlog()
        );
    }
    serve(listener, config, shutdown.requested()).await;
    Ok(())
}

async fn supervise(args: &ServeArgs, addr: SocketAddr, shutdown: Shutdown) -> anyhow::Result<()> {
    // Reserve the port (bound, not listening) so `--port 0` names one port
    // that every worker then binds with SO_REUSEPORT.
    let placeholder =
        bind_listener(addr, true, false).with_context(|| format!("cannot bind {addr}"))?;
    let port = placeholder.local_addr()?.port();
    let exe =
        std::env::current_exe().context("cannot find the envload executable to start workers")?;
    let mut worker_args = vec![
        "serve".to_string(),
        "--host".into(),
        addr.ip().to_string(),
        "--port".into(),
        port.to_string(),
        "--max-concurrent-envs".into(),
        args.max_concurrent_envs.to_string(),
        "--ping-interval".into(),
        args.ping_interval.to_string(),
        "--reset-seconds".into(),
        args.reset_seconds.to_string(),
        "--worker".into(),
    ];
    if args.inject_factory_error {
        worker_args.push("--inject-factory-error".into());
    }
    if args.leak_every > 0 {
        worker_args.extend(["--leak-every".into(), args.leak_every.to_string()]);
    }
    if args.inject_slot_leak {
        worker_args.push("--inject-slot-leak".into());
    }
    if let Some(file) = &args.auth_token_file {
        auth_token(args)?; // fail here, naming the file, not in every worker
        worker_args.extend(["--auth-token-file".into(), file.display().to_string()]);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        tls_config(args)?; // fail here, naming the file, not in every worker
        for (flag, path) in [("--tls-cert", cert), ("--tls-key", key)] {
            worker_args.push(flag.into());
            worker_args.push(path.display().to_string());
        }
    }
    let scheme = if args.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let set = WorkerSet::start(&exe, worker_args, args.workers as usize)
        .await
        .context("starting benchmark workers")?;
    drop(placeholder);
    let pids: Vec<String> = set.pids().iter().map(u32::to_string).collect();
    println!(
        "envload serve: listening on {scheme}://{}:{port} (workers: {}, pids: {}, max_concurrent_envs per worker: {}, {})",
        addr.ip(),
        args.workers,
        pids.join(" "),
        args.max_concurrent_envs,
        backlog()
    );
    set.supervise(shutdown.requested()).await?;
    Ok(())
}

/// Each worker's accept queue as the kernel caps it: connections arriving
/// faster than a worker accepts beyond it wait for SYN retransmits (1 s,
/// then 3 s), which shows as connect latency.
fn backlog() -> String {
    let cap = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    match cap {
        Some(c) if c < envload_benchenv::bind::BACKLOG => format!(
            "accept queue per worker: {c}, capped by net.core.somaxconn; raise it for batches that connect faster"
        ),
        _ => format!("accept queue per worker: {}", envload_benchenv::bind::BACKLOG),
    }
}

fn tls_config(args: &ServeArgs) -> anyhow::Result<Option<std::sync::Arc<rustls::ServerConfig>>> {
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => envload_benchenv::tls::server_config(cert, key)
            .map(Some)
            .map_err(|e| anyhow!(UsageError(e))),
        _ => Ok(None),
    }
}
