//! The report's figures, each as PNG and SVG (plotters): success rate vs
//! batch size (log2 x axis, the threshold as a line, one line per
//! infrastructure and mode, one figure per wait), the maximum batch per
//! infrastructure, the maximum batch within the latency SLO per wait, and
//! the maximum batch per core (bars grouped by mode, in `bars`); the
//! total-p99 heatmap is in `heatmap`. Text is drawn with the built-in
//! DejaVu Sans (or `$ENVLOAD_FONT`), so no system fonts are needed.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

use super::bars::Bars;
use super::canvas::{both, legend, register_font, Area, Figure};
use super::tables::{max_batch_by, points_by, slo_max};
use envload_results::folder::Row;
use envload_results::numfmt::float;
use envload_results::slo::Criteria;

/// Writes every figure into `out`; returns the file stems written. The
/// batch-per-core figure covers the infrastructures `cores` knows.
pub fn render(
    rows: &[Row],
    criteria: Criteria,
    cores: &BTreeMap<String, u32>,
    out: &Path,
) -> Result<Vec<String>, String> {
    register_font()?;
    let mut written = Vec::new();
    let pts = points_by(rows);
    let waits: std::collections::BTreeSet<u64> = pts.keys().map(|k| k.2).collect();
    for w in waits {
        let stem = format!("success_vs_batch_wait_{}", float(w as f64 / 1e6));
        let series: Vec<(String, Vec<(u64, f64)>)> = pts
            .iter()
            .filter(|(k, _)| k.2 == w)
            .map(|((infra, mode, _), by_n)| {
                (
                    format!("{infra} ({mode})"),
                    by_n.iter().map(|(n, p)| (*n, p.success * 100.0)).collect(),
                )
            })
            .collect();
        let wait = w as f64 / 1e6;
        both(
            out,
            &stem,
            &SuccessFigure {
                series,
                criteria,
                wait,
            },
        )?;
        written.push(stem);
        let within: BTreeMap<(String, String), f64> = pts
            .iter()
            .filter(|(k, _)| k.2 == w)
            .filter_map(|((infra, mode, _), by_n)| {
                let (n, _) = slo_max(by_n, criteria, wait).0?;
                Some(((infra.clone(), mode.clone()), n as f64))
            })
            .collect();
        let stem = format!("max_batch_within_slo_wait_{}", float(wait));
        both(
            out,
            &stem,
            &Bars {
                values: within,
                caption: format!(
                    "Maximum batch with success >= {:.0}% and p99 <= {} s (wait {wait} s)",
                    criteria.success * 100.0,
                    float(criteria.p99.at(wait))
                ),
                y_desc: "sessions".into(),
                decimals: 0,
                suffix: "",
            },
        )?;
        written.push(stem);
    }
    let best = max_batch_by(&pts, criteria);
    let pct = criteria.success * 100.0;
    both(
        out,
        "max_batch_by_infrastructure",
        &Bars {
            values: best.iter().map(|(k, n)| (k.clone(), *n as f64)).collect(),
            caption: format!("Maximum batch with success >= {pct:.0}%"),
            y_desc: "sessions".into(),
            decimals: 0,
            suffix: "",
        },
    )?;
    written.push("max_batch_by_infrastructure".into());
    written.extend(super::heatmap::render(&pts, out)?);
    let per_core: BTreeMap<(String, String), f64> = best
        .iter()
        .filter_map(|((infra, mode), n)| {
            let c = *cores.get(infra)?;
            Some(((infra.clone(), mode.clone()), *n as f64 / f64::from(c)))
        })
        .collect();
    if !per_core.is_empty() {
        both(
            out,
            "batch_per_core",
            &Bars {
                values: per_core,
                caption: format!("Maximum batch (success >= {pct:.0}%) per core"),
                y_desc: "sessions per core".into(),
                decimals: 1,
                suffix: "/core",
            },
        )?;
        written.push("batch_per_core".into());
    }
    Ok(written)
}

struct SuccessFigure {
    series: Vec<(String, Vec<(u64, f64)>)>,
    criteria: Criteria,
    wait: f64,
}

impl Figure for SuccessFigure {
    fn draw<DB: DrawingBackend>(&self, area: &Area<DB>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        success_chart(area, &self.series, self.criteria, self.wait)
    }
}

fn success_chart<DB: DrawingBackend>(
    area: &Area<DB>,
    series: &[(String, Vec<(u64, f64)>)],
    criteria: Criteria,
    wait: f64,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    area.fill(&WHITE).map_err(err)?;
    let max_n = series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.0))
        .max()
        .unwrap_or(2)
        .max(2);
    let min_n = series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.0))
        .min()
        .unwrap_or(1)
        .max(1);
    let x_max = (max_n as f64).log2().ceil() + 0.5;
    let x_min = (min_n as f64).log2().floor() - 0.5;
    // The y axis starts just under the lowest point or the threshold, so
    // series that all sit near 100% stay apart; they are also nudged
    // sideways so identical lines do not hide each other.
    let lowest = series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.1))
        .fold(criteria.success * 100.0, f64::min);
    let y_min = ((lowest - 2.0) / 5.0).floor().max(0.0) * 5.0;
    let nudge = |i: usize| (i as f64 - (series.len() as f64 - 1.0) / 2.0) * 0.06;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Success rate vs batch size (wait {wait} s)"),
            ("sans-serif", 24),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(x_min..x_max, y_min..101f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("batch size (log2)")
        .y_desc("success %")
        .x_labels((x_max - x_min) as usize + 1)
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 0.01 {
                format!("{}", 2f64.powf(x.round()) as u64)
            } else {
                String::new()
            }
        })
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            [
                (x_min, criteria.success * 100.0),
                (x_max, criteria.success * 100.0),
            ],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?
        .label(format!("{:.0}% threshold", criteria.success * 100.0))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK));
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let line: Vec<(f64, f64)> = pts
            .iter()
            .map(|(n, s)| ((*n as f64).log2() + nudge(i), *s))
            .collect();
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        chart
            .draw_series(line.into_iter().map(|p| Circle::new(p, 4, color.filled())))
            .map_err(err)?;
    }
    legend(&mut chart, SeriesLabelPosition::LowerLeft)
}
