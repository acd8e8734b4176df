//! The experiment matrix (`experiments/config/matrix.toml`): the
//! infrastructures a team measures — id, name, how to deploy, URL, cores —
//! and the grid each is swept over (a shared `[grid]`, overridable per
//! infrastructure), the SLO its results are judged by and the experiment
//! log they go to. Files are read by `matrix_file` (envload's TOML, or
//! the reference tool's `experiment_matrix.yaml` through `reference`).
//! Errors name the file and the infrastructure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use envload_results::slo::Criteria;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// Root the results go under (`<results>/<id>/<YYYY-MM-DD>/`), relative
    /// to the current directory [default: experiments/results].
    pub results: Option<PathBuf>,
    /// The experiment log `envload report --matrix … --log` keeps.
    pub log: Option<PathBuf>,
    /// The SLO batches are judged by (`report`, `ceiling`, the run's
    /// `--slo`).
    pub success_criteria: Option<SuccessCriteria>,
    /// The grid every infrastructure runs unless it overrides it.
    #[serde(default)]
    pub grid: GridSpec,
    /// The infrastructures, in the file's order.
    #[serde(rename = "infrastructure", default)]
    pub infrastructures: Vec<Infrastructure>,
    /// Where the infrastructures are listed, for messages.
    #[serde(skip, default = "toml_listing")]
    pub listed_at: String,
    /// Sections shown by the dry run and not acted on.
    #[serde(skip)]
    pub informational: Vec<String>,
}

fn toml_listing() -> String {
    "[[infrastructure]]".into()
}

/// The reference matrix's `success_criteria` (in TOML, a
/// `[success_criteria]` table with the same keys); a key left out keeps
/// the reference's value (0.95, 2.0, 0.5).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuccessCriteria {
    pub min_success_rate: Option<f64>,
    pub max_latency_multiplier: Option<f64>,
    pub overhead_seconds: Option<f64>,
}

impl SuccessCriteria {
    /// The SLO, checked; an error starts with the key it is about.
    pub fn criteria(&self) -> Result<Criteria, String> {
        Criteria::reference(
            self.min_success_rate.unwrap_or(0.95),
            self.max_latency_multiplier.unwrap_or(2.0),
            self.overhead_seconds.unwrap_or(0.5),
        )
    }
}

/// A sweep: what `envload run` gets as `--mode/--compare`,
/// `--requests-grid`, `--wait-grid`, `--reps`, `--timeout`, `--close`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    pub modes: Option<Vec<String>>,
    pub requests: Option<Vec<u64>>,
    pub waits: Option<Vec<f64>>,
    pub reps: Option<u32>,
    pub timeout: Option<f64>,
    pub close: Option<String>,
    /// Pause between phases, seconds (`envload run --cooldown`).
    pub cooldown: Option<f64>,
}

/// How an infrastructure comes up for the experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Deploy {
    /// envload's own benchmark server, started in-process.
    Embedded,
    /// `start` is run (in its own process group), `url` polled on `/health`
    /// until it answers, the grid run, then the group stopped.
    Command,
    /// Already deployed (by `how`, by hand): just `url`.
    Url,
    /// `sbatch --wait` of `script` on `nodes` nodes; the script runs the
    /// grid itself (the slurm/experiment_*.sbatch contract).
    Sbatch,
}

impl Deploy {
    /// The name the matrix uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Deploy::Embedded => "embedded",
            Deploy::Command => "command",
            Deploy::Url => "url",
            Deploy::Sbatch => "sbatch",
        }
    }
}

/// One infrastructure.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Infrastructure {
    /// Short id: the results folder and the report's row name.
    pub id: String,
    /// Human name for logs and the dry run.
    pub name: Option<String>,
    /// How it is deployed.
    pub deploy: Deploy,
    /// Shell command that serves the environment (`command`).
    pub start: Option<String>,
    /// Target URL (`command`, `url`).
    pub url: Option<String>,
    /// How to deploy it by hand (`url`), shown by the dry run.
    pub how: Option<String>,
    /// sbatch script (`sbatch`).
    pub script: Option<String>,
    /// Nodes for the sbatch job (`sbatch`).
    pub nodes: Option<u32>,
    /// CPU cores of the infrastructure (recorded for batch per core).
    pub cores: Option<u32>,
    /// Hardware tier recorded in the results.
    pub hardware: Option<String>,
    /// Seconds to wait for `url`'s /health after `start` [default: 120].
    pub ready_timeout: Option<f64>,
    /// More `envload run` flags (`--agents 2`, `--close server-first`, …).
    #[serde(default)]
    pub extra_args: Vec<String>,
    /// A rollout scenario (`--scenario`), relative to the matrix file; the
    /// grid's requests and waits win over the scenario's.
    pub scenario: Option<PathBuf>,
    /// Environment for `start` or the sbatch job.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Overrides of the shared grid.
    pub grid: Option<GridSpec>,
    /// Free text shown by the dry run.
    pub notes: Option<String>,
    /// Where `url` was given, for messages about its `${VAR}`s.
    #[serde(skip)]
    pub url_key: String,
    /// What the dry run says of how the file's entry became this one.
    #[serde(skip)]
    pub remarks: Vec<String>,
    /// The reference matrix's `max_expected_batch`, which bounds the batch
    /// sizes it runs ([`Plan::cap`]).
    #[serde(skip)]
    pub batch_cap: Option<BatchCap>,
}

/// The reference runner's rule: an infrastructure runs the batch sizes up
/// to twice its `max_expected_batch`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchCap {
    pub max_expected: u64,
    /// Where it was set (file, key and line), for messages.
    pub set_at: String,
}

