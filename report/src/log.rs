//! `envload report --log EXPERIMENT_LOG.md` keeps the experiment log the
//! way its keepers do: the reported infrastructure's row of the Overview
//! table updated in place (`overview`), and one entry per run folder in the
//! log's own format (`entry`, worded by `notes`) inserted right after the
//! `<!-- EXPERIMENT RUNS START -->` marker, newest first; everything else
//! stays byte for byte. The run's figures go beside the log, to
//! `reports/figures/{infrastructure}-{date}/` in its folder, and every link
//! is relative to that folder. An entry carries a hidden marker naming its
//! folder and start, so reporting the same results again changes nothing.
//! Without a log, one is made from the log's skeleton.

pub mod entry;
pub mod notes;
pub mod overview;

use envload_results::slo::Criteria;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use envload_results::RunDoc;

use super::tables::{max_batch, points_by};
use envload_results::files::{RAW_JSONL, RUN_JSON, SUMMARY_CSV};
use envload_results::folder::Row;

/// A new log: title, empty Overview table, the run-entry template, marker.
const SKELETON: &str = include_str!("log/skeleton.md");
/// New entries go right after this line.
const RUNS_MARKER: &str = "<!-- EXPERIMENT RUNS START -->";

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
    run: &RunDoc,
    rows: &[Row],
    criteria: Criteria,
) -> Result<bool, String> {
    let Some(first) = rows.first() else {
        return Ok(false);
    };
    let text = match std::fs::read_to_string(log) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => SKELETON.to_string(),
        Err(e) => return Err(format!("cannot read {}: {e}", log.display())),
    };
    let log_dir = match log.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let rel = |to: &Path| relative(&log_dir, to);
    let started = run.started_at.as_str();
    let marker = format!("<!-- envload-run: {} {started} -->", rel(dir));
    if text.contains(&marker) {
        return Ok(false);
    }
    let infra = first.infrastructure.clone();
    let date = run_date(dir, started);
    // A second run of the same day gets a suffix.
    let mut suffix = String::new();
    for k in 2.. {
        if !text.contains(&format!("## Run: {date}-{infra}{suffix}\n")) {
            break;
        }
        suffix = format!("-{k}");
    }
    let id = format!("{date}-{infra}{suffix}");
    let figures_dir = log_dir
        .join("reports")
        .join("figures")
        .join(format!("{infra}-{date}{suffix}"));
    std::fs::create_dir_all(&figures_dir)
        .map_err(|e| format!("cannot create {}: {e}", figures_dir.display()))?;
    let cores: BTreeMap<String, u32> = rows
        .iter()
        .filter_map(|r| Some((r.infrastructure.clone(), r.cores?)))
        .collect();
    super::figures::render(rows, criteria, &cores, &figures_dir)
        .map_err(|e| format!("figures for {}: {e}", log.display()))?;
    let mut links = Vec::new();
    for (label, file) in [("Raw data", RAW_JSONL), ("Summary CSV", SUMMARY_CSV)] {
        if dir.join(file).exists() {
            links.push(format!("- {label}: [{file}]({})", rel(&dir.join(file))));
        }
    }
    links.push(format!("- Figures: [figures/]({}/)", rel(&figures_dir)));
    if dir.join(RUN_JSON).exists() {
        links.push(format!(
            "- Run metadata: [run.json]({})",
            rel(&dir.join(RUN_JSON))
        ));
    }
    let name = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |s| s.to_string_lossy().to_string(),
    );
    let over_time = envload_results::folder::series::load(dir, &name)?
        .iter()
        .filter_map(|s| crate::drift::analyze(s, criteria))
        .map(|d| crate::drift::log_line(&d, criteria))
        .collect();
    let body = entry::render(&entry::Entry {
        heading: id,
        marker,
        run,
        rows,
        criteria,
        links,
        over_time,
    });
    let row = overview::OverviewRow {
        infrastructure: infra,
        status: entry::status(run),
        last_run: date,
        max_ws: best(rows, "ws", criteria),
        max_http: best(rows, "http", criteria),
    };
    let text = overview::upsert(&text, &row).unwrap_or(text);
    let text = insert_entry(&text, &body);
    std::fs::write(log, text).map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    Ok(true)
}

