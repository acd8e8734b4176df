//! Records a run: every phase's result written and flushed to every result
//! file before the next starts, the warnings the phase loop raises, and an
//! interrupt or a failure marked in `run.json`. It records, and nothing
//! else: running phases, reacting to signals, deciding what to warn about
//! and ending the driver are `phases`'s.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use serde_json::json;

use crate::config::RunConfig;
use crate::cpu;
use crate::shutdown::Shutdown;
use envload_agent::workload::Think;
use envload_results::model::{
    per_target, AgentInfo, Distribution, PhaseCpu, PhaseOutcome, PhaseResult,
};
use envload_results::numfmt::timestamp;
use envload_results::run_doc::{ArrivalDoc, LeakProbe, PhaseEntry, PlanDoc, RunDoc, WorkloadDoc};
use envload_results::summary::summarize;
use envload_results::write::histograms::HistogramsJsonl;
use envload_results::write::raw_jsonl::RawJsonl;
use envload_results::write::rollouts_csv::RolloutsCsv;
use envload_results::write::run_json::RunJson;
use envload_results::write::summary_csv::SummaryCsv;
use envload_results::write::summary_json::SummaryJson;
use envload_results::write::PhaseWriter;
use envload_results::Phase;

/// Where a run writes and what it records about itself.
pub struct RunContext<'a> {
    /// The validated configuration.
    pub config: &'a RunConfig,
    /// The targets sessions go to (the embedded server's when none was given).
    pub targets: &'a [envload_agent::Target],
    /// The results folder.
    pub dir: &'a std::path::Path,
    /// The command line, recorded in run.json.
    pub argv: Vec<String>,
    /// URL of the embedded benchmark server, when this run started one.
    pub embedded: Option<String>,
    /// Its process id, for its CPU.
    pub embedded_pid: Option<u32>,
    /// SIGINT/SIGTERM, listened to since start-up.
    pub shutdown: Shutdown,
}

/// The result files of one run.
pub struct Recorder {
    /// `run.json`, kept in step.
    run_json: RunJson,
    csv: SummaryCsv,
    hists: HistogramsJsonl,
    raw: Option<RawJsonl>,
    rollouts: RolloutsCsv,
    summary_json: Option<SummaryJson>,
    url_label: String,
    hardware: String,
    dir: PathBuf,
    embedded_pid: Option<u32>,
    /// When a phase's sessions start (for the gaps run.json records).
    arrival: envload_agent::Arrival,
    /// What they do (for the think times run.json records).
    workload: envload_agent::workload::Workload,
    /// CPU of this process and of the embedded server when the phase in
    /// flight started.
    cpu_at_start: (std::time::Duration, Option<std::time::Duration>),
}

impl Recorder {
    /// Opens the result files in the run's directory; `agents` are those
    /// that will run its sessions, as far as they are known.
    pub fn create(ctx: &RunContext<'_>, agents: Vec<AgentInfo>) -> anyhow::Result<Self> {
        let dir = ctx.dir;
        Ok(Recorder {
            run_json: RunJson::create(dir, run_doc(ctx, agents))?,
            csv: SummaryCsv::open(dir)?,
            hists: HistogramsJsonl::open(dir)?,
            raw: if ctx.config.records {
                Some(RawJsonl::open(dir)?)
            } else {
                None
            },
            rollouts: RolloutsCsv::new(dir),
            summary_json: match &ctx.config.summary_json {
                Some(path) => Some(
                    SummaryJson::create(path.clone(), ctx.config.slo.clone(), dir.to_path_buf())
                        .with_context(|| format!("--summary-json {}", path.display()))?,
                ),
                None => None,
            },
            url_label: ctx
                .targets
                .iter()
                .map(|t| t.url.as_str())
                .collect::<Vec<_>>()
                .join(";"),
            hardware: ctx.config.hardware.clone(),
            dir: dir.to_path_buf(),
            embedded_pid: ctx.embedded_pid,
            arrival: ctx.config.arrival,
            workload: ctx.config.workload.clone(),
            cpu_at_start: Default::default(),
        })
    }

    /// Records a phase that failed to run (its driver's error): marked
    /// partial, run.json `failed`; returns the error to end the run with.
    pub fn failed(&mut self, phase: &Phase, e: anyhow::Error) -> anyhow::Error {
        if let Err(w) = self.mark_partial(phase, "failed") {
            return w;
        }
        e.context(format!(
            "phase {} failed; finished phases are saved in {}",
            phase.index + 1,
            self.dir.display()
        ))
    }

