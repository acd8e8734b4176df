//! Load over time in the report: for every phase with a time series, the
//! least-squares slope of its total p99 and of its success rate over the
//! phase, the first interval that misses the SLO (success ≥ the threshold,
//! total p99 ≤ the bound — by default 2 × (wait + 0.5 s) —, the rule `ceiling` and the tables use),
//! and a verdict — "stable", or what drifts and by how much. A soak against
//! a server that leaks slots shows success falling; one that slows shows
//! p99 rising.

use std::fmt::Write;

use envload_results::folder::series::PhaseSeries;
use envload_results::slo::Criteria;

/// Fewest intervals a verdict is drawn from.
pub const MIN_POINTS: usize = 5;
/// A p99 that rises by more than this fraction of its median over the
/// phase (by the fit) drifts.
pub const P99_RISE: f64 = 0.25;
/// A success rate that falls by more than this over the phase (by the fit)
/// drifts.
pub const SUCCESS_FALL: f64 = 0.02;

/// What one phase's series says.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    pub label: String,
    pub duration_s: f64,
    pub intervals: usize,
    /// Total p99: fitted change per minute (s/min), and its median (s).
    pub p99_per_min: f64,
    pub p99_median: f64,
    /// Success rate: fitted change per minute (fraction/min).
    pub success_per_min: f64,
    /// The first interval missing the SLO: its number (1-based), end time
    /// and what it missed.
    pub first_miss: Option<(usize, f64, String)>,
    /// `None`: stable; else what drifts.
    pub drift: Option<String>,
}

impl Drift {
    /// "stable", or "drifting: …".
    pub fn verdict(&self) -> String {
        match &self.drift {
            None => "stable".into(),
            Some(d) => format!("drifting: {d}"),
        }
    }
}

/// Least-squares slope of `(x, y)` points (0 with fewer than two).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// The mean of the first and of the last few values (a quarter, 1 to 5).
fn ends(points: &[(f64, f64)]) -> (f64, f64) {
    let k = (points.len() / 4).clamp(1, 5).min(points.len().max(1));
    let mean = |v: &[(f64, f64)]| v.iter().map(|p| p.1).sum::<f64>() / v.len().max(1) as f64;
    (
        mean(&points[..k.min(points.len())]),
        mean(&points[points.len().saturating_sub(k)..]),
    )
}

/// The analysis of `s` against a success `threshold` (`None` for a series
/// too short to judge).
pub fn analyze(s: &PhaseSeries, criteria: Criteria) -> Option<Drift> {
    if s.points.len() < MIN_POINTS {
        return None;
    }
    let p99: Vec<(f64, f64)> = s
        .points
        .iter()
        .filter_map(|p| Some((p.time_s, p.total_p99?)))
        .collect();
    let success: Vec<(f64, f64)> = s
        .points
        .iter()
        .filter_map(|p| Some((p.time_s, p.success()?)))
        .collect();
    let duration_s = s.points.last().map_or(0.0, |p| p.time_s);
    let mut sorted: Vec<f64> = p99.iter().map(|p| p.1).collect();
    sorted.sort_by(f64::total_cmp);
    let p99_median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    let (p99_slope, success_slope) = (slope(&p99), slope(&success));
    let mut why = Vec::new();
    let rise = p99_slope * duration_s;
    if rise > P99_RISE * p99_median && rise > 0.0 {
        let (first, last) = ends(&p99);
        why.push(format!(
            "total p99 rises {:.1} ms/min (from {first:.3} s to {last:.3} s over {:.0} s)",
            p99_slope * 60_000.0,
            duration_s
        ));
    }
    let fall = -success_slope * duration_s;
    if fall > SUCCESS_FALL {
        let (first, last) = ends(&success);
        why.push(format!(
            "success falls {:.2} points/min (from {:.1}% to {:.1}% over {:.0} s)",
            -success_slope * 6000.0,
            first * 100.0,
            last * 100.0,
            duration_s
        ));
    }
    let slo = criteria.at_wait(s.wait);
    let first_miss = s.points.iter().enumerate().find_map(|(i, p)| {
        let ok = p.success()?;
        if !slo.success_met(ok) {
            return Some((i + 1, p.time_s, format!("success {:.1}%", ok * 100.0)));
        }
        let p99 = p.total_p99?;
        (p99 > criteria.p99.at(s.wait)).then(|| {
            (
                i + 1,
                p.time_s,
                format!("total p99 {p99:.3} s > {} s", criteria.p99.at(s.wait)),
            )
        })
    });
    Some(Drift {
        label: s.label.clone(),
        duration_s,
        intervals: s.points.len(),
        p99_per_min: p99_slope * 60.0,
        p99_median,
        success_per_min: success_slope * 60.0,
        first_miss,
        drift: (!why.is_empty()).then(|| why.join("; ")),
    })
}

