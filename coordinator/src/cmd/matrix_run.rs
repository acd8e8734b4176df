//! The `envload run` an experiment matrix's infrastructure asks for, in its
//! two forms: the typed flags it runs with ([`run_args`], which become a
//! validated `RunConfig` like any `run`'s) and the command line that
//! reproduces it ([`run_argv`], recorded in run.json and printed). A test
//! holds them to each other. Only the matrix's `extra_args`, free-form
//! `envload run` flags, are parsed as a command line; the matrix's own
//! values are checked by the flags' rules and named by the flag they set.

use std::path::Path;

use clap::{Parser, ValueEnum};
use envload_agent::Target;

use super::run_args::{parse_cooldown, CloseArg, ModeArg, RunArgs};
use super::{Cli, Command};
use crate::experiment::matrix::{Infrastructure, Plan};
use crate::values::{parse_batch, parse_count, parse_reps, parse_seconds, parse_wait, Grid};

/// The flags `infra`'s plan runs with: its `extra_args` as `envload run`
/// parses them, then the matrix's values over them (the matrix wins).
pub fn run_args(infra: &Infrastructure, plan: &Plan, dir: &Path) -> Result<RunArgs, String> {
    let argv = ["envload", "run"]
        .into_iter()
        .map(String::from)
        .chain(infra.extra_args.iter().cloned());
    let mut a = match Cli::try_parse_from(argv) {
        Ok(Cli {
            command: Command::Run(a),
        }) => *a,
        Ok(_) => unreachable!("the command line is a `run`"),
        Err(e) => {
            let first = e.render().to_string();
            return Err(format!(
                "extra_args: {}",
                first.lines().next().unwrap_or_default()
            ));
        }
    };
    // Each value through the rule of the flag it sets, named by that flag.
    fn each<T, U: ToString>(
        flag: &str,
        values: &[U],
        rule: fn(&str) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        values
            .iter()
            .map(|v| rule(&v.to_string()).map_err(|e| format!("{flag}: {e}")))
            .collect()
    }
    let one = |flag: &str, v: String, rule: fn(&str) -> Result<u32, String>| {
        rule(&v).map_err(|e| format!("{flag}: {e}"))
    };
    a.infrastructure = Some(infra.id.clone());
    a.output_dir = Some(dir.to_path_buf());
    if let Some(url) = &infra.url {
        a.url = Some(Target::parse(url).map_err(|e| format!("url: {e}"))?);
    }
    a.server_start = server_start(infra);
    if let Some(w) = infra.env.get("WORKERS") {
        a.server_workers = Some(one("--server-workers", w.clone(), parse_count)?);
    }
    if let Some(m) = infra.env.get("MAX_CONCURRENT_ENVS") {
        a.server_max_concurrent_envs =
            Some(parse_batch(m).map_err(|e| format!("--server-max-concurrent-envs: {e}"))?);
    }
    a.modes = plan
        .modes
        .iter()
        .map(|m| ModeArg::from_str(m, false).map_err(|e| format!("--modes: {e}")))
        .collect::<Result<_, _>>()?;
    a.requests_grid = Some(Grid(each("--requests-grid", &plan.requests, parse_batch)?));
    a.wait_grid = Some(Grid(each("--wait-grid", &plan.waits, parse_wait)?));
    a.reps = one("--reps", plan.reps.to_string(), parse_reps)?;
    a.timeout =
        Some(parse_seconds(&plan.timeout.to_string()).map_err(|e| format!("--timeout: {e}"))?);
    a.close = CloseArg::from_str(&plan.close, false).map_err(|e| format!("--close: {e}"))?;
    if let Some(c) = plan.cooldown {
        a.cooldown = Some(parse_cooldown(&c.to_string()).map_err(|e| format!("--cooldown: {e}"))?);
    }
    if let Some(c) = &plan.criteria {
        a.slo = Some(c.spec());
    }
    if let Some(c) = infra.cores {
        a.cores = Some(one("--cores", c.to_string(), parse_count)?);
    }
    if let Some(hw) = &infra.hardware {
        a.hardware = hw.clone();
    }
    a.notes = infra.notes.clone();
    if let Some(s) = &infra.scenario {
        a.workload.scenario = Some(s.clone());
    }
    Ok(a)
}

/// The server's start-up line as the log's Command shows it: the matrix's
/// `env` before its `start`.
fn server_start(infra: &Infrastructure) -> Option<String> {
    let start = infra.start.as_ref()?;
    let env: Vec<String> = infra.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Some(if env.is_empty() {
        start.clone()
    } else {
        format!("{} {start}", env.join(" "))
    })
}

