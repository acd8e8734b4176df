//! `envload record --listen HOST:PORT --upstream URL -o trace.jsonl`: the
//! recording proxy (`crate::proxy`) until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use envload_agent::Target;

use crate::error::UsageError;
use crate::proxy::{serve, Recorder};
use crate::shutdown::Shutdown;

/// `envload record`.
#[derive(Debug, Clone, Args)]
pub struct RecordArgs {
    /// Where clients connect (HOST:PORT; port 0 picks one, printed at start).
    #[arg(long)]
    pub listen: SocketAddr,
    /// The OpenEnv server everything is forwarded to (http://HOST:PORT).
    #[arg(long, value_parser = Target::parse)]
    pub upstream: Target,
    /// The trace written (JSON Lines, docs/TRACE.md).
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// Leave messages' and bodies' contents out of the trace (sizes and
    /// timings only).
    #[arg(long)]
    pub no_bodies: bool,
}

/// Records until a signal.
pub fn run(args: RecordArgs, shutdown: Shutdown) -> anyhow::Result<()> {
    let rec = Recorder::create(&args.output, args.upstream.clone(), !args.no_bodies)
        .map_err(|e| UsageError(format!("-o '{}': {e}", args.output.display())))?;
    let listener = std::net::TcpListener::bind(args.listen)
        .map_err(|e| UsageError(format!("--listen {}: cannot listen: {e}", args.listen)))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        println!(
            "envload record: listening on http://{addr}, forwarding to {}, trace in {}",
            args.upstream.url,
            args.output.display()
        );
        serve(listener, Arc::new(rec), shutdown.requested()).await;
        println!(
            "envload record: stopped; trace in {}",
            args.output.display()
        );
        Ok::<_, anyhow::Error>(())
    })
}
