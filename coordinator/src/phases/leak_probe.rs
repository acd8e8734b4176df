//! `--leak-probe M`: right after a phase, M plain WebSocket sessions at
//! once, each holding its slot for a step of at least 0.5 s (after an MCP
//! phase, M sessions of its mode, each holding its slot for one `wait`
//! tool call as long: a tool environment may take no plain step). A server whose
//! capacity is M refuses `leaked_slots` = M − succeeded of them when
//! sessions of the phase — aborted ones, say (`--abort`) — still hold the
//! slots they should have given back (the stall OpenEnv's PR #1000 fixed).

use std::time::Duration;

use envload_agent::workload::Workload;
use envload_agent::{Arrival, Mode, Target};
use envload_results::run_doc::LeakProbe;
use envload_results::Phase;

use crate::config::RunConfig;
use crate::driver::PhaseDriver;
use crate::shutdown::Shutdown;

/// The shortest step a probe session holds its slot for.
const HOLD: f64 = 0.5;

/// Probes after `phase`; `None` when a signal came first.
pub async fn run<D: PhaseDriver>(
    driver: &mut D,
    config: &RunConfig,
    phase: &Phase,
    targets: &[Target],
    shutdown: &Shutdown,
) -> anyhow::Result<Option<LeakProbe>> {
    let probe = Phase {
        mode: if phase.mode.is_mcp() {
            phase.mode
        } else {
            Mode::Ws
        },
        n: config.leak_probe,
        wait: phase.wait.max(HOLD),
        pause_before: Duration::ZERO,
        ..phase.clone()
    };
    let mut template = config.template(&probe, targets);
    template.workload = Workload::default();
    template.arrival = Arrival::default();
    template.stages = None;
    template.abort = None;
    crate::timeseries::suspend(true);
    let outcome = tokio::select! {
        biased;
        _ = shutdown.requested() => {
            driver.abort(&probe).await;
            crate::timeseries::suspend(false);
            return Ok(None);
        }
        o = driver.run_phase(&probe, &template) => o,
    };
    crate::timeseries::suspend(false);
    let outcome = outcome?;
    let stats = &outcome.stats;
    Ok(Some(LeakProbe {
        sessions: probe.n,
        succeeded: stats.successful,
        leaked_slots: probe.n.saturating_sub(stats.successful),
        errors: stats
            .errors
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), *v))
            .collect(),
    }))
}
