//! `envload report`: result folders in, tables, figures, index.html and
//! experiment-log entries out (the `envload-report` crate).

use std::path::PathBuf;

use clap::Args;

use envload_report::{write, BadInput, Options};

use crate::error::UsageError;
use crate::values::parse_fraction;

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
    #[arg(long, default_value = "0.95", allow_hyphen_values = true, value_parser = parse_fraction)]
    pub success_threshold: f64,
    /// Append a "Run:" entry per folder to this experiment log and update
    /// its Overview table (idempotent).
    #[arg(long)]
    pub log: Option<PathBuf>,
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

/// Writes the report the flags ask for.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    write(&Options {
        results: args.results,
        out: args.out,
        success_threshold: args.success_threshold,
        log: args.log,
        cores: args.cores,
    })
    .map_err(|e| match e.downcast::<BadInput>() {
        Ok(BadInput(msg)) => UsageError(msg).into(),
        Err(e) => e,
    })
}
