//! `--web HOST:PORT`: a live page of the run, served by the process that
//! runs the phases (`run`, `ceiling`, or the coordinator of agents on many
//! hosts) — the plan and its progress, sessions active, success, failures
//! by type, and total latency over time (p50, p99 per interval, active
//! sessions) redrawn every second. One self-contained page (`web/page.html`,
//! no CDN): its script polls `/live.json`, which this module keeps from
//! what every phase reports (`progress`) and its time-series rows.

use std::collections::BTreeMap;
use std::sync::Mutex;

use envload_agent::PhaseStats;
use envload_results::series::IntervalRow;
use envload_results::Phase;
use serde_json::{json, Value};

use crate::endpoint::Endpoint;

/// Points of the current phase's series kept for the chart.
const POINTS: usize = 3600;

/// One interval on the chart.
struct Point {
    time_s: f64,
    active: u64,
    p50: Option<f64>,
    p99: Option<f64>,
    succeeded: u64,
    failed: u64,
}

/// What the page shows.
#[derive(Default)]
struct Live {
    phases_total: usize,
    phases_done: usize,
    finished: bool,
    phase: Option<Phase>,
    started: u64,
    stats: PhaseStats,
    /// One per interval.
    points: Vec<Point>,
    errors: BTreeMap<String, u64>,
}

static LIVE: Mutex<Option<Live>> = Mutex::new(None);

fn live() -> std::sync::MutexGuard<'static, Option<Live>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The page `config` asks for (`--web`), started and tracking the run of
/// `phases` phases; an address that cannot be listened on is bad input.
pub fn for_run(
    config: &crate::config::RunConfig,
) -> Result<Option<Endpoint>, crate::error::UsageError> {
    let Some(addr) = config.web_listen else {
        return Ok(None);
    };
    *live() = Some(Live {
        phases_total: config.plan.phases().len(),
        ..Live::default()
    });
    let e = Endpoint::start(addr, "--web", routes).map_err(crate::error::UsageError)?;
    eprintln!("envload: live page at http://{}/", e.addr);
    Ok(Some(e))
}

/// `phase` starts.
pub fn phase_started(phase: &Phase) {
    if let Some(l) = live().as_mut() {
        l.phase = Some(phase.clone());
        l.started = 0;
        l.stats = PhaseStats::default();
        l.points.clear();
    }
}

/// The phase so far.
pub fn progress(started: u64, stats: &PhaseStats) {
    if let Some(l) = live().as_mut() {
        l.started = started;
        l.stats = stats.clone();
    }
}

/// Rows of the phase's series.
pub fn rows(rows: &[IntervalRow]) {
    if let Some(l) = live().as_mut() {
        for r in rows {
            let t = &r.stats.total;
            let q = |x: f64| (t.count() > 0).then(|| t.quantile_s(x));
            l.points.push(Point {
                time_s: r.end_s(),
                active: r.active,
                p50: q(0.5),
                p99: q(0.99),
                succeeded: r.stats.successful,
                failed: r.stats.failed,
            });
        }
        let extra = l.points.len().saturating_sub(POINTS);
        l.points.drain(..extra);
    }
}

/// The phase ended (its failures count in the run's).
pub fn phase_finished(stats: &PhaseStats) {
    if let Some(l) = live().as_mut() {
        l.phases_done += 1;
        for (k, v) in &stats.errors {
            *l.errors.entry(k.as_str().to_string()).or_default() += v;
        }
    }
}

/// The run ended.
pub fn run_finished() {
    if let Some(l) = live().as_mut() {
        l.finished = true;
    }
}

fn routes(path: &str) -> Option<(&'static str, String)> {
    match path {
        "/" | "/index.html" => Some((
            "text/html; charset=utf-8",
            include_str!("web/page.html").to_string(),
        )),
        "/live.json" => Some(("application/json", json())),
        _ => None,
    }
}

/// `/live.json`.
fn json() -> String {
    let guard = live();
    let Some(l) = guard.as_ref() else {
        return "{}".into();
    };
    let mut errors = l.errors.clone();
    for (k, v) in &l.stats.errors {
        *errors.entry(k.as_str().to_string()).or_default() += v;
    }
    let s = &l.stats;
    // Started and not yet reported ended: a session whose record is still
    // on its way shows as running a moment longer, never beyond N.
    let active = l
        .started
        .saturating_sub(s.sessions)
        .min(l.phase.as_ref().map_or(u64::MAX, |p| p.n));
    let series: Vec<Value> = l
        .points
        .iter()
        .map(|p| json!([p.time_s, p.active, p.p50, p.p99, p.succeeded, p.failed]))
        .collect();
    json!({
        "status": if l.finished { "finished" } else { "running" },
        "phases_total": l.phases_total,
        "phases_done": l.phases_done,
        "phase": l.phase.as_ref().map(|p| json!({
            "number": p.index + 1,
            "mode": p.mode.as_str(),
            "batch_size": p.n,
            "wait_seconds": p.wait,
            "repetition": p.rep,
        })),
        "started": l.started,
        "done": s.sessions,
        "succeeded": s.successful,
        "failed": s.failed,
        "active": active,
        "success": (s.sessions > 0).then(|| s.successful as f64 / s.sessions as f64),
        "total_p99": (s.total.count() > 0).then(|| s.total.quantile_s(0.99)),
        "errors": errors,
        "series": series,
    })
    .to_string()
}
