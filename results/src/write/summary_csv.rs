//! `summary.csv`: one row per phase, header written once, appended.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use super::PhaseWriter;
use crate::files::SUMMARY_CSV;
use crate::model::PhaseResult;
use crate::numfmt::{float, timestamp};
use crate::summary::{SummaryRow, COLUMNS};

/// Appends to `<dir>/summary.csv`.
pub struct SummaryCsv {
    writer: csv::Writer<File>,
    /// Fields per row: what the file's header has (a reused folder whose
    /// file has the reference's 33 columns keeps them).
    width: usize,
}

impl SummaryCsv {
    /// Opens `dir/summary.csv`, writing the header if the file is new or
    /// empty; an existing file keeps its header, and rows carry as many of
    /// [`COLUMNS`] as it names.
    pub fn open(dir: &Path) -> io::Result<Self> {
        let path = dir.join(SUMMARY_CSV);
        let width = super::header_width(&path, &COLUMNS)?;
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(file);
        if width.is_none() {
            writer.write_record(COLUMNS)?;
            writer.flush()?;
        }
        Ok(SummaryCsv {
            writer,
            width: width.unwrap_or(COLUMNS.len()),
        })
    }
}

impl PhaseWriter for SummaryCsv {
    fn write_phase(&mut self, result: &PhaseResult) -> io::Result<()> {
        let mut row = fields(&result.summary);
        row.truncate(self.width);
        self.writer.write_record(row)?;
        self.writer.flush()
    }
}

/// A row's fields in [`COLUMNS`] order.
pub fn fields(s: &SummaryRow) -> Vec<String> {
    let mut out = vec![
        s.mode.clone(),
        s.url.clone(),
        s.num_requests.to_string(),
        s.batch_size.to_string(),
        float(s.wait_seconds),
        s.repetition.to_string(),
        timestamp(&s.timestamp),
        s.hardware.clone(),
        s.successful.to_string(),
        s.failed.to_string(),
        float(s.error_rate),
        float(s.total_wall_time),
    ];
    out.extend(
        s.connect
            .iter()
            .chain(&s.reset)
            .chain(&s.step)
            .map(|v| float(*v)),
    );
    out.extend([s.total_min, s.total_max, s.total_avg].map(float));
    out.extend(s.total.iter().map(|v| float(*v)));
    out.extend([s.requests_per_second, s.effective_concurrency].map(float));
    out.extend([s.unique_pids, s.unique_sessions, s.unique_hosts].map(|v| v.to_string()));
    for stage in [s.state, s.mcp] {
        match stage {
            Some(q) => out.extend(q.map(float)),
            None => out.extend([""; 3].map(String::from)),
        }
    }
    out
}
