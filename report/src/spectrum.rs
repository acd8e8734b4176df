//! The percentile spectrum of each phase, HdrHistogram's own plot: total
//! latency against percentile on a log "1/(1−p)" axis (50%, 90%, 99%,
//! 99.9%, 99.99%), from the merged histograms of `histograms.jsonl` — where
//! a tail hides that p50 and p99 do not show.

use std::path::Path;

use envload_results::folder::histograms::PhaseHistogram;
use plotters::prelude::*;

use super::canvas::{both, legend, register_font, Area, Figure};

/// Phases drawn at most.
const MOST: usize = 8;
/// The spectrum goes out to 1/(1−p) = 10⁴ (99.99%).
const X_MAX: f64 = 1e4;

/// Writes `percentile_spectrum.png`/`.svg` into `out`; its stem (none
/// without histograms).
pub fn render(phases: &[PhaseHistogram], out: &Path) -> Result<Vec<String>, String> {
    let drawn: Vec<&PhaseHistogram> = phases
        .iter()
        .filter(|p| !p.total.is_empty())
        .take(MOST)
        .collect();
    if drawn.is_empty() {
        return Ok(Vec::new());
    }
    register_font()?;
    both(out, "percentile_spectrum", &Spectrum { phases: drawn })?;
    Ok(vec!["percentile_spectrum".into()])
}

struct Spectrum<'a> {
    phases: Vec<&'a PhaseHistogram>,
}

/// The curve of one histogram: (1/(1−q), seconds) for q up to 99.99%.
fn curve(p: &PhaseHistogram) -> Vec<(f64, f64)> {
    (0..=400)
        .map(|k| {
            let x = 10f64.powf(k as f64 / 100.0);
            let q = 1.0 - 1.0 / x;
            (x, p.total.value_at_quantile(q) as f64 / 1e6)
        })
        .collect()
}

/// "99.9%" for the tick at 1/(1−p) = 1000.
fn percent_label(x: &f64) -> String {
    let p = (1.0 - 1.0 / x) * 100.0;
    let digits = x.log10().round().max(2.0) as usize - 2;
    format!("{p:.digits$}%")
}

impl Figure for Spectrum<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &Area<DB>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        area.fill(&WHITE).map_err(err)?;
        let curves: Vec<Vec<(f64, f64)>> = self.phases.iter().map(|p| curve(p)).collect();
        let top = curves.iter().flatten().map(|c| c.1).fold(0.0f64, f64::max) * 1.15 + 1e-6;
        let mut chart = ChartBuilder::on(area)
            .caption(
                "Total latency by percentile (HdrHistogram spectrum)",
                ("sans-serif", 22),
            )
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d((1f64..X_MAX).log_scale(), 0f64..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("total latency (s)")
            .x_label_formatter(&percent_label)
            .draw()
            .map_err(err)?;
        for (i, (p, c)) in self.phases.iter().zip(curves).enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(c, color.stroke_width(2)))
                .map_err(err)?
                .label(p.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ticks_read_as_percentiles() {
        let l: Vec<String> = [1.0, 10.0, 100.0, 1000.0, 1e4]
            .iter()
            .map(super::percent_label)
            .collect();
        assert_eq!(l, ["0%", "90%", "99%", "99.9%", "99.99%"]);
    }
}
