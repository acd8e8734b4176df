//! `run.json`: how a run was made (command, versions, plan, targets, agents,
//! times) and how far it got, rewritten atomically after every phase.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::Serialize;
use serde_json::Value;

use super::numfmt::timestamp;
use super::PhaseWriter;
use crate::result::{AgentInfo, AgentPhase, PhaseCpu, PhaseResult, TargetCount};

/// One phase's entry.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseEntry {
    pub index: usize,
    pub mode: String,
    pub batch_size: u64,
    pub wait_seconds: f64,
    pub repetition: u32,
    /// `running`, `complete` or `partial` (interrupted).
    pub status: String,
    pub successful: u64,
    pub failed: u64,
    pub total_wall_time: f64,
    pub unique_hosts: u64,
    /// Failures by `error_type`.
    pub errors: serde_json::Map<String, Value>,
    /// What each agent ran.
    pub agents: Vec<AgentPhase>,
    /// Sessions per target (round-robin over `--urls`), from the records.
    pub targets: Vec<TargetCount>,
    /// CPU seconds spent during the phase (`envload`, `embedded_server`).
    pub cpu_seconds: PhaseCpu,
    /// Scheduled arrivals only: scheduled start to actual, seconds
    /// (`p50`, `p99`, `max`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_lag: Option<Value>,
}

/// The document.
#[derive(Debug, Clone, Serialize)]
pub struct RunDoc {
    pub envload_version: String,
    pub command: Vec<String>,
    pub infrastructure: String,
    /// Whether the name was given (`--infrastructure`) rather than the
    /// default "local": a report labels unnamed runs by their folder.
    pub infrastructure_given: bool,
    pub hardware: String,
    /// CPU cores of the infrastructure under test (`--cores`; the machine's
    /// for the embedded server), for batch-per-core figures.
    pub cores: Option<u32>,
    pub plan: Value,
    pub targets: Vec<String>,
    /// How the server under test was started and sized, where known.
    pub server: crate::config::ServerInfo,
    /// URL of the embedded benchmark server when envload started one.
    pub embedded_server: Option<String>,
    pub agents: Vec<AgentInfo>,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `running`, `complete`, `interrupted` or `failed`.
    pub status: String,
    pub phases: Vec<PhaseEntry>,
    /// Warnings raised during the run (hosts missing, …).
    pub warnings: Vec<String>,
    /// Earlier runs into the same folder, oldest first, each its own
    /// document as it was left: summary.csv and raw.jsonl append (as the
    /// reference does), so every run's metadata is kept too. Their rows come
    /// first in summary.csv, one per phase each completed.
    pub previous_runs: Vec<Value>,
}

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
        let path = dir.join("run.json");
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
                .map(|(k, v)| (k.as_str().to_string(), Value::from(*v)))
                .collect(),
            agents: r.outcome.agents.clone(),
            targets: r.targets.clone(),
            cpu_seconds: r.cpu,
            start_lag: {
                let l = &r.outcome.stats.start_lag;
                (l.count() > 0).then(|| {
                    serde_json::json!({"p50": l.quantile_s(0.5), "p99": l.quantile_s(0.99), "max": l.max_s()})
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
