//! The reference runner's command-line overrides, as `envload experiment`
//! takes them, so its command lines work with `python
//! experiments/scripts/run_experiment.py` replaced by `envload experiment`:
//! `--url`, `--batch-sizes`, `--wait-times`, `--reps`, `--mode`,
//! `--timeout`, `--output-dir` (and `--no-log`, accepted). Each replaces
//! what the matrix says for this one run.

use std::path::PathBuf;

use clap::Args;

use crate::experiment::matrix::{Deploy, Infrastructure, Plan};
use crate::values::{parse_reps, parse_requests_grid, parse_seconds, parse_wait_grid, Grid};

/// The reference runner's overrides.
#[derive(Debug, Clone, Default, Args)]
pub struct ReferenceFlags {
    /// Measure this URL instead of the matrix's (the reference runner's
    /// --url; not for a Slurm job, which serves and measures itself).
    #[arg(short = 'u', long)]
    pub url: Option<String>,
    /// Batch sizes instead of the matrix's, comma-separated (capped at
    /// twice max_expected_batch, as the reference does).
    #[arg(short = 'b', long, visible_alias = "requests-grid", allow_hyphen_values = true, value_parser = parse_requests_grid)]
    pub batch_sizes: Option<Grid<u64>>,
    /// Waits instead of the matrix's, comma-separated seconds.
    #[arg(short = 'w', long, visible_alias = "wait-grid", allow_hyphen_values = true, value_parser = parse_wait_grid)]
    pub wait_times: Option<Grid<f64>>,
    /// Repetitions instead of the matrix's.
    #[arg(short = 'r', long, allow_hyphen_values = true, value_parser = parse_reps)]
    pub reps: Option<u32>,
    /// One mode instead of the matrix's modes.
    #[arg(short = 'm', long, value_parser = ["ws", "http"])]
    pub mode: Option<String>,
    /// Per-request timeout instead of the matrix's, seconds.
    #[arg(short = 't', long, allow_hyphen_values = true, value_parser = parse_seconds)]
    pub timeout: Option<f64>,
    /// The results folder instead of <results>/<id>/<YYYY-MM-DD>.
    #[arg(short = 'o', long)]
    pub output_dir: Option<PathBuf>,
    /// Accepted for the reference's command lines: envload experiment
    /// writes no log entry itself (`envload report --log` does, from the
    /// results).
    #[arg(long)]
    pub no_log: bool,
}

impl ReferenceFlags {
    /// `infra` and its `plan` with the flags given applied, and the batch
    /// sizes capped as the reference does ([`Plan::cap`]); what the dry run
    /// should say of them joins `infra.remarks`.
    pub fn apply(&self, infra: &mut Infrastructure, plan: &mut Plan) -> Result<(), String> {
        if let Some(url) = &self.url {
            if infra.deploy == Deploy::Sbatch {
                return Err(format!(
                    "--url: the sbatch job of '{}' starts its server and measures it itself; drop --url",
                    infra.id
                ));
            }
            envload_agent::Target::parse(url).map_err(|e| format!("--url: {e}"))?;
            if infra.deploy == Deploy::Embedded {
                infra.deploy = Deploy::Url;
            }
            infra.url = Some(url.clone());
            infra.url_key = "--url".into();
            infra
                .remarks
                .push(format!("--url {url}: measured instead of the matrix's URL"));
        }
        if let Some(Grid(sizes)) = &self.batch_sizes {
            plan.requests = sizes.clone();
        }
        if let Some(Grid(waits)) = &self.wait_times {
            plan.waits = waits.clone();
        }
        if let Some(r) = self.reps {
            plan.reps = r;
        }
        if let Some(m) = &self.mode {
            plan.modes = vec![m.clone()];
        }
        if let Some(t) = self.timeout {
            plan.timeout = t;
        }
        // The reference's cap on the sizes, whoever gave them.
        if let Some(cap) = &infra.batch_cap {
            let sizes = match self.batch_sizes {
                Some(_) => "--batch-sizes",
                None => "batch sizes",
            };
            infra.remarks.extend(plan.cap(cap, &infra.id, sizes)?);
        }
        Ok(())
    }
}
