//! Reading `histograms.jsonl` back: each phase's merged total-latency
//! histogram (the file `write::histograms` writes), for figures that need
//! the whole distribution rather than its percentiles in `summary.csv`.

use std::path::Path;

use base64::Engine;
use hdrhistogram::Histogram;
use serde_json::Value;

use crate::files::HISTOGRAMS_JSONL;

/// One phase's total latency (µs), labelled `<folder> phase <k> <mode> N=<n>`.
pub struct PhaseHistogram {
    pub label: String,
    pub total: Histogram<u64>,
}

/// The phases of `dir` (none without the file), each line checked.
pub fn load(dir: &Path, name: &str) -> Result<Vec<PhaseHistogram>, String> {
    let path = dir.join(HISTOGRAMS_JSONL);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = |why: String| format!("{} line {}: {why}", path.display(), i + 1);
        let v: Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON ({e})")))?;
        let total = v["total"]
            .as_str()
            .ok_or_else(|| bad("no \"total\" histogram".into()))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(total)
            .map_err(|e| bad(format!("\"total\" is not base64 ({e})")))?;
        let total = envload_proto::histogram::decode(&bytes).map_err(|e| bad(e.to_string()))?;
        out.push(PhaseHistogram {
            label: format!(
                "{name} phase {} {} N={}",
                v["phase"].as_u64().unwrap_or(0) + 1,
                v["mode"].as_str().unwrap_or(""),
                v["batch_size"].as_u64().unwrap_or(0)
            ),
            total,
        });
    }
    Ok(out)
}
