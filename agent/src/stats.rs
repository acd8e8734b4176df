//! Mergeable phase statistics: HDR histograms in microseconds plus exact
//! counters, so percentiles of many agents combine without loss.

use std::collections::BTreeMap;
use std::ops::AddAssign;

use hdrhistogram::Histogram;

use crate::failure::ErrorType;
use crate::record::SessionRecord;

/// Highest latency a histogram tracks: one hour, in microseconds. Larger
/// values are clamped to it and counted in [`Latency::clamped`].
pub const MAX_TRACKABLE_US: u64 = 3_600_000_000;
/// Significant decimal digits kept by every histogram.
pub const SIGFIGS: u8 = 3;

/// One latency distribution: the HDR histogram plus exact min, max and sum.
#[derive(Debug, Clone)]
pub struct Latency {
    /// Counts by value, microseconds.
    pub hist: Histogram<u64>,
    /// Exact smallest value (µs); `u64::MAX` when empty.
    pub min_us: u64,
    /// Exact largest value (µs).
    pub max_us: u64,
    /// Exact sum (µs), for the mean.
    pub sum_us: u128,
    /// Values above [`MAX_TRACKABLE_US`], recorded at the top.
    pub clamped: u64,
}

impl Default for Latency {
    /// An empty distribution whose histogram grows with the values it
    /// holds (to [`MAX_TRACKABLE_US`] at most): one sized for an hour up
    /// front is 184 KiB of counts, seven per phase statistics, and a
    /// coordinator holds one statistics per agent — 1.3 MiB per agent, most
    /// of it stages never measured. Buckets depend on the lowest value and
    /// the significant digits only, so percentiles are the same.
    fn default() -> Self {
        let hist = Histogram::new(SIGFIGS).expect("static histogram bounds are valid");
        Latency {
            hist,
            min_us: u64::MAX,
            max_us: 0,
            sum_us: 0,
            clamped: 0,
        }
    }
}

