//! The three tables of the experiment write-up, in Markdown:
//! 1. maximum batch size whose mean success over repetitions is ≥ the
//!    threshold, per infrastructure × mode × wait;
//! 2. HTTP vs WebSocket maximum batch per infrastructure and wait, with the
//!    ratio and the winner;
//! 3. latency breakdown at that maximum load;
//! 4. the maximum batch that also meets the reference matrix's latency SLO
//!    (total p99 ≤ by default 2 × (wait + 0.5 s), as `envload ceiling` uses), and the
//!    first batch that does not.

use std::collections::BTreeMap;
use std::fmt::Write;

use envload_results::folder::Row;
use envload_results::numfmt::float;
use envload_results::slo::Criteria;

/// (infrastructure, mode, wait in µs — orderable).
pub type Key = (String, String, u64);

/// Means over repetitions at one (infrastructure, mode, wait, N).
#[derive(Debug, Default, Clone, Copy)]
pub struct Point {
    pub reps: u32,
    /// Mean success fraction.
    pub success: f64,
    pub connect_p50: f64,
    pub reset_p50: f64,
    pub step_p50: f64,
    /// Mean total p99, seconds.
    pub total_p99: f64,
    /// Mean requests per second.
    pub rps: f64,
    /// envload's own stages: (sum of p50s, repetitions that had them).
    pub state_p50: (f64, u32),
    pub mcp_p50: (f64, u32),
}

impl Point {
    /// Mean state p50 over the repetitions that asked state.
    pub fn state(&self) -> Option<f64> {
        mean_of(self.state_p50)
    }

    /// Mean MCP call p50 over the repetitions that made calls.
    pub fn mcp(&self) -> Option<f64> {
        mean_of(self.mcp_p50)
    }
}

fn mean_of((sum, n): (f64, u32)) -> Option<f64> {
    (n > 0).then(|| sum / f64::from(n))
}

fn wait_key(w: f64) -> u64 {
    (w * 1e6).round() as u64
}

/// Means over repetitions per (infrastructure, mode, wait) and N.
pub fn points_by(rows: &[Row]) -> BTreeMap<Key, BTreeMap<u64, Point>> {
    let mut sums: BTreeMap<Key, BTreeMap<u64, Point>> = BTreeMap::new();
    for r in rows {
        let p = sums
            .entry((r.infrastructure.clone(), r.mode.clone(), wait_key(r.wait)))
            .or_default()
            .entry(r.n)
            .or_default();
        p.reps += 1;
        p.success += r.success;
        p.connect_p50 += r.connect_p50;
        p.reset_p50 += r.reset_p50;
        p.step_p50 += r.step_p50;
        p.total_p99 += r.total_p99;
        p.rps += r.rps;
        for (acc, v) in [(&mut p.state_p50, r.state_p50), (&mut p.mcp_p50, r.mcp_p50)] {
            if let Some(v) = v {
                *acc = (acc.0 + v, acc.1 + 1);
            }
        }
    }
    for by_n in sums.values_mut() {
        for p in by_n.values_mut() {
            let k = f64::from(p.reps);
            p.success /= k;
            p.connect_p50 /= k;
            p.reset_p50 /= k;
            p.step_p50 /= k;
            p.total_p99 /= k;
            p.rps /= k;
        }
    }
    sums
}

/// The largest N with mean success ≥ `threshold`, and its point.
pub fn max_batch(by_n: &BTreeMap<u64, Point>, criteria: Criteria) -> Option<(u64, Point)> {
    let slo = criteria.at_wait(0.0);
    by_n.iter()
        .rev()
        .find(|(_, p)| slo.success_met(p.success))
        .map(|(n, p)| (*n, *p))
}

/// Points by (infrastructure, mode, wait in µs), then by N.
type Points = BTreeMap<Key, BTreeMap<u64, Point>>;

/// Renders `tables.md`: the four tables of the reference's analysis.
pub fn render(rows: &[Row], criteria: Criteria) -> String {
    let pts = points_by(rows);
    let mut out = String::new();
    let _ = writeln!(out, "# envload report\n");
    max_batch_table(&mut out, &pts, criteria);
    http_vs_ws_table(&mut out, &pts, criteria);
    latency_table(&mut out, &pts, criteria);
    slo_table(&mut out, &pts, criteria);
    out
}

/// Table 1: the maximum batch with success ≥ the threshold.
fn max_batch_table(out: &mut String, pts: &Points, criteria: Criteria) {
    let pct = criteria.success * 100.0;
    let _ = writeln!(
        out,
        "## Table 1: maximum batch size with success ≥ {pct:.0}%\n"
    );
    let _ = writeln!(
        out,
        "| Infrastructure | Mode | Wait (s) | Max batch | Success at max | Total p99 at max (s) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for ((infra, mode, w), by_n) in pts {
        let wait = float(*w as f64 / 1e6);
        match max_batch(by_n, criteria) {
            Some((n, p)) => {
                let _ = writeln!(
                    out,
                    "| {infra} | {mode} | {wait} | {n} | {:.1}% | {:.3} |",
                    p.success * 100.0,
                    p.total_p99
                );
            }
            None => {
                let _ = writeln!(out, "| {infra} | {mode} | {wait} | – | – | – |");
            }
        }
    }
}

