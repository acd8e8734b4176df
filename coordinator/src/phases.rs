//! Running phases: [`run_phase`], the one function that runs a phase (the
//! pause before it, the driver, the signal that may stop it, its results
//! recorded), and the plan loop every mode shares ([`execute`]): every
//! phase of the plan, the console lines, host expectations. A signal stops
//! the phase in flight; what finished before it is already on disk.

use std::time::Duration;

use envload_agent::Assignment;

use crate::config::RunConfig;
use crate::console;
use crate::driver::PhaseDriver;
use crate::plan::PlanKind;
use crate::recorder::{Recorder, RunContext};
use crate::shutdown::Shutdown;
use warnings::Warnings;

mod leak_probe;
mod warnings;
use envload_results::model::PhaseResult;
use envload_results::summary::SummaryRow;
use envload_results::Phase;

/// How a phase ended.
pub enum PhaseEnd {
    /// Measured and written.
    Done(Box<PhaseResult>),
    /// SIGINT/SIGTERM: the agents were stopped, the run marked interrupted.
    Interrupted,
}

/// Waits out `pause`, runs `phase` through `driver` and records it. A
/// signal — now, during the pause, or in the phase (whose sessions are then
/// stopped) — ends the run as interrupted instead; one that arrived earlier,
/// while results were written, is seen here too.
pub async fn run_phase<D: PhaseDriver>(
    driver: &mut D,
    rec: &mut Recorder,
    shutdown: &Shutdown,
    phase: &Phase,
    template: &Assignment,
    on_start: impl FnOnce(),
) -> anyhow::Result<PhaseEnd> {
    if interrupted_within(shutdown, phase.pause_before).await {
        driver.finish("the run was interrupted").await;
        rec.interrupt(None)?;
        return Ok(PhaseEnd::Interrupted);
    }
    on_start();
    rec.phase_starts();
    let outcome = tokio::select! {
        biased;
        _ = shutdown.requested() => {
            driver.abort(phase).await;
            driver.finish("the run was interrupted").await;
            rec.interrupt(Some(phase))?;
            return Ok(PhaseEnd::Interrupted);
        }
        o = driver.run_phase(phase, template) => o,
    };
    match outcome {
        Ok(o) => Ok(PhaseEnd::Done(Box::new(rec.record(
            phase,
            o,
            driver.agents(),
        )?))),
        Err(e) => {
            driver.finish("the run failed").await;
            Err(rec.failed(phase, e))
        }
    }
}

/// Whether a signal arrives (or has arrived) within `pause`.
async fn interrupted_within(shutdown: &Shutdown, pause: Duration) -> bool {
    tokio::select! {
        biased;
        _ = shutdown.requested() => true,
        _ = tokio::time::sleep(pause) => false,
    }
}

/// How a run ended, for the exit code.
#[derive(Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every phase ran (and host expectations held, if required).
    Complete,
    /// `--require-hosts` and some phase saw too few hosts.
    HostsMissing,
    /// Every phase ran, and some missed `--slo`.
    SloMissed,
    /// SIGINT or SIGTERM stopped it.
    Interrupted,
}

/// Runs every phase of the plan through `driver`.
pub async fn execute<D: PhaseDriver>(
    driver: &mut D,
    ctx: RunContext<'_>,
) -> anyhow::Result<RunOutcome> {
    let (config, targets, dir) = (ctx.config, ctx.targets, ctx.dir);
    let spec = &config.plan;
    let phases = spec.phases();
    let mut rec = Recorder::create(&ctx, driver.agents())?;
    announce(config, &phases);

    let mut rows: Vec<SummaryRow> = Vec::new();
    let mut warnings = Warnings::default();
    let of = if spec.kind() == PlanKind::Grid {
        phases.len()
    } else {
        1
    };
    for phase in &phases {
        let template = config.template(phase, targets);
        let header = || console::phase_header(phase, phase.index + 1, of);
        let result =
            match run_phase(driver, &mut rec, &ctx.shutdown, phase, &template, header).await? {
                PhaseEnd::Done(r) => r,
                PhaseEnd::Interrupted => return Ok(RunOutcome::Interrupted),
            };
        report_phase(config, &result);
        if config.leak_probe > 0 {
            match leak_probe::run(driver, config, phase, targets, &ctx.shutdown).await? {
                Some(probe) => {
                    console::leak_probe_line(&probe);
                    rec.leak_probe(phase.index, probe)?;
                }
                None => {
                    driver.finish("the run was interrupted").await;
                    rec.interrupt(None)?;
                    return Ok(RunOutcome::Interrupted);
                }
            }
        }
        warnings.check(config, phase, &result.summary, &mut rec)?;
        rows.push(result.summary);
    }
    if ctx.shutdown.is_requested() {
        driver.finish("the run was interrupted").await;
        rec.interrupt(None)?;
        return Ok(RunOutcome::Interrupted);
    }
    driver.finish("the run is complete").await;
    match spec.kind() {
        PlanKind::Compare => console::comparison(&rows[0], &rows[1]),
        PlanKind::Grid => console::grid_table(&rows),
        PlanKind::Single => {}
    }
    println!("\n  Results saved to: {}/", dir.display());
    warnings.end(config, &mut rec, phases.len())
}

