//! `envload report`: result folders in, tables, figures, index.html and
//! experiment-log entries out (the `envload-report` crate).

use std::path::PathBuf;

use clap::Args;

use envload_report::{write, BadInput, Options};

use crate::error::UsageError;
use crate::experiment::matrix::Matrix;
use crate::values::parse_fraction;
use envload_results::slo::{Criteria, SloSpec};

/// `envload report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Results folders (each with a summary.csv; envload's or the reference's).
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Where to write the report.
    #[arg(long)]
    pub out: PathBuf,
    /// Success fraction that counts for the maximum batch.
    #[arg(long, default_value = "0.95", allow_hyphen_values = true, value_parser = parse_fraction, conflicts_with_all = ["slo", "matrix"])]
    pub success_threshold: f64,
    /// The SLO batches are judged by, success and total p99:
    /// 'success>=0.95,p99<=3s', or scaled with the wait,
    /// 'success>=0.95,p99<=2*(wait+0.5)' (the default).
    #[arg(long, value_parser = parse_criteria, conflicts_with = "matrix")]
    pub slo: Option<Criteria>,
    /// An experiment matrix (TOML, or the reference tool's
    /// experiment_matrix.yaml): its `success_criteria` are the SLO, and its
    /// log (`output.log_file`; `log` in TOML) is where `--log` writes when
    /// given no file.
    #[arg(long)]
    pub matrix: Option<PathBuf>,
    /// Append a "Run:" entry per folder to this experiment log and update
    /// its Overview table (idempotent). Without FILE: the --matrix's log.
    #[arg(long, value_name = "FILE")]
    pub log: Option<Option<PathBuf>>,
    /// Cores of an infrastructure, INFRA=N (repeatable or comma-separated),
    /// for the batch-per-core figure; overrides run.json's `cores`.
    #[arg(long, value_delimiter = ',', value_parser = parse_cores)]
    pub cores: Vec<(String, u32)>,
}

fn parse_cores(s: &str) -> Result<(String, u32), String> {
    let (infra, n) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not INFRASTRUCTURE=CORES (e.g. local-uvicorn=8)"))?;
    let n: u32 = n
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("'{n}' in '{s}' is not a positive core count"))?;
    if infra.trim().is_empty() {
        return Err(format!("'{s}' names no infrastructure before '='"));
    }
    Ok((infra.trim().to_string(), n))
}

/// Success and total p99 clauses as criteria.
fn parse_criteria(s: &str) -> Result<Criteria, String> {
    s.parse::<SloSpec>()?.criteria()
}

/// Writes the report the flags ask for.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let matrix = args
        .matrix
        .as_deref()
        .map(Matrix::load)
        .transpose()
        .map_err(UsageError)?;
    let criteria = match (args.slo, &matrix) {
        (Some(c), _) => c,
        (None, Some(m)) => m.criteria(),
        (None, None) => Criteria::with_success(args.success_threshold),
    };
    let from_matrix = matches!(args.log, Some(None));
    let log = match args.log {
        Some(None) => Some(
            matrix
                .as_ref()
                .and_then(|m| m.log.clone())
                .ok_or_else(|| {
                    UsageError(match &args.matrix {
                        Some(path) => format!(
                            "--log without FILE writes the matrix's log, and {} names none (output.log_file; log = \"…\" in TOML)",
                            path.display()
                        ),
                        None => "--log without FILE writes the log of --matrix: give FILE or --matrix".into(),
                    })
                })?,
        ),
        Some(Some(p)) => Some(p),
        None => None,
    };
    if let (true, Some(log)) = (from_matrix, &log) {
        // The matrix names its log as it names its results folder: made
        // when missing, as that is.
        if let Some(parent) = log.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                UsageError(format!(
                    "--log: the matrix's log {}: cannot create its folder: {e}",
                    log.display()
                ))
            })?;
        }
    }
    write(&Options {
        results: args.results,
        out: args.out,
        criteria,
        log,
        cores: args.cores,
    })
    .map_err(|e| match e.downcast::<BadInput>() {
        Ok(BadInput(msg)) => UsageError(msg).into(),
        Err(e) => e,
    })
}
