//! One run entry in the experiment log's own format: `## Run:
//! {date}-{infrastructure}`, the bold Infrastructure / Start / End / Status
//! lines, Configuration (Workers, Max Concurrent Envs, URL, Hardware,
//! Notes), Command (server start-up, then the envload command), Results
//! Summary and Scaling Behavior with the log's columns first (one section
//! per hardware tier when the run mixed them), Links, Observations.

use envload_results::slo::Criteria;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use envload_results::RunDoc;

use super::super::tables::{max_batch, points_by, slo_max, Point};
use super::notes::{percent, rate, scaling_note, seconds, series_observations, wait};
use envload_results::folder::Row;

/// What an entry is made of.
pub struct Entry<'a> {
    /// `2026-11-30-local-uvicorn` (with a suffix when the day has two).
    pub heading: String,
    /// The hidden line that makes reporting the same folder again a no-op.
    pub marker: String,
    /// The run's run.json (all defaults for a reference folder).
    pub run: &'a RunDoc,
    /// Its summary.csv rows.
    pub rows: &'a [Row],
    pub criteria: Criteria,
    /// `- Label: [text](relative link)` lines.
    pub links: Vec<String>,
    /// What each phase's time series says (`drift::log_line`).
    pub over_time: Vec<String>,
}

/// `2026-01-09T18:45:37Z` from run.json's timestamps (seconds kept).
fn instant(t: Option<&str>) -> String {
    match t {
        Some(t) if t.len() >= 19 => format!("{}Z", &t[..19]),
        Some(t) if !t.is_empty() => t.to_string(),
        _ => "-".into(),
    }
}

/// Complete, Failed, Interrupted or Running; a folder without run.json
/// (the reference's) finished.
pub fn status(run: &RunDoc) -> &'static str {
    match run.status.as_str() {
        "failed" => "Failed",
        "interrupted" => "Interrupted",
        "running" => "Running",
        _ => "Complete",
    }
}

