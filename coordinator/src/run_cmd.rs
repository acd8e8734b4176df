//! `envload run`: the single-host mode. The plan's phases run one after
//! another through the in-process agent (the same session engine a remote
//! agent runs); each phase's results are written before the next starts.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use envload_agent::{run_share, Assignment, Target};
use serde_json::json;

use crate::cli::RunArgs;
use crate::console;
use crate::embedded::Embedded;
use crate::limits;
use crate::output::histograms::HistogramsJsonl;
use crate::output::numfmt::timestamp;
use crate::output::raw_jsonl::RawJsonl;
use crate::output::run_json::{AgentInfo, PhaseEntry, RunDoc, RunJson};
use crate::output::summary_csv::SummaryCsv;
use crate::output::{prepare_dir, PhaseResult, PhaseWriter};
use crate::plan::{Phase, PlanKind, PlanSpec};
use crate::shutdown::signalled;
use crate::summary::{summarize, SummaryRow};
use crate::UsageError;

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

/// Runs the plan given on the command line.
pub fn run(args: RunArgs, argv: Vec<String>) -> anyhow::Result<RunOutcome> {
    let spec = PlanSpec {
        mode: args.mode.into(),
        n: args.requests,
        wait: args.wait,
        requests_grid: args.requests_grid.clone().map(|g| g.0),
        wait_grid: args.wait_grid.clone().map(|g| g.0),
        reps: args.reps,
        compare: args.compare,
    };
    let dir = args
        .output_dir
        .clone()
        .unwrap_or_else(|| default_dir(&args.infrastructure));
    let dir = prepare_dir(&dir).map_err(UsageError)?;

    let mut targets: Vec<Target> = args
        .url
        .iter()
        .cloned()
        .chain(args.urls.iter().cloned())
        .collect();
    let sockets_per_session = if targets.is_empty() { 2 } else { 1 };
    limits::ensure_nofile(
        spec.max_n(),
        limits::needed(spec.max_n(), sockets_per_session),
    )?;

    let embedded = if targets.is_empty() {
        let e = Embedded::start().context("starting the embedded benchmark server")?;
        println!(
            "No --url given: started the embedded benchmark server at {} (envload serve)",
            e.url
        );
        targets.push(Target::parse(&e.url).expect("embedded URL is valid"));
        Some(e)
    } else {
        None
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = rt.block_on(execute(
        &args,
        &spec,
        &targets,
        &dir,
        argv,
        embedded.as_ref().map(|e| e.url.clone()),
    ));
    drop(embedded);
    outcome
}

fn default_dir(infrastructure: &str) -> PathBuf {
    PathBuf::from("experiments/results")
        .join(infrastructure)
        .join(Utc::now().format("%Y-%m-%d").to_string())
}

async fn execute(
    args: &RunArgs,
    spec: &PlanSpec,
    targets: &[Target],
    dir: &std::path::Path,
    argv: Vec<String>,
    embedded: Option<String>,
) -> anyhow::Result<RunOutcome> {
    let phases = spec.phases();
    let url_label = targets
        .iter()
        .map(|t| t.url.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let mut run_json = RunJson::create(dir, run_doc(args, spec, targets, argv, embedded))?;
    let mut raw = RawJsonl::open(dir)?;
    let mut csv = SummaryCsv::open(dir)?;
    let mut hists = HistogramsJsonl::open(dir)?;
    announce(args, spec, &phases);

    let mut rows: Vec<SummaryRow> = Vec::new();
    let mut hosts_missing = Vec::new();
    for phase in &phases {
        tokio::time::sleep(phase.pause_before).await;
        console::phase_header(
            phase,
            phase.index + 1,
            if spec.kind() == PlanKind::Grid {
                phases.len()
            } else {
                1
            },
        );
        let assignment = assignment(args, phase, targets);
        let share = tokio::select! {
            s = run_share(&assignment) => s,
            _ = signalled() => {
                mark_partial(&mut run_json, phase)?;
                eprintln!("envload: interrupted during phase {}; finished phases are saved in {}", phase.index + 1, dir.display());
                return Ok(RunOutcome::Interrupted);
            }
        };
        let summary = summarize(
            phase,
            &url_label,
            &args.hardware,
            &share.stats,
            &share.records,
            share.wall,
        );
        let result = PhaseResult {
            phase: phase.clone(),
            targets: targets.to_vec(),
            records: share.records,
            stats: share.stats,
            wall: share.wall,
            summary,
        };
        for w in [
            &mut raw as &mut dyn PhaseWriter,
            &mut csv,
            &mut hists,
            &mut run_json,
        ] {
            w.write_phase(&result)
                .with_context(|| format!("writing results to {}", dir.display()))?;
        }
        let first_error = result
            .records
            .iter()
            .find_map(|r| r.failure.as_ref().map(|f| f.message.clone()));
        if args.verbose || spec.kind() == PlanKind::Single {
            console::phase_summary(&result.summary);
        }
        console::phase_line(
            &result.summary,
            &result.stats.errors,
            first_error.as_deref(),
        );
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

fn assignment(args: &RunArgs, phase: &Phase, targets: &[Target]) -> Assignment {
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
    }
}

fn run_doc(
    args: &RunArgs,
    spec: &PlanSpec,
    targets: &[Target],
    argv: Vec<String>,
    embedded: Option<String>,
) -> RunDoc {
    RunDoc {
        envload_version: env!("CARGO_PKG_VERSION").to_string(),
        command: argv,
        infrastructure: args.infrastructure.clone(),
        hardware: args.hardware.clone(),
        plan: json!({
            "mode": spec.mode.as_str(), "requests": spec.n, "wait": spec.wait,
            "requests_grid": spec.requests_grid, "wait_grid": spec.wait_grid,
            "reps": spec.reps, "compare": spec.compare, "timeout": args.timeout,
            "close": format!("{:?}", args.close), "expected_hosts": args.expected_hosts,
            "require_hosts": args.require_hosts,
        }),
        targets: targets.iter().map(|t| t.url.clone()).collect(),
        embedded_server: embedded,
        agents: vec![AgentInfo {
            name: "local".into(),
            host: envload_benchenv::env::hostname(),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }],
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
    });
    run_json.finish("interrupted")?;
    Ok(())
}
