//! `raw.jsonl`: one JSON object per session, the reference's keys in its
//! order, appended phase by phase.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use envload_agent::SessionRecord;

use super::numfmt::{float, timestamp};
use super::PhaseWriter;
use crate::result::PhaseResult;
use envload_agent::stats::us_to_s;

/// The keys of a line, in order. Pinned by a test.
pub const KEYS: [&str; 17] = [
    "request_id",
    "mode",
    "timestamp",
    "wait_requested",
    "batch_size",
    "hardware",
    "connect_latency",
    "reset_latency",
    "step_latency",
    "total_latency",
    "waited_seconds",
    "pid",
    "session_hash",
    "host_url",
    "success",
    "error_type",
    "error_message",
];

/// Appends to `<dir>/raw.jsonl`.
pub struct RawJsonl {
    file: BufWriter<File>,
}

impl RawJsonl {
    /// Opens (creating or appending) `dir/raw.jsonl`.
    pub fn open(dir: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("raw.jsonl"))?;
        Ok(RawJsonl {
            file: BufWriter::new(file),
        })
    }
}

impl PhaseWriter for RawJsonl {
    fn write_phase(&mut self, result: &PhaseResult) -> io::Result<()> {
        let mut recs: Vec<&SessionRecord> = result.outcome.records.iter().collect();
        recs.sort_by_key(|r| r.request_id);
        for r in recs {
            self.file.write_all(line(r).as_bytes())?;
        }
        self.file.flush()
    }
}

/// One session as a JSON line, with Python's `json.dumps` separators.
pub fn line(r: &SessionRecord) -> String {
    let js = |s: &str| serde_json::Value::from(s).to_string();
    let opt = |s: Option<&str>| s.map_or("null".to_string(), js);
    let t = r.timings;
    let values = [
        r.request_id.to_string(),
        js(r.mode.as_str()),
        js(&timestamp(&r.timestamp)),
        float(r.wait_requested),
        r.batch_size.to_string(),
        js(&r.hardware),
        float(us_to_s(t.connect_us)),
        float(us_to_s(t.reset_us)),
        float(us_to_s(t.step_us)),
        float(us_to_s(t.total_us)),
        float(r.observed.waited_seconds),
        r.observed.pid.to_string(),
        js(&r.observed.session_hash),
        js(&r.observed.host_url),
        r.success().to_string(),
        opt(r.failure.as_ref().map(|f| f.kind.as_str())),
        opt(r.failure.as_ref().map(|f| f.message.as_str())),
    ];
    let body: Vec<String> = KEYS
        .iter()
        .zip(values)
        .map(|(k, v)| format!("\"{k}\": {v}"))
        .collect();
    format!("{{{}}}\n", body.join(", "))
}
