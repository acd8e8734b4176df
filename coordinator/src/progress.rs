//! Live progress of the phase in flight: sessions started, done, failed and
//! the current total p99, redrawn in place on a terminal (indicatif) and as
//! plain lines every few seconds otherwise. Written to stderr so stdout keeps
//! the reference's lines.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use envload_agent::PhaseStats;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use envload_results::series::IntervalRow;
use envload_results::Phase;

/// How often plain (non-terminal) progress lines are printed.
const PLAIN_EVERY: Duration = Duration::from_secs(2);

/// The display of one phase.
pub struct LiveProgress {
    bar: Option<ProgressBar>,
    label: String,
    n: u64,
    last_line: Instant,
}

impl LiveProgress {
    /// Starts showing `phase` (and telling the metrics registry).
    pub fn start(phase: &Phase) -> Self {
        if let Some(m) = crate::metrics::global() {
            m.phase_started(phase);
        }
        crate::timeseries::phase_started(phase);
        crate::web::phase_started(phase);
        let label = format!(
            "phase {} {} N={}",
            phase.index + 1,
            phase.mode.as_str(),
            phase.n
        );
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(phase.n), ProgressDrawTarget::stderr_with_hz(4));
            bar.set_style(
                ProgressStyle::with_template("  {prefix} [{bar:30}] {pos}/{len} done {msg}")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(label.clone());
            bar
        });
        LiveProgress {
            bar,
            label,
            n: phase.n,
            last_line: Instant::now(),
        }
    }

    /// Shows the phase so far: sessions started, statistics merged.
    pub fn update(&mut self, started: u64, stats: &PhaseStats) {
        if let Some(m) = crate::metrics::global() {
            m.phase_progress(started, stats);
        }
        crate::web::progress(started, stats);
        let (done, failed) = (stats.sessions, stats.failed);
        let p99_s = stats.total.quantile_s(0.99);
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(format!(
                    "(started {started}, failed {failed}, p99 {p99_s:.3} s)"
                ));
            }
            None if self.last_line.elapsed() >= PLAIN_EVERY => {
                self.last_line = Instant::now();
                eprintln!(
                    "  .. {}: started {started}/{}, done {done}, failed {failed}, p99 {p99_s:.3} s",
                    self.label, self.n
                );
            }
            None => {}
        }
    }

    /// Rows of the phase's time series, as they close.
    pub fn rows(&mut self, rows: &[IntervalRow]) {
        if !rows.is_empty() {
            crate::timeseries::rows(rows);
            crate::web::rows(rows);
        }
    }

    /// Removes the bar.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
