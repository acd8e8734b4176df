//! One result model, bottom to top, that drivers, writers, the console and
//! run.json share: a session's [`SessionRecord`] (the agent's) → a phase's
//! [`PhaseOutcome`] as a driver returns it, merged across agents, with each
//! agent's part ([`AgentPhase`]) → the [`PhaseResult`] the writers append
//! (the outcome, its summary row, sessions per target) → the run, whose
//! document (`run_doc::RunDoc`) keeps each agent's totals
//! ([`AgentInfo`]).

use std::time::Duration;

use envload_agent::{PhaseStats, SessionRecord};
use serde::{Deserialize, Serialize};

use crate::phase::Phase;
use crate::summary::{SummaryRow, Uniques};

/// One agent's part of one phase (the per-agent breakdown in `run.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentPhase {
    pub name: String,
    pub host: String,
    /// Sessions assigned.
    pub assigned: u64,
    pub successful: u64,
    pub failed: u64,
    /// Why the agent was lost during the phase, if it was.
    pub lost: Option<String>,
    /// Its sessions' start after the coordinator's Start (ms; the one-way
    /// delay to it and its start-up; across hosts, their clocks' offset
    /// too). Remote agents only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_skew_ms: Option<f64>,
}

/// The largest start skew among `agents` (ms), when any reported one.
pub fn max_start_skew_ms(agents: &[AgentPhase]) -> Option<f64> {
    agents
        .iter()
        .filter_map(|a| a.start_skew_ms)
        .reduce(f64::max)
}

/// Everything one phase produced, merged across agents.
#[derive(Debug)]
pub struct PhaseOutcome {
    /// Per-session records, by `request_id` (empty when records are off).
    pub records: Vec<SessionRecord>,
    /// Merged statistics.
    pub stats: PhaseStats,
    /// Start to the last session's end.
    pub wall: Duration,
    /// Distinct pids, sessions, hosts over successful sessions.
    pub uniques: Uniques,
    /// Per-agent breakdown.
    pub agents: Vec<AgentPhase>,
}

/// Everything measured in one phase.
#[derive(Debug)]
pub struct PhaseResult {
    /// Which phase.
    pub phase: Phase,
    /// What the driver measured.
    pub outcome: PhaseOutcome,
    /// The summary row.
    pub summary: SummaryRow,
    /// Per-target breakdown (empty without records).
    pub targets: Vec<TargetCount>,
    /// CPU spent while the phase ran.
    pub cpu: PhaseCpu,
    /// Scheduled arrivals only: the gaps between the scheduled starts.
    pub inter_arrival: Option<Distribution>,
    /// Rollout phases that think: the think times drawn.
    pub think: Option<Distribution>,
}

/// CPU seconds spent while a phase ran: this envload process (the load
/// generator itself when sessions run in-process; the coordinator with
/// agents), and the embedded benchmark server when this run started one.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PhaseCpu {
    pub envload: f64,
    pub embedded_server: Option<f64>,
}

/// One agent that ran sessions.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
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

/// Sessions one target got in a phase.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
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

/// A distribution of seconds: gaps between arrivals, think times (keys in
/// the file's order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Distribution {
    pub mean: f64,
    pub p50: f64,
    pub p99: f64,
}

impl Distribution {
    /// Of `values` (none: `None`); percentiles as summary.csv's are (numpy's
    /// linear interpolation between the order statistics around rank
    /// (n − 1)·q), here over the exact values.
    pub fn of(mut values: Vec<f64>) -> Option<Distribution> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let at = |q: f64| {
            let rank = (n - 1) as f64 * q;
            let (k, frac) = (rank.floor() as usize, rank.fract());
            match values.get(k + 1) {
                Some(high) if frac > 0.0 => values[k] + frac * (high - values[k]),
                _ => values[k],
            }
        };
        Some(Distribution {
            mean: values.iter().sum::<f64>() / n as f64,
            p50: at(0.5),
            p99: at(0.99),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Distribution;

    #[test]
    fn a_distribution_interpolates_as_summary_csv_does() {
        // numpy.percentile([4, 1, 3, 2], [50, 99]) = 2.5, 3.97
        let d = Distribution::of(vec![4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((d.mean, d.p50), (2.5, 2.5));
        assert!((d.p99 - 3.97).abs() < 1e-12, "{}", d.p99);
        assert_eq!(Distribution::of(vec![0.5]).unwrap().p99, 0.5);
        assert!(Distribution::of(Vec::new()).is_none());
    }
}
