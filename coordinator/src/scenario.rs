//! Scenario files (`--scenario FILE.toml`): a rollout workload bundled with
//! the batch size, wait and message cap it is meant to run with. Flags given
//! beside the file override its values. Every key is optional; an unknown
//! key, a value out of range or an unreadable actions file stops the run
//! before anything starts, naming the file and the key.
//!
//! ```toml
//! description = "TRL GRPO-like pool"
//! requests = 64             # N: concurrent sessions
//! wait = 0.05               # the benchmark action's wait_seconds, {wait}
//! timeout = 600             # each request's deadline, seconds
//! steps = "1..6"            # steps per episode (or one number)
//! think = "0.5..2"          # seconds of thinking before each step
//! episodes = 8              # episodes per session, on one connection
//! seed = 1
//! reset = { seed = 7 }      # the reset's data (a table or a JSON string)
//! action = '{"message": "turn {step}"}'   # or: actions = "file.jsonl"
//! max_resets_in_flight = 256
//! max_message_size = "4MiB"
//! time_scale = 0.1          # multiplies think times
//! headers = ["Authorization: Bearer ${HF_TOKEN}"]   # as --header
//! mode = "mcp-http"         # as --mode (ws, http, mcp-ws, mcp-http)
//! state_every = 4           # as --state-every
//!
//! [[stages]]                # as --stages: users over time (k6's stages)
//! duration = "30s"
//! target = 64
//! ```

use std::path::{Path, PathBuf};

use envload_agent::headers::HeaderTemplate;
use envload_agent::workload::{check_action, Actions, Span, Think};

use crate::values::{
    parse_batch, parse_episodes, parse_message_size, parse_seconds, parse_steps, parse_think,
    parse_time_scale, parse_wait,
};

/// What a scenario file sets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scenario {
    pub description: Option<String>,
    pub requests: Option<u64>,
    pub wait: Option<f64>,
    pub timeout: Option<f64>,
    pub steps: Option<Span<u32>>,
    pub think: Option<Think>,
    pub episodes: Option<u32>,
    pub seed: Option<u64>,
    /// Sessions per GRPO group (`group = 8`, as `--group`).
    pub group: Option<u64>,
    /// `abort = "0.01@step"`, as `--abort`.
    pub abort: Option<envload_agent::plan::Abort>,
    /// `abort_mode = "fin"` (else rst), as `--abort-mode`.
    pub abort_fin: bool,
    /// `leak_probe = 64`, as `--leak-probe`.
    pub leak_probe: Option<u64>,
    pub reset: Option<String>,
    pub actions: Option<Actions>,
    pub max_resets_in_flight: Option<u64>,
    pub max_message: Option<usize>,
    pub time_scale: Option<f64>,
    /// Headers every request carries (`headers = ["Name: value", …]`).
    pub headers: Vec<HeaderTemplate>,
    /// `mode = "mcp-http"`, as `--mode`.
    pub mode: Option<envload_agent::Mode>,
    /// `state_every = 4`, as `--state-every`.
    pub state_every: Option<u32>,
    /// `replay = "trace.jsonl"` (relative to the scenario), as `--replay`.
    pub replay: Option<PathBuf>,
    /// `[[stages]]` tables (`duration = "30s"`, `target = 64`), or
    /// `stages = "30s:64,…"`, as `--stages`.
    pub stages: Option<envload_agent::stages::Stages>,
}

/// A stage plan: `"30s:64,…"`, or `[[stages]]` tables of `duration` and
/// `target`.
fn stages(value: &toml::Value) -> Result<envload_agent::stages::Stages, String> {
    use envload_agent::stages::Stages;
    if let Some(text) = value.as_str() {
        return Stages::parse(text);
    }
    let list = value
        .as_array()
        .ok_or("expected [[stages]] tables (duration, target) or a string like \"30s:64,1m:64\"")?;
    let mut parts = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let t = t
            .as_table()
            .ok_or_else(|| format!("stage {} is not a table of duration and target", i + 1))?;
        let duration = match t.get("duration") {
            Some(toml::Value::String(d)) => d.clone(),
            Some(toml::Value::Integer(n)) => format!("{n}s"),
            Some(toml::Value::Float(f)) => format!("{f}s"),
            _ => {
                return Err(format!(
                    "stage {}: duration (\"30s\", \"2m\") is missing",
                    i + 1
                ))
            }
        };
        let target = t
            .get("target")
            .and_then(toml::Value::as_integer)
            .ok_or_else(|| format!("stage {}: target (a number of users) is missing", i + 1))?;
        if let Some(k) = t.keys().find(|k| *k != "duration" && *k != "target") {
            return Err(format!(
                "stage {}: unknown key '{k}' (known: duration, target)",
                i + 1
            ));
        }
        parts.push(format!("{duration}:{target}"));
    }
    Stages::parse(&parts.join(","))
}

