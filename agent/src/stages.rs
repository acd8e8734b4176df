//! Stage plans (`--stages 'DURATION:TARGET,…'`, k6's `stages`): a closed
//! model over time. From 0 at the phase's start, the number of concurrent
//! virtual users moves linearly to each stage's target over its duration;
//! each user runs sessions back to back (the workload as ever) while the
//! plan counts it in, finishes the session it is in when the plan drops it,
//! and none starts past the plan's end. An agent running `count` of the
//! phase's `n` users holds `count / n` of the plan's users at every moment
//! (the users themselves: `users`).

use std::fmt;
use std::time::Duration;

/// One stage: reach `target` users over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub target: u64,
}

/// A whole plan, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stages(pub Vec<Stage>);

/// Longest plan accepted: a week, as every other duration.
pub const MAX_PLAN: Duration = Duration::from_secs(7 * 86_400);

impl Stages {
    /// Parses `30s:512,1h:512,10s:0` (durations in `ms`, `s`, `m`, `h`, or
    /// plain seconds; targets whole users).
    pub fn parse(text: &str) -> Result<Stages, String> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (d, t) = part
                .split_once(':')
                .ok_or_else(|| format!("'{part}' is not DURATION:TARGET (e.g. 30s:64)"))?;
            let duration = parse_duration(d.trim()).ok_or_else(|| {
                format!("'{d}' in '{part}' is not a duration (30s, 2m, 1h, 500ms)")
            })?;
            let target = t
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|t| *t <= 16_777_216)
                .ok_or_else(|| {
                    format!("'{t}' in '{part}' is not a number of users (0 to 16777216)")
                })?;
            out.push(Stage { duration, target });
        }
        let plan = Stages(out);
        if plan.0.is_empty() {
            return Err("no stage (write e.g. 10s:64,40s:64,10s:0)".into());
        }
        if plan.peak() == 0 {
            return Err("every target is 0: no user would run".into());
        }
        if plan.total().is_zero() || plan.total() > MAX_PLAN {
            return Err(format!(
                "the plan lasts {:.0} s: it must last more than 0 s and at most a week",
                plan.total().as_secs_f64()
            ));
        }
        Ok(plan)
    }

    /// The plan's length.
    pub fn total(&self) -> Duration {
        self.0.iter().map(|s| s.duration).sum()
    }

    /// The plan's user-seconds: the area under its users over time (each
    /// stage linear from the last target to its own, from 0).
    pub fn user_seconds(&self) -> f64 {
        let mut from = 0.0;
        let mut area = 0.0;
        for s in &self.0 {
            let to = s.target as f64;
            area += (from + to) / 2.0 * s.duration.as_secs_f64();
            from = to;
        }
        area
    }

    /// The most users at once.
    pub fn peak(&self) -> u64 {
        self.0.iter().map(|s| s.target).max().unwrap_or(0)
    }

    /// Users the plan holds at `t` after the start (fractional: linear
    /// within a stage; 0 past the end).
    pub fn target_at(&self, t: Duration) -> f64 {
        let mut from = 0.0;
        let mut start = Duration::ZERO;
        for s in &self.0 {
            let end = start + s.duration;
            if t < end {
                let f = (t - start).as_secs_f64() / s.duration.as_secs_f64();
                return from + (s.target as f64 - from) * f;
            }
            from = s.target as f64;
            start = end;
        }
        0.0
    }

    /// The first moment at or after `from` when the plan holds at least
    /// `level` users, if one comes before its end.
    pub fn first_at_least(&self, level: f64, from: Duration) -> Option<Duration> {
        let mut lo = 0.0;
        let mut start = Duration::ZERO;
        for s in &self.0 {
            let end = start + s.duration;
            let hi = s.target as f64;
            if end > from {
                let at = |x: f64| start + s.duration.mul_f64(x.clamp(0.0, 1.0));
                let t = if s.duration.is_zero() {
                    (hi >= level).then_some(start)
                } else if lo >= level && hi >= level {
                    Some(start)
                } else if hi > lo && hi >= level {
                    Some(at((level - lo) / (hi - lo)))
                } else if lo > hi && lo >= level {
                    Some(start) // falling from above: already there at the start
                } else {
                    None
                };
                if let Some(t) = t {
                    let t = t.max(from);
                    if t < end && self.target_at(t) + 1e-9 >= level {
                        return Some(t);
                    }
                }
            }
            lo = hi;
            start = end;
        }
        None
    }
}

impl fmt::Display for Stages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|s| format!("{}s:{}", s.duration.as_secs_f64(), s.target))
            .collect();
        write!(f, "{}", parts.join(","))
    }
}

fn parse_duration(d: &str) -> Option<Duration> {
    let (num, unit) = match d.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => d.split_at(i),
        None => (d, "s"),
    };
    let v: f64 = num.trim().parse().ok()?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0 && secs <= MAX_PLAN.as_secs_f64())
        .then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_parses_and_says_what_is_wrong() {
        let p = Stages::parse("10s:64, 40s:64,500ms:0").unwrap();
        assert_eq!((p.total(), p.peak()), (Duration::from_millis(50_500), 64));
        assert_eq!(
            Stages::parse("2m:5,1h:5").unwrap().total(),
            Duration::from_secs(3720)
        );
        for (bad, needle) in [
            ("", "no stage"),
            ("10s", "DURATION:TARGET"),
            ("10x:5", "not a duration"),
            ("10s:-1", "number of users"),
            ("10s:0", "every target is 0"),
            ("0s:5", "more than 0 s"),
            ("8d:5", "not a duration"),
        ] {
            let e = Stages::parse(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn the_target_moves_linearly_and_users_wait_for_their_level() {
        let p = Stages::parse("10s:100,10s:100,10s:0").unwrap();
        let at = |s: f64| p.target_at(Duration::from_secs_f64(s));
        assert_eq!(
            (at(0.0), at(5.0), at(15.0), at(25.0), at(31.0)),
            (0.0, 50.0, 100.0, 50.0, 0.0)
        );
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
        assert_eq!(secs(p.first_at_least(50.0, Duration::ZERO)), Some(5.0));
        assert_eq!(
            secs(p.first_at_least(50.0, Duration::from_secs(12))),
            Some(12.0)
        );
        assert_eq!(
            secs(p.first_at_least(80.0, Duration::from_secs(21))),
            Some(21.0)
        );
        assert_eq!(secs(p.first_at_least(90.0, Duration::from_secs(22))), None);
        // A jump (a zero-length stage) holds from its moment on.
        let j = Stages::parse("5s:0,0s:10,5s:10").unwrap();
        assert_eq!(secs(j.first_at_least(10.0, Duration::ZERO)), Some(5.0));
    }
}
