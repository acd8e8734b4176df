//! `--summary-json FILE`: the run's results as one JSON document for
//! pipelines — every finished phase's summary.csv figures (typed, stages
//! as objects), its failures by `error_type`, and its verdict against
//! `--slo` — rewritten atomically after every phase and when the run ends,
//! so an interrupted run's file holds what was measured.

use std::fs;
use std::io;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::PhaseWriter;
use crate::model::PhaseResult;
use crate::slo::SloSpec;

/// The document, kept in step with the run.
pub struct SummaryJson {
    path: PathBuf,
    slo: Option<SloSpec>,
    results_dir: PathBuf,
    phases: Vec<Value>,
    status: &'static str,
}

impl SummaryJson {
    /// Starts the document (status `running`) at `path`.
    pub fn create(path: PathBuf, slo: Option<SloSpec>, results_dir: PathBuf) -> io::Result<Self> {
        let s = SummaryJson {
            path,
            slo,
            results_dir,
            phases: Vec::new(),
            status: "running",
        };
        s.save()?;
        Ok(s)
    }

    /// Adds what `--leak-probe` found to phase `index` (0-based).
    pub fn leaked_slots(&mut self, index: usize, leaked: u64) -> io::Result<()> {
        if let Some(p) = self
            .phases
            .iter_mut()
            .rev()
            .find(|p| p["index"] == index + 1)
        {
            p["leaked_slots"] = leaked.into();
        }
        self.save()
    }

    /// Marks the run ended with `status` (complete, interrupted, failed).
    pub fn finish(&mut self, status: &'static str) -> io::Result<()> {
        self.status = status;
        self.save()
    }

    fn doc(&self) -> Value {
        let missed = self
            .phases
            .iter()
            .filter(|p| p["slo"]["passed"] == false)
            .count();
        json!({
            "envload_version": env!("CARGO_PKG_VERSION"),
            "status": self.status,
            "results_dir": self.results_dir,
            "slo": self.slo.as_ref().map(|s| &s.text),
            "slo_passed": self.slo.as_ref().map(|_| missed == 0),
            "phases_missing_slo": missed,
            "phases": self.phases,
        })
    }

    fn save(&self) -> io::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        fs::write(
            &tmp,
            serde_json::to_vec_pretty(&self.doc()).map_err(io::Error::other)?,
        )?;
        fs::rename(tmp, &self.path)
    }
}

impl PhaseWriter for SummaryJson {
    fn write_phase(&mut self, r: &PhaseResult) -> io::Result<()> {
        let s = &r.summary;
        let q3 = |v: &[f64; 3]| json!({"p50": v[0], "p95": v[1], "p99": v[2]});
        let mut phase = json!({
            "index": r.phase.index + 1,
            "mode": s.mode,
            "batch_size": s.batch_size,
            "wait_seconds": s.wait_seconds,
            "repetition": s.repetition,
            "successful": s.successful,
            "failed": s.failed,
            "success_rate": 1.0 - s.error_rate,
            "error_rate": s.error_rate,
            "total_wall_time": s.total_wall_time,
            "connect": q3(&s.connect),
            "reset": q3(&s.reset),
            "step": q3(&s.step),
            "total": {
                "min": s.total_min, "avg": s.total_avg, "max": s.total_max,
                "p50": s.total[0], "p90": s.total[1], "p95": s.total[2], "p99": s.total[3],
            },
            "requests_per_second": s.requests_per_second,
            "effective_concurrency": s.effective_concurrency,
            "unique_pids": s.unique_pids,
            "unique_sessions": s.unique_sessions,
            "unique_hosts": s.unique_hosts,
            "errors": r.outcome.stats.errors.iter()
                .map(|(k, v)| (k.as_str().to_string(), Value::from(*v)))
                .collect::<serde_json::Map<_, _>>(),
        });
        for (name, stage) in [("state", s.state), ("mcp", s.mcp)] {
            if let Some(v) = stage {
                phase[name] = q3(&v);
            }
        }
        if let Some(ro) = &r.outcome.stats.rollout {
            if r.phase.mode == envload_agent::Mode::McpHttp {
                phase["unclosed_sessions"] = ro.unclosed.into();
            }
        }
        if let Some(skew) = crate::model::max_start_skew_ms(&r.outcome.agents) {
            phase["max_start_skew_ms"] = skew.into();
        }
        if let Some(spec) = &self.slo {
            let missed = spec.misses(s);
            phase["slo"] = json!({"passed": missed.is_empty(), "missed": missed});
        }
        self.phases.push(phase);
        self.save()
    }
}
