//! The ceiling search: the largest batch that meets an [`Slo`]. Doubles N
//! from the first probe until a batch fails, then bisects down to the
//! resolution, never beyond the largest batch allowed. Every probe is a
//! phase like any other (written to summary.csv, raw.jsonl, …) and a line of
//! `ceiling.jsonl`; the answer is the last line of stdout, `ceiling=N`, for
//! scripts.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use crate::driver::PhaseDriver;
use crate::phases::{run_phase, PhaseEnd, RunOutcome};
use crate::plan::GRID_PAUSE;
use crate::recorder::{Recorder, RunContext};
pub use envload_results::slo::Slo;
use envload_results::Phase;

/// What to search for.
#[derive(Debug, Clone, Copy)]
pub struct Search {
    /// The service level a batch must meet.
    pub slo: Slo,
    /// The first probe's N.
    pub first: u64,
    /// The largest N to try.
    pub max_n: u64,
    /// Stop when the bracket is within this fraction of the answer (and at
    /// least one session).
    pub resolution: f64,
}

/// Doubling, then bisection.
pub async fn search<D: PhaseDriver>(
    driver: &mut D,
    ctx: RunContext<'_>,
    search: Search,
) -> anyhow::Result<RunOutcome> {
    let (slo, c) = (search.slo, &search);
    let mut rec = Recorder::create(&ctx, driver.agents())?;
    let log_path = ctx.dir.join("ceiling.jsonl");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot write {}", log_path.display()))?;
    println!(
        "\nCeiling search: {} wait={:?}s, SLO success >= {:.1}% and total p99 <= {:.3} s, resolution {}",
        ctx.config.plan.mode.as_str(),
        ctx.config.plan.wait,
        slo.success * 100.0,
        slo.p99,
        c.resolution
    );
    let mut probes: Vec<(u64, bool)> = Vec::new();
    let (mut lo, mut hi) = (0u64, None::<u64>);
    let mut n = search.first;
    loop {
        match run_probe(driver, &mut rec, &ctx, probes.len(), n, slo, &mut log).await? {
            None => return Ok(RunOutcome::Interrupted),
            Some(true) => {
                probes.push((n, true));
                lo = n;
                if n >= c.max_n {
                    break;
                }
                n = (n * 2).min(c.max_n);
            }
            Some(false) => {
                probes.push((n, false));
                hi = Some(n);
                break;
            }
        }
    }
    if let Some(mut hi) = hi {
        while hi - lo > ((lo as f64 * c.resolution) as u64).max(1) {
            let mid = lo + (hi - lo) / 2;
            match run_probe(driver, &mut rec, &ctx, probes.len(), mid, slo, &mut log).await? {
                None => return Ok(RunOutcome::Interrupted),
                Some(ok) => {
                    probes.push((mid, ok));
                    if ok {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
            }
        }
    }
    if ctx.shutdown.is_requested() {
        driver.finish("the run was interrupted").await;
        rec.interrupt(None)?;
        return Ok(RunOutcome::Interrupted);
    }
    driver.finish("the ceiling search is complete").await;
    if hi.is_none() {
        rec.warning(&format!(
            "every probe passed up to --max-n {}: the ceiling may be higher",
            c.max_n
        ))?;
    }
    rec.finish("complete")?;
    println!(
        "\n  probes (N: pass/fail): {}",
        probes
            .iter()
            .map(|(n, ok)| format!("{n}:{}", if *ok { "pass" } else { "fail" }))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("  Results saved to: {}/", ctx.dir.display());
    if hi.is_none() {
        println!(
            "  every probe passed up to --max-n {}: the ceiling may be higher",
            c.max_n
        );
    }
    println!("ceiling={lo}");
    Ok(RunOutcome::Complete)
}

/// Runs one probe of `n` sessions; `Some(pass)`, or `None` if interrupted.
async fn run_probe<D: PhaseDriver>(
    driver: &mut D,
    rec: &mut Recorder,
    ctx: &RunContext<'_>,
    index: usize,
    n: u64,
    slo: Slo,
    log: &mut std::fs::File,
) -> anyhow::Result<Option<bool>> {
    let phase = Phase {
        index,
        mode: ctx.config.plan.mode,
        n,
        wait: ctx.config.plan.wait,
        rep: 1,
        pause_before: if index == 0 {
            Duration::ZERO
        } else {
            GRID_PAUSE
        },
    };
    let header = || {
        println!(
            "\n[probe {}] [{}] N={n}, wait={:?}s",
            index + 1,
            phase.mode.as_str().to_uppercase(),
            phase.wait
        )
    };
    let t = ctx.config.template(&phase, ctx.targets);
    let result = match run_phase(driver, rec, &ctx.shutdown, &phase, &t, header).await? {
        PhaseEnd::Done(r) => r,
        PhaseEnd::Interrupted => return Ok(None),
    };
    let s = &result.summary;
    let success = 1.0 - s.error_rate;
    let p99 = s.total[3];
    let pass = slo.met(success, p99);
    let why = if pass {
        String::new()
    } else if success < slo.success {
        format!(
            " (success {:.1}% < {:.1}%)",
            success * 100.0,
            slo.success * 100.0
        )
    } else {
        format!(" (p99 {p99:.3} s > {:.3} s)", slo.p99)
    };
    println!(
        "  -> {}/{} success ({:.1}%), total p99 {:.3} s: {}{why}",
        s.successful,
        n,
        success * 100.0,
        p99,
        if pass { "PASS" } else { "FAIL" }
    );
    let line = json!({"probe": index + 1, "batch_size": n, "success_rate": success, "total_p99": p99,
                      "pass": pass, "slo_success": slo.success, "slo_p99": slo.p99});
    writeln!(log, "{line}")?;
    log.flush()?;
    Ok(Some(pass))
}

#[cfg(test)]
mod tests {
    //! The search through a fake driver: a server that holds exactly
    //! `capacity` sessions, probes in virtual time.
    use super::*;
    use crate::driver::fake::{Fake, Setup};
    use crate::shutdown::Shutdown;

    /// Runs the search against a server of `capacity`; returns the probes
    /// (N, pass) in order from ceiling.jsonl, and the outcome.
    async fn probe(capacity: u64, first: u64, max_n: u64, slo: Slo, res: f64) -> Vec<(u64, bool)> {
        let setup = Setup::grid(&[first]);
        let mut fake = Fake::new(capacity);
        let s = Search {
            slo,
            first,
            max_n,
            resolution: res,
        };
        let outcome = search(&mut fake, setup.context(Shutdown::never()), s)
            .await
            .unwrap();
        assert_eq!(outcome, RunOutcome::Complete);
        let log = setup.read("ceiling.jsonl");
        let probes: Vec<(u64, bool)> = log
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["batch_size"].as_u64().unwrap(),
                    v["pass"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(fake.ran, probes.iter().map(|p| p.0).collect::<Vec<_>>());
        probes
    }

    fn ceiling(probes: &[(u64, bool)]) -> u64 {
        probes
            .iter()
            .filter(|p| p.1)
            .map(|p| p.0)
            .max()
            .unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn doubles_then_bisects_to_the_exact_capacity() {
        let all = Slo {
            success: 1.0,
            p99: 1.0,
        };
        let probes = probe(40, 1, 1024, all, 0.0).await;
        assert_eq!(ceiling(&probes), 40);
        let doubling: Vec<u64> = probes.iter().take(7).map(|p| p.0).collect();
        assert_eq!(doubling, vec![1, 2, 4, 8, 16, 32, 64]);
        assert_eq!(probes[6], (64, false));
        assert!(probes.contains(&(41, false)), "{probes:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_success_threshold_allows_failures() {
        // 40 of 42 is 95.2%; 40 of 43 is 93.0%.
        let probes = probe(40, 1, 1024, Slo::at_wait(0.95, 0.0), 0.0).await;
        assert_eq!(ceiling(&probes), 42);
    }

    #[tokio::test(start_paused = true)]
    async fn max_n_caps_the_search_and_an_impossible_slo_finds_nothing() {
        let all = Slo {
            success: 1.0,
            p99: 1.0,
        };
        let probes = probe(1000, 3, 100, all, 0.0).await;
        assert_eq!(probes.last(), Some(&(100, true)));
        assert_eq!(ceiling(&probes), 100);
        let never = Slo {
            success: 1.0,
            p99: 0.001,
        };
        assert_eq!(ceiling(&probe(1000, 1, 64, never, 0.0).await), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_resolution_stops_bisecting_early() {
        let all = Slo {
            success: 1.0,
            p99: 1.0,
        };
        let exact = probe(700, 1, 4096, all, 0.0).await;
        let coarse = probe(700, 1, 4096, all, 0.05).await;
        assert_eq!(ceiling(&exact), 700);
        assert!(coarse.len() < exact.len(), "{coarse:?}");
        let found = ceiling(&coarse);
        assert!((665..=700).contains(&found), "{found} within 5% below 700");
    }
}
