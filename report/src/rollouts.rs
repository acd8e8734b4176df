//! The report's rollout part, from the `steps.csv` and `episodes.csv` a
//! rollout run writes (read by `envload_results::folder::rollouts`;
//! folders without them contribute nothing): a figure
//! of step latency by step index (p50 and p99 of step 1, 2, …, K, one line
//! per folder and phase: does the server slow down as episodes go on?) and
//! a table of episodes per second, episode latency and bytes per second.

use std::path::Path;

use envload_results::folder::rollouts::RolloutPhase as Phase;
use plotters::prelude::*;

use super::canvas::{both, legend, register_font, Area, Figure};

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
        if let Some(e) = &p.episodes {
            let (ok, all, p50, p99) = (e.ok, e.total, e.p50, e.p99);
            let (eps, bps) = (e.per_second, e.bytes_per_second);
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
