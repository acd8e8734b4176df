//! `envload report`: reads result folders (envload's, or the reference
//! tool's — same `summary.csv`) and writes the experiment tables users
//! otherwise build by hand: `tables.md` (maximum batch, HTTP vs WebSocket,
//! latency at maximum load), figures (success vs batch, maximum batch, total
//! p99 heatmap, maximum batch per core), a self-contained `index.html`, and
//! with `--log` one entry per folder in the experiment log. Rollout runs add
//! the step latency by step index and a table of episodes (`rollouts`);
//! runs with `--leak-probe`, a table of what the probes found (`leaks`);
//! every phase with a time series, its drift over time (`drift`) and the
//! latency-over-time figure (`over_time`); every phase with histograms,
//! its percentile spectrum (`spectrum`).
//!
//! It reads through `envload-results` only (the folder, run.json and the
//! SLO rule are the result format's); plotters and the font live here, so
//! the engine does not build them.

mod bars;
mod canvas;
mod drift;
mod figures;
mod heatmap;
mod html;
mod leaks;
mod log;
mod over_time;
mod rollouts;
mod spectrum;
mod tables;

use envload_results::slo::Criteria;
use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use envload_results::folder::{self as load, rollouts::load as load_rollouts};

/// Bad input to the report (a results folder it cannot read, an `--out`
/// or `--log` it cannot write): the command exits 2 with this message,
/// before anything is written.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Cores per infrastructure: what run.json recorded, overridden by `--cores`.
fn cores_by_infrastructure(rows: &[load::Row], given: &[(String, u32)]) -> BTreeMap<String, u32> {
    let mut cores: BTreeMap<String, u32> = rows
        .iter()
        .filter_map(|r| Some((r.infrastructure.clone(), r.cores?)))
        .collect();
    cores.extend(given.iter().cloned());
    cores
}

/// A folder's last component, as labels name it.
fn folder_name(dir: &std::path::Path) -> String {
    dir.file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| dir.display().to_string())
}

/// What to report on and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// Results folders (envload's or the reference's).
    pub results: Vec<PathBuf>,
    /// Where the report goes.
    pub out: PathBuf,
    /// What a batch is judged by: success (the maximum batch, Table 1) and
    /// total p99 as well (Table 4, the log's notes, the drift analysis).
    pub criteria: Criteria,
    /// The experiment log to keep, if any.
    pub log: Option<PathBuf>,
    /// Cores per infrastructure, overriding run.json's.
    pub cores: Vec<(String, u32)>,
}

/// Reads every results folder and writes the report into `--out`. Every
/// input is read and checked, and `--out` and `--log` are proven writable,
/// before the first file is written.
pub fn write(args: &Options) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut runs = Vec::new();
    for dir in &args.results {
        for run in load::load_dir(dir).map_err(BadInput)? {
            rows.extend(run.rows.iter().cloned());
            runs.push((dir, run));
        }
    }
    if rows.is_empty() {
        return Err(BadInput("the results folders hold no summary.csv rows".into()).into());
    }
    let rollout_phases = load_rollouts(&args.results).map_err(BadInput)?;
    let (mut series, mut histograms) = (Vec::new(), Vec::new());
    for dir in &args.results {
        series.extend(load::series::load(dir, &folder_name(dir)).map_err(BadInput)?);
        histograms.extend(load::histograms::load(dir, &folder_name(dir)).map_err(BadInput)?);
    }
    envload_results::write::prepare_dir(&args.out, "--out").map_err(BadInput)?;
    if let Some(log_path) = &args.log {
        log::check_writable(log_path).map_err(BadInput)?;
    }
    let path: PathBuf = args.out.join("tables.md");
    std::fs::write(&path, tables::render(&rows, args.criteria))
        .with_context(|| format!("cannot write {}", path.display()))?;
    let cores = cores_by_infrastructure(&rows, &args.cores);
    let without: Vec<&str> = rows
        .iter()
        .map(|r| r.infrastructure.as_str())
        .filter(|i| !cores.contains_key(*i))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !without.is_empty() {
        eprintln!(
            "envload report: no core count for {}: left out of batch_per_core (run.json has no cores; pass --cores {}=N)",
            without.join(", "),
            without[0]
        );
    }
    let mut figures = figures::render(&rows, args.criteria, &cores, &args.out)
        .map_err(|e| anyhow::anyhow!("figures: {e}"))?;
    let (rollout_figures, rollout_md) = rollouts::render(&rollout_phases, &args.out)
        .map_err(|e| anyhow::anyhow!("rollout figures: {e}"))?;
    figures.extend(rollout_figures);
    figures.extend(
        over_time::render(&series, &args.out)
            .map_err(|e| anyhow::anyhow!("latency over time: {e}"))?,
    );
    figures.extend(
        spectrum::render(&histograms, &args.out)
            .map_err(|e| anyhow::anyhow!("percentile spectrum: {e}"))?,
    );
    let drifts: Vec<drift::Drift> = series
        .iter()
        .filter_map(|s| drift::analyze(s, args.criteria))
        .collect();
    let extra_md = rollout_md + &leaks::render(&runs) + &drift::table(&drifts);
    if !extra_md.is_empty() {
        let mut md = std::fs::read_to_string(&path)?;
        md.push_str(&extra_md);
        std::fs::write(&path, md).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let tables_md = std::fs::read_to_string(&path)?;
    let page = html::render(&tables_md, &args.out, &figures)
        .map_err(|e| anyhow::anyhow!("index.html: {e}"))?;
    std::fs::write(args.out.join("index.html"), page).context("writing index.html")?;
    if let Some(log_path) = &args.log {
        // Oldest first, so the newest run ends up on top of the log.
        runs.sort_by(|a, b| a.1.run.started_at.cmp(&b.1.run.started_at));
        for (dir, run) in &runs {
            let added = log::append(log_path, dir, &run.run, &run.rows, args.criteria)
                .map_err(|e| anyhow::anyhow!(e))?;
            let what = if added { "added to" } else { "already in" };
            println!(
                "envload report: {} {what} {}",
                dir.display(),
                log_path.display()
            );
        }
    }
    println!(
        "envload report: {} phases from {} folder(s) -> {} and {} figure(s) as PNG and SVG",
        rows.len(),
        args.results.len(),
        path.display(),
        figures.len()
    );
    Ok(())
}