    /// Notes the CPU spent so far: the phase starts now.
    pub fn phase_starts(&mut self) {
        self.cpu_at_start = (cpu::own(), self.embedded_pid.and_then(cpu::of));
    }

    /// Summarises what was measured for `phase` and appends it to every
    /// result file; `agents` are the driver's now (some may have joined
    /// since the last phase).
    pub fn record(
        &mut self,
        phase: &Phase,
        outcome: PhaseOutcome,
        agents: Vec<AgentInfo>,
    ) -> anyhow::Result<PhaseResult> {
        let summary = summarize(
            phase,
            &self.url_label,
            &self.hardware,
            &outcome.stats,
            &outcome.uniques,
            outcome.wall,
        );
        let targets = per_target(&self.run_json.doc.targets, &outcome.records);
        let (own0, server0) = self.cpu_at_start;
        let cpu = PhaseCpu {
            envload: cpu::own().saturating_sub(own0).as_secs_f64(),
            embedded_server: self
                .embedded_pid
                .and_then(cpu::of)
                .zip(server0)
                .map(|(now, then)| now.saturating_sub(then).as_secs_f64()),
        };
        let schedule = self
            .arrival
            .schedule(0, phase.n, phase.n, self.workload.group);
        let inter_arrival = Distribution::of(
            schedule
                .windows(2)
                .map(|w| (w[1] - w[0]).as_secs_f64())
                .collect(),
        );
        let thinks = (!self.workload.is_benchmark() && self.workload.think != Think::default())
            .then(|| self.workload.planned_thinks(0..phase.n, 1_000_000));
        let result = PhaseResult {
            inter_arrival,
            think: thinks.and_then(Distribution::of),
            phase: phase.clone(),
            outcome,
            summary,
            targets,
            cpu,
        };
        for info in agents {
            let doc = &mut self.run_json.doc;
            if !doc
                .agents
                .iter()
                .any(|a| a.name == info.name && a.host == info.host)
            {
                doc.agents.push(info);
            }
        }
        let mut writers: Vec<&mut dyn PhaseWriter> = vec![
            &mut self.csv,
            &mut self.hists,
            &mut self.rollouts,
            &mut self.run_json,
        ];
        if let Some(raw) = self.raw.as_mut() {
            writers.insert(0, raw);
        }
        if let Some(sj) = self.summary_json.as_mut() {
            writers.push(sj);
        }
        for w in writers {
            w.write_phase(&result)
                .with_context(|| format!("writing results to {}", self.dir.display()))?;
        }
        if let Some(m) = crate::metrics::global() {
            m.phase_finished(&result);
        }
        crate::web::phase_finished(&result.outcome.stats);
        Ok(result)
    }

    /// Records an interrupted run: the phase in flight (if any) marked
    /// partial, run.json `interrupted`; finished phases stay as written.
    pub fn interrupt(&mut self, in_flight: Option<&Phase>) -> anyhow::Result<()> {
        match in_flight {
            Some(phase) => {
                self.mark_partial(phase, "interrupted")?;
                eprintln!(
                    "envload: interrupted during phase {}; finished phases are saved in {}",
                    phase.index + 1,
                    self.dir.display()
                );
            }
            None => {
                self.finish("interrupted")?;
                eprintln!(
                    "envload: interrupted between phases; finished phases are saved in {}",
                    self.dir.display()
                );
            }
        }
        Ok(())
    }

    fn mark_partial(&mut self, phase: &Phase, status: &'static str) -> anyhow::Result<()> {
        if let Some(m) = crate::metrics::global() {
            m.phase_stopped();
        }
        self.run_json.doc.phases.push(PhaseEntry {
            index: phase.index,
            mode: phase.mode.as_str().into(),
            batch_size: phase.n,
            wait_seconds: phase.wait,
            repetition: phase.rep,
            status: "partial".into(),
            ..PhaseEntry::default()
        });
        self.finish(status)?;
        Ok(())
    }

