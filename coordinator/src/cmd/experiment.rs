//! `envload experiment --matrix FILE --infrastructure ID`: runs one
//! infrastructure's plan from the experiment matrix ([`crate::experiment`])
//! into `<results>/<id>/<YYYY-MM-DD>/`, as an ordinary `envload run` built
//! as a run configuration (`matrix_run`; the command run.json records
//! reproduces it), after bringing up what the matrix says to; Slurm
//! infrastructures are an `sbatch --wait`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::matrix_run::{run_args, run_argv};
use super::reference_flags::ReferenceFlags;
use crate::error::UsageError;
use crate::experiment::deployed::Deployed;
use crate::experiment::matrix::{Deploy, Infrastructure, Matrix, Plan};
use crate::experiment::sbatch;
use crate::phases::RunOutcome;
use crate::shutdown::Shutdown;
use crate::values::parse_name;

/// `envload experiment`.
#[derive(Debug, Clone, Args)]
pub struct ExperimentArgs {
    /// The experiment matrix (infrastructures and grid): envload's TOML or
    /// the reference tool's experiment_matrix.yaml (by extension, else by
    /// content) [default: experiments/config/matrix.toml, else
    /// experiments/config/experiment_matrix.yaml].
    #[arg(long, visible_alias = "config")]
    pub matrix: Option<PathBuf>,
    /// Id of the infrastructure to run (an `[[infrastructure]]` of the matrix).
    #[arg(short = 'i', long, value_parser = parse_name)]
    pub infrastructure: String,
    /// Results root [default: the matrix's `results`, else experiments/results].
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Print what would run (deployment, envload run command, results
    /// folder) and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// The reference runner's overrides of the matrix.
    #[command(flatten)]
    pub reference: ReferenceFlags,
}

/// The matrix `envload experiment` reads without `--matrix`: envload's
/// own, else the reference tool's where a team keeps it.
fn default_matrix() -> PathBuf {
    let ours = PathBuf::from("experiments/config/matrix.toml");
    let theirs = PathBuf::from("experiments/config/experiment_matrix.yaml");
    if !ours.exists() && theirs.exists() {
        theirs
    } else {
        ours
    }
}

/// Runs the plan of `--infrastructure` from `--matrix`.
pub fn run(args: ExperimentArgs, shutdown: Shutdown) -> anyhow::Result<RunOutcome> {
    let path = args.matrix.clone().unwrap_or_else(default_matrix);
    let matrix = Matrix::load(&path).map_err(UsageError)?;
    let mut infra = matrix
        .find(&args.infrastructure, &path)
        .map_err(UsageError)?
        .clone();
    let mut plan = matrix.plan(&infra).map_err(UsageError)?;
    args.reference
        .apply(&mut infra, &mut plan)
        .map_err(UsageError)?;
    let infra = &expand_url(&infra, &path)?;
    let root = args
        .results
        .clone()
        .or(matrix.results.clone())
        .unwrap_or_else(|| PathBuf::from("experiments/results"));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let dir = match &args.reference.output_dir {
        Some(d) => d.clone(),
        None => envload_results::folder::fresh_dir(&root.join(&infra.id), &today),
    };
    let name = infra.name.as_deref().unwrap_or(&infra.id);
    println!(
        "envload experiment: {} ({name}), deploy = {}",
        infra.id,
        infra.deploy.as_str()
    );
    if args.dry_run {
        for line in &matrix.informational {
            println!("  {line}");
        }
    }
    for remark in &infra.remarks {
        println!("  {remark}");
    }
    if let Some(notes) = &infra.notes {
        println!("  notes: {notes}");
    }
    if infra.deploy == Deploy::Sbatch {
        let outcome = run_sbatch(infra, &plan, &dir, args.dry_run, &shutdown)?;
        if !args.dry_run && outcome == RunOutcome::Complete {
            report_hint(&path, &matrix, &dir);
        }
        return Ok(outcome);
    }
    let named = |e: String| {
        UsageError(format!(
            "--matrix {}: infrastructure '{}': {e}",
            path.display(),
            infra.id
        ))
    };
    let flags = run_args(infra, &plan, &dir).map_err(named)?;
    let config = flags.config().map_err(|e| named(e.0))?;
    let argv = super::redacted_argv(run_argv(infra, &plan, &dir), &flags.headers);
    if let Some(start) = &infra.start {
        println!("  start: {start}");
    }
    if let Some(how) = &infra.how {
        println!("  deployed by: {how}");
    }
    let line: Vec<String> = argv.iter().map(|a| sbatch::shell_word(a)).collect();
    println!("  run: {}", line.join(" "));
    println!("  results: {}", dir.display());
    if args.dry_run {
        return Ok(RunOutcome::Complete);
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| UsageError(format!("cannot create {}: {e}", dir.display())))?;
    let _deployed = match (&infra.deploy, &infra.start, &infra.url) {
        (Deploy::Command, Some(start), Some(url)) => {
            let log = dir.join("deploy.log");
            let mut d = Deployed::start(start, &infra.env, &log).map_err(anyhow::Error::msg)?;
            let wait = Duration::from_secs_f64(infra.ready_timeout.unwrap_or(120.0));
            if !d
                .wait_ready(url, wait, &log, &shutdown)
                .map_err(anyhow::Error::msg)?
            {
                // Dropping `d` stops the started group.
                eprintln!("envload experiment: interrupted while waiting for {url}");
                return Ok(RunOutcome::Interrupted);
            }
            println!("  {url} is ready");
            Some(d)
        }
        _ => None,
    };
    let outcome = super::run::run_config(&config, argv, shutdown)?;
    println!("envload experiment: results in {}", dir.display());
    report_hint(&path, &matrix, &dir);
    Ok(outcome)
}

/// The report command for the results, when the matrix names its log.
fn report_hint(path: &Path, matrix: &Matrix, dir: &Path) {
    if matrix.log.is_some() {
        println!(
            "  next: envload report --matrix {} {} --out report --log",
            sbatch::shell_word(&path.display().to_string()),
            sbatch::shell_word(&dir.display().to_string()),
        );
    }
}

/// `infra` with the `${VAR}`s of its URL taken from the environment; an
/// unset one is a usage error naming it and where the URL was given.
fn expand_url(infra: &Infrastructure, matrix: &Path) -> Result<Infrastructure, UsageError> {
    use envload_agent::template::{expand, TemplateError};
    let mut out = infra.clone();
    if let Some(url) = &infra.url {
        let url = expand(url, |v| std::env::var(v).ok()).map_err(|e| {
            let why = match e {
                TemplateError::Unset(v) => format!("${{{v}}} is not set in the environment"),
                TemplateError::NotAName(v) => format!("'${{{v}}}' is not a variable name"),
                TemplateError::Unclosed => "'${' without a closing '}'".into(),
            };
            UsageError(format!(
                "--matrix {}: {}: {why}",
                matrix.display(),
                infra.url_key
            ))
        })?;
        envload_agent::Target::parse(&url).map_err(|e| {
            UsageError(format!(
                "--matrix {}: {}: '{url}': {e}",
                matrix.display(),
                infra.url_key
            ))
        })?;
        out.url = Some(url);
    }
    Ok(out)
}

fn run_sbatch(
    infra: &Infrastructure,
    plan: &Plan,
    dir: &Path,
    dry_run: bool,
    shutdown: &Shutdown,
) -> anyhow::Result<RunOutcome> {
    let mut cmd = sbatch::command(infra, plan, dir).map_err(anyhow::Error::msg)?;
    println!("  submit: {}", sbatch::describe(&cmd));
    println!("  results: {}", dir.display());
    if dry_run {
        return Ok(RunOutcome::Complete);
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| UsageError(format!("cannot create {}: {e}", dir.display())))?;
    let mut child = cmd
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run sbatch (is Slurm installed here?): {e}"))?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if shutdown.is_requested() {
            // sbatch --wait cancels nothing on its own: pass the signal on and
            // let it end; the job's own --signal handling keeps its results.
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let _ = child.wait();
            eprintln!("envload experiment: interrupted while the sbatch job ran");
            return Ok(RunOutcome::Interrupted);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if !status.success() {
        anyhow::bail!(
            "the sbatch job of '{}' failed ({status}); its log is in {}",
            infra.id,
            dir.display()
        );
    }
    println!("envload experiment: results in {}", dir.display());
    Ok(RunOutcome::Complete)
}
