//! `envload ceiling`: the largest batch that meets an SLO (success rate ≥
//! threshold and total p99 ≤ a bound; defaults from the reference's matrix:
//! 95% and 2 × (wait + 0.5 s)), searched by [`crate::ceiling`] on this host.

use clap::Args;

use super::run_args::RunArgs;
use crate::ceiling::{search, Search, Slo};
use crate::error::UsageError;
use crate::launch::launch;
use crate::phases::RunOutcome;
use crate::run_driver::Agents;
use crate::shutdown::Shutdown;
use crate::values::{parse_batch, parse_fraction, parse_resolution, parse_seconds};

/// `envload ceiling`.
#[derive(Debug, Clone, Args)]
pub struct CeilingArgs {
    /// Success fraction a batch must reach.
    #[arg(long, default_value = "0.95", allow_hyphen_values = true, value_parser = parse_fraction, conflicts_with_all = ["slo", "matrix"])]
    pub success_threshold: f64,
    /// Total p99 (seconds) a batch must stay under [default: 2 × (wait + 0.5)].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_seconds, conflicts_with_all = ["slo", "matrix"])]
    pub max_p99: Option<f64>,
    /// Judge batches by this experiment matrix's `success_criteria` (TOML,
    /// or the reference tool's experiment_matrix.yaml): success ≥
    /// min_success_rate, total p99 ≤ max_latency_multiplier × (wait +
    /// overhead_seconds).
    #[arg(long, conflicts_with = "slo")]
    pub matrix: Option<std::path::PathBuf>,
    /// Stop bisecting when the bracket is within this fraction of the
    /// answer (and at least one session).
    #[arg(long, default_value = "0.05", allow_hyphen_values = true, value_parser = parse_resolution)]
    pub resolution: f64,
    /// Largest batch to try.
    #[arg(long, default_value = "65536", allow_hyphen_values = true, value_parser = parse_batch)]
    pub max_n: u64,
    /// The probes' settings (the flags of `envload run`; -n is the first probe).
    #[command(flatten)]
    pub plan: RunArgs,
}

/// Checks the flags, fits `--max-n` to the descriptors this host allows, and
/// runs the search.
pub fn run(
    mut c: CeilingArgs,
    argv: Vec<String>,
    shutdown: Shutdown,
) -> anyhow::Result<RunOutcome> {
    if let Some(path) = &c.matrix {
        let m = crate::experiment::matrix::Matrix::load(path).map_err(UsageError)?;
        // The probes are judged by it too, as by --slo.
        c.plan.slo = Some(m.criteria().spec());
    }
    let plan = &c.plan;
    if plan.requests_grid.is_some() || plan.wait_grid.is_some() || plan.compare {
        return Err(UsageError(
            "ceiling searches N itself: drop --requests-grid, --wait-grid and --compare".into(),
        )
        .into());
    }
    if plan.arrival.rate.is_some() {
        return Err(UsageError(
            "ceiling searches N itself: drop --rate and --duration (the open model fixes N; --ramp-up spreads a probe's starts)"
                .into(),
        )
        .into());
    }
    let config = plan.config()?;
    if config.stages.is_some() {
        return Err(UsageError(
            "ceiling searches N itself: drop --stages (a stage plan sets the users over time; run it with envload run)"
                .into(),
        )
        .into());
    }
    if plan.modes.len() > 1 {
        return Err(UsageError(
            "ceiling searches one mode at a time: give --mode ws or --mode http, not --modes"
                .into(),
        )
        .into());
    }
    let slo = match (&plan.slo, c.max_p99) {
        (Some(spec), _) => spec
            .as_ceiling(config.plan.wait)
            .map_err(|e| UsageError(format!("--slo '{}': {e}", spec.text)))?,
        (None, Some(p99)) => Slo {
            success: c.success_threshold,
            p99,
        },
        (None, None) => Slo::at_wait(c.success_threshold, config.plan.wait),
    };
    // The search may stop below --max-n; only the descriptors it can get
    // bound it, so lower --max-n to them instead of refusing to start.
    let allowed =
        envload_agent::limits::raise_to_max().saturating_sub(envload_agent::limits::RESERVE);
    let mut max_n = c.max_n;
    if max_n > allowed {
        eprintln!(
            "envload: --max-n {max_n} lowered to {allowed}: RLIMIT_NOFILE allows no more sessions"
        );
        max_n = allowed;
    }
    if config.plan.n > max_n {
        return Err(UsageError(format!(
            "-n {} (the first probe) is above --max-n {max_n}",
            config.plan.n
        ))
        .into());
    }
    let s = Search {
        slo,
        first: config.plan.n,
        max_n,
        resolution: c.resolution,
    };
    launch(
        &config,
        Agents::Here,
        max_n,
        argv,
        shutdown,
        async |driver, ctx| search(driver, ctx, s).await,
    )
}
