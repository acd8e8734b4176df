//! The report's rollout part, from the `steps.csv` and `episodes.csv` a
//! rollout run writes (folders without them contribute nothing): a figure
//! of step latency by step index (p50 and p99 of step 1, 2, …, K, one line
//! per folder and phase: does the server slow down as episodes go on?) and
//! a table of episodes per second, episode latency and bytes per second.

use std::path::Path;

use plotters::prelude::*;

use super::canvas::{both, legend, register_font, Area, Figure};

/// One phase of one folder.
pub struct Phase {
    label: String,
    /// (step index, p50, p99) in seconds.
    by_index: Vec<(u32, f64, f64)>,
    /// The episodes.csv row: (episodes_ok, episodes, episode p50, p99,
    /// episodes/s, bytes/s).
    episodes: Option<(u64, u64, f64, f64, f64, f64)>,
}

/// Reads and checks the rollout files of `dirs` (none for folders
/// without them).
pub fn load(dirs: &[std::path::PathBuf]) -> Result<Vec<Phase>, String> {
    let mut phases = Vec::new();
    for dir in dirs {
        let Some(steps) = table(&dir.join("steps.csv"))? else {
            continue;
        };
        let episodes = table(&dir.join("episodes.csv"))?.unwrap_or_default();
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
                .map(|r| Ok((r.num("step_index")? as u32, r.num("p50")?, r.num("p99")?)))
                .collect::<Result<Vec<_>, String>>()?;
            let ep = episodes.iter().find(|r| key(r) == k);
            let episodes = match ep {
                None => None,
                Some(r) => Some((
                    r.num("episodes_ok")? as u64,
                    r.num("episodes")? as u64,
                    r.num("episode_p50")?,
                    r.num("episode_p99")?,
                    r.num("episodes_per_second")?,
                    r.num("bytes_per_second")?,
                )),
            };
            phases.push(Phase {
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

/// Writes the figure into `out`; returns its stem (none without rollout
/// folders) and the markdown table to add to `tables.md`.
pub fn render(phases: &[Phase], out: &Path) -> Result<(Vec<String>, String), String> {
    if phases.is_empty() {
        return Ok((Vec::new(), String::new()));
    }
    register_font()?;
    both(out, "step_latency_by_index", &ByIndex { phases })?;
    let mut md = String::from(
        "\n## Rollouts\n\n| run | episodes ok | episodes/s | episode p50 (s) | episode p99 (s) | bytes/s |\n|---|---|---|---|---|---|\n",
    );
    for p in phases {
        if let Some((ok, all, p50, p99, eps, bps)) = p.episodes {
            md.push_str(&format!(
                "| {} | {ok}/{all} | {eps:.2} | {p50:.3} | {p99:.3} | {bps:.0} |\n",
                p.label
            ));
        }
    }
    md.push_str("\nStep latency by step index: `step_latency_by_index.png`.\n");
    Ok((vec!["step_latency_by_index".into()], md))
}

struct ByIndex<'a> {
    phases: &'a [Phase],
}

impl Figure for ByIndex<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &Area<DB>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        area.fill(&WHITE).map_err(err)?;
        let k = self
            .phases
            .iter()
            .flat_map(|p| p.by_index.iter().map(|s| s.0))
            .max()
            .unwrap_or(1)
            .max(2);
        let top = self
            .phases
            .iter()
            .flat_map(|p| p.by_index.iter().map(|s| s.2))
            .fold(0.0f64, f64::max)
            * 1.15
            + 1e-6;
        let mut chart = ChartBuilder::on(area)
            .caption(
                "Step latency by step index (p50 solid, p99 dashed)",
                ("sans-serif", 24),
            )
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.5f64..(k as f64 + 0.5), 0f64..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("step index within the episode")
            .y_desc("seconds")
            .x_labels(k.min(25) as usize)
            .x_label_formatter(&|x| format!("{}", x.round() as u64))
            .draw()
            .map_err(err)?;
        for (i, p) in self.phases.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let p50: Vec<(f64, f64)> = p.by_index.iter().map(|s| (f64::from(s.0), s.1)).collect();
            let p99: Vec<(f64, f64)> = p.by_index.iter().map(|s| (f64::from(s.0), s.2)).collect();
            chart
                .draw_series(LineSeries::new(p50, color.stroke_width(2)))
                .map_err(err)?
                .label(p.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(DashedLineSeries::new(p99, 6, 4, color.stroke_width(1)))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}
