//! The figure of load over time: each phase's total latency per interval
//! (p99 solid, p50 dashed) against time, with the sessions active at each
//! interval's end on a second axis (thin), from `timeseries.csv`.

use std::path::Path;

use envload_results::folder::series::PhaseSeries;
use plotters::prelude::*;

use super::canvas::{both, legend, register_font, Area, Figure};

/// Phases drawn at most (the first ones; the table has every one).
const MOST: usize = 8;

/// Writes `latency_over_time.png`/`.svg` into `out`; its stem (none
/// without series).
pub fn render(series: &[PhaseSeries], out: &Path) -> Result<Vec<String>, String> {
    let drawn: Vec<&PhaseSeries> = series
        .iter()
        .filter(|s| s.points.len() >= 2)
        .take(MOST)
        .collect();
    if drawn.is_empty() {
        return Ok(Vec::new());
    }
    register_font()?;
    both(out, "latency_over_time", &OverTime { series: drawn })?;
    Ok(vec!["latency_over_time".into()])
}

struct OverTime<'a> {
    series: Vec<&'a PhaseSeries>,
}

impl Figure for OverTime<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &Area<DB>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        area.fill(&WHITE).map_err(err)?;
        let points = || self.series.iter().flat_map(|s| s.points.iter());
        let t_max = points().map(|p| p.time_s).fold(0.0f64, f64::max).max(1e-3);
        let top = points().filter_map(|p| p.total_p99).fold(0.0f64, f64::max) * 1.15 + 1e-6;
        let active_top = points().map(|p| p.active).max().unwrap_or(1).max(1) as f64 * 1.15;
        let mut chart = ChartBuilder::on(area)
            .caption(
                "Total latency over time (p99 solid, p50 dashed; active sessions thin, right axis)",
                ("sans-serif", 20),
            )
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .right_y_label_area_size(64)
            .build_cartesian_2d(0f64..t_max, 0f64..top)
            .map_err(err)?
            .set_secondary_coord(0f64..t_max, 0f64..active_top);
        chart
            .configure_mesh()
            .x_desc("seconds since the phase's start")
            .y_desc("total latency (s)")
            .draw()
            .map_err(err)?;
        chart
            .configure_secondary_axes()
            .y_desc("active sessions")
            .draw()
            .map_err(err)?;
        for (i, s) in self.series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let p99: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter_map(|p| Some((p.time_s, p.total_p99?)))
                .collect();
            let p50: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter_map(|p| Some((p.time_s, p.total_p50?)))
                .collect();
            let active: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|p| (p.time_s, p.active as f64))
                .collect();
            chart
                .draw_series(LineSeries::new(p99, color.stroke_width(2)))
                .map_err(err)?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(DashedLineSeries::new(p50, 6, 4, color.stroke_width(1)))
                .map_err(err)?;
            chart
                .draw_secondary_series(LineSeries::new(active, color.mix(0.45).stroke_width(1)))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}
