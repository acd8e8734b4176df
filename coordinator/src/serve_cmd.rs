//! `envload serve`: the benchmark environment server, as one process or as
//! `--workers N` processes sharing the port.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{anyhow, Context};
use envload_benchenv::capacity::Capacity;
use envload_benchenv::env::Identity;
use envload_benchenv::workers::{WorkerSet, READY_LINE};
use envload_benchenv::{bind_listener, serve, ServerConfig};

use crate::cli::ServeArgs;
use crate::shutdown::Shutdown;
use crate::UsageError;
use envload_agent::limits;

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
        identity: Identity::current(port),
        capacity: Capacity::new(args.max_concurrent_envs as usize),
        factory_error: args.inject_factory_error,
        tls: tls_config(args)?,
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
            "envload serve: listening on {scheme}://{}:{port} (workers: 1, pids: {}, max_concurrent_envs per worker: {})",
            addr.ip(),
            std::process::id(),
            args.max_concurrent_envs
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
        "--worker".into(),
    ];
    if args.inject_factory_error {
        worker_args.push("--inject-factory-error".into());
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
        "envload serve: listening on {scheme}://{}:{port} (workers: {}, pids: {}, max_concurrent_envs per worker: {})",
        addr.ip(),
        args.workers,
        pids.join(" "),
        args.max_concurrent_envs
    );
    set.supervise(shutdown.requested()).await?;
    Ok(())
}

fn tls_config(args: &ServeArgs) -> anyhow::Result<Option<std::sync::Arc<rustls::ServerConfig>>> {
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => envload_benchenv::tls::server_config(cert, key)
            .map(Some)
            .map_err(|e| anyhow!(UsageError(e))),
        _ => Ok(None),
    }
}
