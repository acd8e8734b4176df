//! Session traces (docs/TRACE.md): what `envload record` writes and a
//! replay reads — a header line, then one event per line. The reader
//! refuses a version it does not know and any malformed line, naming the
//! file and the line.

use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The format's version.
pub const VERSION: u64 = 1;

/// Line 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub envload_trace: u64,
    pub upstream: String,
    pub recorded_at: String,
    pub bodies: bool,
}

/// Who sent an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    Client,
    Server,
}

/// One event of one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub session: u64,
    /// `ws` or `http`.
    pub transport: String,
    pub path: String,
    pub dir: Dir,
    pub kind: String,
    /// Seconds since the session's `open`.
    pub t: f64,
    #[serde(default)]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Header names of the `open` event (never values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// A whole trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub header: Header,
    pub events: Vec<Event>,
}

impl Trace {
    /// The session numbers, in the order they opened.
    pub fn sessions(&self) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for e in &self.events {
            if !out.contains(&e.session) {
                out.push(e.session);
            }
        }
        out
    }

    /// Session `s`'s events, in order.
    pub fn session(&self, s: u64) -> Vec<&Event> {
        self.events.iter().filter(|e| e.session == s).collect()
    }
}

/// Reads and checks the trace at `path`.
pub fn read(path: &Path) -> Result<Trace, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let at = |n: usize, why: String| format!("{} line {n}: {why}", path.display());
    let mut lines = std::io::BufReader::new(file).lines();
    let first = lines
        .next()
        .transpose()
        .map_err(|e| at(1, e.to_string()))?
        .ok_or_else(|| at(1, "empty: no trace header".into()))?;
    let raw: Value = serde_json::from_str(&first).map_err(|e| at(1, format!("not JSON ({e})")))?;
    match raw.get("envload_trace").and_then(Value::as_u64) {
        Some(VERSION) => {}
        Some(v) => {
            return Err(at(
                1,
                format!("trace version {v} is not one this envload reads ({VERSION})"),
            ))
        }
        None => {
            return Err(at(
                1,
                "no \"envload_trace\" version: not an envload trace".into(),
            ))
        }
    }
    let header: Header =
        serde_json::from_value(raw).map_err(|e| at(1, format!("bad header ({e})")))?;
    let mut events = Vec::new();
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        let line = line.map_err(|e| at(n, e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let e: Event =
            serde_json::from_str(&line).map_err(|e| at(n, format!("not an event ({e})")))?;
        if !(e.t.is_finite() && e.t >= 0.0) {
            return Err(at(
                n,
                format!("t {} is not a time since the session's start", e.t),
            ));
        }
        events.push(e);
    }
    Ok(Trace { header, events })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> std::path::PathBuf {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("envload-trace-{}-{n}.jsonl", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    const HEADER: &str =
        r#"{"envload_trace": 1, "upstream": "http://h:1", "recorded_at": "x", "bodies": true}"#;

    #[test]
    fn a_trace_reads_back_and_bad_ones_name_file_and_line() {
        let ok = file(&format!(
            "{HEADER}\n{}\n{}\n",
            r#"{"session": 1, "transport": "ws", "path": "/ws", "dir": "client", "kind": "open", "t": 0, "headers": ["user-agent"]}"#,
            r#"{"session": 1, "transport": "ws", "path": "/ws", "dir": "client", "kind": "reset", "t": 0.01, "size": 26, "body": {"type": "reset", "data": {}}}"#
        ));
        let t = read(&ok).unwrap();
        assert_eq!(
            (t.sessions(), t.session(1).len(), t.events[1].dir),
            (vec![1], 2, Dir::Client)
        );
        for (text, needle) in [
            (
                r#"{"envload_trace": 2, "upstream": "", "recorded_at": "", "bodies": true}"#
                    .to_string(),
                "line 1: trace version 2",
            ),
            ("{}".to_string(), "line 1: no \"envload_trace\""),
            (
                format!("{HEADER}\n{{\"session\": 1}}"),
                "line 2: not an event",
            ),
            (format!("{HEADER}\nnot json"), "line 2: not an event"),
        ] {
            let e = read(&file(&text)).unwrap_err();
            assert!(
                e.contains(needle) && e.contains("envload-trace-"),
                "{needle}: {e}"
            );
        }
    }
}
