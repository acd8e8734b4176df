//! The phase loop every mode shares: for each phase of the plan, pause, run
//! it through a [`PhaseDriver`], summarise, write every result file, print
//! the console lines, and check host expectations. A signal stops the phase
//! in flight; what finished before it is already on disk.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use envload_agent::{Assignment, Target};
use serde_json::json;

use crate::cli::RunArgs;
use crate::console;
use crate::driver::PhaseDriver;
use crate::output::histograms::HistogramsJsonl;
use crate::output::numfmt::timestamp;
use crate::output::raw_jsonl::RawJsonl;
use crate::output::run_json::{PhaseEntry, RunDoc, RunJson};
use crate::output::summary_csv::SummaryCsv;
use crate::output::{PhaseResult, PhaseWriter};
use crate::plan::{Phase, PlanKind, PlanSpec};
use crate::shutdown::signalled;
use crate::summary::{summarize, SummaryRow};

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
}

/// Runs every phase of the plan through `driver`.
pub async fn execute<D: PhaseDriver>(
    driver: &mut D,
    ctx: RunContext<'_>,
) -> anyhow::Result<RunOutcome> {
    let (args, spec, targets, dir) = (ctx.args, ctx.spec, ctx.targets, ctx.dir);
    let phases = spec.phases();
    let url_label = targets
        .iter()
        .map(|t| t.url.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let mut run_json = RunJson::create(dir, run_doc(&ctx, driver))?;
    let mut csv = SummaryCsv::open(dir)?;
    let mut hists = HistogramsJsonl::open(dir)?;
    let mut raw = if ctx.records {
        Some(RawJsonl::open(dir)?)
    } else {
        None
    };
    announce(args, spec, &phases);

    let mut rows: Vec<SummaryRow> = Vec::new();
    let mut hosts_missing = Vec::new();
    for phase in &phases {
        tokio::time::sleep(phase.pause_before).await;
        let of = if spec.kind() == PlanKind::Grid {
            phases.len()
        } else {
            1
        };
        console::phase_header(phase, phase.index + 1, of);
        let template = template(args, phase, targets);
        let outcome = tokio::select! {
            o = driver.run_phase(phase, &template) => o,
            _ = signalled() => {
                driver.abort(phase).await;
                driver.finish("the coordinator was interrupted").await;
                mark_partial(&mut run_json, phase)?;
                eprintln!("envload: interrupted during phase {}; finished phases are saved in {}", phase.index + 1, dir.display());
                return Ok(RunOutcome::Interrupted);
            }
        };
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                driver.finish("the run failed").await;
                mark_partial(&mut run_json, phase)?;
                run_json.finish("failed")?;
                return Err(e.context(format!(
                    "phase {} failed; finished phases are saved in {}",
                    phase.index + 1,
                    dir.display()
                )));
            }
        };
        let summary = summarize(
            phase,
            &url_label,
            &args.hardware,
            &outcome.stats,
            &outcome.uniques,
            outcome.wall,
        );
        let result = PhaseResult {
            phase: phase.clone(),
            records: outcome.records,
            stats: outcome.stats,
            wall: outcome.wall,
            summary,
            agents: outcome.agents,
        };
        // Agents may have joined since the last phase.
        for info in driver.agents() {
            if !run_json
                .doc
                .agents
                .iter()
                .any(|a| a.name == info.name && a.host == info.host)
            {
                run_json.doc.agents.push(info);
            }
        }
        let mut writers: Vec<&mut dyn PhaseWriter> = vec![&mut csv, &mut hists, &mut run_json];
        if let Some(raw) = raw.as_mut() {
            writers.insert(0, raw);
        }
        for w in writers {
            w.write_phase(&result)
                .with_context(|| format!("writing results to {}", dir.display()))?;
        }
        report_phase(args, spec, &result, &run_json.doc.targets);
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
    driver.finish("the run is complete").await;
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

fn report_phase(args: &RunArgs, spec: &PlanSpec, r: &PhaseResult, urls: &[String]) {
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
    if urls.len() > 1 {
        console::target_lines(&crate::output::run_json::per_target(urls, &r.records));
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
fn template(args: &RunArgs, phase: &Phase, targets: &[Target]) -> Assignment {
    Assignment {
        mode: phase.mode,
        targets: targets.to_vec(),
        wait_seconds: phase.wait,
        batch_size: phase.n,
        first_request_id: 0,
        count: phase.n,
        timeout: Duration::from_secs_f64(args.timeout),
        close: args.close.into(),
        hardware: args.hardware.clone(),
        tls: envload_agent::tls::TlsOptions {
            ca_pem: args.ca_cert.as_ref().map(|c| c.0.clone()),
            insecure: args.insecure,
        },
    }
}

fn run_doc<D: PhaseDriver>(ctx: &RunContext<'_>, driver: &D) -> RunDoc {
    let (args, spec) = (ctx.args, ctx.spec);
    RunDoc {
        envload_version: env!("CARGO_PKG_VERSION").to_string(),
        command: ctx.argv.clone(),
        infrastructure: args.infrastructure.clone(),
        hardware: args.hardware.clone(),
        plan: json!({
            "mode": spec.mode.as_str(), "requests": spec.n, "wait": spec.wait,
            "requests_grid": spec.requests_grid, "wait_grid": spec.wait_grid,
            "reps": spec.reps, "compare": spec.compare, "timeout": args.timeout,
            "close": format!("{:?}", args.close), "expected_hosts": args.expected_hosts,
            "require_hosts": args.require_hosts, "records": ctx.records,
        }),
        targets: ctx.targets.iter().map(|t| t.url.clone()).collect(),
        embedded_server: ctx.embedded.clone(),
        agents: driver.agents(),
        started_at: timestamp(&Utc::now()),
        finished_at: None,
        status: "running".into(),
        phases: Vec::new(),
        warnings: Vec::new(),
    }
}

fn mark_partial(run_json: &mut RunJson, phase: &Phase) -> anyhow::Result<()> {
    run_json.doc.phases.push(PhaseEntry {
        index: phase.index,
        mode: phase.mode.as_str().into(),
        batch_size: phase.n,
        wait_seconds: phase.wait,
        repetition: phase.rep,
        status: "partial".into(),
        successful: 0,
        failed: 0,
        total_wall_time: 0.0,
        unique_hosts: 0,
        errors: Default::default(),
        agents: Vec::new(),
        targets: Vec::new(),
    });
    run_json.finish("interrupted")?;
    Ok(())
}
