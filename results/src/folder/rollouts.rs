//! Reading a rollout run's `steps.csv` and `episodes.csv` (the files
//! `write::rollouts_csv` writes) back, each value checked; folders without
//! them hold no rollout phase.

use crate::files::{EPISODES_CSV, STEPS_CSV};
use std::path::Path;

/// One rollout phase of one folder.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutPhase {
    /// `<folder> <mode> N=<batch size>`.
    pub label: String,
    /// (step index, p50, p99) in seconds, from steps.csv: the step's, or
    /// at an index where no step was answered, the MCP call's.
    pub by_index: Vec<(u32, f64, f64)>,
    /// Its episodes.csv row, when there is one.
    pub episodes: Option<Episodes>,
}

/// A phase's episodes.csv figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Episodes {
    /// `episodes_ok`.
    pub ok: u64,
    /// `episodes`.
    pub total: u64,
    /// `episode_p50`, seconds.
    pub p50: f64,
    /// `episode_p99`, seconds.
    pub p99: f64,
    /// `episodes_per_second`.
    pub per_second: f64,
    /// `bytes_per_second`.
    pub bytes_per_second: f64,
}

/// Reads and checks the rollout files of `dirs` (none for folders
/// without them).
pub fn load(dirs: &[std::path::PathBuf]) -> Result<Vec<RolloutPhase>, String> {
    let mut phases = Vec::new();
    for dir in dirs {
        let Some(steps) = table(&dir.join(STEPS_CSV))? else {
            continue;
        };
        let episodes = table(&dir.join(EPISODES_CSV))?.unwrap_or_default();
        let name = dir
            .file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let key = |r: &Row| {
            format!(
                "{}|{}|{}|{}",
                r.get("phase"),
                r.get("mode"),
                r.get("batch_size"),
                r.get("repetition")
            )
        };
        let mut keys: Vec<String> = steps.iter().map(key).collect();
        keys.dedup();
        for k in keys {
            let rows: Vec<&Row> = steps.iter().filter(|r| key(r) == k).collect();
            let first = rows[0];
            let by_index = rows
                .iter()
                .map(|r| {
                    let mcp_only =
                        r.get("count") == "0" && r.num("mcp_count").is_ok_and(|c| c > 0.0);
                    let (p50, p99) = if mcp_only {
                        ("mcp_p50", "mcp_p99")
                    } else {
                        ("p50", "p99")
                    };
                    Ok((r.num("step_index")? as u32, r.num(p50)?, r.num(p99)?))
                })
                .collect::<Result<Vec<_>, String>>()?;
            let ep = episodes.iter().find(|r| key(r) == k);
            let episodes = match ep {
                None => None,
                Some(r) => Some(Episodes {
                    ok: r.num("episodes_ok")? as u64,
                    total: r.num("episodes")? as u64,
                    p50: r.num("episode_p50")?,
                    p99: r.num("episode_p99")?,
                    per_second: r.num("episodes_per_second")?,
                    bytes_per_second: r.num("bytes_per_second")?,
                }),
            };
            phases.push(RolloutPhase {
                label: format!("{name} {} N={}", first.get("mode"), first.get("batch_size")),
                by_index,
                episodes,
            });
        }
    }
    Ok(phases)
}

/// One CSV row by column name.
struct Row {
    file: String,
    cols: Vec<(String, String)>,
}

impl Row {
    fn get(&self, c: &str) -> &str {
        self.cols
            .iter()
            .find(|(k, _)| k == c)
            .map_or("", |(_, v)| v.as_str())
    }

    fn num(&self, c: &str) -> Result<f64, String> {
        let v = self.get(c);
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("{}: column {c}: '{v}' is not a number", self.file))
    }
}

/// The rows of a CSV file by column name (as `load` reads summary.csv);
/// `None` when the file is not there.
fn table(path: &Path) -> Result<Option<Vec<Row>>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let file = path.display().to_string();
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("cannot read {file}: {e}"))?;
    let header = reader
        .headers()
        .map_err(|e| format!("{file}: {e}"))?
        .clone();
    reader
        .records()
        .map(|rec| {
            let rec = rec.map_err(|e| format!("{file}: {e}"))?;
            Ok(Row {
                file: file.clone(),
                cols: header
                    .iter()
                    .zip(rec.iter())
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Some)
}
