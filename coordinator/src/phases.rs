//! The phase loop every mode shares: for each phase of the plan, pause, run
//! it through a [`PhaseDriver`], summarise, write every result file, print
//! the console lines, and check host expectations. A signal stops the phase
//! in flight; what finished before it is already on disk.

use crate::config::RunConfig;
use crate::console;
use crate::driver::PhaseDriver;
use crate::plan::{Phase, PlanKind};
use crate::recorder::{PhaseEnd, Recorder, RunContext};
use crate::result::PhaseResult;
use crate::summary::SummaryRow;

/// How a run ended, for the exit code.
#[derive(Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every phase ran (and host expectations held, if required).
    Complete,
    /// `--require-hosts` and some phase saw too few hosts.
    HostsMissing,
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
    let mut rec = Recorder::create(&ctx, driver)?;
    announce(config, &phases);

    let mut rows: Vec<SummaryRow> = Vec::new();
    let mut hosts_missing = Vec::new();
    for phase in &phases {
        if rec.pause(driver, phase.pause_before).await? {
            return Ok(RunOutcome::Interrupted);
        }
        let of = if spec.kind() == PlanKind::Grid {
            phases.len()
        } else {
            1
        };
        console::phase_header(phase, phase.index + 1, of);
        let template = config.template(phase, targets);
        let result = match rec.run_phase(driver, phase, &template).await? {
            PhaseEnd::Done(r) => r,
            PhaseEnd::Interrupted => return Ok(RunOutcome::Interrupted),
        };
        let run_json = &mut rec.run_json;
        report_phase(config, &result);
        if let Some(expected) = config.expected_hosts {
            if result.summary.unique_hosts < expected {
                let msg = format!(
                    "phase {} ({} N={} wait={:?}s rep={}) reached {} distinct host(s), expected {expected} (--expected-hosts)",
                    phase.index + 1, phase.mode.as_str(), phase.n, phase.wait, phase.rep, result.summary.unique_hosts
                );
                eprintln!("  WARNING: {msg}");
                run_json.doc.warnings.push(msg.clone());
                run_json.save()?;
                hosts_missing.push(msg);
            }
        }
        rows.push(result.summary);
    }
    if rec.interrupted_since(driver).await? {
        return Ok(RunOutcome::Interrupted);
    }
    driver.finish("the run is complete").await;
    let run_json = &mut rec.run_json;
    match spec.kind() {
        PlanKind::Compare => console::comparison(&rows[0], &rows[1]),
        PlanKind::Grid => console::grid_table(&rows),
        PlanKind::Single => {}
    }
    println!("\n  Results saved to: {}/", dir.display());
    if config.require_hosts && !hosts_missing.is_empty() {
        run_json.finish("failed")?;
        eprintln!(
            "envload: --require-hosts: {} phase(s) reached fewer hosts than --expected-hosts:",
            hosts_missing.len()
        );
        for m in &hosts_missing {
            eprintln!("  {m}");
        }
        return Ok(RunOutcome::HostsMissing);
    }
    run_json.finish("complete")?;
    Ok(RunOutcome::Complete)
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
}

#[cfg(test)]
mod tests {
    //! The phase loop through a fake driver: where a signal lands decides
    //! what is kept, without any real session.
    use super::*;
    use crate::result::{AgentInfo, AgentPhase, PhaseOutcome};
    use crate::shutdown::Shutdown;
    use clap::Parser;
    use envload_agent::{Assignment, Target};
    use std::time::Duration;
    use tokio::sync::watch;

    /// Runs phases instantly; raises the signal while phase `signal_at`
    /// finishes (so it arrives while that phase's results are written).
    struct Fake {
        ran: Vec<u64>,
        signal_at: Option<usize>,
        tx: watch::Sender<bool>,
    }

    impl PhaseDriver for Fake {
        async fn run_phase(
            &mut self,
            phase: &Phase,
            template: &Assignment,
        ) -> anyhow::Result<PhaseOutcome> {
            self.ran.push(phase.n);
            if self.signal_at == Some(phase.index) {
                self.tx.send(true).unwrap();
            }
            Ok(PhaseOutcome {
                records: Vec::new(),
                stats: Default::default(),
                wall: Duration::from_millis(1),
                uniques: Default::default(),
                agents: vec![AgentPhase {
                    name: "fake".into(),
                    host: "here".into(),
                    assigned: template.count,
                    successful: 0,
                    failed: 0,
                    lost: None,
                }],
            })
        }
        async fn abort(&mut self, _phase: &Phase) {}
        fn agents(&self) -> Vec<AgentInfo> {
            vec![AgentInfo::new("fake", "here", 1)]
        }
        async fn finish(&mut self, _reason: &str) {}
    }

    async fn run_with_signal_at(signal_at: Option<usize>) -> (RunOutcome, Vec<u64>, String) {
        let cli = crate::cmd::Cli::parse_from(["envload", "run", "--requests-grid", "1,2,3"]);
        let crate::cmd::Command::Run(args) = cli.command else {
            unreachable!()
        };
        let config = args.config().unwrap();
        let dir = std::env::temp_dir().join(format!(
            "envload-phases-{}-{signal_at:?}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let targets = vec![Target::parse("http://127.0.0.1:9").unwrap()];
        let (tx, shutdown) = Shutdown::manual();
        let mut fake = Fake {
            ran: Vec::new(),
            signal_at,
            tx,
        };
        let ctx = RunContext {
            config: &config,
            targets: &targets,
            dir: &dir,
            argv: Vec::new(),
            embedded: None,
            shutdown,
        };
        let outcome = execute(&mut fake, ctx).await.unwrap();
        let status = std::fs::read_to_string(dir.join("run.json")).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&status).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        (
            outcome,
            fake.ran,
            doc["status"].as_str().unwrap().to_string(),
        )
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