/// A command line as a shell would need it, one flag per line as the log
/// writes it.
fn command(argv: &[&str]) -> String {
    let quote = |a: &str| {
        if !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
        {
            a.to_string()
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    let mut out = String::new();
    let mut i = 0;
    while i < argv.len() {
        if i > 0 && argv[i].starts_with('-') {
            out.push_str(" \\\n    ");
        } else if i > 0 {
            out.push(' ');
        }
        out.push_str(&quote(argv[i]));
        i += 1;
    }
    out
}

fn configuration(e: &Entry, out: &mut String) {
    let run = e.run;
    let server = &run.server;
    let pids = e.rows.iter().map(|r| r.unique_pids).max().unwrap_or(0);
    let workers = match server.workers {
        Some(w) => w.to_string(),
        None if pids > 0 => format!("unknown ({pids} distinct server PIDs observed)"),
        None => "unknown".into(),
    };
    let max_envs = server
        .max_concurrent_envs
        .map_or("default".to_string(), |m| m.to_string());
    let urls: Vec<&str> = run.targets.iter().map(String::as_str).collect();
    let hardware: BTreeSet<&str> = e
        .rows
        .iter()
        .map(|r| r.hardware.as_str())
        .filter(|h| !h.is_empty())
        .collect();
    let mut notes: Vec<String> = run.notes.iter().cloned().collect();
    if !run.envload_version.is_empty() {
        notes.push(format!("measured with envload {}", run.envload_version));
    }
    if !run.agents.is_empty() {
        let list: Vec<String> = run
            .agents
            .iter()
            .map(|a| format!("{} on {} ({} cpus)", a.name, a.host, a.cpus))
            .collect();
        notes.push(format!("agents: {}", list.join(", ")));
    }
    if let Some(c) = run.cores {
        notes.push(format!("{c} cores"));
    }
    if pids > 0 && server.workers.is_some() {
        notes.push(format!("{pids} distinct server PIDs observed"));
    }
    notes.extend(run.warnings.iter().cloned());
    let _ = writeln!(out, "### Configuration");
    let _ = writeln!(out, "- Workers: {workers}");
    let _ = writeln!(out, "- Max Concurrent Envs: {max_envs}");
    let _ = writeln!(
        out,
        "- URL: {}",
        if urls.is_empty() {
            "-".into()
        } else {
            urls.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "- Hardware: {}",
        if hardware.is_empty() && run.hardware.is_empty() {
            "-".to_string()
        } else if hardware.is_empty() {
            run.hardware.clone()
        } else {
            hardware.into_iter().collect::<Vec<_>>().join(", ")
        }
    );
    let _ = writeln!(
        out,
        "- Notes: {}",
        if notes.is_empty() {
            "-".into()
        } else {
            notes.join("; ")
        }
    );
}

fn command_block(run: &RunDoc, out: &mut String) {
    let start = run
        .server
        .start
        .clone()
        .unwrap_or_else(|| "# (started separately)".to_string());
    let argv: Vec<&str> = run.command.iter().map(String::as_str).collect();
    let run_cmd = if argv.is_empty() {
        "# (not recorded)".to_string()
    } else {
        command(&argv)
    };
    let _ = writeln!(
        out,
        "\n### Command\n```bash\n# Server startup\n{start}\n\n# Experiment execution\n{run_cmd}\n```"
    );
}

/// The (mode, wait) series of `rows`, WebSocket first as the log lists
/// them, then by wait.
fn series(rows: &[Row]) -> Vec<(String, f64, BTreeMap<u64, Point>)> {
    let mut v: Vec<(String, f64, BTreeMap<u64, Point>)> = points_by(rows)
        .into_iter()
        .map(|((_, mode, w), by_n)| (mode, w as f64 / 1e6, by_n))
        .collect();
    v.sort_by(|a, b| {
        (a.0 != "ws", a.1)
            .partial_cmp(&(b.0 != "ws", b.1))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    v
}

/// Results Summary and Scaling Behavior of one hardware tier's rows;
/// `tier` suffixes the headings when the run mixed tiers.
fn results(rows: &[Row], criteria: Criteria, tier: Option<&str>, out: &mut String) {
    let pts = series(rows);
    let suffix = |more: Option<String>| match (tier, more) {
        (None, None) => String::new(),
        (Some(t), None) => format!(" ({t})"),
        (None, Some(m)) => format!(" ({m})"),
        (Some(t), Some(m)) => format!(" ({t}, {m})"),
    };
    let pct = format!("{:.0}%+", criteria.success * 100.0);
    let _ = writeln!(out, "\n### Results Summary{}", suffix(None));
    let _ = writeln!(
        out,
        "| Mode | wait_s | Max Batch ({pct}) | p99 Latency | Success % | RPS | Max Batch (p99 ≤ {}) |",
        criteria.p99.compact()
    );
    let _ = writeln!(
        out,
        "|------|--------|------------------|-------------|-----------|-----|------|"
    );
    for (mode, w, by_n) in &pts {
        let w = *w;
        let within = slo_max(by_n, criteria, w)
            .0
            .map_or("-".to_string(), |(n, _)| n.to_string());
        let cells = match max_batch(by_n, criteria) {
            Some((n, p)) => format!(
                "{n} | {} | {} | {}",
                seconds(p.total_p99),
                percent(p.success),
                rate(p.rps)
            ),
            None => "- | - | - | -".into(),
        };
        let _ = writeln!(out, "| {mode} | {} | {cells} | {within} |", wait(w));
    }
    let many = pts.len() > 1;
    for (mode, w, by_n) in &pts {
        let w = *w;
        let series = many.then(|| format!("{mode}, wait_s {}", wait(w)));
        let _ = writeln!(out, "\n### Scaling Behavior{}", suffix(series));
        let _ = writeln!(out, "| Batch Size | Success Rate | p99 Latency | Notes |");
        let _ = writeln!(out, "|------------|--------------|-------------|-------|");
        for (n, p) in by_n {
            let p99 = if p.success > 0.0 {
                seconds(p.total_p99)
            } else {
                "-".into()
            };
            let _ = writeln!(
                out,
                "| {n} | {} | {p99} | {} |",
                percent(p.success),
                scaling_note(by_n, *n, criteria, w)
            );
        }
    }
}

fn observations(e: &Entry, out: &mut String) {
    let _ = writeln!(out, "\n### Observations");
    let by_tier = tiers(e.rows);
    for (tier, rows) in &by_tier {
        for (mode, w, by_n) in series(rows) {
            for line in series_observations(&mode, &by_n, e.criteria, w) {
                let at = if by_tier.len() > 1 {
                    format!(" ({tier})")
                } else {
                    String::new()
                };
                let _ = writeln!(out, "- {line}{at}");
            }
        }
    }
    for line in &e.over_time {
        let _ = writeln!(out, "- {line}");
    }
    let pids = e.rows.iter().map(|r| r.unique_pids).max().unwrap_or(0);
    if pids > 0 {
        let _ = writeln!(
            out,
            "- Unique PIDs: up to {pids} server process(es) answered in a phase"
        );
    }
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for phase in &e.run.phases {
        for (kind, n) in &phase.errors {
            *errors.entry(kind.clone()).or_default() += n;
        }
    }
    if !errors.is_empty() {
        let list: Vec<String> = errors.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        let _ = writeln!(out, "- Failures over the run: {}", list.join(", "));
    }
}

/// Rows by hardware tier, in order of appearance.
pub(super) fn tiers(rows: &[Row]) -> Vec<(String, Vec<Row>)> {
    let mut out: Vec<(String, Vec<Row>)> = Vec::new();
    for r in rows {
        match out.iter_mut().find(|(t, _)| *t == r.hardware) {
            Some((_, v)) => v.push(r.clone()),
            None => out.push((r.hardware.clone(), vec![r.clone()])),
        }
    }
    out
}

/// The entry, ending with a newline.
pub fn render(e: &Entry) -> String {
    let run = e.run;
    let infra = e.rows.first().map_or("", |r| r.infrastructure.as_str());
    let mut out = String::new();
    let _ = writeln!(out, "## Run: {}\n{}\n", e.heading, e.marker);
    let _ = writeln!(out, "**Infrastructure:** {infra}");
    let _ = writeln!(out, "**Start:** {}", instant(Some(&run.started_at)));
    let _ = writeln!(out, "**End:** {}", instant(run.finished_at.as_deref()));
    let _ = writeln!(out, "**Status:** {}\n", status(run));
    configuration(e, &mut out);
    command_block(run, &mut out);
    let by_tier = tiers(e.rows);
    for (tier, rows) in &by_tier {
        let named = (by_tier.len() > 1).then_some(tier.as_str());
        results(rows, e.criteria, named, &mut out);
    }
    let _ = writeln!(out, "\n### Links");
    for l in &e.links {
        let _ = writeln!(out, "{l}");
    }
    observations(e, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_reads_one_flag_per_line_and_quotes_what_a_shell_would_split() {
        assert_eq!(
            command(&[
                "envload",
                "run",
                "--url",
                "http://h:1",
                "--slo",
                "p99<=3s",
                "-v"
            ]),
            "envload run \\\n    --url http://h:1 \\\n    --slo 'p99<=3s' \\\n    -v"
        );
    }
}
