//! The log's words for what the numbers say: the Notes column of Scaling
//! Behavior ("Perfect scaling", "Max reliable batch", "Significant
//! failures", "Above capacity", "Far above capacity", "Complete failure"),
//! and the Observations bullets, derived from success and p99 against the
//! SLO (success ≥ the threshold, total p99 ≤ the bound, by default 2 ×
//! (wait + 0.5 s)). Also the
//! figures' formats the log uses (`1.97s`, `96.5%`, `932`).

use std::collections::BTreeMap;

use super::super::tables::{max_batch, slo_max, Point};
use envload_results::slo::Criteria;

/// `1.97s`, `11.0s`, `0.32s`, `0.045s`.
pub fn seconds(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.1}s")
    } else if v >= 0.1 {
        format!("{v:.2}s")
    } else {
        format!("{v:.3}s")
    }
}

/// `100%`, `96.5%`, `0%`.
pub fn percent(success: f64) -> String {
    let p = success * 100.0;
    if p >= 99.995 {
        "100%".into()
    } else if p <= 0.0 {
        "0%".into()
    } else {
        format!("{p:.1}%")
    }
}

/// `932`, `53.5`, `0.78`.
pub fn rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A wait as the log writes it: `1.0`, `0.1`, `2.5`.
pub fn wait(w: f64) -> String {
    if w.fract() == 0.0 {
        format!("{w:.1}")
    } else {
        format!("{w}")
    }
}

/// The Notes cell of batch `n` in one (mode, wait) series.
pub fn scaling_note(by_n: &BTreeMap<u64, Point>, n: u64, criteria: Criteria, w: f64) -> String {
    let p = &by_n[&n];
    let slo = criteria.at_wait(w);
    let best = max_batch(by_n, criteria).map(|(b, _)| b);
    let largest = by_n.keys().next_back().copied();
    if p.success <= 0.0 {
        return "Complete failure".into();
    }
    if slo.success_met(p.success) {
        let slow = p.total_p99 > slo.p99;
        let over = format!("p99 over the {} SLO", seconds(slo.p99));
        return match () {
            _ if best == Some(n) && largest != Some(n) && slow => {
                format!("Max reliable batch; {over}")
            }
            _ if best == Some(n) && largest != Some(n) => "Max reliable batch".into(),
            _ if slow => format!("Succeeds, {over}"),
            _ if n == 1 && by_n.len() > 1 => "Baseline".into(),
            _ if p.success >= 0.99995 => "Perfect scaling".into(),
            _ => "Reliable".into(),
        };
    }
    match best {
        Some(b) if n <= 2 * b => "Significant failures".into(),
        Some(b) if n <= 4 * b => "Above capacity".into(),
        Some(_) => "Far above capacity".into(),
        None => "Significant failures".into(),
    }
}

/// Observation bullets for one (mode, wait) series.
pub fn series_observations(
    mode: &str,
    by_n: &BTreeMap<u64, Point>,
    criteria: Criteria,
    w: f64,
) -> Vec<String> {
    let name = if mode == "ws" { "WebSocket" } else { "HTTP" };
    let pct = format!("{:.0}%", criteria.success * 100.0);
    let mut out = Vec::new();
    let largest = by_n.keys().next_back().copied().unwrap_or(0);
    match max_batch(by_n, criteria) {
        Some((b, p)) if b == largest => out.push(format!(
            "{name} mode with wait={}s: every batch up to {b} succeeded ≥{pct} (p99 {} at {b}); capacity not reached",
            wait(w),
            seconds(p.total_p99)
        )),
        Some((b, p)) => {
            out.push(format!(
                "{name} mode with wait={}s holds {b} concurrent sessions at ≥{pct} success (p99 {}, {} RPS)",
                wait(w),
                seconds(p.total_p99),
                rate(p.rps)
            ));
            if let Some((next, q)) = by_n.range(b + 1..).next() {
                out.push(format!(
                    "Beyond {b}, success falls to {} at {next}",
                    percent(q.success)
                ));
            }
        }
        None => {
            let (n, p) = by_n
                .iter()
                .max_by(|a, b| a.1.success.total_cmp(&b.1.success))
                .map(|(n, p)| (*n, *p))
                .unwrap_or_default();
            out.push(format!(
                "{name} mode with wait={}s: no batch reached {pct} success (best {} at {n})",
                wait(w),
                percent(p.success)
            ));
        }
    }
    let bound = seconds(criteria.p99.at(w));
    match slo_max(by_n, criteria, w) {
        (_, None) => out.push(format!(
            "p99 latency stays within {} = {bound} at every batch",
            criteria.p99
        )),
        (best, Some(over)) => out.push(format!(
            "p99 latency within {} = {bound} up to {}; first missed at {over} ({}, {} success)",
            criteria.p99,
            best.map_or("no batch".to_string(), |(n, _)| n.to_string()),
            seconds(by_n[&over].total_p99),
            percent(by_n[&over].success)
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The log's local-uvicorn series: success and p99 by batch.
    fn series() -> BTreeMap<u64, Point> {
        [
            (32, 1.0, 1.05),
            (128, 1.0, 1.07),
            (512, 1.0, 1.33),
            (2048, 0.965, 1.97),
            (4096, 0.638, 3.20),
            (8192, 0.369, 5.75),
            (16384, 0.196, 12.5),
        ]
        .into_iter()
        .map(|(n, s, p)| {
            (
                n,
                Point {
                    success: s,
                    total_p99: p,
                    ..Default::default()
                },
            )
        })
        .collect()
    }

    #[test]
    fn the_logs_notes_come_back_from_its_numbers() {
        let s = series();
        let notes: Vec<String> = s
            .keys()
            .map(|n| scaling_note(&s, *n, Criteria::default(), 1.0))
            .collect();
        assert_eq!(
            notes,
            [
                "Perfect scaling",
                "Perfect scaling",
                "Perfect scaling",
                "Max reliable batch",
                "Significant failures",
                "Above capacity",
                "Far above capacity"
            ]
        );
        // Everything succeeds but waits: not "perfect".
        let mut slow = series();
        slow.get_mut(&512).unwrap().total_p99 = 4.0;
        assert_eq!(
            scaling_note(&slow, 512, Criteria::default(), 1.0),
            "Succeeds, p99 over the 3.00s SLO"
        );
        slow.get_mut(&2048).unwrap().total_p99 = 4.0;
        assert_eq!(
            scaling_note(&slow, 2048, Criteria::default(), 1.0),
            "Max reliable batch; p99 over the 3.00s SLO"
        );
        assert_eq!(
            (
                seconds(1.97),
                seconds(11.0),
                percent(0.965),
                percent(1.0),
                rate(932.4),
                rate(0.78)
            ),
            (
                "1.97s".into(),
                "11.0s".into(),
                "96.5%".into(),
                "100%".into(),
                "932".into(),
                "0.78".into()
            )
        );
    }
}
