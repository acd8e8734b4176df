//! Reading `summary.csv` rows of a results folder, and which infrastructure
//! they belong to: `run.json`'s `infrastructure`, else the folder layout
//! `…/<infrastructure>/<YYYY-MM-DD>/`, else the folder's name; and its
//! core count, from `run.json`'s `cores` when recorded.

use std::path::Path;

/// One phase of some run, as the report needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub infrastructure: String,
    /// Cores of the infrastructure, when its run.json recorded them.
    pub cores: Option<u32>,
    pub mode: String,
    pub n: u64,
    pub wait: f64,
    pub success: f64,
    pub connect_p50: f64,
    pub reset_p50: f64,
    pub step_p50: f64,
    pub total_p99: f64,
    pub rps: f64,
}

/// Reads `dir/summary.csv`; errors name the file and the column.
pub fn load_dir(dir: &Path) -> Result<Vec<Row>, String> {
    let csv_path = dir.join("summary.csv");
    let run_json = std::fs::read_to_string(dir.join("run.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .unwrap_or_default();
    let infrastructure = infrastructure_of(dir, &run_json);
    let cores = run_json["cores"].as_u64().map(|c| c as u32);
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
    let mut rows = Vec::new();
    for (line, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| format!("{}: {e}", csv_path.display()))?;
        let num = |i: usize| -> Result<f64, String> {
            rec.get(c[i])
                .and_then(|v| v.trim().parse::<f64>().ok())
                .ok_or_else(|| {
                    format!(
                        "{} row {}: '{}' is not a number",
                        csv_path.display(),
                        line + 2,
                        headers.get(c[i]).unwrap_or("")
                    )
                })
        };
        rows.push(Row {
            infrastructure: infrastructure.clone(),
            cores,
            mode: rec.get(c[0]).unwrap_or_default().to_string(),
            n: num(1)? as u64,
            wait: num(2)?,
            success: 1.0 - num(3)?,
            connect_p50: num(4)?,
            reset_p50: num(5)?,
            step_p50: num(6)?,
            total_p99: num(7)?,
            rps: num(8)?,
        });
    }
    Ok(rows)
}

fn infrastructure_of(dir: &Path, run_json: &serde_json::Value) -> String {
    if let Some(i) = run_json["infrastructure"].as_str() {
        return i.to_string();
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