/// `text` with `body` right after the runs marker (at the end, under a new
/// marker, when the log has none).
fn insert_entry(text: &str, body: &str) -> String {
    match text.find(RUNS_MARKER) {
        Some(at) => {
            let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
            let mut out = String::with_capacity(text.len() + body.len() + 8);
            out.push_str(&text[..line_end]);
            if line_end == text.len() && !text.ends_with('\n') {
                out.push('\n');
            }
            out.push('\n');
            out.push_str(body);
            out.push_str("\n---\n");
            out.push_str(&text[line_end..]);
            out
        }
        None => {
            let sep = if text.ends_with('\n') { "" } else { "\n" };
            format!("{text}{sep}\n---\n\n{RUNS_MARKER}\n\n{body}\n---\n")
        }
    }
}

/// The run's day: its start, else a date-named folder, else "undated".
fn run_date(dir: &Path, started: &str) -> String {
    if let Some(d) = started.get(..10) {
        return d.to_string();
    }
    let leaf = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match leaf.get(..10) {
        Some(d) if d.chars().filter(|c| *c == '-').count() == 2 => d.to_string(),
        _ => "undated".into(),
    }
}

/// The largest batch at ≥ threshold over the waits of `mode`, with its
/// hardware tier when the run mixed them; "-" when none.
fn best(rows: &[Row], mode: &str, criteria: Criteria) -> String {
    let tiers = entry::tiers(rows);
    let mut top: Option<(u64, &str)> = None;
    for (tier, of_tier) in &tiers {
        for ((_, m, _), by_n) in points_by(of_tier) {
            if m != mode {
                continue;
            }
            if let Some((n, _)) = max_batch(&by_n, criteria) {
                if top.is_none_or(|(b, _)| n > b) {
                    top = Some((n, tier));
                }
            }
        }
    }
    match top {
        Some((n, tier)) if tiers.len() > 1 => format!("{n} ({tier})"),
        Some((n, _)) => n.to_string(),
        None => "-".into(),
    }
}

/// `to` as a link from `from_dir`: a relative path with `/`, found from
/// both paths made absolute (symlinks resolved where they exist).
fn relative(from_dir: &Path, to: &Path) -> String {
    let abs = |p: &Path| -> PathBuf {
        if let Ok(c) = p.canonicalize() {
            return c;
        }
        // Not there yet: its parent resolved, then the rest.
        let joined = std::env::current_dir().unwrap_or_default().join(p);
        let mut out = PathBuf::new();
        for c in joined.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    };
    let (from, to) = (abs(from_dir), abs(to));
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_go_right_under_the_marker_newest_first() {
        let log = "# L\n\n<!-- EXPERIMENT RUNS START -->\n\n## Run: old\n";
        let once = insert_entry(log, "## Run: new\n");
        assert_eq!(
            once,
            "# L\n\n<!-- EXPERIMENT RUNS START -->\n\n## Run: new\n\n---\n\n## Run: old\n"
        );
        assert!(insert_entry("# L", "## Run: a\n")
            .ends_with("<!-- EXPERIMENT RUNS START -->\n\n## Run: a\n\n---\n"));
    }

    #[test]
    fn links_are_relative_to_the_logs_folder() {
        let root = std::env::temp_dir().join(format!("envload-rel-{}", std::process::id()));
        let (logs, res) = (
            root.join("experiments/logs"),
            root.join("experiments/results/x/2026-01-09"),
        );
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::create_dir_all(&res).unwrap();
        assert_eq!(
            relative(&logs, &res.join("raw.jsonl")),
            "../results/x/2026-01-09/raw.jsonl"
        );
        assert_eq!(
            relative(&logs, &logs.join("../reports/figures/a")),
            "../reports/figures/a"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
