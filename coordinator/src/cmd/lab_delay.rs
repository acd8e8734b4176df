//! `envload lab-delay --listen ADDR --delay MS` (hidden): the Slurm test
//! lab's delaying relay (`crate::lab_delay`), run by
//! `slurm/testcluster/up.sh` inside each node's namespace when `NETEM`
//! asks for a delay and the kernel has no netem.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::error::UsageError;
use crate::shutdown::Shutdown;

/// `envload lab-delay`.
#[derive(Debug, Clone, Args)]
pub struct LabDelayArgs {
    /// Where iptables redirects the node's connections (HOST:PORT).
    #[arg(long)]
    pub listen: SocketAddr,
    /// Milliseconds each chunk waits, each way.
    #[arg(long)]
    pub delay_ms: f64,
}

/// Relays until a signal.
pub fn run(args: LabDelayArgs, shutdown: Shutdown) -> anyhow::Result<()> {
    if !(args.delay_ms.is_finite() && (0.0..=10_000.0).contains(&args.delay_ms)) {
        return Err(UsageError(format!(
            "--delay-ms {}: give milliseconds between 0 and 10000",
            args.delay_ms
        ))
        .into());
    }
    let listener = std::net::TcpListener::bind(args.listen)
        .map_err(|e| UsageError(format!("--listen {}: cannot listen: {e}", args.listen)))?;
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        println!(
            "envload lab-delay: relaying on {} with {} ms each way",
            args.listen, args.delay_ms
        );
        let delay = Duration::from_secs_f64(args.delay_ms / 1000.0);
        crate::lab_delay::serve(listener, delay, shutdown.requested()).await;
        Ok::<_, anyhow::Error>(())
    })
}
