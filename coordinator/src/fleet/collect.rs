//! Collects one phase from many agents: progress deltas (merged HDR
//! histograms), session records, each agent's end, and the sessions a lost
//! agent never finished (counted failed as `AgentLost`).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use envload_agent::convert::{interval_from_proto, record_from_proto, stats_from_proto};
use envload_agent::{Assignment, ErrorType, Failure, PhaseStats, SessionRecord};
use envload_proto::v1;

use envload_results::model::{AgentPhase, PhaseOutcome};
use envload_results::series::IntervalRow;
use envload_results::summary::Uniques;

use crate::timeseries::Series;

struct Part {
    name: String,
    host: String,
    assignment: Assignment,
    ready: bool,
    stats: PhaseStats,
    records: Vec<SessionRecord>,
    done: Option<v1::PhaseDone>,
    lost: Option<(String, Duration)>,
    /// Sessions started, as the agent last reported.
    started: u64,
}

/// The phase in flight.
pub struct Collector {
    parts: BTreeMap<u64, Part>,
    send_records: bool,
    started: Option<(Instant, DateTime<Utc>)>,
    /// Every delta so far, merged as they come, for the live view (merging
    /// all parts' histograms four times a second would cost far more).
    live: PhaseStats,
    /// The time series (from the start).
    series: Option<Series>,
}

impl Collector {
    /// An empty phase.
    pub fn new(send_records: bool) -> Self {
        Collector {
            parts: BTreeMap::new(),
            send_records,
            started: None,
            live: PhaseStats::default(),
            series: None,
        }
    }

    /// Agent `id` runs `assignment`.
    pub fn add(&mut self, id: u64, name: &str, host: &str, assignment: Assignment) {
        let part = Part {
            name: name.into(),
            host: host.into(),
            assignment,
            ready: false,
            stats: PhaseStats::default(),
            records: Vec::new(),
            done: None,
            lost: None,
            started: 0,
        };
        self.parts.insert(id, part);
    }

    /// Whether `id` takes part in this phase.
    pub fn has(&self, id: u64) -> bool {
        self.parts.contains_key(&id)
    }

    /// Agent `id` is ready.
    pub fn ready(&mut self, id: u64) {
        if let Some(p) = self.parts.get_mut(&id) {
            p.ready = true;
        }
    }

    /// Whether every agent is ready or lost.
    pub fn barrier_passed(&self) -> bool {
        self.parts.values().all(|p| p.ready || p.lost.is_some())
    }

