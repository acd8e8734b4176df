//! `run.json` as one type, written by the engine and read by the report:
//! how a run was made (command, versions, plan, targets, agents, times)
//! and how far it got. Every field has a default, so an older document —
//! or none, for a folder the reference tool wrote — reads as far as it
//! goes; the field order is the file's.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::files::RUN_JSON;
use crate::model::{AgentInfo, AgentPhase, Distribution, PhaseCpu, TargetCount};

/// The document.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunDoc {
    /// Empty when unknown (a document without it).
    pub envload_version: String,
    pub command: Vec<String>,
    pub infrastructure: String,
    /// Whether the name was given (`--infrastructure`) rather than the
    /// default "local": a report labels unnamed runs by their folder. Older
    /// documents lack it (`None`).
    pub infrastructure_given: Option<bool>,
    pub hardware: String,
    /// `--notes`: what the user says of the infrastructure (the matrix's
    /// `notes`), for the experiment log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// CPU cores of the infrastructure under test (`--cores`; the machine's
    /// for the embedded server), for batch-per-core figures.
    pub cores: Option<u32>,
    pub plan: PlanDoc,
    pub targets: Vec<String>,
    /// How the server under test was started and sized, where known.
    pub server: ServerInfo,
    /// URL of the embedded benchmark server when envload started one.
    pub embedded_server: Option<String>,
    pub agents: Vec<AgentInfo>,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `running`, `complete`, `interrupted` or `failed`; empty when there
    /// was no document (a reference folder, which finished).
    pub status: String,
    pub phases: Vec<PhaseEntry>,
    /// Warnings raised during the run (hosts missing, SLO missed, …).
    pub warnings: Vec<String>,
    /// Earlier runs into the same folder, oldest first, each its own
    /// document kept as it was left (an older version's fields included):
    /// summary.csv and raw.jsonl append (as the reference does), so every
    /// run's metadata is kept too. Their rows come first in summary.csv, one
    /// per phase each completed. Read them with [`RunDoc::runs`].
    pub previous_runs: Vec<Value>,
}

/// How the server under test was started and sized, as far as envload
/// knows: its own embedded server, the matrix's deployment, or the
/// `--server-*` flags. Recorded for the experiment log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerInfo {
    pub start: Option<String>,
    pub workers: Option<u32>,
    pub max_concurrent_envs: Option<u64>,
}

/// The plan as it was asked for (keys in the file's order).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanDoc {
    /// Arrival control, when sessions did not all start at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival: Option<ArrivalDoc>,
    /// `ClientFirst` or `ServerFirst`.
    pub close: String,
    pub compare: bool,
    /// `--cooldown`: the pause between phases, seconds (absent: the
    /// default pauses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<f64>,
    pub expected_hosts: Option<u64>,
    /// The headers sessions sent, each `Name: <redacted>`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    pub mode: String,
    /// WebSocket keepalive pings, seconds (0: none).
    pub ping_interval: f64,
    pub ping_timeout: f64,
    pub records: bool,
    pub reps: u32,
    pub requests: u64,
    pub requests_grid: Option<Vec<u64>>,
    pub require_hosts: bool,
    pub timeout: f64,
    pub wait: f64,
    pub wait_grid: Option<Vec<f64>>,
    /// A rollout workload, as the agents ran it (think times scaled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadDoc>,
}

/// `--ramp-up`, or the open model's `--rate`/`--max-in-flight`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ArrivalDoc {
    pub max_in_flight: u64,
    pub open: bool,
    /// Poisson arrivals (`--arrival poisson`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub poisson: bool,
    pub spread_seconds: f64,
}

/// A rollout workload (keys in the file's order).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkloadDoc {
    /// `"benchmark"`, `{"template": …}` or `{"lines": […]}`.
    pub actions: Value,
    pub episodes: u32,
    /// Sessions per GRPO group, in lockstep (`--group`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<u64>,
    pub max_resets_in_flight: u64,
    pub reset: Option<String>,
    pub seed: u64,
    /// Steps per episode, `[min, max]`.
    pub steps: [u32; 2],
    /// A think distribution other than uniform (`exp:2`,
    /// `lognormal:1.5,0.8`, `file:(120 values)`), scaled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub think: Option<String>,
    /// Think seconds before each step, `[min, max]`, when uniform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub think_seconds: Option<[f64; 2]>,
}