/// The grid after overrides and defaults, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub modes: Vec<String>,
    pub requests: Vec<u64>,
    pub waits: Vec<f64>,
    pub reps: u32,
    pub timeout: f64,
    pub close: String,
    pub cooldown: Option<f64>,
    /// The matrix's `success_criteria`, the run's `--slo`.
    pub criteria: Option<Criteria>,
}

impl Matrix {
    /// The SLO its `success_criteria` set (the reference's when it has none).
    pub fn criteria(&self) -> Criteria {
        self.success_criteria
            .and_then(|c| c.criteria().ok())
            .unwrap_or_default()
    }

    /// The infrastructure named `id`; the error lists the ones there are.
    pub fn find(&self, id: &str, path: &Path) -> Result<&Infrastructure, String> {
        self.infrastructures
            .iter()
            .find(|i| i.id == id)
            .ok_or_else(|| {
                let ids: Vec<&str> = self.infrastructures.iter().map(|i| i.id.as_str()).collect();
                format!(
                    "--infrastructure '{id}' is not in {}: {} has {}",
                    path.display(),
                    self.listed_at,
                    if ids.is_empty() {
                        "none".to_string()
                    } else {
                        ids.join(", ")
                    }
                )
            })
    }

    /// The infrastructure's grid: its overrides over `[grid]`, then defaults.
    pub fn plan(&self, infra: &Infrastructure) -> Result<Plan, String> {
        let own = infra.grid.clone().unwrap_or_default();
        let g = &self.grid;
        let plan = Plan {
            modes: own
                .modes
                .or(g.modes.clone())
                .unwrap_or_else(|| vec!["ws".into()]),
            requests: own.requests.or(g.requests.clone()).unwrap_or_default(),
            waits: own.waits.or(g.waits.clone()).unwrap_or_else(|| vec![1.0]),
            reps: own.reps.or(g.reps).unwrap_or(1),
            timeout: own.timeout.or(g.timeout).unwrap_or(120.0),
            close: own
                .close
                .or(g.close.clone())
                .unwrap_or_else(|| "client-first".into()),
            cooldown: own.cooldown.or(g.cooldown),
            criteria: self
                .success_criteria
                .map(|c| c.criteria())
                .transpose()
                .map_err(|e| format!("success_criteria.{e}"))?,
        };
        if plan.requests.is_empty() {
            return Err("the grid has no `requests` (batch sizes)".into());
        }
        if plan.modes.is_empty() || plan.modes.iter().any(|m| m != "ws" && m != "http") {
            return Err(format!(
                "grid modes {:?}: each must be \"ws\" or \"http\"",
                plan.modes
            ));
        }
        Ok(plan)
    }
}

impl Plan {
    /// Keeps the batch sizes `cap` allows, as the reference runner does,
    /// when the infrastructure `id` is run (not when the matrix is read:
    /// the reference looks at the chosen entry alone). What it left out of
    /// `sizes` (how the sizes were given) as a sentence for the dry run;
    /// an error when nothing is left.
    pub fn cap(&mut self, cap: &BatchCap, id: &str, sizes: &str) -> Result<Option<String>, String> {
        let most = cap.max_expected.saturating_mul(2);
        let (kept, dropped): (Vec<u64>, Vec<u64>) = self.requests.iter().partition(|b| **b <= most);
        let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        if kept.is_empty() {
            return Err(format!(
                "{}: every batch size ({}) is over 2 × {} for '{id}': there is nothing to run",
                cap.set_at,
                list(&self.requests),
                cap.max_expected
            ));
        }
        self.requests = kept;
        Ok((!dropped.is_empty()).then(|| {
            format!(
                "{sizes} over 2 × max_expected_batch = {most} left out, as the reference does: {}",
                list(&dropped)
            )
        }))
    }

    /// The `envload run` flags of the plan's pause and SLO, when the
    /// matrix sets them (`--cooldown`, `--slo`).
    pub fn pause_and_slo_flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(c) = self.cooldown {
            out.extend(["--cooldown".into(), c.to_string()]);
        }
        if let Some(c) = &self.criteria {
            out.extend(["--slo".into(), c.spec().text]);
        }
        out
    }
}

impl Infrastructure {
    /// The fields its kind of deployment needs are there, and no others.
    pub(super) fn check(&self) -> Result<(), String> {
        crate::values::parse_name(&self.id).map_err(|e| format!("id: {e}"))?;
        if let Some(t) = self.ready_timeout {
            crate::values::parse_seconds(&t.to_string())
                .map_err(|e| format!("ready_timeout: {e}"))?;
        }
        let need = |field: Option<&String>, name: &str| {
            field
                .map(|_| ())
                .ok_or_else(|| format!("deploy = \"{}\" needs `{name}`", self.deploy.as_str()))
        };
        match self.deploy {
            Deploy::Embedded => {
                if self.url.is_some() || self.start.is_some() {
                    return Err(
                        "deploy = \"embedded\" runs envload's own server: drop `url`/`start`"
                            .into(),
                    );
                }
            }
            Deploy::Command => {
                need(self.start.as_ref(), "start")?;
                need(self.url.as_ref(), "url")?;
            }
            Deploy::Url => need(self.url.as_ref(), "url")?,
            Deploy::Sbatch => need(self.script.as_ref(), "script")?,
        }
        // A URL naming variables is checked once they are expanded.
        if let Some(url) = self.url.as_ref().filter(|u| !u.contains("${")) {
            envload_agent::Target::parse(url).map_err(|e| format!("url: {e}"))?;
        }
        Ok(())
    }
}