/// One line for the experiment log.
pub fn log_line(d: &Drift, criteria: Criteria) -> String {
    let miss = match &d.first_miss {
        None => format!(
            "the SLO (success ≥ {:.0}%, p99 ≤ {}) held in every interval",
            criteria.success * 100.0,
            criteria.p99
        ),
        Some((i, t, what)) => {
            format!("the SLO was first missed at interval {i} (t = {t:.1} s: {what})")
        }
    };
    format!(
        "Over time ({}, {:.0} s, {} intervals): {}; {miss}",
        d.label,
        d.duration_s,
        d.intervals,
        d.verdict()
    )
}

/// The markdown table for `tables.md` (empty without series).
pub fn table(drifts: &[Drift]) -> String {
    if drifts.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "\n## Load over time\n\n| run | duration (s) | intervals | p99 median (s) | p99 slope (ms/min) | success slope (points/min) | first SLO miss | verdict |\n|---|---|---|---|---|---|---|---|\n",
    );
    for d in drifts {
        let miss = d.first_miss.as_ref().map_or("–".to_string(), |(i, t, w)| {
            format!("interval {i} (t = {t:.1} s): {w}")
        });
        let _ = writeln!(
            md,
            "| {} | {:.0} | {} | {:.3} | {:.2} | {:.3} | {miss} | {} |",
            d.label,
            d.duration_s,
            d.intervals,
            d.p99_median,
            d.p99_per_min * 1000.0,
            d.success_per_min * 100.0,
            d.verdict()
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use envload_results::folder::series::Point;

    fn series(points: impl Iterator<Item = (u64, u64, f64)>) -> PhaseSeries {
        PhaseSeries {
            label: "x".into(),
            phase: 0,
            wait: 1.0,
            width: 1.0,
            points: points
                .enumerate()
                .map(|(i, (ok, failed, p99))| Point {
                    time_s: (i + 1) as f64,
                    active: 10,
                    succeeded: ok,
                    failed,
                    total_p50: Some(p99 * 0.9),
                    total_p99: Some(p99),
                })
                .collect(),
        }
    }

    #[test]
    fn a_flat_series_is_stable_and_a_leak_drifts_from_where_it_misses() {
        let flat = series((0..60).map(|i| (10, 0, 1.0 + 0.01 * ((i % 3) as f64))));
        let d = analyze(&flat, Criteria::default()).unwrap();
        assert_eq!((d.verdict(), d.first_miss.clone()), ("stable".into(), None));
        // Slots leak: one more failure every 10 s from 30 s on.
        let leak = series((0..60).map(|i| {
            let failed = if i >= 30 { (i - 30) / 10 + 1 } else { 0 };
            (10 - failed, failed, 1.0)
        }));
        let d = analyze(&leak, Criteria::default()).unwrap();
        assert!(
            d.verdict().starts_with("drifting: success falls"),
            "{}",
            d.verdict()
        );
        assert_eq!(
            d.first_miss.as_ref().map(|m| m.0),
            Some(31),
            "{:?}",
            d.first_miss
        );
        // Latency creeping up: 1 s to 2.2 s.
        let slow = series((0..60).map(|i| (10, 0, 1.0 + 0.02 * i as f64)));
        let d = analyze(&slow, Criteria::default()).unwrap();
        assert!(d.verdict().contains("p99 rises"), "{}", d.verdict());
        assert!((d.p99_per_min - 1.2).abs() < 1e-6, "{}", d.p99_per_min);
        assert!(analyze(&series((0..3).map(|_| (1, 0, 1.0))), Criteria::default()).is_none());
        assert!(log_line(&d, Criteria::default())
            .starts_with("Over time (x, 60 s, 60 intervals): drifting"));
    }
}
