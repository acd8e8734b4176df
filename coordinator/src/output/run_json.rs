//! `run.json`: how a run was made (command, versions, plan, targets, agents,
//! times) and how far it got, rewritten atomically after every phase.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::Serialize;
use serde_json::Value;

use super::numfmt::timestamp;
use super::{PhaseResult, PhaseWriter};

/// One agent that ran sessions.
#[derive(Debug, Clone, Serialize)]
pub struct AgentInfo {
    /// Agent name.
    pub name: String,
    /// Host it ran on.
    pub host: String,
    /// CPUs it had (its declared capacity).
    pub cpus: usize,
    /// Sessions it ran over the whole run.
    pub sessions: u64,
    /// Of which succeeded.
    pub successful: u64,
    /// Of which failed (including sessions lost with the agent).
    pub failed: u64,
}

impl AgentInfo {
    /// An agent that has run nothing yet.
    pub fn new(name: &str, host: &str, cpus: usize) -> Self {
        AgentInfo {
            name: name.into(),
            host: host.into(),
            cpus,
            sessions: 0,
            successful: 0,
            failed: 0,
        }
    }
}

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
    pub agents: Vec<crate::driver::AgentPhase>,
    /// Sessions per target (round-robin over `--urls`), from the records.
    pub targets: Vec<TargetCount>,
}

/// Sessions one target got in a phase.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetCount {
    pub url: String,
    pub sessions: u64,
    pub successful: u64,
}

/// Sessions and successes per target, by the records' `target_index`.
pub fn per_target(urls: &[String], records: &[envload_agent::SessionRecord]) -> Vec<TargetCount> {
    let mut counts: Vec<TargetCount> = urls
        .iter()
        .map(|u| TargetCount {
            url: u.clone(),
            sessions: 0,
            successful: 0,
        })
        .collect();
    for r in records {
        if let Some(c) = counts.get_mut(r.target_index) {
            c.sessions += 1;
            c.successful += u64::from(r.success());
        }
    }
    if records.is_empty() {
        counts.clear();
    }
    counts
}

/// The document.
#[derive(Debug, Clone, Serialize)]
pub struct RunDoc {
    pub envload_version: String,
    pub command: Vec<String>,
    pub infrastructure: String,
    pub hardware: String,
    /// CPU cores of the infrastructure under test (`--cores`; the machine's
    /// for the embedded server), for batch-per-core figures.
    pub cores: Option<u32>,
    pub plan: Value,
    pub targets: Vec<String>,
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
            successful: r.stats.successful,
            failed: r.stats.failed,
            total_wall_time: r.wall.as_secs_f64(),
            unique_hosts: r.summary.unique_hosts,
            errors: r
                .stats
                .errors
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), Value::from(*v)))
                .collect(),
            agents: r.agents.clone(),
            targets: r.targets.clone(),
        };
        for a in &r.agents {
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
