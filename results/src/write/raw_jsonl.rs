//! `raw.jsonl`: one JSON object per session, the reference's keys in its
//! order, appended phase by phase.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use envload_agent::record::Rollout;
use envload_agent::SessionRecord;

use super::PhaseWriter;
use crate::files::RAW_JSONL;
use crate::model::PhaseResult;
use crate::numfmt::{push_float, push_timestamp};
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

/// Keys added after [`KEYS`] on the rows of rollout sessions (episodes,
/// steps, thinking; benchmark rows never have them). `step_latencies` holds
/// one list per episode, in seconds.
pub const ROLLOUT_KEYS: [&str; 11] = [
    "episodes",
    "episodes_ok",
    "episode_errors",
    "steps",
    "think_seconds",
    "bytes_sent",
    "bytes_received",
    "reconnects",
    "reset_latencies",
    "step_latencies",
    "episode_latencies",
];

/// The key added last on the rows of scheduled arrivals (`--ramp-up`,
/// `--rate`): seconds from the session's scheduled start to its actual one.
/// In the open model `total_latency` includes it.
pub const START_LAG_KEY: &str = "start_lag";

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
            .open(dir.join(RAW_JSONL))?;
        Ok(RawJsonl {
            file: BufWriter::new(file),
        })
    }
}

impl PhaseWriter for RawJsonl {
    fn write_phase(&mut self, result: &PhaseResult) -> io::Result<()> {
        let mut recs: Vec<&SessionRecord> = result.outcome.records.iter().collect();
        recs.sort_by_key(|r| r.request_id);
        // One buffer for every line: writing a phase allocates nothing per
        // session (it was ~85 allocations a line, a third of the client's).
        let mut buf = String::with_capacity(512);
        for r in recs {
            buf.clear();
            push_line(&mut buf, r);
            self.file.write_all(buf.as_bytes())?;
        }
        self.file.flush()
    }
}

/// One session as a JSON line with Python's `json.dumps` separators,
/// appended to `out`.
fn push_line(out: &mut String, r: &SessionRecord) {
    let t = r.timings;
    let failure = r.failure.as_ref();
    for (i, key) in KEYS.iter().enumerate() {
        out.push_str(if i == 0 { "{\"" } else { ", \"" });
        out.push_str(key);
        out.push_str("\": ");
        match i {
            0 => push_int(out, r.request_id),
            1 => push_str(out, r.mode.as_str()),
            2 => {
                out.push('"');
                push_timestamp(out, &r.timestamp);
                out.push('"');
            }
            3 => push_float(out, r.wait_requested),
            4 => push_int(out, r.batch_size),
            5 => push_str(out, &r.hardware),
            6 => push_float(out, us_to_s(t.connect_us)),
            7 => push_float(out, us_to_s(t.reset_us)),
            8 => push_float(out, us_to_s(t.step_us)),
            9 => push_float(out, us_to_s(t.total_us)),
            10 => push_float(out, r.observed.waited_seconds),
            11 => {
                let _ = write!(out, "{}", r.observed.pid);
            }
            12 => push_str(out, &r.observed.session_hash),
            13 => push_str(out, &r.observed.host_url),
            14 => out.push_str(if r.success() { "true" } else { "false" }),
            15 => push_opt(out, failure.map(|f| f.kind.as_str())),
            _ => push_opt(out, failure.map(|f| f.message.as_str())),
        }
    }
    if let Some(ro) = r.rollout.as_deref() {
        push_rollout(out, ro);
    }
    if let Some(lag) = r.start_lag {
        let _ = write!(out, ", \"{START_LAG_KEY}\": ");
        push_float(out, lag.as_secs_f64());
    }
    out.push_str("}\n");
}

