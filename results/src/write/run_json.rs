//! Keeps `run.json` ([`RunDoc`]) in step with a run: rewritten atomically
//! after every phase and when the run ends.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde_json::Value;

use super::PhaseWriter;
use crate::files::RUN_JSON;
use crate::model::PhaseResult;
use crate::numfmt::timestamp;
use crate::run_doc::{PhaseEntry, RunDoc, StartLag};

/// Keeps `run.json` in step with the run.
pub struct RunJson {
    path: PathBuf,
    /// The document as it stands.
    pub doc: RunDoc,
}

impl RunJson {
    /// Writes the initial document to `dir/run.json`, carrying over the
    /// runs an existing one holds (a reused folder loses nothing).
    pub fn create(dir: &Path, mut doc: RunDoc) -> io::Result<Self> {
        let path = dir.join(RUN_JSON);
        if let Ok(text) = fs::read_to_string(&path) {
            let mut earlier: Value = serde_json::from_str(&text).map_err(|e| {
                io::Error::other(format!(
                    "{} exists but is not JSON ({e}); move it away or choose another --output-dir",
                    path.display()
                ))
            })?;
            if let Some(Value::Array(runs)) = earlier
                .as_object_mut()
                .and_then(|o| o.remove("previous_runs"))
            {
                doc.previous_runs.extend(runs);
            }
            doc.previous_runs.push(earlier);
        }
        let rj = RunJson { path, doc };
        rj.save()?;
        Ok(rj)
    }

    /// Rewrites the file atomically (temp file + rename).
    pub fn save(&self) -> io::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        fs::write(
            &tmp,
            serde_json::to_vec_pretty(&self.doc).map_err(io::Error::other)?,
        )?;
        fs::rename(tmp, &self.path)
    }

    /// Marks the run finished with `status`.
    pub fn finish(&mut self, status: &str) -> io::Result<()> {
        self.doc.status = status.to_string();
        self.doc.finished_at = Some(timestamp(&Utc::now()));
        self.save()
    }
}

impl PhaseWriter for RunJson {
    fn write_phase(&mut self, r: &PhaseResult) -> io::Result<()> {
        let entry = PhaseEntry {
            index: r.phase.index,
            mode: r.phase.mode.as_str().to_string(),
            batch_size: r.phase.n,
            wait_seconds: r.phase.wait,
            repetition: r.phase.rep,
            status: "complete".to_string(),
            successful: r.outcome.stats.successful,
            failed: r.outcome.stats.failed,
            total_wall_time: r.outcome.wall.as_secs_f64(),
            unique_hosts: r.summary.unique_hosts,
            errors: r
                .outcome
                .stats
                .errors
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), *v))
                .collect(),
            agents: r.outcome.agents.clone(),
            max_start_skew_ms: crate::model::max_start_skew_ms(&r.outcome.agents),
            targets: r.targets.clone(),
            cpu_seconds: r.cpu,
            inter_arrival: r.inter_arrival,
            leak_probe: None,
            unclosed_sessions: (r.phase.mode == envload_agent::Mode::McpHttp)
                .then(|| r.outcome.stats.rollout.as_ref().map_or(0, |ro| ro.unclosed)),
            think: r.think,
            start_lag: {
                let l = &r.outcome.stats.start_lag;
                (l.count() > 0).then(|| StartLag {
                    max: l.max_s(),
                    p50: l.quantile_s(0.5),
                    p99: l.quantile_s(0.99),
                })
            },
        };
        for a in &r.outcome.agents {
            if let Some(info) = self
                .doc
                .agents
                .iter_mut()
                .find(|i| i.name == a.name && i.host == a.host)
            {
                info.sessions += a.assigned;
                info.successful += a.successful;
                info.failed += a.failed;
            }
        }
        self.doc.phases.retain(|p| p.index != entry.index);
        self.doc.phases.push(entry);
        self.save()
    }
}
