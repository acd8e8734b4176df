//! Live metrics of a run in Prometheus' text exposition format
//! (`--metrics-listen`): sessions started, active, succeeded and failed by
//! `error_type`, the phase in flight, agents connected, and each stage's
//! latency as a histogram — counters over the whole run (the phase in
//! flight as merged so far across agents, finished phases exactly as
//! summarised) — plus every finished phase's summary.csv figures as gauges,
//! so a dashboard shows the same numbers as the results. The process has
//! one run, so one registry ([`global`]), fed by the live progress and the
//! recorder; `endpoint` serves it.

pub mod endpoint;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use envload_agent::{Latency, PhaseStats};

use envload_results::model::PhaseResult;
use envload_results::Phase;

/// Histogram bucket bounds, seconds: sessions last milliseconds to minutes.
pub const BUCKETS: [f64; 20] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0,
    30.0, 60.0, 120.0,
];

/// Finished phases whose summary gauges are kept (the most recent).
const PHASES_KEPT: usize = 256;

/// The run's metrics.
#[derive(Default)]
pub struct Metrics {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Finished (or interrupted) phases, merged.
    done: PhaseStats,
    done_started: u64,
    phases_completed: u64,
    /// The phase in flight: its labels, sessions started, stats so far.
    live: Option<(String, u64, PhaseStats)>,
    agents: u64,
    /// Finished phases' summary gauges, pre-rendered per phase.
    summaries: VecDeque<String>,
}

static GLOBAL: OnceLock<Metrics> = OnceLock::new();

/// The registry, once `--metrics-listen` has started it.
pub fn global() -> Option<&'static Metrics> {
    GLOBAL.get()
}

/// Starts the registry (the endpoint does, once).
pub(crate) fn install() -> &'static Metrics {
    GLOBAL.get_or_init(Metrics::default)
}

/// `phase="2",mode="ws",batch_size="64",wait_seconds="1",repetition="1"`.
fn phase_labels(p: &Phase) -> String {
    format!(
        "phase=\"{}\",mode=\"{}\",batch_size=\"{}\",wait_seconds=\"{}\",repetition=\"{}\"",
        p.index + 1,
        p.mode.as_str(),
        p.n,
        p.wait,
        p.rep
    )
}