/// Reads and checks `path`.
pub fn load(path: &Path) -> Result<Scenario, String> {
    let where_ = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--scenario '{where_}': cannot read it: {e}"))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("--scenario '{where_}' is not TOML: {e}"))?;
    let mut s = Scenario::default();
    for (key, value) in &table {
        let bad = |why: String| format!("--scenario '{where_}': {key}: {why}");
        // Numbers and strings alike go through the flags' own parsers.
        let text = match value {
            toml::Value::String(v) => v.clone(),
            toml::Value::Integer(v) => v.to_string(),
            toml::Value::Float(v) => v.to_string(),
            other => other.to_string(),
        };
        match key.as_str() {
            "description" => s.description = Some(text),
            "requests" => s.requests = Some(parse_batch(&text).map_err(bad)?),
            "group" => s.group = Some(parse_batch(&text).map_err(bad)?),
            "abort" => s.abort = Some(crate::values::parse_abort(&text).map_err(bad)?),
            "abort_mode" => {
                s.abort_fin = match text.as_str() {
                    "fin" => true,
                    "rst" => false,
                    other => return Err(bad(format!("'{other}' is not rst or fin"))),
                }
            }
            "leak_probe" => s.leak_probe = Some(parse_batch(&text).map_err(bad)?),
            "mode" => {
                let names = envload_agent::Mode::ALL.map(|m| m.as_str()).join(", ");
                s.mode = Some(
                    envload_agent::Mode::parse(&text)
                        .ok_or_else(|| bad(format!("'{text}' is not a mode ({names})")))?,
                )
            }
            "state_every" => {
                s.state_every = Some(
                    text.parse::<u32>()
                        .ok()
                        .filter(|k| *k > 0)
                        .ok_or_else(|| bad(format!("'{text}' is not a step count (1 or more)")))?,
                )
            }
            "wait" => s.wait = Some(parse_wait(&text).map_err(bad)?),
            "timeout" => s.timeout = Some(parse_seconds(&text).map_err(bad)?),
            "steps" => s.steps = Some(parse_steps(&text).map_err(bad)?),
            "think" => {
                // A file of think times is found beside the scenario.
                let text = match text.strip_prefix("file:") {
                    Some(f) => format!("file:{}", resolve(path, f).display()),
                    None => text,
                };
                s.think = Some(parse_think(&text).map_err(bad)?)
            }
            "episodes" => s.episodes = Some(parse_episodes(&text).map_err(bad)?),
            "seed" => {
                s.seed = Some(
                    text.parse()
                        .map_err(|_| bad(format!("'{text}' is not a seed (0 to 2^64-1)")))?,
                )
            }
            "max_resets_in_flight" => {
                s.max_resets_in_flight = Some(
                    text.parse()
                        .ok()
                        .filter(|r| *r > 0)
                        .ok_or_else(|| bad(format!("'{text}' is not a positive count")))?,
                )
            }
            "max_message_size" => s.max_message = Some(parse_message_size(&text).map_err(bad)?),
            "time_scale" => s.time_scale = Some(parse_time_scale(&text).map_err(bad)?),
            "stages" => s.stages = Some(stages(value).map_err(bad)?),
            "replay" => s.replay = Some(resolve(path, &text)),
            "headers" => {
                let list = value.as_array().ok_or_else(|| {
                    bad("expected a list of 'Name: value' strings".to_string())
                })?;
                for item in list {
                    let text = item.as_str().ok_or_else(|| {
                        bad("expected a list of 'Name: value' strings".to_string())
                    })?;
                    s.headers.push(HeaderTemplate::parse(text).map_err(bad)?);
                }
            }
            "reset" => s.reset = Some(json_object(value).map_err(bad)?),
            "action" => {
                let action = json_object(value).map_err(bad)?;
                s.actions = Some(Actions::Template(action));
            }
            "actions" => {
                let file = resolve(path, &text);
                s.actions = Some(Actions::Lines(actions_file(&file).map_err(bad)?));
            }
            _ => {
                return Err(format!(
                    "--scenario '{where_}': unknown key '{key}' (known: description, requests, wait, timeout, steps, think, episodes, seed, reset, action, actions, max_resets_in_flight, max_message_size, time_scale, headers, group, abort, abort_mode, leak_probe, mode, state_every, stages, replay)"
                ))
            }
        }
    }
    if table.contains_key("action") && table.contains_key("actions") {
        return Err(format!(
            "--scenario '{where_}': give 'action' or 'actions', not both"
        ));
    }
    Ok(s)
}

