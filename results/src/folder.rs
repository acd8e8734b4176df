//! Reading a results folder back (envload's, or the reference tool's,
//! whose shorter `summary.csv` reads too): its `summary.csv` rows, split by
//! run when the folder was reused, each with its [`RunDoc`], and which
//! infrastructure they belong to: `run.json`'s `infrastructure` when it was
//! given, else the folder layout `…/<infrastructure>/<YYYY-MM-DD>/`, else
//! the folder's name; and its core count, from `run.json`'s `cores` when
//! recorded. Rollout runs' own files are read by [`rollouts`].

pub mod histograms;
pub mod rollouts;
pub mod series;

use std::path::{Path, PathBuf};

use crate::files::{RUN_JSON, SUMMARY_CSV};
use crate::run_doc::RunDoc;

/// `experiments/results/<infrastructure>/<YYYY-MM-DD>` (`-2`, `-3`, … when
/// taken).
pub fn default_dir(infrastructure: &str) -> PathBuf {
    fresh_dir(
        &PathBuf::from("experiments/results").join(infrastructure),
        &chrono::Utc::now().format("%Y-%m-%d").to_string(),
    )
}

/// `<infra dir>/<day>`, or `<day>-2`, `-3`, … when that one already holds
/// results: a second run the same day never overwrites the first.
pub fn fresh_dir(infra_dir: &Path, day: &str) -> PathBuf {
    let taken = |d: &Path| d.join(SUMMARY_CSV).exists() || d.join(RUN_JSON).exists();
    let first = infra_dir.join(day);
    if !taken(&first) {
        return first;
    }
    (2..)
        .map(|k| infra_dir.join(format!("{day}-{k}")))
        .find(|d| !taken(d))
        .expect("some suffix is free")
}

/// One phase of some run, as the report needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub infrastructure: String,
    /// Cores of the infrastructure, when its run.json recorded them.
    pub cores: Option<u32>,
    /// The `hardware` column (empty when the file has none).
    pub hardware: String,
    /// The `unique_pids` column (0 when the file has none).
    pub unique_pids: u64,
    pub mode: String,
    pub n: u64,
    pub wait: f64,
    pub success: f64,
    pub connect_p50: f64,
    pub reset_p50: f64,
    pub step_p50: f64,
    pub total_p99: f64,
    pub rps: f64,
    /// `state_p50` and `mcp_p50` (`None`: not in the file, or empty).
    pub state_p50: Option<f64>,
    pub mcp_p50: Option<f64>,
}

/// One run's rows and its `run.json` document (all defaults for a
/// reference folder). A folder reused by several runs holds several, in
/// run order.
#[derive(Debug, Clone)]
pub struct RunRows {
    pub run: RunDoc,
    pub rows: Vec<Row>,
}

/// Reads `dir/summary.csv`, checking every value it uses (errors name the
/// file, row, column and value), and splits the rows by run when the folder
/// was reused: `run.json`'s `previous_runs`, then the run itself, each
/// owning one row per phase it completed.
pub fn load_dir(dir: &Path) -> Result<Vec<RunRows>, String> {
    let mut runs = RunDoc::read(dir).unwrap_or_default().runs();
    let rows = read_rows(dir)?;
    let counts: Vec<usize> = runs.iter().map(RunDoc::completed_phases).collect();
    if runs.len() == 1 || counts.iter().sum::<usize>() != rows.len() {
        // One run, or a run.json that does not account for the rows (a
        // reference folder, or one written by hand): the rows are one run.
        let run = runs.pop().unwrap_or_default();
        return Ok(vec![label(dir, run, rows)]);
    }
    let mut rest = rows.into_iter();
    Ok(runs
        .into_iter()
        .zip(counts)
        .map(|(run, k)| label(dir, run, rest.by_ref().take(k).collect()))
        .filter(|r| !r.rows.is_empty())
        .collect())
}

/// Gives `rows` the infrastructure and cores of `run`.
fn label(dir: &Path, run: RunDoc, mut rows: Vec<Row>) -> RunRows {
    let infrastructure = infrastructure_of(dir, &run);
    let cores = run.cores;
    for r in &mut rows {
        r.infrastructure = infrastructure.clone();
        r.cores = cores;
    }
    RunRows { run, rows }
}

