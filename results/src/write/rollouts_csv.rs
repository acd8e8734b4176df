//! Rollout phases' own files, written only for phases whose sessions ran a
//! rollout workload (the reference's files stay as they are):
//!
//! - `steps.csv`: step latency by step index within an episode (step 1, 2,
//!   …, K): does the server slow down as episodes go on? From the merged
//!   per-index histograms, successful sessions only.
//! - `episodes.csv`: per phase, episodes started and completed, failed
//!   episodes by class, episode latency, steps, message bytes each way,
//!   reconnects, and episodes and bytes per second of the phase's wall time.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use envload_agent::stats::RolloutStats;
use envload_agent::Latency;

use super::PhaseWriter;
use crate::files::{EPISODES_CSV, STEPS_CSV};
use crate::model::PhaseResult;
use crate::numfmt::float;

/// `steps.csv` columns: the step's latency at each index, then the `state`
/// requests that followed the step at that index and the MCP calls at it
/// (empty when none).
pub const STEP_COLUMNS: &str = "phase,mode,batch_size,wait_seconds,repetition,step_index,count,p50,p95,p99,mean,max,state_count,state_p50,state_p95,state_p99,mcp_count,mcp_p50,mcp_p95,mcp_p99";
/// `episodes.csv` columns (`unclosed`: HTTP MCP sessions created and never
/// closed).
pub const EPISODE_COLUMNS: &str = "phase,mode,batch_size,wait_seconds,repetition,episodes,episodes_ok,episodes_failed,episode_errors,episode_p50,episode_p95,episode_p99,steps,bytes_sent,bytes_received,reconnects,episodes_per_second,bytes_per_second,unclosed";

/// Appends to `steps.csv` and `episodes.csv`, created on the first rollout
/// phase.
pub struct RolloutsCsv {
    dir: PathBuf,
    files: Option<(Appending, Appending)>,
}

/// One CSV file appended to, and the fields its header has room for.
struct Appending {
    file: BufWriter<File>,
    width: usize,
}

impl Appending {
    /// Writes `key,row`, cut to the header's width.
    fn row(&mut self, key: &str, row: &str) -> io::Result<()> {
        let line = format!("{key},{row}");
        let cut: Vec<&str> = line.split(',').take(self.width).collect();
        writeln!(self.file, "{}", cut.join(","))
    }
}

impl RolloutsCsv {
    /// Writers for `dir` (nothing is created yet).
    pub fn new(dir: &Path) -> Self {
        RolloutsCsv {
            dir: dir.to_path_buf(),
            files: None,
        }
    }

    fn files(&mut self) -> io::Result<&mut (Appending, Appending)> {
        if self.files.is_none() {
            let open = |name: &str, header: &str| -> io::Result<Appending> {
                let path = self.dir.join(name);
                let columns: Vec<&str> = header.split(',').collect();
                let width = super::header_width(&path, &columns)?;
                let mut file =
                    BufWriter::new(OpenOptions::new().create(true).append(true).open(path)?);
                if width.is_none() {
                    writeln!(file, "{header}")?;
                }
                Ok(Appending {
                    file,
                    width: width.unwrap_or(columns.len()),
                })
            };
            self.files = Some((
                open(STEPS_CSV, STEP_COLUMNS)?,
                open(EPISODES_CSV, EPISODE_COLUMNS)?,
            ));
        }
        Ok(self.files.as_mut().expect("opened above"))
    }
}

impl PhaseWriter for RolloutsCsv {
    fn write_phase(&mut self, r: &PhaseResult) -> io::Result<()> {
        let Some(ro) = r.outcome.stats.rollout.as_deref() else {
            return Ok(());
        };
        let p = &r.phase;
        let key = format!(
            "{},{},{},{},{}",
            p.index,
            p.mode.as_str(),
            p.n,
            float(p.wait),
            p.rep
        );
        let wall = r.outcome.wall.as_secs_f64();
        let (steps, episodes) = self.files()?;
        let indices = ro
            .by_step
            .len()
            .max(ro.state_by_step.len())
            .max(ro.mcp_by_step.len());
        let empty = Latency::default();
        for i in 0..indices {
            let at = |v: &'_ [Latency]| v.get(i).unwrap_or(&empty).clone();
            let (step, state, mcp) = (at(&ro.by_step), at(&ro.state_by_step), at(&ro.mcp_by_step));
            let row = format!(
                "{},{},{},{},{}",
                i + 1,
                step.count(),
                latency(&step),
                stage(&state),
                stage(&mcp)
            );
            steps.row(&key, &row)?;
        }
        episodes.row(&key, &episode_row(ro, wall))?;
        steps.file.flush()?;
        episodes.file.flush()
    }
}

/// `count,p50,p95,p99` of an extra stage; `0,,,` when it had none.
fn stage(l: &Latency) -> String {
    if l.count() == 0 {
        return "0,,,".into();
    }
    let q = [0.5, 0.95, 0.99].map(|q| float(l.quantile_s(q)));
    format!("{},{}", l.count(), q.join(","))
}

/// `p50,p95,p99,mean,max` in seconds.
fn latency(l: &Latency) -> String {
    [
        l.quantile_s(0.5),
        l.quantile_s(0.95),
        l.quantile_s(0.99),
        l.mean_s(),
        l.max_s(),
    ]
    .map(float)
    .join(",")
}

fn episode_row(ro: &RolloutStats, wall: f64) -> String {
    let per_s = |v: u64| if wall > 0.0 { v as f64 / wall } else { 0.0 };
    let errors = super::error_counts(&ro.episode_errors);
    let e = &ro.episode;
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        ro.episodes,
        ro.episodes_ok,
        ro.episodes - ro.episodes_ok,
        errors,
        float(e.quantile_s(0.5)),
        float(e.quantile_s(0.95)),
        float(e.quantile_s(0.99)),
        ro.steps,
        ro.bytes_sent,
        ro.bytes_received,
        ro.reconnects,
        float(per_s(ro.episodes_ok)),
        float(per_s(ro.bytes_sent + ro.bytes_received)),
        ro.unclosed,
    )
}