/// One phase's entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PhaseEntry {
    pub index: usize,
    pub mode: String,
    pub batch_size: u64,
    pub wait_seconds: f64,
    pub repetition: u32,
    /// `complete`, or `partial` (interrupted or failed while it ran).
    pub status: String,
    pub successful: u64,
    pub failed: u64,
    pub total_wall_time: f64,
    pub unique_hosts: u64,
    /// Failures by `error_type`.
    pub errors: std::collections::BTreeMap<String, u64>,
    /// What each agent ran.
    pub agents: Vec<AgentPhase>,
    /// Sessions per target (round-robin over `--urls`), from the records.
    pub targets: Vec<TargetCount>,
    /// CPU seconds spent during the phase (`envload`, `embedded_server`).
    pub cpu_seconds: PhaseCpu,
    /// Scheduled arrivals only: the gaps between consecutive scheduled
    /// starts, seconds (Poisson arrivals: as drawn).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inter_arrival: Option<Distribution>,
    /// Rollout phases with thinking: the think times drawn for the
    /// phase's sessions, seconds (the seed and each session's id decide
    /// them; the first million draws).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub think: Option<Distribution>,
    /// Scheduled arrivals only: scheduled start to actual, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_lag: Option<StartLag>,
    /// The largest agent start skew of the phase (ms; remote agents).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_start_skew_ms: Option<f64>,
    /// `--leak-probe`: what the probe after the phase found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leak_probe: Option<LeakProbe>,
    /// `--mode mcp-http`: sessions created and never closed (a close that
    /// failed, or `--abort`), whose slots the server keeps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unclosed_sessions: Option<u64>,
}

/// What `--leak-probe` found right after a phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LeakProbe {
    /// Plain sessions opened at once (the server's capacity).
    pub sessions: u64,
    /// Of which the server held.
    pub succeeded: u64,
    /// `sessions − succeeded`: slots still held by the phase's sessions.
    pub leaked_slots: u64,
    /// The probe's failures by `error_type`.
    pub errors: std::collections::BTreeMap<String, u64>,
}

/// Scheduled start to actual start, seconds (keys in the file's order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StartLag {
    pub max: f64,
    pub p50: f64,
    pub p99: f64,
}

impl PhaseEntry {
    /// Whether the phase finished (and so has its summary.csv row).
    pub fn is_complete(&self) -> bool {
        self.status == "complete"
    }
}

impl RunDoc {
    /// `dir/run.json`, if the folder has one that reads as a run document;
    /// `None` for a folder without (the reference's).
    pub fn read(dir: &Path) -> Option<RunDoc> {
        let text = std::fs::read_to_string(dir.join(RUN_JSON)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Every run this document holds, oldest first: the earlier runs into
    /// the same folder, then this one (without them).
    pub fn runs(mut self) -> Vec<RunDoc> {
        let mut runs: Vec<RunDoc> = std::mem::take(&mut self.previous_runs)
            .into_iter()
            .map(|v| serde_json::from_value(v).unwrap_or_default())
            .collect();
        runs.push(self);
        runs
    }

    /// Phases that finished.
    pub fn completed_phases(&self) -> usize {
        self.phases.iter().filter(|p| p.is_complete()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_document_reads_with_defaults_and_keeps_what_it_has() {
        let doc: RunDoc = serde_json::from_str(
            r#"{"infrastructure":"hf","status":"complete","cores":8,
                "phases":[{"status":"complete","errors":{"ConnectTimeout":3}}]}"#,
        )
        .unwrap();
        assert_eq!(doc.infrastructure, "hf");
        assert_eq!(doc.infrastructure_given, None);
        assert_eq!(doc.cores, Some(8));
        assert_eq!(doc.phases[0].errors["ConnectTimeout"], 3);
        assert_eq!(doc.completed_phases(), 1);
        assert!(doc.envload_version.is_empty());
    }

    #[test]
    fn previous_runs_come_first_and_unreadable_ones_read_empty() {
        let doc: RunDoc = serde_json::from_str(
            r#"{"status":"running","previous_runs":[{"status":"complete"}, 7]}"#,
        )
        .unwrap();
        let runs = doc.runs();
        let status: Vec<&str> = runs.iter().map(|r| r.status.as_str()).collect();
        assert_eq!(status, ["complete", "", "running"]);
        assert!(runs[2].previous_runs.is_empty());
    }

    #[test]
    fn a_written_document_reads_back_the_same() {
        let mut doc = RunDoc {
            envload_version: "0.1.0".into(),
            infrastructure_given: Some(true),
            status: "complete".into(),
            ..RunDoc::default()
        };
        doc.plan.workload = Some(WorkloadDoc {
            actions: serde_json::json!({"lines": ["{}"]}),
            steps: [1, 4],
            ..WorkloadDoc::default()
        });
        doc.phases.push(PhaseEntry {
            start_lag: Some(StartLag {
                max: 0.5,
                p50: 0.1,
                p99: 0.4,
            }),
            ..PhaseEntry::default()
        });
        let text = serde_json::to_string(&doc).unwrap();
        let back: RunDoc = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
    }
}