impl Metrics {
    fn with(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// `phase` starts.
    pub fn phase_started(&self, phase: &Phase) {
        self.with(|s| s.live = Some((phase_labels(phase), 0, PhaseStats::default())));
    }

    /// The phase in flight so far: sessions started, statistics merged.
    pub fn phase_progress(&self, started: u64, stats: &PhaseStats) {
        self.with(|s| {
            if let Some(live) = s.live.as_mut() {
                live.1 = started;
                live.2 = stats.clone();
            }
        });
    }

    /// A phase finished: its exact statistics replace the live view.
    pub fn phase_finished(&self, r: &PhaseResult) {
        let summary = render_summary(&phase_labels(&r.phase), r);
        self.with(|s| {
            s.live = None;
            s.done += &r.outcome.stats;
            s.done_started += r.outcome.stats.sessions;
            s.phases_completed += 1;
            s.summaries.push_back(summary);
            if s.summaries.len() > PHASES_KEPT {
                s.summaries.pop_front();
            }
        });
    }

    /// The phase in flight was stopped: what it measured stays counted.
    pub fn phase_stopped(&self) {
        self.with(|s| {
            if let Some((_, started, stats)) = s.live.take() {
                s.done += &stats;
                s.done_started += started;
            }
        });
    }

    /// Agents connected now.
    pub fn set_agents(&self, n: usize) {
        self.with(|s| s.agents = n as u64);
    }

    /// Everything, in the text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut all = s.done.clone();
        let mut started = s.done_started;
        let mut active = 0;
        if let Some((_, st, stats)) = &s.live {
            all += stats;
            started += st;
            active = st.saturating_sub(stats.sessions);
        }
        let mut out = String::with_capacity(8192);
        head(
            &mut out,
            "envload_sessions_started_total",
            "counter",
            "Sessions started (past their schedule and in-flight bound).",
        );
        let _ = writeln!(out, "envload_sessions_started_total {started}");
        head(
            &mut out,
            "envload_sessions_active",
            "gauge",
            "Sessions started and not yet finished.",
        );
        let _ = writeln!(out, "envload_sessions_active {active}");
        head(
            &mut out,
            "envload_sessions_succeeded_total",
            "counter",
            "Sessions that completed reset and step.",
        );
        let _ = writeln!(out, "envload_sessions_succeeded_total {}", all.successful);
        head(
            &mut out,
            "envload_sessions_failed_total",
            "counter",
            "Failed sessions by error_type.",
        );
        for (kind, n) in &all.errors {
            let _ = writeln!(
                out,
                "envload_sessions_failed_total{{error_type=\"{}\"}} {n}",
                kind.as_str()
            );
        }
        head(
            &mut out,
            "envload_phases_completed_total",
            "counter",
            "Phases measured and written.",
        );
        let _ = writeln!(out, "envload_phases_completed_total {}", s.phases_completed);
        head(
            &mut out,
            "envload_phase_running",
            "gauge",
            "1 while the labelled phase runs.",
        );
        if let Some((labels, _, _)) = &s.live {
            let _ = writeln!(out, "envload_phase_running{{{labels}}} 1");
        }
        head(
            &mut out,
            "envload_agents_connected",
            "gauge",
            "Agents connected to the coordinator (1 for an in-process run).",
        );
        let _ = writeln!(out, "envload_agents_connected {}", s.agents);
        head(&mut out, "envload_session_latency_seconds", "histogram", "Latency of successful sessions by stage (total: session start to end; reset, step, state and mcp: every request).");
        for (stage, l) in [
            ("connect", &all.connect),
            ("reset", &all.reset),
            ("step", &all.step),
            ("total", &all.total),
        ] {
            histogram(&mut out, stage, l);
        }
        // The protocol's own stages, once some session sent them.
        for (stage, l) in [("state", &all.state), ("mcp", &all.mcp)] {
            if l.count() > 0 {
                histogram(&mut out, stage, l);
            }
        }
        head(
            &mut out,
            "envload_phase_sessions",
            "gauge",
            "A finished phase's sessions by outcome (summary.csv successful, failed).",
        );
        head(
            &mut out,
            "envload_phase_success_ratio",
            "gauge",
            "A finished phase's success fraction (1 - summary.csv error_rate).",
        );
        head(
            &mut out,
            "envload_phase_latency_seconds",
            "gauge",
            "A finished phase's latency percentiles as in summary.csv.",
        );
        for summary in &s.summaries {
            out.push_str(summary);
        }
        out
    }
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One stage's cumulative buckets, sum and count.
fn histogram(out: &mut String, stage: &str, l: &Latency) {
    let name = "envload_session_latency_seconds";
    for b in BUCKETS {
        let le_us = (b * 1e6) as u64;
        let n = if l.count() == 0 {
            0
        } else {
            l.hist.count_between(0, le_us)
        };
        let _ = writeln!(out, "{name}_bucket{{stage=\"{stage}\",le=\"{b}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{stage=\"{stage}\",le=\"+Inf\"}} {}",
        l.count()
    );
    let _ = writeln!(
        out,
        "{name}_sum{{stage=\"{stage}\"}} {}",
        l.sum_us as f64 / 1e6
    );
    let _ = writeln!(out, "{name}_count{{stage=\"{stage}\"}} {}", l.count());
}

/// A finished phase's summary.csv figures as gauge samples.
fn render_summary(labels: &str, r: &PhaseResult) -> String {
    let s = &r.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "envload_phase_sessions{{{labels},outcome=\"successful\"}} {}",
        s.successful
    );
    let _ = writeln!(
        out,
        "envload_phase_sessions{{{labels},outcome=\"failed\"}} {}",
        s.failed
    );
    let _ = writeln!(
        out,
        "envload_phase_success_ratio{{{labels}}} {}",
        1.0 - s.error_rate
    );
    let mut q = |stage: &str, quantile: &str, v: f64| {
        let _ = writeln!(
            out,
            "envload_phase_latency_seconds{{{labels},stage=\"{stage}\",quantile=\"{quantile}\"}} {v}"
        );
    };
    let mut stages = vec![("connect", s.connect), ("reset", s.reset), ("step", s.step)];
    stages.extend(s.state.map(|v| ("state", v)));
    stages.extend(s.mcp.map(|v| ("mcp", v)));
    for (stage, v) in stages {
        for (quantile, x) in ["0.5", "0.95", "0.99"].into_iter().zip(v) {
            q(stage, quantile, x);
        }
    }
    for (quantile, x) in ["0.5", "0.9", "0.95", "0.99"].into_iter().zip(s.total) {
        q("total", quantile, x);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use envload_agent::record::Timings;
    use envload_agent::{ErrorType, Failure, Mode, SessionRecord};

    fn rec(total_us: u64, failed: bool) -> SessionRecord {
        SessionRecord {
            request_id: 0,
            mode: Mode::Ws,
            timestamp: chrono::Utc::now(),
            wait_requested: 1.0,
            batch_size: 1,
            hardware: String::new(),
            target_index: 0,
            timings: Timings {
                connect_us: 1000,
                reset_us: 2000,
                step_us: total_us / 2,
                total_us,
            },
            observed: Default::default(),
            failure: failed.then(|| Failure::new(ErrorType::CapacityReached, "full")),
            ended_after: Default::default(),
            rollout: None,
            start_lag: None,
        }
    }

    #[test]
    fn counters_cover_the_live_phase_and_buckets_are_cumulative() {
        let m = Metrics::default();
        let phase = Phase {
            index: 0,
            mode: Mode::Ws,
            n: 4,
            wait: 1.0,
            rep: 1,
            pause_before: Default::default(),
        };
        m.phase_started(&phase);
        let mut stats = PhaseStats::default();
        for r in [rec(400_000, false), rec(1_200_000, false), rec(0, true)] {
            stats.record(&r);
        }
        m.phase_progress(4, &stats);
        m.set_agents(2);
        let text = m.render();
        for line in [
            "envload_sessions_started_total 4",
            "envload_sessions_active 1",
            "envload_sessions_succeeded_total 2",
            "envload_sessions_failed_total{error_type=\"CapacityReached\"} 1",
            "envload_agents_connected 2",
            "envload_phase_running{phase=\"1\",mode=\"ws\",batch_size=\"4\",wait_seconds=\"1\",repetition=\"1\"} 1",
            "envload_session_latency_seconds_bucket{stage=\"total\",le=\"0.25\"} 0",
            "envload_session_latency_seconds_bucket{stage=\"total\",le=\"0.5\"} 1",
            "envload_session_latency_seconds_bucket{stage=\"total\",le=\"1.5\"} 2",
            "envload_session_latency_seconds_bucket{stage=\"total\",le=\"+Inf\"} 2",
            "envload_session_latency_seconds_count{stage=\"total\"} 2",
            "envload_session_latency_seconds_sum{stage=\"total\"} 1.6",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("stage=\"mcp\""), "no MCP call yet: {text}");
        // A session that made MCP calls adds their stage.
        let mut r = rec(300_000, false);
        r.rollout = Some(Box::new(envload_agent::record::Rollout {
            mcp: vec![envload_agent::record::StepTime {
                index: 0,
                us: 200_000,
            }],
            ..Default::default()
        }));
        stats.record(&r);
        m.phase_progress(5, &stats);
        let text = m.render();
        assert!(
            text.lines()
                .any(|l| l == "envload_session_latency_seconds_count{stage=\"mcp\"} 1"),
            "{text}"
        );
        // Stopping the phase keeps its counts: counters never go back.
        m.phase_stopped();
        let text = m.render();
        assert!(
            text.contains("envload_sessions_started_total 5\n"),
            "{text}"
        );
        assert!(text.contains("envload_sessions_active 0\n"), "{text}");
        assert!(!text.contains("envload_phase_running{"), "{text}");
    }
}