    /// Keeps what `--leak-probe` found after phase `index` (run.json and
    /// the summary JSON).
    pub fn leak_probe(&mut self, index: usize, probe: LeakProbe) -> std::io::Result<()> {
        let leaked = probe.leaked_slots;
        let doc = &mut self.run_json.doc;
        if let Some(p) = doc.phases.iter_mut().rev().find(|p| p.index == index) {
            p.leak_probe = Some(probe);
        }
        self.run_json.save()?;
        match self.summary_json.as_mut() {
            Some(sj) => sj.leaked_slots(index, leaked),
            None => Ok(()),
        }
    }

    /// Keeps a warning the phase loop raised in run.json's `warnings`.
    pub fn warning(&mut self, msg: &str) -> std::io::Result<()> {
        self.run_json.doc.warnings.push(msg.to_string());
        self.run_json.save()
    }

    /// Marks the run ended with `status` in run.json (and the summary JSON).
    pub fn finish(&mut self, status: &'static str) -> std::io::Result<()> {
        self.run_json.finish(status)?;
        match self.summary_json.as_mut() {
            Some(sj) => sj.finish(status),
            None => Ok(()),
        }
    }
}

fn run_doc(ctx: &RunContext<'_>, agents: Vec<AgentInfo>) -> RunDoc {
    let (config, spec) = (ctx.config, &ctx.config.plan);
    RunDoc {
        envload_version: env!("CARGO_PKG_VERSION").to_string(),
        command: ctx.argv.clone(),
        infrastructure: config.infrastructure.clone(),
        infrastructure_given: Some(config.infrastructure_given),
        hardware: config.hardware.clone(),
        notes: config.notes.clone(),
        cores: config.cores.or_else(|| {
            ctx.embedded
                .as_ref()
                .map(|_| std::thread::available_parallelism().map_or(1, |n| n.get() as u32))
        }),
        plan: PlanDoc {
            arrival: config.arrival.scheduled().then_some(ArrivalDoc {
                max_in_flight: config.arrival.max_in_flight,
                open: config.arrival.open,
                poisson: config.arrival.poisson.is_some(),
                spread_seconds: config.arrival.spread.as_secs_f64(),
            }),
            close: format!("{:?}", config.close),
            compare: spec.compare,
            cooldown: spec.cooldown.map(|d| d.as_secs_f64()),
            expected_hosts: config.expected_hosts,
            headers: config.headers.iter().map(|h| h.redacted()).collect(),
            mode: spec.mode.as_str().to_string(),
            ping_interval: config.ping_interval.as_secs_f64(),
            ping_timeout: config.ping_timeout.as_secs_f64(),
            records: config.records,
            reps: spec.reps,
            require_hosts: config.require_hosts,
            requests: spec.n,
            requests_grid: spec.requests_grid.clone(),
            timeout: config.timeout.as_secs_f64(),
            wait: spec.wait,
            wait_grid: spec.wait_grid.clone(),
            // A rollout workload, as the agents ran it (think times scaled).
            workload: (!config.workload.is_benchmark()).then(|| workload_doc(&config.workload)),
        },
        targets: ctx.targets.iter().map(|t| t.url.clone()).collect(),
        server: match &ctx.embedded {
            Some(_) => envload_results::run_doc::ServerInfo {
                start: Some(crate::embedded::start_command()),
                workers: Some(1),
                max_concurrent_envs: Some(crate::embedded::EMBEDDED_MAX_SESSIONS as u64),
            },
            None => config.server.clone(),
        },
        embedded_server: ctx.embedded.clone(),
        agents,
        started_at: timestamp(&Utc::now()),
        finished_at: None,
        status: "running".into(),
        phases: Vec::new(),
        warnings: Vec::new(),
        previous_runs: Vec::new(),
    }
}

/// run.json's description of a rollout workload.
fn workload_doc(w: &envload_agent::workload::Workload) -> WorkloadDoc {
    use envload_agent::workload::{Actions, Think};
    WorkloadDoc {
        actions: match &w.actions {
            Actions::Benchmark => json!("benchmark"),
            Actions::Template(t) => json!({ "template": t }),
            Actions::Lines(l) => json!({ "lines": l }),
        },
        episodes: w.episodes,
        group: (w.group > 1).then_some(w.group),
        max_resets_in_flight: w.max_resets_in_flight,
        reset: w.reset.clone(),
        seed: w.seed,
        steps: [w.steps.min, w.steps.max],
        think: match &w.think {
            Think::Uniform(_) => None,
            other => Some(other.to_string()),
        },
        think_seconds: match &w.think {
            Think::Uniform(s) => Some([s.min, s.max]),
            _ => None,
        },
    }
}
