//! When a phase's sessions start (`--ramp-up`, `--rate`/`--duration`,
//! `--max-in-flight`): flattened into `run`, `ceiling` and `coordinator`,
//! resolved into the engine's [`Arrival`] and, for the open model, the
//! phase's session count.

use std::time::Duration;

use clap::Args;
use envload_agent::stages::Stages;
use envload_agent::Arrival;

use crate::error::UsageError;
use crate::values::{parse_batch, parse_rate, parse_seconds, MAX_BATCH};

/// Arrival flags (all optional: without them every session of a phase
/// starts at once, as the reference's do).
#[derive(Debug, Clone, Default, Args)]
pub struct ArrivalArgs {
    /// Spread each phase's session starts evenly over S seconds (session k
    /// of N starts at S·k/N) instead of starting them all at once.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_seconds, conflicts_with = "rate")]
    pub ramp_up: Option<f64>,
    /// Open model: start R sessions per second on a fixed schedule, whatever
    /// the server does, for --duration; a session's latency counts from its
    /// scheduled start (coordinated omission corrected) and the start lag is
    /// recorded. Replaces -n (the phase runs R × D sessions).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_rate,
          requires = "duration", conflicts_with_all = ["requests", "requests_grid"])]
    pub rate: Option<f64>,
    /// Seconds of the open model's schedule (with --rate).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_seconds, requires = "rate")]
    pub duration: Option<f64>,
    /// Open model: at most M sessions in flight across the phase (split
    /// across agents); a session due while M run waits for one to end, and
    /// that wait counts in its latency.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_batch, requires = "rate")]
    pub max_in_flight: Option<u64>,
    /// The open model's arrivals: evenly spaced (session k at k/R), or a
    /// Poisson process of rate R (exponential gaps, drawn from --seed) as
    /// independent clients arrive.
    #[arg(long, value_enum, default_value = "uniform", requires = "rate")]
    pub arrival: ArrivalKind,
    /// A stage plan, k6's `stages`: 'DURATION:TARGET,…' (e.g.
    /// 30s:512,1h:512,10s:0). From 0, the number of concurrent virtual users
    /// moves linearly to each target over its duration; each user runs
    /// sessions back to back. One phase of N = the peak, written as it goes
    /// in timeseries.csv. A soak: --stages 2m:512,8h:512.
    #[arg(long, value_parser = Stages::parse,
          conflicts_with_all = ["ramp_up", "rate", "requests", "requests_grid", "wait_grid"])]
    pub stages: Option<Stages>,
}

/// `--arrival` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ArrivalKind {
    /// Evenly spaced.
    #[default]
    Uniform,
    /// Exponential gaps.
    Poisson,
}

impl ArrivalArgs {
    /// The phase's N when it is not `-n`'s: the open model's session count
    /// (R × D, rounded up), or a stage plan's peak.
    pub fn sessions(&self) -> Result<Option<u64>, UsageError> {
        if let Some(plan) = &self.stages {
            return Ok(Some(plan.peak()));
        }
        let (Some(rate), Some(duration)) = (self.rate, self.duration) else {
            return Ok(None);
        };
        let n = (rate * duration).ceil();
        if n > MAX_BATCH as f64 {
            return Err(UsageError(format!(
                "--rate {rate} × --duration {duration} is {n} sessions, more than a phase holds ({MAX_BATCH}): lower one"
            )));
        }
        Ok(Some((n as u64).max(1)))
    }

    /// The schedule of a phase of `n` sessions (Poisson gaps drawn from
    /// `seed`).
    pub fn arrival(&self, n: u64, seed: u64) -> Arrival {
        match (self.ramp_up, self.rate) {
            (Some(s), _) => Arrival {
                spread: Duration::from_secs_f64(s),
                open: false,
                max_in_flight: 0,
                poisson: None,
            },
            // Session k at k / R (on average, with Poisson gaps): the n
            // starts span n / R.
            (None, Some(rate)) => Arrival {
                spread: Duration::from_secs_f64(n as f64 / rate),
                open: true,
                max_in_flight: self.max_in_flight.unwrap_or(0),
                poisson: (self.arrival == ArrivalKind::Poisson).then_some(seed),
            },
            (None, None) => Arrival::default(),
        }
    }
}
