//! The reference tool's experiment matrix (`experiment_matrix.yaml`) read as
//! written: `variables` (infrastructures, modes, wait_seconds, batch_sizes),
//! `execution` (repetitions, timeout_seconds, cooldown_seconds),
//! `success_criteria`, `output`; `experiment`, `metrics` and `analyses` are
//! accepted and shown by the dry run. It becomes the same [`Matrix`] the
//! TOML file does, so one plan runs whichever file it came from. Each
//! `deploy_script` becomes one of envload's deployments ([`super::scripts`]).
//! Errors name the file, the key and its line; an unknown key is a warning
//! naming it.

mod schema;

use std::collections::BTreeMap;
use std::path::Path;

use envload_results::files;
use serde_norway::Value;

use super::matrix::{BatchCap, GridSpec, Infrastructure, Matrix, SuccessCriteria};
use super::scripts::{self, Resolved};
use super::yaml_lines::{display, line_of, steps};
use crate::values::{parse_batch, parse_reps, parse_seconds, parse_wait};
use schema::{Doc, Infra, Output};

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

/// The file being read, for messages that name a key and its line.
struct Source<'a> {
    text: &'a str,
    file: std::path::Display<'a>,
}

impl Source<'_> {
    /// `variables.infrastructures[2].url_template (line 35)`.
    fn at(&self, key: &str) -> String {
        let s = steps(key);
        match line_of(self.text, &s) {
            Some(n) => format!("{} (line {n})", display(&s)),
            None => display(&s),
        }
    }

    /// An error about `key`.
    fn bad(&self, key: &str, e: impl std::fmt::Display) -> String {
        format!("--matrix {}: {}: {e}", self.file, self.at(key))
    }
}

/// Reads the reference's matrix into envload's; `warn` gets each warning
/// (an unknown key, a result file named otherwise than envload writes it).
pub fn parse(text: &str, path: &Path, mut warn: impl FnMut(String)) -> Result<Matrix, String> {
    let src = Source {
        text,
        file: path.display(),
    };
    let mut unknown = Vec::new();
    let doc: Doc = serde_ignored::deserialize(serde_norway::Deserializer::from_str(text), |p| {
        unknown.push(p.to_string())
    })
    .map_err(|e| format!("--matrix {}: {e}", src.file))?;
    for key in unknown {
        warn(format!(
            "--matrix {}: unknown key {} ignored",
            src.file,
            src.at(&key)
        ));
    }
    if let Some(o) = &doc.output {
        output_warnings(&src, o, &mut warn);
    }
    let grid = grid(&src, &doc)?;
    let success_criteria = doc.success_criteria.map(SuccessCriteria::from);
    if let Some(c) = &success_criteria {
        c.criteria().map_err(|e| {
            let (key, why) = e.split_once(": ").unwrap_or(("", &e));
            src.bad(&format!("success_criteria.{key}"), why)
        })?;
    }
    let cwd = std::env::current_dir().map_err(|e| format!("--matrix {}: {e}", src.file))?;
    let home = scripts::home(&cwd);
    let infrastructures = doc
        .variables
        .infrastructures
        .iter()
        .enumerate()
        .map(|(i, r)| infrastructure(&src, i, r, (&cwd, &home)))
        .collect::<Result<_, _>>()?;
    Ok(Matrix {
        results: doc.output.as_ref().and_then(|o| o.base_dir.clone()),
        log: doc.output.as_ref().and_then(|o| o.log_file.clone()),
        success_criteria,
        grid,
        infrastructures,
        listed_at: src.at("variables.infrastructures"),
        informational: informational(&doc),
    })
}

/// What the dry run lists and envload does not act on.
fn informational(doc: &Doc) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = &doc.experiment {
        let version = e.version.as_ref().and_then(|v| scalar(v).ok());
        out.push(format!(
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
            out.push(format!(
                "{name} (informational: envload's results and report hold their own): {}",
                outline(v)
            ));
        }
    }
    out
}

/// Result files the reference lets one rename, and envload does not.
fn output_warnings(src: &Source, o: &Output, warn: &mut impl FnMut(String)) {
    for (key, given, written) in [
        ("output.raw_file", &o.raw_file, files::RAW_JSONL),
        ("output.summary_file", &o.summary_file, files::SUMMARY_CSV),
    ] {
        if let Some(given) = given.as_deref().filter(|g| *g != written) {
            warn(format!(
                "--matrix {}: {}: envload writes {written}, not '{given}'",
                src.file,
                src.at(key)
            ));
        }
    }
}

