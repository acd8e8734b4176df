//! `envload report --log EXPERIMENT_LOG.md`: one "Run:" entry per results
//! folder (Configuration, Command, Results Summary, Scaling Behavior, Links,
//! Observations — seeded with where the latency SLO is first missed and the
//! failures run.json counted), and that infrastructure's row of the Overview table
//! (status, last run, max batch WS/HTTP). An entry carries a marker naming
//! its folder and start time, so reporting the same results twice adds
//! nothing.

use std::fmt::Write;
use std::path::Path;

use serde_json::Value;

use super::load::Row;
use super::tables::{max_batch, points_by};
use crate::output::numfmt::float;

const OVERVIEW_HEADER: &str =
    "| Infrastructure | Status | Last run | Max batch (WS) | Max batch (HTTP) |";

/// Proves the log can be written (an existing file opened for appending, or
/// a new one creatable beside it) without changing it.
pub fn check_writable(log: &Path) -> Result<(), String> {
    let shown = log.display();
    if log.is_dir() {
        return Err(format!("--log '{shown}' is a folder, not a file"));
    }
    if log.exists() {
        return std::fs::OpenOptions::new()
            .append(true)
            .open(log)
            .map(drop)
            .map_err(|e| format!("--log '{shown}' is not writable: {e}"));
    }
    let parent = match log.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let probe = parent.join(format!(".envload-log-test-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("--log '{shown}' cannot be created: {e}"))
}

/// Adds the entry for `dir` (whose rows are `rows`) to the log at `log`;
/// returns false when the log already had it.
pub fn append(
    log: &Path,
    dir: &Path,
    run: &Value,
    rows: &[Row],
    threshold: f64,
) -> Result<bool, String> {
    let started = run["started_at"].as_str().unwrap_or("").to_string();
    let marker = format!("<!-- envload-run: {} {started} -->", dir.display());
    let mut text = std::fs::read_to_string(log).unwrap_or_else(|_| {
        format!("# Experiment Log\n\n## Overview\n\n{OVERVIEW_HEADER}\n|---|---|---|---|---|\n")
    });
    if text.contains(&marker) {
        return Ok(false);
    }
    let infra = rows
        .first()
        .map(|r| r.infrastructure.clone())
        .unwrap_or_default();
    let pts = points_by(rows);
    let best = |mode: &str| {
        pts.iter()
            .filter(|((_, m, _), _)| m == mode)
            .filter_map(|(_, by_n)| max_batch(by_n, threshold).map(|(n, _)| n))
            .max()
    };
    let show = |v: Option<u64>| v.map_or("–".to_string(), |n| n.to_string());
    let day = started.get(..10).unwrap_or("unknown").to_string();
    let row = format!(
        "| {infra} | {} | {day} | {} | {} |",
        status(run),
        show(best("ws")),
        show(best("http"))
    );
    text = upsert_overview(&text, &infra, &row);
    text.push_str(&entry(dir, run, &infra, &marker, &pts, threshold));
    std::fs::write(log, text).map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    Ok(true)
}

fn status(run: &Value) -> String {
    match run["status"].as_str() {
        Some("complete") | None => "done".into(),
        Some(s) => s.into(),
    }
}

/// Replaces (or adds) `infra`'s row of the Overview table.
fn upsert_overview(text: &str, infra: &str, row: &str) -> String {
    let prefix = format!("| {infra} |");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if let Some(i) = lines.iter().position(|l| l.starts_with(&prefix)) {
        lines[i] = row.to_string();
    } else if let Some(h) = lines.iter().position(|l| l == OVERVIEW_HEADER) {
        let mut end = h + 2;
        while end < lines.len() && lines[end].starts_with('|') {
            end += 1;
        }
        lines.insert(end, row.to_string());
    } else {
        lines.push(String::new());
        lines.push("## Overview".into());
        lines.push(String::new());
        lines.push(OVERVIEW_HEADER.into());
        lines.push("|---|---|---|---|---|".into());
        lines.push(row.to_string());
    }
    lines.join("\n") + "\n"
}

fn entry(
    dir: &Path,
    run: &Value,
    infra: &str,
    marker: &str,
    pts: &std::collections::BTreeMap<
        super::tables::Key,
        std::collections::BTreeMap<u64, super::tables::Point>,
    >,
    threshold: f64,
) -> String {
    let mut e = String::new();
    let started = run["started_at"]
        .as_str()
        .unwrap_or("start time not recorded");
    let _ = writeln!(e, "\n---\n\n## Run: {infra} — {started}\n{marker}\n");
    let _ = writeln!(e, "### Configuration\n");
    let _ = writeln!(e, "- Infrastructure: {infra}");
    let _ = writeln!(e, "- Hardware: {}", run["hardware"].as_str().unwrap_or("–"));
    let _ = writeln!(
        e,
        "- Cores: {}",
        run["cores"]
            .as_u64()
            .map_or("not recorded".to_string(), |c| c.to_string())
    );
    let targets: Vec<&str> = run["targets"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let _ = writeln!(
        e,
        "- Targets: {}",
        if targets.is_empty() {
            "–".into()
        } else {
            targets.join(", ")
        }
    );
    let agents: Vec<String> = run["agents"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    format!(
                        "{} ({}, {} cpus)",
                        x["name"].as_str().unwrap_or("?"),
                        x["host"].as_str().unwrap_or("?"),
                        x["cpus"]
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(
        e,
        "- Agents: {}",
        if agents.is_empty() {
            "–".into()
        } else {
            agents.join(", ")
        }
    );
    let _ = writeln!(
        e,
        "- envload: {}",
        run["envload_version"]
            .as_str()
            .unwrap_or("not recorded (reference tool?)")
    );
    let command: Vec<&str> = run["command"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let _ = writeln!(
        e,
        "\n### Command\n\n```sh\n{}\n```\n",
        if command.is_empty() {
            "(not recorded)".into()
        } else {
            command.join(" ")
        }
    );
    let _ = writeln!(e, "### Results Summary\n");
    let _ = writeln!(e, "| Mode | Wait (s) | Max batch (≥{:.0}%) | Total p99 at max (s) | Success at max | RPS at max | Max batch within p99 SLO |", threshold * 100.0);
    let _ = writeln!(e, "|---|---|---|---|---|---|---|");
    for ((_, mode, w), by_n) in pts {
        let wait = *w as f64 / 1e6;
        let within = super::tables::slo_max(by_n, threshold, wait)
            .0
            .map_or("–".to_string(), |(n, _)| n.to_string());
        match max_batch(by_n, threshold) {
            Some((n, p)) => {
                let _ = writeln!(
                    e,
                    "| {mode} | {} | {n} | {:.3} | {:.1}% | {:.1} | {within} |",
                    float(wait),
                    p.total_p99,
                    p.success * 100.0,
                    p.rps
                );
            }
            None => {
                let _ = writeln!(e, "| {mode} | {} | – | – | – | – | {within} |", float(wait));
            }
        }
    }
    let _ = writeln!(e, "\n### Scaling Behavior\n");
    let _ = writeln!(
        e,
        "| Mode | Wait (s) | Batch | Success | Total p99 (s) | RPS |"
    );
    let _ = writeln!(e, "|---|---|---|---|---|---|");
    for ((_, mode, w), by_n) in pts {
        for (n, p) in by_n {
            let _ = writeln!(
                e,
                "| {mode} | {} | {n} | {:.1}% | {:.3} | {:.1} |",
                float(*w as f64 / 1e6),
                p.success * 100.0,
                p.total_p99,
                p.rps
            );
        }
    }
    let _ = writeln!(e, "\n### Links\n");
    for f in ["summary.csv", "raw.jsonl", "run.json", "histograms.jsonl"] {
        if dir.join(f).exists() {
            let _ = writeln!(e, "- [{f}]({})", dir.join(f).display());
        }
    }
    let _ = writeln!(e, "\n### Observations\n");
    for line in observations(run, pts, threshold) {
        let _ = writeln!(e, "- {line}");
    }
    let _ = writeln!(e, "- (add observations here)");
    e
}

/// What the data says without interpretation: where the latency SLO is
/// first missed, and which failures the run saw (from run.json).
fn observations(
    run: &Value,
    pts: &std::collections::BTreeMap<
        super::tables::Key,
        std::collections::BTreeMap<u64, super::tables::Point>,
    >,
    threshold: f64,
) -> Vec<String> {
    let mut out = Vec::new();
    for ((_, mode, w), by_n) in pts {
        let wait = *w as f64 / 1e6;
        if let (best, Some(over)) = super::tables::slo_max(by_n, threshold, wait) {
            let p = &by_n[&over];
            out.push(format!(
                "{mode}, wait {} s: SLO (success ≥ {:.0}%, total p99 ≤ {} s) first missed at N={over} (success {:.1}%, p99 {:.3} s); largest N within it: {}",
                float(wait),
                threshold * 100.0,
                float(super::slo::default_p99(wait)),
                p.success * 100.0,
                p.total_p99,
                best.map_or("none".to_string(), |(n, _)| n.to_string())
            ));
        }
    }
    let mut errors: std::collections::BTreeMap<String, u64> = Default::default();
    for phase in run["phases"].as_array().into_iter().flatten() {
        for (kind, n) in phase["errors"].as_object().into_iter().flatten() {
            *errors.entry(kind.clone()).or_default() += n.as_u64().unwrap_or(0);
        }
    }
    if !errors.is_empty() {
        let list: Vec<String> = errors.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        out.push(format!("Failures over the run: {}", list.join(", ")));
    }
    out
}
