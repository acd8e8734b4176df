//! The reference tool's experiment matrix (`experiment_matrix.yaml`) read as
//! written: `variables` (infrastructures, modes, wait_seconds, batch_sizes),
//! `execution` (repetitions, timeout_seconds, cooldown_seconds),
//! `success_criteria`, `output`; `experiment`, `metrics` and `analyses` are
//! accepted and shown by the dry run. It becomes the same [`Matrix`] the
//! TOML file does, so one plan runs whichever file it came from. Each
//! `deploy_script` becomes one of envload's deployments ([`super::scripts`]).
//! Errors name the file, the key and its line; an unknown key is a warning
//! naming it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use envload_results::files;
use serde::Deserialize;
use serde_norway::Value;

use super::matrix::{GridSpec, Infrastructure, Matrix, SuccessCriteria};
use super::scripts;
use super::yaml_lines::{display, line_of, steps, Step};
use crate::values::{parse_batch, parse_reps, parse_seconds, parse_wait};

#[derive(Debug, Deserialize)]
struct Doc {
    experiment: Option<Experiment>,
    success_criteria: Option<Criteria>,
    variables: Variables,
    execution: Option<Execution>,
    output: Option<Output>,
    metrics: Option<Value>,
    analyses: Option<Value>,
}

/// `success_criteria`; an unknown key in it is a warning, as anywhere.
#[derive(Debug, Clone, Copy, Deserialize)]
struct Criteria {
    min_success_rate: Option<f64>,
    max_latency_multiplier: Option<f64>,
    overhead_seconds: Option<f64>,
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
struct Experiment {
    name: Option<String>,
    version: Option<Value>,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Variables {
    infrastructures: Vec<Infra>,
    modes: Option<Vec<String>>,
    wait_seconds: Option<Vec<f64>>,
    batch_sizes: Option<Vec<u64>>,
}

#[derive(Debug, Deserialize)]
struct Infra {
    id: String,
    name: Option<String>,
    deploy_script: Option<String>,
    url_template: Option<String>,
    #[serde(default)]
    env_vars: BTreeMap<String, Value>,
    max_expected_batch: Option<u64>,
    notes: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Execution {
    repetitions: Option<u32>,
    timeout_seconds: Option<f64>,
    cooldown_seconds: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Output {
    base_dir: Option<PathBuf>,
    raw_file: Option<String>,
    summary_file: Option<String>,
    log_file: Option<PathBuf>,
}

/// The reference runner's `max_expected_batch` when an infrastructure has
/// none; it runs batch sizes up to twice it.
const DEFAULT_MAX_EXPECTED_BATCH: u64 = 512;

/// Whether `path` holds the reference's YAML rather than envload's TOML:
/// by extension, else by its first line that is neither blank nor a
/// comment (`key:` is YAML; `key =` and `[table]` are TOML).
pub fn is_yaml(path: &Path, text: &str) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => true,
        Some("toml") => false,
        _ => text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .is_some_and(|l| {
                !l.starts_with('[')
                    && l.split_once(':')
                        .is_some_and(|(k, _)| !k.contains('=') && !k.contains(' '))
            }),
    }
}

/// Reads the reference's matrix into envload's; `warn` gets each unknown
/// key's warning.
pub fn parse(text: &str, path: &Path, mut warn: impl FnMut(String)) -> Result<Matrix, String> {
    let file = path.display();
    let at = |key: &str| place(text, key);
    let mut unknown = Vec::new();
    let doc: Doc = serde_ignored::deserialize(serde_norway::Deserializer::from_str(text), |p| {
        unknown.push(p.to_string())
    })
    .map_err(|e| format!("--matrix {file}: {e}"))?;
    for key in unknown {
        warn(format!("--matrix {file}: unknown key {} ignored", at(&key)));
    }
    let bad = |key: &str, e: String| format!("--matrix {file}: {}: {e}", at(key));
    let mut informational = Vec::new();
    if let Some(e) = &doc.experiment {
        let version = e.version.as_ref().map(scalar).transpose().ok().flatten();
        informational.push(format!(
            "experiment: {}{}{}",
            e.name.as_deref().unwrap_or("(unnamed)"),
            version.map(|v| format!(" {v}")).unwrap_or_default(),
            e.description
                .as_deref()
                .map(|d| format!(" — {d}"))
                .unwrap_or_default()
        ));
    }
    for (name, section) in [("metrics", &doc.metrics), ("analyses", &doc.analyses)] {
        if let Some(v) = section {
            informational.push(format!(
                "{name} (informational: envload's results and report hold their own): {}",
                outline(v)
            ));
        }
    }
    if let Some(o) = &doc.output {
        for (key, given, written) in [
            ("output.raw_file", &o.raw_file, files::RAW_JSONL),
            ("output.summary_file", &o.summary_file, files::SUMMARY_CSV),
        ] {
            if let Some(given) = given.as_deref().filter(|g| *g != written) {
                warn(format!(
                    "--matrix {file}: {}: envload writes {written}, not '{given}'",
                    at(key)
                ));
            }
        }
    }
    let v = &doc.variables;
    let ex = doc.execution.as_ref();
    let checked = |key: &str, values: &[String], rule: fn(&str) -> Result<(), String>| {
        values
            .iter()
            .enumerate()
            .try_for_each(|(i, value)| rule(value).map_err(|e| bad(&format!("{key}[{i}]"), e)))
    };
    if let Some(modes) = &v.modes {
        checked("variables.modes", modes, |m| match m {
            "ws" | "http" => Ok(()),
            _ => Err(format!("'{m}' is not a mode: ws or http")),
        })?;
    }
    if let Some(b) = &v.batch_sizes {
        checked("variables.batch_sizes", &text_of(b), |s| {
            parse_batch(s).map(|_| ())
        })?;
    }
    if let Some(w) = &v.wait_seconds {
        checked("variables.wait_seconds", &text_of(w), |s| {
            parse_wait(s).map(|_| ())
        })?;
    }
    let grid = GridSpec {
        modes: v.modes.clone(),
        requests: v.batch_sizes.clone(),
        waits: v.wait_seconds.clone(),
        reps: match ex.and_then(|e| e.repetitions) {
            Some(r) => {
                Some(parse_reps(&r.to_string()).map_err(|e| bad("execution.repetitions", e))?)
            }
            None => None,
        },
        timeout: match ex.and_then(|e| e.timeout_seconds) {
            Some(t) => {
                parse_seconds(&t.to_string()).map_err(|e| bad("execution.timeout_seconds", e))?;
                Some(t)
            }
            None => None,
        },
        close: None,
        cooldown: ex.and_then(|e| e.cooldown_seconds),
    };
    if let Some(c) = grid.cooldown.filter(|c| !(0.0..=86_400.0).contains(c)) {
        return Err(bad(
            "execution.cooldown_seconds",
            format!("{c} is not a pause in seconds in [0, 86400]"),
        ));
    }
    let success_criteria = doc.success_criteria.map(SuccessCriteria::from);
    if let Some(c) = &success_criteria {
        c.criteria().map_err(|e| {
            let (key, why) = e.split_once(": ").unwrap_or(("", &e));
            bad(&format!("success_criteria.{key}"), why.to_string())
        })?;
    }
    let cwd = std::env::current_dir().map_err(|e| format!("--matrix {file}: {e}"))?;
    let home = scripts::home(&cwd);
    let mut infrastructures = Vec::new();
    for (i, r) in v.infrastructures.iter().enumerate() {
        let key = |field: &str| format!("variables.infrastructures[{i}].{field}");
        let mut env = BTreeMap::new();
        for (name, value) in &r.env_vars {
            let value = scalar(value).map_err(|e| bad(&key(&format!("env_vars.{name}")), e))?;
            env.insert(name.clone(), value);
        }
        let deploy = scripts::resolve(r.deploy_script.as_deref(), &env, &cwd, &home)
            .map_err(|e| bad(&key("deploy_script"), e))?;
        let mut remarks = vec![deploy.remark.clone()];
        // The reference runs batch sizes up to twice max_expected_batch.
        let max = r.max_expected_batch.unwrap_or(DEFAULT_MAX_EXPECTED_BATCH);
        let mut own_grid = None;
        let mut refused = None;
        if let Some(all) = &v.batch_sizes {
            let (kept, dropped): (Vec<u64>, Vec<u64>) =
                all.iter().partition(|b| **b <= max.saturating_mul(2));
            if kept.is_empty() {
                refused = Some(format!(
                    "{}: every batch size ({}) is over 2 × {max} for '{}': there is nothing to run",
                    match r.max_expected_batch {
                        Some(_) => at(&key("max_expected_batch")),
                        None => format!(
                            "{} (max_expected_batch {DEFAULT_MAX_EXPECTED_BATCH}, the reference's default)",
                            at(&format!("variables.infrastructures[{i}]"))
                        ),
                    },
                    text_of(all).join(", "),
                    r.id
                ));
            } else if !dropped.is_empty() {
                remarks.push(format!(
                    "batch sizes over 2 × max_expected_batch = {} left out, as the reference does: {}",
                    max.saturating_mul(2),
                    text_of(&dropped).join(", ")
                ));
                own_grid = Some(GridSpec {
                    requests: Some(kept),
                    ..GridSpec::default()
                });
            }
        }
        let url = match (&r.url_template, deploy.uses_url) {
            (Some(u), true) => Some(u.clone()),
            (None, true) => {
                return Err(bad(
                    &format!("variables.infrastructures[{i}]"),
                    format!("'{}' needs a url_template: {}", r.id, deploy.remark),
                ))
            }
            (Some(u), false) => {
                remarks.push(format!(
                    "url_template '{u}' is not used: the job starts the server and measures it from its own nodes"
                ));
                None
            }
            (None, false) => None,
        };
        infrastructures.push(Infrastructure {
            id: r.id.clone(),
            name: r.name.clone(),
            deploy: deploy.kind,
            start: deploy.start,
            url,
            how: deploy.how,
            script: deploy.script,
            nodes: deploy.nodes,
            cores: None,
            hardware: None,
            ready_timeout: None,
            extra_args: Vec::new(),
            scenario: None,
            env,
            grid: own_grid,
            notes: r.notes.clone(),
            url_key: at(&key("url_template")),
            remarks,
            refused,
        });
    }
    Ok(Matrix {
        results: doc.output.as_ref().and_then(|o| o.base_dir.clone()),
        log: doc.output.as_ref().and_then(|o| o.log_file.clone()),
        success_criteria,
        grid,
        infrastructures,
        listed_at: at("variables.infrastructures"),
        informational,
    })
}

fn text_of<T: ToString>(v: &[T]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

/// An environment value: a string, number or boolean as text.
fn scalar(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err("a variable's value is a string, a number or true/false".into()),
    }
}

/// A section's keys and the names or values of their entries, on one line
/// (`primary: success_rate, total_wall_time; tables: max_batch_…`).
fn outline(v: &Value) -> String {
    let Value::Mapping(m) = v else {
        return String::new();
    };
    m.iter()
        .map(|(k, v)| {
            let items: Vec<String> = match v {
                Value::Sequence(s) => s
                    .iter()
                    .filter_map(|e| match e {
                        Value::Mapping(m) => m.get("name").and_then(|n| scalar(n).ok()),
                        other => scalar(other).ok(),
                    })
                    .collect(),
                other => scalar(other).into_iter().collect(),
            };
            format!("{}: {}", scalar(k).unwrap_or_default(), items.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A matrix key's place for messages: `variables.infrastructures[2].
/// url_template (line 35)`.
pub fn place(text: &str, path: &str) -> String {
    let s: Vec<Step> = steps(path);
    match line_of(text, &s) {
        Some(n) => format!("{} (line {n})", display(&s)),
        None => display(&s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_told_by_extension_else_by_content() {
        let yaml = "# the reference's\nvariables:\n  infrastructures: []\n";
        let toml = "# envload's\nresults = \"r\"\n[grid]\nrequests = [1]\n";
        let table_first = "[grid]\nrequests = [1]\n";
        assert!(is_yaml(Path::new("m.yaml"), toml), "the extension wins");
        assert!(is_yaml(Path::new("m.yml"), ""));
        assert!(!is_yaml(Path::new("m.toml"), yaml));
        assert!(is_yaml(Path::new("matrix"), yaml));
        assert!(!is_yaml(Path::new("matrix"), toml));
        assert!(!is_yaml(Path::new("matrix.conf"), table_first));
    }

    #[test]
    fn an_unknown_key_in_the_success_criteria_is_a_warning() {
        let text = "success_criteria:\n  min_success_rate: 0.9\n  max_p95: 3\nvariables:\n  infrastructures: []\n  batch_sizes: [1]\n";
        let mut warnings = Vec::new();
        let m = parse(text, Path::new("m.yaml"), |w| warnings.push(w)).unwrap();
        assert_eq!(
            warnings,
            ["--matrix m.yaml: unknown key success_criteria.max_p95 (line 3) ignored"]
        );
        assert_eq!(m.criteria().success, 0.9);
    }
}