    /// Agents still not ready.
    pub fn unready(&self) -> Vec<u64> {
        self.parts
            .iter()
            .filter(|(_, p)| !p.ready && p.lost.is_none())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Agents to send Start to.
    pub fn ready_ids(&self) -> Vec<u64> {
        self.parts
            .iter()
            .filter(|(_, p)| p.ready && p.lost.is_none())
            .map(|(id, _)| *id)
            .collect()
    }

    /// The phase starts now (for the agents started).
    pub fn start(&mut self) {
        self.started = Some((Instant::now(), Utc::now()));
        let width = self
            .parts
            .values()
            .next()
            .map_or(envload_agent::plan::DEFAULT_INTERVAL, |p| {
                p.assignment.interval
            });
        self.series = Some(Series::new(width, self.ready_ids()));
    }

    /// A progress report from `id`: its sessions started so far, the
    /// statistics delta (decoded once and added to its part and the live
    /// view) and the time-series intervals it closed.
    pub fn progress(&mut self, id: u64, p: &v1::Progress) -> Result<(), String> {
        match self.parts.get_mut(&id).filter(|p| p.lost.is_none()) {
            Some(part) => {
                if let Some(delta) = &p.delta {
                    let delta = stats_from_proto(delta).map_err(|e| e.to_string())?;
                    part.stats += &delta;
                    self.live += &delta;
                }
                part.started = part.started.max(p.started);
                for iv in &p.intervals {
                    let iv = interval_from_proto(iv).map_err(|e| e.to_string())?;
                    if let Some(s) = self.series.as_mut() {
                        s.add(id, iv);
                    }
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// The time-series rows every running agent has closed (every row
    /// left once the phase is finished).
    pub fn rows(&mut self) -> Vec<IntervalRow> {
        let finished = self.finished();
        match self.series.as_mut() {
            Some(s) if finished => s.rest(),
            Some(s) => s.ready(),
            None => Vec::new(),
        }
    }

    /// A batch of records from `id`.
    pub fn records(&mut self, id: u64, records: &[v1::SessionRecord]) -> Result<(), String> {
        let Some(p) = self.parts.get_mut(&id).filter(|p| p.lost.is_none()) else {
            return Ok(());
        };
        for r in records {
            p.records
                .push(record_from_proto(r, &p.assignment).map_err(|e| e.to_string())?);
        }
        Ok(())
    }

    /// Agent `id` finished its share.
    pub fn done(&mut self, id: u64, done: v1::PhaseDone) {
        if let Some(p) = self.parts.get_mut(&id).filter(|p| p.lost.is_none()) {
            p.done = Some(done);
        }
    }

    /// Agent `id` was lost; returns whether it had unfinished work here.
    pub fn lost(&mut self, id: u64, reason: &str) -> bool {
        let elapsed = self.started.map(|(t, _)| t.elapsed()).unwrap_or_default();
        match self.parts.get_mut(&id) {
            Some(p) if p.done.is_none() && p.lost.is_none() => {
                p.lost = Some((reason.to_string(), elapsed));
                if let Some(s) = self.series.as_mut() {
                    s.lost(id);
                }
                true
            }
            _ => false,
        }
    }

    /// Whether every agent finished or was lost.
    pub fn finished(&self) -> bool {
        self.parts
            .values()
            .all(|p| p.done.is_some() || p.lost.is_some())
    }

    /// Sessions finished so far, failed so far, and the merged p99 (live view).
    pub fn live(&self) -> (u64, &PhaseStats) {
        // A lost agent's sessions all started as far as anyone can tell
        // (they end as AgentLost).
        let started = self
            .parts
            .values()
            .map(|p| match p.lost {
                Some(_) if p.assignment.stages.is_none() => p.assignment.count,
                _ => p.started,
            })
            .sum();
        (started, &self.live)
    }

    /// Merges everything into the phase's outcome.
    pub fn finish(self) -> PhaseOutcome {
        let (_, started_utc) = self.started.unwrap_or((Instant::now(), Utc::now()));
        let mut stats = PhaseStats::default();
        let mut records = Vec::new();
        let mut wall = Duration::ZERO;
        let (mut pids, mut hosts, mut sessions) = (HashSet::new(), HashSet::new(), 0u64);
        let mut agents = Vec::new();
        for mut p in self.parts.into_values() {
            let mut part_stats = p.stats;
            if let Some((reason, after)) = &p.lost {
                wall = wall.max(*after);
                let why = format!(
                    "agent {} ({}) was lost before this session finished: {reason}",
                    p.name, p.host
                );
                if self.send_records {
                    // Records are what the agent certainly finished; rebuild
                    // its statistics from them so counts and records agree.
                    part_stats = PhaseStats::default();
                    let a = &p.assignment;
                    for id in unfinished(a, &p.records, p.started) {
                        p.records
                            .push(lost_record(a, id, started_utc, *after, &why));
                    }
                    for r in &p.records {
                        part_stats.record(r);
                    }
                } else {
                    let missing = match p.assignment.stages {
                        // Users run session after session: those in flight.
                        Some(_) => p.started,
                        None => p.assignment.count,
                    }
                    .saturating_sub(part_stats.sessions);
                    part_stats.sessions += missing;
                    part_stats.failed += missing;
                    *part_stats.errors.entry(ErrorType::AgentLost).or_default() += missing;
                }
            }
            if let Some(d) = &p.done {
                wall = wall.max(Duration::from_micros(d.wall_us));
                pids.extend(d.pids.iter().copied());
                hosts.extend(d.hosts.iter().cloned());
                sessions += d.unique_sessions;
            }
            let planned_us = started_utc.timestamp_micros();
            let start_skew_ms = p
                .done
                .as_ref()
                .filter(|d| d.first_start_unix_us > 0)
                .map(|d| (d.first_start_unix_us as i64 - planned_us) as f64 / 1000.0);
            agents.push(AgentPhase {
                name: p.name,
                host: p.host,
                assigned: p.assignment.count,
                successful: part_stats.successful,
                failed: part_stats.failed,
                lost: p.lost.map(|(r, _)| r),
                start_skew_ms,
            });
            stats += &part_stats;
            records.append(&mut p.records);
        }
        records.sort_by_key(|r| r.request_id);
        let uniques = if self.send_records {
            Uniques::from_records(&records)
        } else {
            Uniques {
                pids: pids.len() as u64,
                sessions,
                hosts: hosts.len() as u64,
            }
        };
        PhaseOutcome {
            records,
            stats,
            wall,
            uniques,
            agents,
        }
    }
}

/// The ids of the sessions a lost agent never finished, given the records
/// it sent and the sessions it said it started. A share of ids: those it
/// sent nothing of. A stage plan, whose users run session after session
/// (user j's k-th session is first + j + k·N): as many as it had in
/// flight, started and not ended — each the next session of a user, the
/// lowest users first (they are the ones the plan holds longest).
fn unfinished(a: &Assignment, records: &[SessionRecord], started: u64) -> Vec<u64> {
    let seen: HashSet<u64> = records.iter().map(|r| r.request_id).collect();
    let ids = a.first_request_id..a.first_request_id + a.count;
    if a.stages.is_none() {
        return ids.filter(|id| !seen.contains(id)).collect();
    }
    let n = a.batch_size.max(1);
    let in_flight = started.saturating_sub(records.len() as u64);
    ids.map(|first| {
        let mut next = first;
        while seen.contains(&next) {
            next += n;
        }
        next
    })
    .take(in_flight as usize)
    .collect()
}

fn lost_record(
    a: &Assignment,
    request_id: u64,
    started: DateTime<Utc>,
    after: Duration,
    why: &str,
) -> SessionRecord {
    SessionRecord {
        request_id,
        mode: a.mode,
        timestamp: started,
        wait_requested: a.wait_seconds,
        batch_size: a.batch_size,
        hardware: a.hardware.clone(),
        target_index: (request_id % a.targets.len().max(1) as u64) as usize,
        timings: envload_agent::record::Timings {
            total_us: envload_agent::record::micros(after),
            ..Default::default()
        },
        observed: Default::default(),
        failure: Some(Failure::new(ErrorType::AgentLost, why)),
        ended_after: after,
        rollout: None,
        start_lag: None,
    }
}

#[cfg(test)]
mod tests {
    //! Agent-loss bookkeeping, driven directly (no processes, no gRPC).
    use super::*;
    use envload_agent::convert::{record_to_proto, stats_to_proto};
    use envload_agent::{CloseMode, Mode, Target};

    fn share(first: u64, count: u64) -> Assignment {
        Assignment {
            mode: Mode::Ws,
            targets: vec![Target::parse("http://127.0.0.1:9").unwrap()],
            wait_seconds: 0.0,
            batch_size: 10,
            first_request_id: first,
            count,
            timeout: Duration::from_secs(1),
            close_timeout: Duration::from_secs(1),
            max_message: 1 << 20,
            close: CloseMode::ClientFirst,
            hardware: "cpu".into(),
            tls: Default::default(),
            workload: Default::default(),
            arrival: Default::default(),
            loopback_sources: 32,
            headers: Vec::new(),
            ping_interval: std::time::Duration::ZERO,
            ping_timeout: envload_agent::plan::DEFAULT_PING_TIMEOUT,
            abort: None,
            no_pong: 0.0,
            stages: None,
            interval: envload_agent::plan::DEFAULT_INTERVAL,
        }
    }

    fn ok(a: &Assignment, request_id: u64) -> SessionRecord {
        SessionRecord {
            request_id,
            mode: a.mode,
            timestamp: Utc::now(),
            wait_requested: 0.0,
            batch_size: a.batch_size,
            hardware: a.hardware.clone(),
            target_index: 0,
            timings: envload_agent::record::Timings {
                total_us: 1000,
                ..Default::default()
            },
            observed: Default::default(),
            failure: None,
            ended_after: Duration::from_millis(1),
            rollout: None,
            start_lag: None,
        }
    }

    fn send(c: &mut Collector, id: u64, a: &Assignment, ids: std::ops::Range<u64>) {
        report(c, id, a, ids, 0);
    }

    /// Agent `id` reports sessions `ids` ended and `started` started.
    fn report(
        c: &mut Collector,
        id: u64,
        a: &Assignment,
        ids: impl IntoIterator<Item = u64>,
        started: u64,
    ) {
        let recs: Vec<SessionRecord> = ids.into_iter().map(|i| ok(a, i)).collect();
        let mut delta = PhaseStats::default();
        for r in &recs {
            delta.record(r);
        }
        let p = v1::Progress {
            phase: 0,
            started,
            delta: Some(stats_to_proto(&delta)),
            intervals: Vec::new(),
        };
        c.progress(id, &p).unwrap();
        // Agents send records only when the coordinator asked for them.
        if c.send_records {
            let wire: Vec<v1::SessionRecord> = recs.iter().map(record_to_proto).collect();
            c.records(id, &wire).unwrap();
        }
    }

    fn two_agents(send_records: bool) -> (Collector, Assignment, Assignment) {
        let (a, b) = (share(0, 6), share(6, 4));
        let mut c = Collector::new(send_records);
        c.add(1, "a", "h1", a.clone());
        c.add(2, "b", "h2", b.clone());
        c.start();
        (c, a, b)
    }

    #[test]
    fn a_lost_agents_unfinished_sessions_are_agent_lost_and_nothing_else_is() {
        let (mut c, a, b) = two_agents(true);
        send(&mut c, 1, &a, 0..6);
        c.done(1, v1::PhaseDone::default());
        send(&mut c, 2, &b, 6..8);
        assert!(!c.finished());
        assert!(c.lost(2, "the stream ended"));
        // What a lost agent sends late is ignored.
        send(&mut c, 2, &b, 8..10);
        assert!(c.finished());
        let out = c.finish();
        let s = &out.stats;
        assert_eq!((s.sessions, s.successful, s.failed), (10, 8, 2));
        assert_eq!(s.errors.get(&ErrorType::AgentLost), Some(&2));
        let ids: Vec<u64> = out.records.iter().map(|r| r.request_id).collect();
        assert_eq!(
            ids,
            (0..10).collect::<Vec<_>>(),
            "every session has a record"
        );
        let lost: Vec<u64> = out
            .records
            .iter()
            .filter(|r| {
                r.failure
                    .as_ref()
                    .is_some_and(|f| f.kind == ErrorType::AgentLost)
            })
            .map(|r| r.request_id)
            .collect();
        assert_eq!(lost, vec![8, 9]);
        assert!(out.records[8]
            .failure
            .as_ref()
            .unwrap()
            .message
            .contains("agent b (h2)"));
        assert_eq!(out.agents[1].lost.as_deref(), Some("the stream ended"));
        assert_eq!((out.agents[1].successful, out.agents[1].failed), (2, 2));
        assert_eq!(out.agents[0].lost, None);
    }

    #[test]
    fn without_records_the_missing_sessions_come_from_the_counts() {
        let (mut c, a, b) = two_agents(false);
        send(&mut c, 1, &a, 0..6);
        c.done(1, v1::PhaseDone::default());
        send(&mut c, 2, &b, 6..7);
        c.lost(2, "silent past the heartbeat deadline");
        let out = c.finish();
        assert!(out.records.is_empty());
        let s = &out.stats;
        assert_eq!((s.sessions, s.successful, s.failed), (10, 7, 3));
        assert_eq!(s.errors.get(&ErrorType::AgentLost), Some(&3));
    }

    /// A stage plan's users run session after session (ids: the user's
    /// number plus N per session before): a lost agent's unfinished
    /// sessions are those it had in flight — started and not ended —, not
    /// its users, and none of them vanishes because its users' first
    /// sessions ended long ago.
    #[test]
    fn a_lost_stage_agent_loses_the_sessions_it_had_in_flight() {
        for send_records in [true, false] {
            let stages = envload_agent::stages::Stages::parse("60s:4").unwrap();
            let (mut a, b) = (share(0, 4), share(4, 4));
            a.batch_size = 8;
            a.stages = Some(stages.clone());
            let b = Assignment {
                stages: Some(stages),
                batch_size: 8,
                ..b
            };
            let mut c = Collector::new(send_records);
            c.add(1, "a", "h1", a.clone());
            c.add(2, "b", "h2", b.clone());
            c.start();
            // Users 0..3 of agent 1 ended 2, 3, 3 and 2 sessions: ids
            // j + 8·k; 12 started, so 2 in flight when it is lost.
            report(&mut c, 1, &a, [0, 8, 1, 9, 17, 2, 10, 18, 3, 11], 12);
            send(&mut c, 2, &b, 4..8);
            c.done(2, v1::PhaseDone::default());
            assert!(c.lost(1, "the stream ended"));
            assert_eq!(
                c.live().0,
                12,
                "started: the 12 the lost agent said (agent 2's helper says none), not its 4 users"
            );
            let out = c.finish();
            let s = &out.stats;
            assert_eq!(
                (s.sessions, s.successful, s.failed),
                (16, 14, 2),
                "records: {send_records}"
            );
            assert_eq!(s.errors.get(&ErrorType::AgentLost), Some(&2));
            if send_records {
                let mut ids: Vec<u64> = out.records.iter().map(|r| r.request_id).collect();
                ids.sort_unstable();
                ids.dedup();
                assert_eq!(ids.len(), 16, "every session one record, ids distinct");
            }
        }
    }

    #[test]
    fn an_agent_lost_after_it_finished_loses_nothing() {
        let (mut c, a, b) = two_agents(true);
        send(&mut c, 1, &a, 0..6);
        c.done(1, v1::PhaseDone::default());
        send(&mut c, 2, &b, 6..10);
        c.done(2, v1::PhaseDone::default());
        assert!(!c.lost(2, "went away after the phase"));
        let out = c.finish();
        assert_eq!((out.stats.successful, out.stats.failed), (10, 0));
        assert!(out.agents.iter().all(|p| p.lost.is_none()));
    }
}