/// The rows of `dir/summary.csv`, each value checked.
fn read_rows(dir: &Path) -> Result<Vec<Row>, String> {
    let csv_path = dir.join(SUMMARY_CSV);
    let mut reader = csv::Reader::from_path(&csv_path)
        .map_err(|e| format!("cannot read {}: {e}", csv_path.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{}: {e}", csv_path.display()))?
        .clone();
    let idx = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("{} has no column '{name}'", csv_path.display()))
    };
    let cols = [
        "mode",
        "num_requests",
        "wait_seconds",
        "error_rate",
        "connect_p50",
        "reset_p50",
        "step_p50",
        "total_p99",
        "requests_per_second",
    ];
    let c: Vec<usize> = cols.into_iter().map(idx).collect::<Result<_, _>>()?;
    let hardware = idx("hardware").ok();
    let unique_pids = idx("unique_pids").ok();
    let (state_p50, mcp_p50) = (idx("state_p50").ok(), idx("mcp_p50").ok());
    let mut rows = Vec::new();
    for (line, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| format!("{}: {e}", csv_path.display()))?;
        let bad = |i: usize, what: &str| {
            format!(
                "{} row {}, column '{}': '{}' is not {what}",
                csv_path.display(),
                line + 2,
                cols[i],
                rec.get(c[i]).unwrap_or("")
            )
        };
        // A finite number within `range`.
        let num = |i: usize, range: std::ops::RangeInclusive<f64>, what: &str| {
            rec.get(c[i])
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && range.contains(v))
                .ok_or_else(|| bad(i, what))
        };
        let seconds = |i: usize| num(i, 0.0..=f64::MAX, "a number of seconds ≥ 0");
        let mode = rec.get(c[0]).unwrap_or_default().to_string();
        if envload_agent::Mode::parse(&mode).is_none() {
            return Err(bad(0, "a mode (ws, http, mcp-ws or mcp-http)"));
        }
        // An extra stage: empty when the phase did not send it.
        let extra = |col: Option<usize>, name: &str| -> Result<Option<f64>, String> {
            match col.and_then(|i| rec.get(i)).map(str::trim) {
                None | Some("") => Ok(None),
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .map(Some)
                    .ok_or_else(|| {
                        format!(
                            "{} row {}, column '{name}': '{v}' is not a number of seconds ≥ 0",
                            csv_path.display(),
                            line + 2
                        )
                    }),
            }
        };
        let n = rec
            .get(c[1])
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|n| *n >= 1)
            .ok_or_else(|| bad(1, "a batch size (an integer ≥ 1)"))?;
        rows.push(Row {
            infrastructure: String::new(),
            cores: None,
            hardware: hardware
                .and_then(|i| rec.get(i))
                .unwrap_or_default()
                .to_string(),
            unique_pids: unique_pids
                .and_then(|i| rec.get(i))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
            mode,
            n,
            wait: seconds(2)?,
            success: 1.0 - num(3, 0.0..=1.0, "an error rate between 0 and 1")?,
            connect_p50: seconds(4)?,
            reset_p50: seconds(5)?,
            step_p50: seconds(6)?,
            total_p99: seconds(7)?,
            rps: num(8, 0.0..=f64::MAX, "a rate ≥ 0")?,
            state_p50: extra(state_p50, "state_p50")?,
            mcp_p50: extra(mcp_p50, "mcp_p50")?,
        });
    }
    Ok(rows)
}

fn infrastructure_of(dir: &Path, run: &RunDoc) -> String {
    // A name given with --infrastructure labels the run; the default
    // ("local", recorded as not given; older run.json files lack the flag)
    // would merge distinct folders, so those are labelled by their folder.
    let i = &run.infrastructure;
    if !i.is_empty() && run.infrastructure_given.unwrap_or(i != "local") {
        return i.clone();
    }
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let leaf = name(dir);
    let is_date = leaf.len() == 10 && leaf.chars().filter(|c| *c == '-').count() == 2;
    match dir.parent() {
        Some(parent) if is_date => name(parent),
        _ => leaf,
    }
}
