//! The phase loop every mode shares: for each phase of the plan, pause, run
//! it through a [`PhaseDriver`], summarise, write every result file, print
//! the console lines, and check host expectations. A signal stops the phase
//! in flight; what finished before it is already on disk.

use std::path::Path;
use std::time::Duration;

use envload_agent::{Assignment, Target};

use crate::cli::RunArgs;
use crate::console;
use crate::driver::PhaseDriver;
use crate::output::PhaseResult;
use crate::plan::{Phase, PlanKind, PlanSpec};
use crate::recorder::{PhaseEnd, Recorder};
use crate::shutdown::Shutdown;
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

/// Where a run writes and what it records about itself.
pub struct RunContext<'a> {
    pub args: &'a RunArgs,
    pub spec: &'a PlanSpec,
    pub targets: &'a [Target],
    pub dir: &'a Path,
    pub argv: Vec<String>,
    pub embedded: Option<String>,
    /// Whether per-session records are kept (raw.jsonl).
    pub records: bool,
    /// SIGINT/SIGTERM, listened to since start-up.
    pub shutdown: Shutdown,
}

/// Runs every phase of the plan through `driver`.
pub async fn execute<D: PhaseDriver>(
    driver: &mut D,
    ctx: RunContext<'_>,
) -> anyhow::Result<RunOutcome> {
    let (args, spec, targets, dir) = (ctx.args, ctx.spec, ctx.targets, ctx.dir);
    let phases = spec.phases();
    let mut rec = Recorder::create(&ctx, driver)?;
    announce(args, spec, &phases);

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
        let template = template(args, phase, targets);
        let result = match rec.run_phase(driver, phase, &template).await? {
            PhaseEnd::Done(r) => r,
            PhaseEnd::Interrupted => return Ok(RunOutcome::Interrupted),
        };
        let run_json = &mut rec.run_json;
        report_phase(args, spec, &result);
        if let Some(expected) = args.expected_hosts {
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
    if args.require_hosts && !hosts_missing.is_empty() {
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

fn report_phase(args: &RunArgs, spec: &PlanSpec, r: &PhaseResult) {
    let first_error = r
        .records
        .iter()
        .find_map(|r| r.failure.as_ref().map(|f| f.message.clone()));
    if args.verbose || spec.kind() == PlanKind::Single {
        console::phase_summary(&r.summary);
    }
    console::phase_line(&r.summary, &r.stats.errors, first_error.as_deref());
    if r.agents.len() > 1 || r.agents.iter().any(|a| a.lost.is_some()) {
        console::agent_lines(&r.agents);
    }
    if r.targets.len() > 1 {
        console::target_lines(&r.targets);
    }
}

fn announce(args: &RunArgs, spec: &PlanSpec, phases: &[Phase]) {
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
                args.hardware
            );
        }
        PlanKind::Compare => {
            println!("\n======================================================================");
            println!(
                "  Comparing HTTP vs WebSocket: N={}, wait={:?}s",
                spec.n, spec.wait
            );
            println!("  Hardware: {}", args.hardware);
            println!("======================================================================");
        }
        PlanKind::Single => {}
    }
}

/// The phase-wide assignment: the whole id range; drivers split it.
pub fn template(args: &RunArgs, phase: &Phase, targets: &[Target]) -> Assignment {
    Assignment {
        mode: phase.mode,
        targets: targets.to_vec(),
        wait_seconds: phase.wait,
        batch_size: phase.n,
        first_request_id: 0,
        count: phase.n,
        timeout: Duration::from_secs_f64(args.timeout),
        close_timeout: Duration::from_secs_f64(args.close_timeout),
        max_message: args.max_message_size,
        close: args.close.into(),
        hardware: args.hardware.clone(),
        tls: envload_agent::tls::TlsOptions {
            ca_pem: args.ca_cert.as_ref().map(|c| c.0.clone()),
            insecure: args.insecure,
        },
    }
}
