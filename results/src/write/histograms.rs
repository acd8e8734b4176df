//! `histograms.jsonl`: each phase's merged histograms (connect, reset, step,
//! total, and state and mcp when the phase sent them; microseconds;
//! successful sessions only) as base64 HdrHistogram
//! V2+DEFLATE, so any set of runs can be re-merged exactly later.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use base64::Engine;
use serde_json::json;

use super::PhaseWriter;
use crate::files::HISTOGRAMS_JSONL;
use crate::model::PhaseResult;

/// Appends to `<dir>/histograms.jsonl`.
pub struct HistogramsJsonl {
    file: BufWriter<File>,
}

impl HistogramsJsonl {
    /// Opens (creating or appending) `dir/histograms.jsonl`.
    pub fn open(dir: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(HISTOGRAMS_JSONL))?;
        Ok(HistogramsJsonl {
            file: BufWriter::new(file),
        })
    }
}

impl PhaseWriter for HistogramsJsonl {
    fn write_phase(&mut self, r: &PhaseResult) -> io::Result<()> {
        let enc = |l: &envload_agent::Latency| -> io::Result<String> {
            let bytes = envload_proto::histogram::encode(&l.hist).map_err(io::Error::other)?;
            Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
        };
        let s = &r.outcome.stats;
        let mut line = json!({
            "phase": r.phase.index,
            "mode": r.phase.mode.as_str(),
            "batch_size": r.phase.n,
            "wait_seconds": r.phase.wait,
            "repetition": r.phase.rep,
            "unit": "microseconds",
            "encoding": "HdrHistogram V2+DEFLATE, base64",
            "successful": s.successful,
            "failed": s.failed,
            "connect": enc(&s.connect)?,
            "reset": enc(&s.reset)?,
            "step": enc(&s.step)?,
            "total": enc(&s.total)?,
        });
        // Phases that asked state or made MCP calls: those stages too.
        for (name, l) in [("state", &s.state), ("mcp", &s.mcp)] {
            if l.count() > 0 {
                line[name] = enc(l)?.into();
            }
        }
        // Rollout phases only: the episode and per-step-index histograms.
        if let Some(ro) = s.rollout.as_deref() {
            line["episode"] = enc(&ro.episode)?.into();
            line["step_by_index"] = ro
                .by_step
                .iter()
                .map(&enc)
                .collect::<io::Result<Vec<_>>>()?
                .into();
        }
        writeln!(self.file, "{line}")?;
        self.file.flush()
    }
}