fn report_phase(config: &RunConfig, r: &PhaseResult) {
    let first_error = r
        .outcome
        .records
        .iter()
        .find_map(|r| r.failure.as_ref().map(|f| f.message.clone()));
    if config.verbose || config.plan.kind() == PlanKind::Single {
        console::phase_summary(&r.summary);
    }
    console::phase_line(&r.summary, &r.outcome.stats.errors, first_error.as_deref());
    if config.arrival.scheduled() {
        console::arrival_line(&config.arrival, &r.outcome.stats.start_lag);
    }
    if let Some(ro) = r.outcome.stats.rollout.as_deref() {
        console::rollout_lines(ro, r.outcome.wall.as_secs_f64());
    }
    if r.outcome.agents.len() > 1 || r.outcome.agents.iter().any(|a| a.lost.is_some()) {
        console::agent_lines(&r.outcome.agents);
    }
    if r.targets.len() > 1 {
        console::target_lines(&r.targets);
    }
}

fn announce(config: &RunConfig, phases: &[Phase]) {
    let spec = &config.plan;
    match spec.kind() {
        PlanKind::Grid => {
            let ns = spec.requests_grid.clone().unwrap_or_else(|| vec![spec.n]);
            let ws = spec.wait_grid.clone().unwrap_or_else(|| vec![spec.wait]);
            println!(
                "\nGrid sweep: {} request levels × {} wait levels × {} reps = {} runs",
                ns.len(),
                ws.len(),
                spec.reps,
                phases.len()
            );
            println!(
                "Requests: {ns:?}\nWait times: {ws:?}\nHardware: {}",
                config.hardware
            );
        }
        PlanKind::Compare => {
            println!("\n======================================================================");
            println!(
                "  Comparing HTTP vs WebSocket: N={}, wait={:?}s",
                spec.n, spec.wait
            );
            println!("  Hardware: {}", config.hardware);
            println!("======================================================================");
        }
        PlanKind::Single => {}
    }
    if let Some(note) = records_note(config) {
        eprintln!("envload: {note}");
    }
}

/// Memory the coordinator keeps a session's record in until its phase ends,
/// with records on (by hand: VmHWM of 65,536 sessions with and without
/// `--no-records`; docs/SCALING.md).
const RECORD_BYTES: f64 = 490.0;

/// A stage plan long enough that its records alone would take over a GiB
/// (at most one session per user per wait): said before it starts, with
/// what `--no-records` keeps.
fn records_note(config: &RunConfig) -> Option<String> {
    let stages = config.stages.as_ref().filter(|_| config.records)?;
    let sessions = stages.user_seconds() / config.plan.wait.max(0.001);
    let bytes = sessions * RECORD_BYTES;
    (bytes > f64::from(1u32 << 30)).then(|| {
        format!(
            "this stage plan may run up to {:.1} million sessions, whose records (raw.jsonl) stay in memory until it ends: up to {:.1} GiB. --no-records keeps none; counts, histograms and the time series stay exact.",
            sessions / 1e6,
            bytes / f64::from(1u32 << 30)
        )
    })
}

#[cfg(test)]
mod tests {
    //! The phase loop through a fake driver: where a signal lands decides
    //! what is kept, without any real session.
    use super::*;
    use crate::driver::fake::{Fake, Setup};

    async fn run_with_signal_at(signal_at: Option<usize>) -> (RunOutcome, Vec<u64>, String) {
        let setup = Setup::grid(&[1, 2, 3]);
        let (tx, shutdown) = Shutdown::manual();
        let mut fake = Fake::new(u64::MAX);
        fake.signal_at = signal_at.map(|at| (at, tx));
        let outcome = execute(&mut fake, setup.context(shutdown)).await.unwrap();
        let doc: serde_json::Value = serde_json::from_str(&setup.read("run.json")).unwrap();
        (
            outcome,
            fake.ran,
            doc["status"].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn a_long_soak_with_records_is_told_what_they_will_take() {
        let setup = Setup::grid(&[1]);
        let mut config = setup.config.clone();
        config.plan.wait = 1.0;
        config.stages = Some(envload_agent::stages::Stages::parse("2m:512,8h:512").unwrap());
        let note = records_note(&config).expect("14.8 million sessions of records");
        assert!(
            note.contains("up to 14.8 million sessions") && note.contains("6.7 GiB"),
            "{note}"
        );
        config.records = false;
        assert_eq!(records_note(&config), None);
        config.records = true;
        config.stages = Some(envload_agent::stages::Stages::parse("10s:64,40s:64").unwrap());
        assert_eq!(records_note(&config), None, "a short plan says nothing");
    }

    #[tokio::test]
    async fn a_signal_while_results_are_written_stops_before_the_next_phase() {
        let (outcome, ran, status) = run_with_signal_at(Some(0)).await;
        assert_eq!(outcome, RunOutcome::Interrupted);
        assert_eq!(ran, vec![1], "no phase starts after the signal");
        assert_eq!(status, "interrupted");
    }

    #[tokio::test]
    async fn a_signal_after_the_last_phase_still_says_interrupted() {
        let (outcome, ran, status) = run_with_signal_at(Some(2)).await;
        assert_eq!((outcome, ran.len()), (RunOutcome::Interrupted, 3));
        assert_eq!(status, "interrupted");
    }

    #[tokio::test]
    async fn without_a_signal_every_phase_runs() {
        let (outcome, ran, status) = run_with_signal_at(None).await;
        assert_eq!((outcome, ran), (RunOutcome::Complete, vec![1, 2, 3]));
        assert_eq!(status, "complete");
    }
}
