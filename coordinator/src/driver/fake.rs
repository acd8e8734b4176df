//! A driver for unit tests: every phase finishes at once against an
//! imagined server that holds `capacity` sessions (the rest fail with
//! `CapacityReached`), each taking `latency`; it can raise the shutdown
//! signal while a given phase finishes. No sockets, no processes.

use std::time::Duration;

use chrono::Utc;
use envload_agent::record::Timings;
use envload_agent::{Assignment, ErrorType, Failure, PhaseStats, SessionRecord};
use tokio::sync::watch;

use super::PhaseDriver;
use crate::plan::Phase;
use crate::result::{AgentInfo, AgentPhase, PhaseOutcome};
use crate::summary::Uniques;

/// The imagined server and what happened to it.
pub struct Fake {
    /// Sessions it holds; more fail.
    pub capacity: u64,
    /// Each successful session's total latency.
    pub latency: Duration,
    /// The N of every phase run, in order.
    pub ran: Vec<u64>,
    /// Raise the signal while phase `index` finishes (its results are then
    /// written before the signal is seen).
    pub signal_at: Option<(usize, watch::Sender<bool>)>,
}

impl Fake {
    /// A server of `capacity` sessions answering in 10 ms.
    pub fn new(capacity: u64) -> Fake {
        Fake {
            capacity,
            latency: Duration::from_millis(10),
            ran: Vec::new(),
            signal_at: None,
        }
    }
}

impl PhaseDriver for Fake {
    async fn run_phase(
        &mut self,
        phase: &Phase,
        template: &Assignment,
    ) -> anyhow::Result<PhaseOutcome> {
        self.ran.push(phase.n);
        if let Some((at, tx)) = &self.signal_at {
            if *at == phase.index {
                tx.send(true).unwrap();
            }
        }
        let mut records = Vec::new();
        let mut stats = PhaseStats::default();
        for id in 0..template.count {
            let ok = id < self.capacity;
            let rec = SessionRecord {
                request_id: id,
                mode: template.mode,
                timestamp: Utc::now(),
                wait_requested: template.wait_seconds,
                batch_size: template.batch_size,
                hardware: template.hardware.clone(),
                target_index: 0,
                timings: Timings {
                    total_us: envload_agent::record::micros(self.latency),
                    ..Default::default()
                },
                observed: Default::default(),
                failure: (!ok).then(|| Failure::new(ErrorType::CapacityReached, "full")),
                ended_after: self.latency,
            };
            stats.record(&rec);
            records.push(rec);
        }
        Ok(PhaseOutcome {
            uniques: Uniques::from_records(&records),
            agents: vec![AgentPhase {
                name: "fake".into(),
                host: "here".into(),
                assigned: template.count,
                successful: stats.successful,
                failed: stats.failed,
                lost: None,
            }],
            records,
            stats,
            wall: self.latency,
        })
    }

    async fn abort(&mut self, _phase: &Phase) {}

    fn agents(&self) -> Vec<AgentInfo> {
        vec![AgentInfo::new("fake", "here", 1)]
    }

    async fn finish(&mut self, _reason: &str) {}
}
