//! `timeseries.csv` (one row per interval of every phase) and
//! `latency.hlog` (the interval's total latency histogram, in the standard
//! format of HdrHistogram's log writer, log format 1.3, so HdrHistogram's
//! own tools and readers load it: `#[StartTime: …]`, a header line, then
//! `start,length,max,base64(V2+DEFLATE)` per interval, seconds relative to
//! the StartTime, the max in seconds). Both are appended as intervals
//! close, so a run stopped at any moment keeps what it measured. A folder
//! used again keeps its log's StartTime.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use envload_agent::Latency;

use crate::files::{LATENCY_HLOG, TIMESERIES_CSV};
use crate::numfmt::float;
use crate::phase::Phase;
use crate::series::IntervalRow;

/// Stages reported per interval, in column order.
pub const STAGES: [&str; 6] = ["connect", "reset", "step", "state", "mcp", "total"];

/// `timeseries.csv`'s header.
pub fn columns() -> String {
    let mut c = String::from(
        "phase,mode,batch_size,wait_seconds,repetition,interval,time_s,active,started,succeeded,failed,errors,episodes_per_second",
    );
    for s in STAGES {
        for q in ["p50", "p90", "p99", "max"] {
            c.push_str(&format!(",{s}_{q}"));
        }
    }
    c
}

/// Both files, open for appending.
pub struct TimeSeriesFiles {
    csv: BufWriter<File>,
    hlog: BufWriter<File>,
    /// The log's StartTime.
    log_start: SystemTime,
}

impl TimeSeriesFiles {
    /// Opens (creating, or appending to) both in `dir`; a new log starts
    /// at `now`.
    pub fn open(dir: &Path, now: SystemTime) -> io::Result<Self> {
        let csv_path = dir.join(TIMESERIES_CSV);
        let fresh_csv = std::fs::metadata(&csv_path).map_or(true, |m| m.len() == 0);
        let mut csv = BufWriter::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&csv_path)?,
        );
        if fresh_csv {
            writeln!(csv, "{}", columns())?;
            csv.flush()?;
        }
        let hlog_path = dir.join(LATENCY_HLOG);
        let existing = start_time_of(&hlog_path);
        let mut hlog = BufWriter::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&hlog_path)?,
        );
        let log_start = match existing {
            Some(t) => t,
            None => {
                let secs = now
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64();
                writeln!(hlog, "#[envload interval log: total latency of the sessions that ended in each interval, microseconds]")?;
                writeln!(hlog, "#[Histogram log format version 1.3]")?;
                writeln!(hlog, "#[StartTime: {secs:.3} (seconds since epoch)]")?;
                writeln!(
                    hlog,
                    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
                )?;
                hlog.flush()?;
                now
            }
        };
        Ok(TimeSeriesFiles {
            csv,
            hlog,
            log_start,
        })
    }

    /// Appends interval `row` of `phase`, which started at `phase_start`.
    pub fn write(
        &mut self,
        phase: &Phase,
        phase_start: SystemTime,
        row: &IntervalRow,
    ) -> io::Result<()> {
        writeln!(self.csv, "{}", csv_row(phase, row))?;
        self.csv.flush()?;
        let offset = phase_start
            .duration_since(self.log_start)
            .unwrap_or_default()
            + row.width * u32::try_from(row.index).unwrap_or(u32::MAX);
        let t = &row.stats.total;
        let bytes = envload_proto::histogram::encode(&t.hist).map_err(io::Error::other)?;
        writeln!(
            self.hlog,
            "{:.3},{:.3},{:.3},{}",
            offset.as_secs_f64(),
            row.width.as_secs_f64(),
            if t.count() > 0 { t.max_s() } else { 0.0 },
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )?;
        self.hlog.flush()
    }
}

/// The StartTime of an existing log.
fn start_time_of(path: &Path) -> Option<SystemTime> {
    let f = File::open(path).ok()?;
    for line in io::BufReader::new(f).lines().take(20) {
        let line = line.ok()?;
        if let Some(rest) = line.strip_prefix("#[StartTime: ") {
            let secs: f64 = rest.split_whitespace().next()?.parse().ok()?;
            return Some(UNIX_EPOCH + Duration::from_secs_f64(secs));
        }
    }
    None
}

/// One row of `timeseries.csv`.
pub fn csv_row(p: &Phase, r: &IntervalRow) -> String {
    let s = &r.stats;
    let mut row = format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{}",
        p.index,
        p.mode.as_str(),
        p.n,
        float(p.wait),
        p.rep,
        r.index + 1,
        float(r.end_s()),
        r.active,
        r.started,
        s.successful,
        s.failed,
        super::error_counts(&s.errors),
        float(r.episodes_per_second())
    );
    for l in [&s.connect, &s.reset, &s.step, &s.state, &s.mcp, &s.total] {
        row.push_str(&quantiles(l));
    }
    row
}

/// `,p50,p90,p99,max` in seconds; empty fields without samples.
fn quantiles(l: &Latency) -> String {
    if l.count() == 0 {
        return ",,,,".into();
    }
    let q = [0.5, 0.9, 0.99].map(|q| float(l.quantile_s(q)));
    format!(",{},{}", q.join(","), float(l.max_s()))
}