/// The [`ROLLOUT_KEYS`] of one row.
fn push_rollout(out: &mut String, ro: &Rollout) {
    let seconds = |out: &mut String, values: &mut dyn Iterator<Item = u64>| {
        out.push('[');
        for (i, us) in values.enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_float(out, us_to_s(us));
        }
        out.push(']');
    };
    for key in ROLLOUT_KEYS {
        out.push_str(", \"");
        out.push_str(key);
        out.push_str("\": ");
        match key {
            "episodes" => push_int(out, u64::from(ro.episodes)),
            "episodes_ok" => push_int(out, u64::from(ro.episodes_ok)),
            "episode_errors" => {
                out.push('[');
                for (i, e) in ro.episode_errors.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    push_str(out, e.as_str());
                }
                out.push(']');
            }
            "steps" => push_int(out, ro.steps.len() as u64),
            "think_seconds" => push_float(out, us_to_s(ro.think_us)),
            "bytes_sent" => push_int(out, ro.bytes_sent),
            "bytes_received" => push_int(out, ro.bytes_received),
            "reconnects" => push_int(out, u64::from(ro.reconnects)),
            "reset_latencies" => seconds(out, &mut ro.resets_us.iter().copied()),
            "step_latencies" => {
                // One list per episode: a step index of 0 starts the next.
                out.push('[');
                let mut open = false;
                for s in &ro.steps {
                    if s.index == 0 || !open {
                        if open {
                            out.push_str("], ");
                        }
                        out.push('[');
                        open = true;
                    } else {
                        out.push_str(", ");
                    }
                    push_float(out, us_to_s(s.us));
                }
                if open {
                    out.push(']');
                }
                out.push(']');
            }
            _ => seconds(out, &mut ro.episodes_us.iter().copied()),
        }
    }
}

fn push_int(out: &mut String, n: u64) {
    let _ = write!(out, "{n}");
}

/// A JSON string, escaped as serde_json (and Python's `json.dumps` with
/// `ensure_ascii=False`) escape it.
fn push_str(out: &mut String, s: &str) {
    let mut bytes = std::mem::take(out).into_bytes();
    serde_json::to_writer(&mut bytes, s).expect("a string always serialises");
    *out = String::from_utf8(bytes).expect("serde_json writes UTF-8");
}

fn push_opt(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.push_str("null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envload_agent::{ErrorType, Failure, Mode};

    /// The line as it was built before (a JSON value per field, joined):
    /// the format scripts read, which the buffer writer must match byte for
    /// byte.
    fn reference_line(r: &SessionRecord) -> String {
        use crate::numfmt::{float, timestamp};
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

    #[test]
    fn lines_match_the_reference_format_byte_for_byte() {
        let mut ok = SessionRecord {
            request_id: 42,
            mode: Mode::Ws,
            timestamp: "2026-01-09T04:05:06.000007Z".parse().unwrap(),
            wait_requested: 1.0,
            batch_size: 16384,
            hardware: "cpu-\"basic\"\tü".into(),
            target_index: 0,
            timings: envload_agent::record::Timings {
                connect_us: 1500,
                reset_us: 7,
                step_us: 1_000_123,
                total_us: 1_001_630,
            },
            observed: Default::default(),
            failure: None,
            ended_after: Default::default(),
            rollout: None,
            start_lag: None,
        };
        ok.observed.waited_seconds = 1e-7;
        ok.observed.pid = 4242;
        ok.observed.session_hash = "abcdef012345".into();
        ok.observed.host_url = "vm:8000".into();
        let mut failed = ok.clone();
        failed.failure = Some(Failure::new(
            ErrorType::MalformedResponse,
            "reply \"x\" \\ \n\u{1} is not JSON",
        ));
        for r in [ok, failed] {
            let mut mine = String::new();
            push_line(&mut mine, &r);
            assert_eq!(mine, reference_line(&r));
            let parsed: serde_json::Value = serde_json::from_str(&mine).unwrap();
            assert_eq!(parsed.as_object().unwrap().len(), KEYS.len());
        }
    }
}