/// `variables` and `execution` as the shared grid, each value checked by
/// the rule of the `envload run` flag it becomes and named by its key.
fn grid(src: &Source, doc: &Doc) -> Result<GridSpec, String> {
    let v = &doc.variables;
    let ex = doc.execution.as_ref();
    let checked = |key: &str, values: &[String], rule: fn(&str) -> Result<(), String>| {
        values
            .iter()
            .enumerate()
            .try_for_each(|(i, value)| rule(value).map_err(|e| src.bad(&format!("{key}[{i}]"), e)))
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
    if let Some(r) = ex.and_then(|e| e.repetitions) {
        parse_reps(&r.to_string()).map_err(|e| src.bad("execution.repetitions", e))?;
    }
    if let Some(t) = ex.and_then(|e| e.timeout_seconds) {
        parse_seconds(&t.to_string()).map_err(|e| src.bad("execution.timeout_seconds", e))?;
    }
    let cooldown = ex.and_then(|e| e.cooldown_seconds);
    if let Some(c) = cooldown.filter(|c| !(0.0..=86_400.0).contains(c)) {
        return Err(src.bad(
            "execution.cooldown_seconds",
            format!("{c} is not a pause in seconds in [0, 86400]"),
        ));
    }
    Ok(GridSpec {
        modes: v.modes.clone(),
        requests: v.batch_sizes.clone(),
        waits: v.wait_seconds.clone(),
        reps: ex.and_then(|e| e.repetitions),
        timeout: ex.and_then(|e| e.timeout_seconds),
        close: None,
        cooldown,
    })
}

/// Infrastructure `i` of the file as envload's, for a run from `cwd` with
/// envload's deployments in `home`.
fn infrastructure(
    src: &Source,
    i: usize,
    r: &Infra,
    (cwd, home): (&Path, &Path),
) -> Result<Infrastructure, String> {
    let key = |field: &str| format!("variables.infrastructures[{i}].{field}");
    let mut env = BTreeMap::new();
    for (name, value) in &r.env_vars {
        let value = scalar(value).map_err(|e| src.bad(&key(&format!("env_vars.{name}")), e))?;
        env.insert(name.clone(), value);
    }
    let deploy = scripts::resolve(r.deploy_script.as_deref(), &env, cwd, home)
        .map_err(|e| src.bad(&key("deploy_script"), e))?;
    let mut remarks = vec![deploy.remark.clone()];
    let url = url(src, i, r, &deploy, &mut remarks)?;
    Ok(Infrastructure {
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
        grid: None,
        notes: r.notes.clone(),
        url_key: src.at(&key("url_template")),
        remarks,
        batch_cap: Some(BatchCap {
            max_expected: r.max_expected_batch.unwrap_or(DEFAULT_MAX_EXPECTED_BATCH),
            set_at: match r.max_expected_batch {
                Some(_) => format!("--matrix {}: {}", src.file, src.at(&key("max_expected_batch"))),
                None => format!(
                    "--matrix {}: {} (max_expected_batch {DEFAULT_MAX_EXPECTED_BATCH}, the reference's default)",
                    src.file,
                    src.at(&format!("variables.infrastructures[{i}]"))
                ),
            },
        }),
    })
}

/// `url_template` where the deployment is measured at it; a job that
/// serves and measures itself does not use one (said in `remarks`).
fn url(
    src: &Source,
    i: usize,
    r: &Infra,
    deploy: &Resolved,
    remarks: &mut Vec<String>,
) -> Result<Option<String>, String> {
    match (&r.url_template, deploy.uses_url()) {
        (Some(u), true) => Ok(Some(u.clone())),
        (None, true) => Err(src.bad(
            &format!("variables.infrastructures[{i}]"),
            format!("'{}' needs a url_template: {}", r.id, deploy.remark),
        )),
        (Some(u), false) => {
            remarks.push(format!(
                "url_template '{u}' is not used: the job starts the server and measures it from its own nodes"
            ));
            Ok(None)
        }
        (None, false) => Ok(None),
    }
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