/// The `envload run` command line for `infra`'s plan, as run.json records
/// it and the console shows it.
pub fn run_argv(infra: &Infrastructure, plan: &Plan, dir: &Path) -> Vec<String> {
    let join = |v: Vec<String>| v.join(",");
    let mut argv: Vec<String> = vec![
        "envload".into(),
        "run".into(),
        "--infrastructure".into(),
        infra.id.clone(),
        "--output-dir".into(),
        dir.display().to_string(),
    ];
    if let Some(url) = &infra.url {
        argv.extend(["--url".into(), url.clone()]);
    }
    // What the log's Configuration and Command record of the server.
    if let Some(start) = &infra.start {
        let env: Vec<String> = infra.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let line = if env.is_empty() {
            start.clone()
        } else {
            format!("{} {start}", env.join(" "))
        };
        argv.extend(["--server-start".into(), line]);
    }
    for (var, flag) in [
        ("WORKERS", "--server-workers"),
        ("MAX_CONCURRENT_ENVS", "--server-max-concurrent-envs"),
    ] {
        if let Some(v) = infra.env.get(var) {
            argv.extend([flag.into(), v.clone()]);
        }
    }
    argv.extend(["--modes".into(), plan.modes.join(",")]);
    argv.extend([
        "--requests-grid".into(),
        join(plan.requests.iter().map(u64::to_string).collect()),
        "--wait-grid".into(),
        join(plan.waits.iter().map(f64::to_string).collect()),
        "--reps".into(),
        plan.reps.to_string(),
        "--timeout".into(),
        plan.timeout.to_string(),
        "--close".into(),
        plan.close.clone(),
    ]);
    argv.extend(plan.pause_and_slo_flags());
    if let Some(c) = infra.cores {
        argv.extend(["--cores".into(), c.to_string()]);
    }
    if let Some(hw) = &infra.hardware {
        argv.extend(["--hardware".into(), hw.clone()]);
    }
    if let Some(n) = &infra.notes {
        argv.extend(["--notes".into(), n.clone()]);
    }
    if let Some(s) = &infra.scenario {
        argv.extend(["--scenario".into(), s.display().to_string()]);
    }
    argv.extend(infra.extra_args.iter().cloned());
    argv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::matrix::Matrix;

    fn infra(text: &str) -> (Infrastructure, Plan) {
        let dir = std::env::temp_dir().join(format!("envload-matrix-run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("m{}.toml", text.len()));
        std::fs::write(&path, text).unwrap();
        let m = Matrix::load(&path);
        let _ = std::fs::remove_dir_all(&dir);
        let m = m.unwrap();
        let i = m.find("x", &path).unwrap().clone();
        let p = m.plan(&i).unwrap();
        (i, p)
    }

    #[test]
    fn the_recorded_command_line_runs_what_the_typed_flags_run() {
        let (i, p) = infra(
            "[grid]\nmodes = [\"ws\", \"http\"]\nrequests = [1, 8]\nwaits = [0.5, 2.0]\nreps = 2\ntimeout = 30.0\nclose = \"server-first\"\n\n[[infrastructure]]\nid = \"x\"\ndeploy = \"command\"\nstart = \"./serve.sh\"\nurl = \"http://127.0.0.1:8000\"\ncores = 4\nhardware = \"cpu-upgrade\"\nextra_args = [\"--agents\", \"2\", \"-v\"]\nenv = { WORKERS = \"2\", MAX_CONCURRENT_ENVS = \"100\" }\n",
        );
        let dir = Path::new("/tmp/results/x/2026-12-04");
        let built = run_args(&i, &p, dir).unwrap();
        let parsed = match Cli::try_parse_from(run_argv(&i, &p, dir)).unwrap().command {
            Command::Run(a) => *a,
            _ => unreachable!(),
        };
        assert_eq!(format!("{built:?}"), format!("{parsed:?}"));
        assert_eq!(built.agents, 2, "extra_args apply");
        assert_eq!(built.server_workers, Some(2));
    }

    #[test]
    fn a_matrix_value_out_of_bounds_is_named_by_its_flag() {
        let (i, p) = infra(
            "[grid]\nrequests = [0]\n[[infrastructure]]\nid = \"x\"\ndeploy = \"embedded\"\n",
        );
        let e = run_args(&i, &p, Path::new("/tmp/r")).unwrap_err();
        assert!(e.starts_with("--requests-grid: '0'"), "{e}");
        let (i, p) = infra("[grid]\nrequests = [1]\n[[infrastructure]]\nid = \"x\"\ndeploy = \"embedded\"\nextra_args = [\"--bogus\"]\n");
        let e = run_args(&i, &p, Path::new("/tmp/r")).unwrap_err();
        assert!(
            e.starts_with("extra_args: ") && e.contains("--bogus"),
            "{e}"
        );
    }
}
