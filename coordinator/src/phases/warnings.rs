//! The warnings the phase loop raises — a phase that reached fewer hosts
//! than `--expected-hosts`, one that missed `--slo` — each printed, kept in
//! run.json's warnings (by the recorder) and listed again at the end, where
//! they decide how the run ends.

use envload_results::{Phase, SummaryRow};

use super::RunOutcome;
use crate::config::RunConfig;
use crate::recorder::Recorder;

/// What the phases so far warned about.
#[derive(Debug, Default)]
pub struct Warnings {
    hosts_missing: Vec<String>,
    slo_missed: Vec<String>,
}

impl Warnings {
    /// Checks `phase`'s row against `--expected-hosts` and `--slo`.
    pub fn check(
        &mut self,
        config: &RunConfig,
        phase: &Phase,
        row: &SummaryRow,
        rec: &mut Recorder,
    ) -> std::io::Result<()> {
        if let Some(expected) = config.expected_hosts {
            if row.unique_hosts < expected {
                let msg = format!(
                    "{} reached {} distinct host(s), expected {expected} (--expected-hosts)",
                    phase_label(phase),
                    row.unique_hosts
                );
                warn("WARNING", msg, &mut self.hosts_missing, rec)?;
            }
        }
        if let Some(slo) = &config.slo {
            let missed = slo.misses(row);
            if !missed.is_empty() {
                let msg = format!(
                    "{} missed --slo '{}': {}",
                    phase_label(phase),
                    slo.text,
                    missed.join(", ")
                );
                warn("SLO MISSED", msg, &mut self.slo_missed, rec)?;
            }
        }
        Ok(())
    }

    /// Ends a run whose `phases` all ran: run.json's status, the warnings
    /// listed again, and the outcome they make.
    pub fn end(
        self,
        config: &RunConfig,
        rec: &mut Recorder,
        phases: usize,
    ) -> anyhow::Result<RunOutcome> {
        if config.require_hosts && !self.hosts_missing.is_empty() {
            rec.finish("failed")?;
            eprintln!(
                "envload: --require-hosts: {} phase(s) reached fewer hosts than --expected-hosts:",
                self.hosts_missing.len()
            );
            for m in &self.hosts_missing {
                eprintln!("  {m}");
            }
            return Ok(RunOutcome::HostsMissing);
        }
        rec.finish("complete")?;
        if !self.slo_missed.is_empty() {
            eprintln!(
                "envload: --slo: {} of {phases} phase(s) missed it:",
                self.slo_missed.len()
            );
            for m in &self.slo_missed {
                eprintln!("  {m}");
            }
            return Ok(RunOutcome::SloMissed);
        }
        Ok(RunOutcome::Complete)
    }
}

/// Printed, kept in run.json's warnings, and listed at the end.
fn warn(tag: &str, msg: String, list: &mut Vec<String>, rec: &mut Recorder) -> std::io::Result<()> {
    eprintln!("  {tag}: {msg}");
    let kept = rec.warning(&msg);
    list.push(msg);
    kept
}

/// "phase 2 (ws N=64 wait=1.0s rep=1)", as warnings name a phase.
fn phase_label(phase: &Phase) -> String {
    format!(
        "phase {} ({} N={} wait={:?}s rep={})",
        phase.index + 1,
        phase.mode.as_str(),
        phase.n,
        phase.wait,
        phase.rep
    )
}
