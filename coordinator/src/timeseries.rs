//! The run as a time series on the coordinator's side: each agent's closed
//! intervals merged by index ([`Series`]), a row leaving once every agent
//! still running has closed its part, and the rows appended to
//! `timeseries.csv` and `latency.hlog` as they leave (the run's sink,
//! opened with the output folder).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use envload_agent::intervals::Interval;
use envload_agent::PhaseStats;
use envload_results::series::IntervalRow;
use envload_results::write::timeseries::TimeSeriesFiles;
use envload_results::Phase;

/// One phase's intervals from its agents.
#[derive(Debug)]
pub struct Series {
    width: Duration,
    /// Per agent still running: its intervals before this index are in.
    through: BTreeMap<u64, u64>,
    /// Merged parts not yet out: started, stats.
    open: BTreeMap<u64, (u64, PhaseStats)>,
    /// Rows before this index are out.
    next: u64,
    /// Sessions started and ended in the rows out so far.
    started: u64,
    ended: u64,
}

impl Series {
    /// Intervals `width` wide from `agents`.
    pub fn new(width: Duration, agents: impl IntoIterator<Item = u64>) -> Self {
        Series {
            width,
            through: agents.into_iter().map(|a| (a, 0)).collect(),
            open: BTreeMap::new(),
            next: 0,
            started: 0,
            ended: 0,
        }
    }

    /// Adds agent `agent`'s interval (or late part of one). A part later
    /// than its row (an agent's record past the grace) joins the next row
    /// out, so the rows always add up to the phase.
    pub fn add(&mut self, agent: u64, iv: Interval) {
        if let Some(t) = self.through.get_mut(&agent) {
            *t = (*t).max(iv.index + 1);
        }
        let at = iv.index.max(self.next);
        let slot = self.open.entry(at).or_default();
        slot.0 += iv.started;
        slot.1 += &iv.stats;
    }

    /// Agent `agent` is gone: rows no longer wait for it.
    pub fn lost(&mut self, agent: u64) {
        self.through.remove(&agent);
    }

    /// The rows every running agent has closed.
    pub fn ready(&mut self) -> Vec<IntervalRow> {
        let until = self.through.values().copied().min().unwrap_or(u64::MAX);
        self.take_before(until)
    }

    /// Every row left (the phase ended).
    pub fn rest(&mut self) -> Vec<IntervalRow> {
        let until = self.open.keys().next_back().map_or(self.next, |k| k + 1);
        self.take_before(until)
    }

    fn take_before(&mut self, until: u64) -> Vec<IntervalRow> {
        let mut out = Vec::new();
        while self.next < until {
            let Some((&k, _)) = self.open.first_key_value() else {
                // Nothing more has come: empty rows up to `until` only if
                // some later row exists.
                break;
            };
            let index = self.next;
            let (started, stats) = if k == index {
                self.open.remove(&k).unwrap_or_default()
            } else {
                (0, PhaseStats::default())
            };
            self.started += started;
            self.ended += stats.sessions;
            out.push(IntervalRow {
                index,
                width: self.width,
                started,
                active: self.started.saturating_sub(self.ended),
                stats,
            });
            self.next += 1;
        }
        out
    }
}

/// The run's time-series files and the phase in flight.
struct Sink {
    files: TimeSeriesFiles,
    phase: Option<(Phase, SystemTime)>,
    failed: bool,
    /// A leak probe runs: its sessions are not the run's series.
    suspended: bool,
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);

fn sink() -> std::sync::MutexGuard<'static, Option<Sink>> {
    SINK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Opens the run's files in `dir` (rows are written from now on).
pub fn open(dir: &Path) -> std::io::Result<()> {
    let files = TimeSeriesFiles::open(dir, SystemTime::now())?;
    *sink() = Some(Sink {
        files,
        phase: None,
        failed: false,
        suspended: false,
    });
    Ok(())
}

/// Leaves the phases that run meanwhile out of the series (`true`), or
/// takes them again.
pub fn suspend(on: bool) {
    if let Some(s) = sink().as_mut() {
        s.suspended = on;
        if on {
            s.phase = None;
        }
    }
}

/// Closes them.
pub fn close() {
    *sink() = None;
}

/// `phase` starts now.
pub fn phase_started(phase: &Phase) {
    if let Some(s) = sink().as_mut().filter(|s| !s.suspended) {
        s.phase = Some((phase.clone(), SystemTime::now()));
    }
}

/// Writes rows of the phase in flight.
pub fn rows(rows: &[IntervalRow]) {
    let mut guard = sink();
    let Some(s) = guard.as_mut() else { return };
    let Some((phase, start)) = &s.phase else {
        return;
    };
    for r in rows {
        if let Err(e) = s.files.write(phase, *start, r) {
            if !s.failed {
                eprintln!("envload: warning: cannot write the time series: {e}");
            }
            s.failed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(index: u64, started: u64, ended: u64) -> Interval {
        let stats = PhaseStats {
            sessions: ended,
            successful: ended,
            ..Default::default()
        };
        Interval {
            index,
            started,
            stats,
        }
    }

    #[test]
    fn a_row_leaves_once_every_agent_closed_it_and_late_parts_join_the_next() {
        let mut s = Series::new(Duration::from_secs(1), [1, 2]);
        s.add(1, iv(0, 3, 1));
        s.add(1, iv(1, 0, 1));
        assert!(s.ready().is_empty(), "agent 2 has not closed interval 0");
        s.add(2, iv(0, 2, 0));
        let rows = s.ready();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].started, rows[0].stats.sessions, rows[0].active),
            (5, 1, 4)
        );
        // Agent 2 is lost: agent 1's closed rows leave; a late part of
        // interval 0 joins the next row out.
        s.add(1, iv(0, 0, 2));
        s.lost(2);
        let rows = s.ready();
        assert_eq!(
            rows.iter()
                .map(|r| (r.index, r.stats.sessions, r.active))
                .collect::<Vec<_>>(),
            [(1, 3, 1)]
        );
        s.add(1, iv(3, 0, 1));
        let rows = s.rest();
        assert_eq!(
            rows.iter().map(|r| (r.index, r.active)).collect::<Vec<_>>(),
            [(2, 1), (3, 0)]
        );
    }
}