/// A path in a scenario, relative to the scenario's folder.
fn resolve(scenario: &Path, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        scenario.parent().unwrap_or(Path::new(".")).join(p)
    }
}

/// A TOML table as JSON text, or a string that holds a JSON object (a
/// template: placeholders are checked filled in).
fn json_object(value: &toml::Value) -> Result<String, String> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Table(_) => serde_json::to_string(value).map_err(|e| e.to_string())?,
        other => return Err(format!("expected a table or a JSON string, got {other}")),
    };
    check_action(&text)?;
    Ok(text)
}

/// `--actions FILE.jsonl`: one JSON object per non-blank line.
pub fn actions_file(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read actions file '{}': {e}", path.display()))?;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        check_action(line).map_err(|why| format!("'{}' line {}: {why}", path.display(), i + 1))?;
        lines.push(line.to_string());
    }
    if lines.is_empty() {
        return Err(format!("actions file '{}' has no action", path.display()));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn a_scenario_sets_what_it_names() {
        let dir = std::env::temp_dir().join(format!("envload-scenario-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write(
            &dir,
            "a.jsonl",
            "{\"message\":\"hi {step}\"}\n\n{\"message\":\"bye\"}\n",
        );
        let p = write(
            &dir,
            "s.toml",
            "requests = 64\nwait = 0.05\nsteps = \"1..6\"\nthink = 0.5\nepisodes = 8\nseed = 3\nreset = { seed = 7 }\nactions = \"a.jsonl\"\nmax_resets_in_flight = 16\nmax_message_size = \"4MiB\"\ntime_scale = 0.1\nheaders = [\"Authorization: Bearer ${HF_TOKEN}\", \"X-Team: rl\"]\n",
        );
        let s = load(&p).unwrap();
        assert_eq!(s.requests, Some(64));
        assert_eq!(s.steps, Some(Span { min: 1, max: 6 }));
        assert_eq!(s.think, Some(Think::Uniform(Span::fixed(0.5))));
        assert_eq!(s.reset.as_deref(), Some(r#"{"seed":7}"#));
        assert_eq!(
            s.actions,
            Some(Actions::Lines(vec![
                r#"{"message":"hi {step}"}"#.into(),
                r#"{"message":"bye"}"#.into()
            ]))
        );
        assert_eq!(s.max_message, Some(4 << 20));
        let names: Vec<&str> = s.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["Authorization", "X-Team"]);
        assert_eq!(s.headers[0].value, "Bearer ${HF_TOKEN}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_scenarios_name_the_file_and_key() {
        let dir = std::env::temp_dir().join(format!("envload-scenario-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (text, needle) in [
            ("stepz = 3\n", "unknown key 'stepz'"),
            ("steps = \"9..2\"\n", "steps: '9..2' is an empty range"),
            ("think = -1\n", "think:"),
            ("actions = \"missing.jsonl\"\n", "cannot read actions file"),
            ("action = '[1]'\n", "not a JSON object"),
            ("requests = 0\n", "requests:"),
            ("headers = \"X: 1\"\n", "headers: expected a list"),
            ("headers = [\"Bearer s3cret\"]\n", "headers: '<redacted>'"),
        ] {
            let p = write(&dir, "bad.toml", text);
            let e = load(&p).unwrap_err();
            assert!(e.contains("bad.toml") && e.contains(needle), "{text}: {e}");
        }
        let p = write(&dir, "bad.jsonl", "{\"ok\":1}\nnot json\n");
        let e = actions_file(&p).unwrap_err();
        assert!(e.contains("line 2") && e.contains("not JSON"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