impl Latency {
    /// Records one value in microseconds (0 is recorded as 1 µs, the floor).
    pub fn record(&mut self, us: u64) {
        let v = us.max(1);
        if v > MAX_TRACKABLE_US {
            self.clamped += 1;
        }
        // `record` grows the histogram (`saturating_record` would clamp to
        // its current top instead).
        let v = v.min(MAX_TRACKABLE_US);
        if self.hist.record(v).is_err() {
            self.hist.saturating_record(v);
        }
        self.min_us = self.min_us.min(us);
        self.max_us = self.max_us.max(us);
        self.sum_us += u128::from(us);
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// The `q` percentile (0..=1) in seconds as the reference computes it
    /// (numpy's default: linear interpolation between the order statistics
    /// around rank (n − 1)·q), from the histogram: the k-th smallest value
    /// is its bucket's highest equivalent value, within the histogram's
    /// precision (the smallest and largest are exact). 0.0 when empty.
    pub fn quantile_s(&self, q: f64) -> f64 {
        let n = self.count();
        if n == 0 {
            return 0.0;
        }
        let rank = (n - 1) as f64 * q.clamp(0.0, 1.0);
        let k = rank.floor() as u64;
        let frac = rank - k as f64;
        let low = self.kth_us(k);
        let value = if frac > 0.0 && k + 1 < n {
            let high = self.kth_us(k + 1);
            low as f64 + frac * (high as f64 - low as f64)
        } else {
            low as f64
        };
        value / 1e6
    }

    /// The k-th smallest value (0-based), µs.
    fn kth_us(&self, k: u64) -> u64 {
        let n = self.count();
        if k == 0 {
            return self.min_us.min(self.max_us);
        }
        if k + 1 >= n {
            return self.max_us;
        }
        let mut seen = 0;
        for v in self.hist.iter_recorded() {
            seen += v.count_at_value();
            if seen > k {
                return self
                    .hist
                    .highest_equivalent(v.value_iterated_to())
                    .min(self.max_us);
            }
        }
        self.max_us
    }

    /// Exact minimum in seconds; 0.0 when empty.
    pub fn min_s(&self) -> f64 {
        if self.count() == 0 {
            0.0
        } else {
            us_to_s(self.min_us)
        }
    }

    /// Exact maximum in seconds; 0.0 when empty.
    pub fn max_s(&self) -> f64 {
        us_to_s(self.max_us)
    }

    /// Exact mean in seconds; 0.0 when empty.
    pub fn mean_s(&self) -> f64 {
        match self.count() {
            0 => 0.0,
            n => self.sum_us as f64 / n as f64 / 1e6,
        }
    }
}

impl AddAssign<&Latency> for Latency {
    fn add_assign(&mut self, other: &Latency) {
        self.hist
            .add(&other.hist)
            .expect("histograms share bounds and never overflow u64 counts");
        self.min_us = self.min_us.min(other.min_us);
        self.max_us = self.max_us.max(other.max_us);
        self.sum_us += other.sum_us;
        self.clamped += other.clamped;
    }
}

/// Microseconds to seconds.
pub fn us_to_s(us: u64) -> f64 {
    us as f64 / 1e6
}

/// Counts and latency distributions of (part of) one phase. Latencies are
/// over successful sessions only; connect, reset and step only over values
/// above zero (the reference's rule).
#[derive(Debug, Clone, Default)]
pub struct PhaseStats {
    /// Sessions finished (successful + failed).
    pub sessions: u64,
    /// Sessions that completed reset and step.
    pub successful: u64,
    /// Sessions that failed.
    pub failed: u64,
    /// Connect latency (WebSocket only).
    pub connect: Latency,
    /// Reset latency.
    pub reset: Latency,
    /// Step latency.
    pub step: Latency,
    /// `state` request latency (workloads that ask it).
    pub state: Latency,
    /// MCP call latency (workloads that make them).
    pub mcp: Latency,
    /// Total latency.
    pub total: Latency,
    /// Failures by class.
    pub errors: BTreeMap<ErrorType, u64>,
    /// Rollout workloads only: episodes, steps by index, bytes.
    pub rollout: Option<Box<RolloutStats>>,
    /// Scheduled arrivals only: scheduled start to actual, every session.
    pub start_lag: Latency,
}

/// The part of a phase's statistics only rollout sessions have. Counters
/// are over every session; latencies, like the others, over successful
/// sessions only.
#[derive(Debug, Clone, Default)]
pub struct RolloutStats {
    /// Step latency by step index within an episode (0: the first step).
    pub by_step: Vec<Latency>,
    /// `state` latency by the index of the step it followed.
    pub state_by_step: Vec<Latency>,
    /// MCP call latency by index within an episode.
    pub mcp_by_step: Vec<Latency>,
    /// HTTP MCP sessions created and never closed (leaked by the client).
    pub unclosed: u64,
    /// Latency of successful episodes (reset to the last reply, thinking
    /// included).
    pub episode: Latency,
    /// Episodes started.
    pub episodes: u64,
    /// Episodes that ended without a failure.
    pub episodes_ok: u64,
    /// Failed episodes by class.
    pub episode_errors: BTreeMap<ErrorType, u64>,
    /// Steps answered.
    pub steps: u64,
    /// Message bytes sent and received.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Reconnections after a failed episode.
    pub reconnects: u64,
}

impl RolloutStats {
    fn record(&mut self, r: &crate::record::Rollout, success: bool) {
        self.episodes += u64::from(r.episodes);
        self.episodes_ok += u64::from(r.episodes_ok);
        for e in &r.episode_errors {
            *self.episode_errors.entry(*e).or_default() += 1;
        }
        self.steps += r.steps.len() as u64;
        self.bytes_sent += r.bytes_sent;
        self.bytes_received += r.bytes_received;
        self.reconnects += u64::from(r.reconnects);
        self.unclosed += u64::from(r.unclosed);
        if success {
            for (by, times) in [
                (&mut self.by_step, &r.steps),
                (&mut self.state_by_step, &r.states),
                (&mut self.mcp_by_step, &r.mcp),
            ] {
                for s in times {
                    let i = s.index as usize;
                    if by.len() <= i {
                        by.resize_with(i + 1, Latency::default);
                    }
                    by[i].record(s.us);
                }
            }
            for &us in &r.episodes_us {
                self.episode.record(us);
            }
        }
    }
}

impl AddAssign<&RolloutStats> for RolloutStats {
    fn add_assign(&mut self, o: &RolloutStats) {
        for (mine, theirs) in [
            (&mut self.by_step, &o.by_step),
            (&mut self.state_by_step, &o.state_by_step),
            (&mut self.mcp_by_step, &o.mcp_by_step),
        ] {
            merge_by_index(mine, theirs);
        }
        self.unclosed += o.unclosed;
        self.episode += &o.episode;
        self.episodes += o.episodes;
        self.episodes_ok += o.episodes_ok;
        for (k, v) in &o.episode_errors {
            *self.episode_errors.entry(*k).or_default() += v;
        }
        self.steps += o.steps;
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
        self.reconnects += o.reconnects;
    }
}

/// Adds `theirs` to `mine`, index by index.
pub fn merge_by_index(mine: &mut Vec<Latency>, theirs: &[Latency]) {
    if mine.len() < theirs.len() {
        mine.resize_with(theirs.len(), Latency::default);
    }
    for (m, t) in mine.iter_mut().zip(theirs) {
        *m += t;
    }
}

impl PhaseStats {
    /// Adds one finished session.
    pub fn record(&mut self, rec: &SessionRecord) {
        self.sessions += 1;
        match &rec.failure {
            Some(f) => {
                self.failed += 1;
                *self.errors.entry(f.kind).or_default() += 1;
            }
            None => {
                self.successful += 1;
                let t = rec.timings;
                match &rec.rollout {
                    // Every reset and every step of a rollout, not the
                    // session's means.
                    Some(r) => {
                        for &us in &r.resets_us {
                            self.reset.record(us);
                        }
                        for s in &r.steps {
                            self.step.record(s.us);
                        }
                        for s in &r.states {
                            self.state.record(s.us);
                        }
                        for s in &r.mcp {
                            self.mcp.record(s.us);
                        }
                    }
                    None => {
                        for (lat, us) in
                            [(&mut self.reset, t.reset_us), (&mut self.step, t.step_us)]
                        {
                            if us > 0 {
                                lat.record(us);
                            }
                        }
                    }
                }
                if t.connect_us > 0 {
                    self.connect.record(t.connect_us);
                }
                self.total.record(t.total_us);
            }
        }
        if let Some(r) = &rec.rollout {
            self.rollout
                .get_or_insert_with(Default::default)
                .record(r, rec.failure.is_none());
        }
        if let Some(lag) = rec.start_lag {
            self.start_lag
                .record(u64::try_from(lag.as_micros()).unwrap_or(u64::MAX));
        }
    }
}

impl AddAssign<&PhaseStats> for PhaseStats {
    fn add_assign(&mut self, other: &PhaseStats) {
        self.sessions += other.sessions;
        self.successful += other.successful;
        self.failed += other.failed;
        self.connect += &other.connect;
        self.reset += &other.reset;
        self.step += &other.step;
        self.state += &other.state;
        self.mcp += &other.mcp;
        self.total += &other.total;
        self.start_lag += &other.start_lag;
        for (k, v) in &other.errors {
            *self.errors.entry(*k).or_default() += v;
        }
        if let Some(r) = &other.rollout {
            **self.rollout.get_or_insert_with(Default::default) += &**r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_latency_equals_latency_of_union() {
        let (mut a, mut b, mut all) = (Latency::default(), Latency::default(), Latency::default());
        for v in 1..=1000u64 {
            let us = v * 997 % 100_000 + 1;
            if v % 3 == 0 {
                a.record(us)
            } else {
                b.record(us)
            }
            all.record(us);
        }
        a += &b;
        for q in [0.5, 0.95, 0.99] {
            assert_eq!(a.quantile_s(q), all.quantile_s(q));
        }
        assert_eq!(
            (a.min_us, a.max_us, a.sum_us),
            (all.min_us, all.max_us, all.sum_us)
        );
    }

    /// The reference's numbers (numpy.percentile, linear): with two
    /// samples the median is their mean, and at an even N the p50 lies
    /// between the two middle samples (the 2.102 s and 2.970 s
    /// gave 2.536 s there; envload reported one sample, 2.103 s).
    #[test]
    fn percentiles_interpolate_between_order_statistics_as_numpy_does() {
        let mut l = Latency::default();
        for us in [2_102_000, 2_970_000] {
            l.record(us);
        }
        assert!(
            (l.quantile_s(0.5) - 2.536).abs() < 0.002,
            "{}",
            l.quantile_s(0.5)
        );
        let mut l = Latency::default();
        for s in 1..=4u64 {
            l.record(s * 1_000_000);
        }
        // numpy.percentile([1, 2, 3, 4], [50, 95, 99]) = 2.5, 3.85, 3.97
        for (q, want) in [
            (0.5, 2.5),
            (0.95, 3.85),
            (0.99, 3.97),
            (0.0, 1.0),
            (1.0, 4.0),
        ] {
            assert!(
                (l.quantile_s(q) - want).abs() < 0.004,
                "q={q}: {}",
                l.quantile_s(q)
            );
        }
        let mut one = Latency::default();
        one.record(1234);
        assert_eq!(one.quantile_s(0.99), 0.001234);
    }

    #[test]
    fn values_past_the_range_are_clamped_and_counted() {
        let mut l = Latency::default();
        l.record(MAX_TRACKABLE_US * 2);
        assert_eq!((l.count(), l.clamped), (1, 1));
        assert_eq!(l.max_us, MAX_TRACKABLE_US * 2);
    }

    #[test]
    fn empty_latency_reports_zeros() {
        let l = Latency::default();
        assert_eq!(
            (l.quantile_s(0.99), l.min_s(), l.max_s(), l.mean_s()),
            (0.0, 0.0, 0.0, 0.0)
        );
    }
}
