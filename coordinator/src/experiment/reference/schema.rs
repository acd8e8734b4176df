//! The reference matrix's shape, as serde reads it: every section and key
//! its `experiment_matrix.yaml` has. Nothing here rejects an unknown key —
//! the reader warns of those — and `metrics`/`analyses` are taken as they
//! come.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_norway::Value;

use crate::experiment::matrix::SuccessCriteria;

/// The whole file.
#[derive(Debug, Deserialize)]
pub struct Doc {
    pub experiment: Option<Experiment>,
    pub success_criteria: Option<Criteria>,
    pub variables: Variables,
    pub execution: Option<Execution>,
    pub output: Option<Output>,
    pub metrics: Option<Value>,
    pub analyses: Option<Value>,
}

/// `success_criteria`; an unknown key in it is a warning, as anywhere.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Criteria {
    pub min_success_rate: Option<f64>,
    pub max_latency_multiplier: Option<f64>,
    pub overhead_seconds: Option<f64>,
}

impl From<Criteria> for SuccessCriteria {
    fn from(c: Criteria) -> Self {
        SuccessCriteria {
            min_success_rate: c.min_success_rate,
            max_latency_multiplier: c.max_latency_multiplier,
            overhead_seconds: c.overhead_seconds,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Experiment {
    pub name: Option<String>,
    pub version: Option<Value>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Variables {
    pub infrastructures: Vec<Infra>,
    pub modes: Option<Vec<String>>,
    pub wait_seconds: Option<Vec<f64>>,
    pub batch_sizes: Option<Vec<u64>>,
}

#[derive(Debug, Deserialize)]
pub struct Infra {
    pub id: String,
    pub name: Option<String>,
    pub deploy_script: Option<String>,
    pub url_template: Option<String>,
    #[serde(default)]
    pub env_vars: BTreeMap<String, Value>,
    pub max_expected_batch: Option<u64>,
    pub notes: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Execution {
    pub repetitions: Option<u32>,
    pub timeout_seconds: Option<f64>,
    pub cooldown_seconds: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub struct Output {
    pub base_dir: Option<PathBuf>,
    pub raw_file: Option<String>,
    pub summary_file: Option<String>,
    pub log_file: Option<PathBuf>,
}
