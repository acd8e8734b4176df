//! Slurm infrastructures: `envload experiment` submits the matrix's sbatch
//! script with `--wait` and hands it the plan through the variables the
//! `slurm/experiment_*.sbatch` scripts read (REQUESTS_GRID, WAIT_GRID, MODE,
//! REPS, TIMEOUT, INFRASTRUCTURE, OUTPUT_DIR, EXTRA_ARGS, ENVLOAD_BIN,
//! ENVLOAD_HOME).

use std::path::Path;
use std::process::Command;

use super::matrix::{Infrastructure, Plan};

/// The `sbatch` command for `infra`'s plan, writing into `dir`.
pub fn command(infra: &Infrastructure, plan: &Plan, dir: &Path) -> Result<Command, String> {
    let script = infra.script.as_deref().unwrap_or_default();
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = cwd.join(dir);
    // The checkout the script sources its helpers from: $ENVLOAD_HOME, else
    // the one holding `slurm/<script>`.
    let home = std::env::var_os("ENVLOAD_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let s = cwd.join(script);
            Some(s.parent()?.parent()?.to_path_buf())
        })
        .unwrap_or_else(|| cwd.clone());
    let mut extra: Vec<String> = Vec::new();
    if plan.modes.len() > 1 {
        // The script passes --mode MODE; --modes replaces it.
        extra.extend(["--modes".into(), plan.modes.join(",")]);
    }
    if let Some(c) = infra.cores {
        extra.extend(["--cores".into(), c.to_string()]);
    }
    extra.extend(["--close".into(), plan.close.clone()]);
    extra.extend(plan.pause_and_slo_flags());
    if let Some(s) = &infra.scenario {
        extra.extend(["--scenario".into(), s.display().to_string()]);
    }
    extra.extend(infra.extra_args.iter().cloned());
    let mut cmd = Command::new("sbatch");
    cmd.arg("--wait")
        .arg(format!("--chdir={}", cwd.display()))
        .arg(format!("--output={}/slurm-%j.log", dir.display()));
    if let Some(n) = infra.nodes {
        cmd.arg(format!("--nodes={n}"));
    }
    cmd.arg(script)
        .envs(&infra.env)
        .env("ENVLOAD_BIN", exe)
        .env("ENVLOAD_HOME", home)
        .env("INFRASTRUCTURE", &infra.id)
        .env("OUTPUT_DIR", &dir)
        .env("LOG_DIR", &dir)
        .env("REQUESTS_GRID", join(&plan.requests))
        .env("WAIT_GRID", join(&plan.waits))
        .env("MODE", &plan.modes[0])
        .env("REPS", plan.reps.to_string())
        .env("TIMEOUT", plan.timeout.to_string())
        .env("EXTRA_ARGS", extra.join(" "));
    if let Some(hw) = &infra.hardware {
        cmd.env("HARDWARE", hw);
    }
    if let Some(n) = &infra.notes {
        cmd.env("NOTES", n);
    }
    Ok(cmd)
}

fn join<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Shows the command as a shell line (for the dry run and the console).
pub fn describe(cmd: &Command) -> String {
    let envs: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| {
            Some(format!(
                "{}={}",
                k.to_string_lossy(),
                shell_word(&v?.to_string_lossy())
            ))
        })
        .collect();
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| shell_word(&a.to_string_lossy()))
        .collect();
    format!("{} sbatch {}", envs.join(" "), args.join(" "))
}

/// `s` as one shell word (quoted when it needs to be).
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=,:@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
