//! The run as a time series, on the agent's side: sessions are counted in
//! the interval of the share's clock they ended in (their `ended_after`),
//! so the series is exact whenever the records reach the collector, and
//! sessions started are counted in the interval they started in (the
//! share counts them as they start). An interval closes [`GRACE`] after
//! its end; a record later than that is sent as a second part of its
//! interval, which the coordinator adds: every figure is a sum.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::record::SessionRecord;
use crate::stats::PhaseStats;

/// How long after its end an interval waits for its last records (they
/// leave a shard in batches of at most 20 ms).
pub const GRACE: Duration = Duration::from_millis(150);

/// One interval, or a late part of one.
#[derive(Debug, Clone, Default)]
pub struct Interval {
    /// `[index·width, (index+1)·width)` of the share's clock.
    pub index: u64,
    /// Sessions started in it (0 in a late part).
    pub started: u64,
    /// Sessions that ended in it.
    pub stats: PhaseStats,
}

/// A share's intervals.
#[derive(Debug)]
pub struct Intervals {
    width: Duration,
    open: BTreeMap<u64, PhaseStats>,
    /// Intervals before this one are closed.
    next: u64,
}

impl Intervals {
    /// Intervals `width` wide (at least a millisecond).
    pub fn new(width: Duration) -> Self {
        Intervals {
            width: width.max(Duration::from_millis(1)),
            open: BTreeMap::new(),
            next: 0,
        }
    }

    /// The interval `d` after the start falls in.
    fn index(&self, d: Duration) -> u64 {
        u64::try_from(d.as_nanos() / self.width.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Counts a finished session in its interval.
    pub fn record(&mut self, rec: &SessionRecord) {
        let i = self.index(rec.ended_after);
        self.open.entry(i).or_default().record(rec);
    }

    /// Closes every interval that ended [`GRACE`] before `elapsed` (the
    /// share's clock), `started(k)` the sessions started in interval `k`;
    /// late parts of closed ones go too.
    pub fn close(&mut self, elapsed: Duration, started: impl Fn(u64) -> u64) -> Vec<Interval> {
        let through = self.index(elapsed.saturating_sub(GRACE));
        self.close_before(through, started)
    }

    /// Closes everything (the share ended at `elapsed`).
    pub fn close_all(&mut self, elapsed: Duration, started: impl Fn(u64) -> u64) -> Vec<Interval> {
        let last = self.open.keys().next_back().copied().map_or(0, |k| k + 1);
        self.close_before(last.max(self.index(elapsed) + 1), started)
    }

    fn close_before(&mut self, end: u64, started: impl Fn(u64) -> u64) -> Vec<Interval> {
        let mut out = Vec::new();
        // Late parts of intervals already closed.
        let late: Vec<u64> = self.open.range(..self.next).map(|(k, _)| *k).collect();
        for k in late {
            let stats = self.open.remove(&k).unwrap_or_default();
            out.push(Interval {
                index: k,
                started: 0,
                stats,
            });
        }
        if end <= self.next {
            return out;
        }
        for k in self.next..end {
            let stats = self.open.remove(&k).unwrap_or_default();
            out.push(Interval {
                index: k,
                started: started(k),
                stats,
            });
        }
        self.next = end;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::record::tests::rec;

    #[test]
    fn sessions_count_where_they_ended_and_late_ones_are_a_second_part() {
        let mut iv = Intervals::new(Duration::from_secs(1));
        for (ms, ok) in [(100, true), (900, false), (1500, true)] {
            iv.record(&rec(ms, ok));
        }
        let starts = |k: u64| [4, 0, 2, 0][k as usize];
        assert!(
            iv.close(Duration::from_millis(1100), starts).is_empty(),
            "within the grace"
        );
        let closed = iv.close(Duration::from_millis(1200), starts);
        assert_eq!(closed.len(), 1);
        assert_eq!(
            (
                closed[0].index,
                closed[0].started,
                closed[0].stats.sessions,
                closed[0].stats.failed
            ),
            (0, 4, 2, 1)
        );
        // A record for interval 0 that came late: a second part, no starts.
        iv.record(&rec(950, true));
        let closed = iv.close(Duration::from_millis(3200), starts);
        let got: Vec<(u64, u64, u64)> = closed
            .iter()
            .map(|i| (i.index, i.started, i.stats.sessions))
            .collect();
        assert_eq!(got, [(0, 0, 1), (1, 0, 1), (2, 2, 0)]);
        let rest = iv.close_all(Duration::from_millis(3300), starts);
        assert_eq!(rest.iter().map(|i| i.index).collect::<Vec<_>>(), [3]);
    }
}
