//! Reading `timeseries.csv` back (what `write::timeseries` writes), each
//! value checked; folders without one hold no series.

use std::path::Path;

use crate::files::TIMESERIES_CSV;

/// One phase's series in one folder.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSeries {
    /// `<folder> phase <k> <mode> N=<batch size>`.
    pub label: String,
    /// 0-based phase index, as the file has it.
    pub phase: u64,
    pub wait: f64,
    /// Interval width, seconds (the first row's end).
    pub width: f64,
    pub points: Vec<Point>,
}

/// One interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The interval's end, seconds after the phase's start.
    pub time_s: f64,
    pub active: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Total latency p50 and p99, seconds (`None`: no session ended).
    pub total_p50: Option<f64>,
    pub total_p99: Option<f64>,
}

impl Point {
    /// Success fraction of the sessions that ended in it (`None`: none).
    pub fn success(&self) -> Option<f64> {
        let n = self.succeeded + self.failed;
        (n > 0).then(|| self.succeeded as f64 / n as f64)
    }
}

/// The series of `dir`, by phase (none without `timeseries.csv`). The
/// label names the folder as `name`.
pub fn load(dir: &Path, name: &str) -> Result<Vec<PhaseSeries>, String> {
    let path = dir.join(TIMESERIES_CSV);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let file = path.display().to_string();
    let mut reader =
        csv::Reader::from_path(&path).map_err(|e| format!("cannot read {file}: {e}"))?;
    let header = reader
        .headers()
        .map_err(|e| format!("{file}: {e}"))?
        .clone();
    let idx = |c: &str| {
        header
            .iter()
            .position(|h| h == c)
            .ok_or_else(|| format!("{file} has no column '{c}'"))
    };
    let cols = [
        "phase",
        "mode",
        "batch_size",
        "wait_seconds",
        "time_s",
        "active",
        "succeeded",
        "failed",
        "total_p50",
        "total_p99",
    ];
    let c: Vec<usize> = cols.into_iter().map(idx).collect::<Result<_, _>>()?;
    let mut out: Vec<PhaseSeries> = Vec::new();
    for (line, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| format!("{file}: {e}"))?;
        let get = |i: usize| rec.get(c[i]).unwrap_or("").trim();
        let bad = |i: usize| {
            format!(
                "{file} row {}, column '{}': '{}' is not valid",
                line + 2,
                cols[i],
                get(i)
            )
        };
        let int = |i: usize| get(i).parse::<u64>().map_err(|_| bad(i));
        let secs = |i: usize| {
            get(i)
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| bad(i))
        };
        let opt = |i: usize| match get(i) {
            "" => Ok(None),
            _ => secs(i).map(Some),
        };
        let phase = int(0)?;
        let point = Point {
            time_s: secs(4)?,
            active: int(5)?,
            succeeded: int(6)?,
            failed: int(7)?,
            total_p50: opt(8)?,
            total_p99: opt(9)?,
        };
        match out.last_mut().filter(|s| {
            s.phase == phase && s.points.last().is_some_and(|p| p.time_s < point.time_s)
        }) {
            Some(s) => s.points.push(point),
            None => out.push(PhaseSeries {
                label: format!("{name} phase {} {} N={}", phase + 1, get(1), get(2)),
                phase,
                wait: secs(3)?,
                width: point.time_s,
                points: vec![point],
            }),
        }
    }
    Ok(out)
}