/// Table 2: HTTP against WebSocket at their maximum batches.
fn http_vs_ws_table(out: &mut String, pts: &Points, criteria: Criteria) {
    let _ = writeln!(out, "\n## Table 2: HTTP vs WebSocket (maximum batch)\n");
    let _ = writeln!(
        out,
        "| Infrastructure | Wait (s) | HTTP | WebSocket | WS/HTTP | Winner |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let mut pairs: BTreeMap<(String, u64), (Option<u64>, Option<u64>)> = BTreeMap::new();
    for ((infra, mode, w), by_n) in pts {
        let best = max_batch(by_n, criteria).map(|(n, _)| n);
        let e = pairs.entry((infra.clone(), *w)).or_default();
        match mode.as_str() {
            "http" => e.0 = best.or(e.0),
            "ws" => e.1 = best.or(e.1),
            _ => {}
        }
    }
    for ((infra, w), (http, ws)) in &pairs {
        let show = |v: &Option<u64>| v.map_or("–".to_string(), |n| n.to_string());
        let (ratio, winner) = match (http, ws) {
            (Some(h), Some(s)) if *h > 0 => {
                let r = *s as f64 / *h as f64;
                let winner = if s > h {
                    "WebSocket"
                } else if h > s {
                    "HTTP"
                } else {
                    "tie"
                };
                (format!("{r:.2}"), winner)
            }
            (None, Some(_)) => ("–".to_string(), "WebSocket"),
            (Some(_), None) => ("–".to_string(), "HTTP"),
            _ => ("–".to_string(), "–"),
        };
        let _ = writeln!(
            out,
            "| {infra} | {} | {} | {} | {ratio} | {winner} |",
            float(*w as f64 / 1e6),
            show(http),
            show(ws)
        );
    }
}

/// Table 3: the stages' latency at the maximum batch; `State p50` and
/// `MCP p50` columns follow when some phase asked state or made MCP calls
/// (a reference-shaped run's table keeps the reference's columns).
fn latency_table(out: &mut String, pts: &Points, criteria: Criteria) {
    let best: Vec<_> = pts
        .iter()
        .filter_map(|(k, by_n)| max_batch(by_n, criteria).map(|b| (k, b)))
        .collect();
    let state = best.iter().any(|(_, (_, p))| p.state().is_some());
    let mcp = best.iter().any(|(_, (_, p))| p.mcp().is_some());
    let (mut head, mut rule) = (
        "| Infrastructure | Mode | Wait (s) | Batch | Connect p50 | Reset p50 | Step p50 | Total p99 |".to_string(),
        "|---|---|---|---|---|---|---|---|".to_string(),
    );
    for (shown, name) in [(state, " State p50 |"), (mcp, " MCP p50 |")] {
        if shown {
            head.push_str(name);
            rule.push_str("---|");
        }
    }
    let _ = writeln!(out, "\n## Table 3: latency at maximum load (seconds)\n");
    let _ = writeln!(out, "{head}\n{rule}");
    for ((infra, mode, w), (n, p)) in best {
        let mut line = format!(
            "| {infra} | {mode} | {} | {n} | {:.4} | {:.4} | {:.4} | {:.4} |",
            float(*w as f64 / 1e6),
            p.connect_p50,
            p.reset_p50,
            p.step_p50,
            p.total_p99
        );
        for (shown, v) in [(state, p.state()), (mcp, p.mcp())] {
            if shown {
                line.push_str(&v.map_or(" – |".to_string(), |v| format!(" {v:.4} |")));
            }
        }
        let _ = writeln!(out, "{line}");
    }
}

/// Table 4: the maximum batch meeting the default SLO.
fn slo_table(out: &mut String, pts: &Points, criteria: Criteria) {
    let pct = criteria.success * 100.0;
    let _ = writeln!(
        out,
        "\n## Table 4: maximum batch meeting the SLO (success ≥ {pct:.0}% and total p99 ≤ {})\n",
        criteria.p99
    );
    let _ = writeln!(
        out,
        "| Infrastructure | Mode | Wait (s) | p99 limit (s) | Max batch | Total p99 at max (s) | First batch over |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for ((infra, mode, w), by_n) in pts {
        let wait = *w as f64 / 1e6;
        let limit = criteria.p99.at(wait);
        let (best, over) = slo_max(by_n, criteria, wait);
        let over = over.map_or("–".to_string(), |n| n.to_string());
        let (n, p99) = best.map_or(("–".to_string(), "–".to_string()), |(n, p)| {
            (n.to_string(), format!("{:.3}", p.total_p99))
        });
        let _ = writeln!(
            out,
            "| {infra} | {mode} | {} | {} | {n} | {p99} | {over} |",
            float(wait),
            float(limit)
        );
    }
}

/// The largest N meeting `criteria` at `wait` (success ≥ its threshold, total
/// p99 ≤ its bound at that wait), and the smallest N that does not.
pub fn slo_max(
    by_n: &BTreeMap<u64, Point>,
    criteria: Criteria,
    wait: f64,
) -> (Option<(u64, Point)>, Option<u64>) {
    let slo = criteria.at_wait(wait);
    let meets = |p: &Point| slo.met(p.success, p.total_p99);
    let best = by_n
        .iter()
        .rev()
        .find(|(_, p)| meets(p))
        .map(|(n, p)| (*n, *p));
    let over = by_n.iter().find(|(_, p)| !meets(p)).map(|(n, _)| *n);
    (best, over)
}

/// The maximum batch per (infrastructure, mode), over all waits.
pub fn max_batch_by(
    pts: &BTreeMap<Key, BTreeMap<u64, Point>>,
    criteria: Criteria,
) -> BTreeMap<(String, String), u64> {
    let mut best: BTreeMap<(String, String), u64> = BTreeMap::new();
    for ((infra, mode, _), by_n) in pts {
        if let Some((n, _)) = max_batch(by_n, criteria) {
            let e = best.entry((infra.clone(), mode.clone())).or_default();
            *e = (*e).max(n);
        }
    }
    best
}
