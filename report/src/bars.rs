//! Bar figures: one value per infrastructure, bars grouped by mode (HTTP,
//! WebSocket), each labelled with its value, the infrastructure named under
//! its group — the maximum batch, and the maximum batch per core.

use std::collections::{BTreeMap, BTreeSet};

use plotters::prelude::*;

use super::canvas::{legend, Area, Figure};

/// A bar figure: values per (infrastructure, mode).
pub struct Bars {
    /// Bar heights per (infrastructure, mode).
    pub values: BTreeMap<(String, String), f64>,
    /// The figure's title.
    pub caption: String,
    /// The y axis's label.
    pub y_desc: String,
    /// Decimals in the bars' labels.
    pub decimals: usize,
    /// Unit after each bar's value ("" or "/core").
    pub suffix: &'static str,
}

const MODES: [&str; 2] = ["http", "ws"];

impl Figure for Bars {
    fn draw<DB: DrawingBackend>(&self, area: &Area<DB>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        area.fill(&WHITE).map_err(err)?;
        let infras: Vec<&String> = self
            .values
            .keys()
            .map(|k| &k.0)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let top = self.values.values().copied().fold(0.0, f64::max).max(1.0) * 1.3;
        let slots = (infras.len() * 3).max(1) as f64;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.caption, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..slots, 0f64..top)
            .map_err(err)?;
        // Labels every half unit; the group centres (i*3 + 1.5) carry the
        // infrastructure's name, the rest stay blank.
        let name_at = |x: &f64| {
            let i = ((x - 1.5) / 3.0).round();
            if i >= 0.0 && (x - (i * 3.0 + 1.5)).abs() < 0.01 {
                infras
                    .get(i as usize)
                    .map_or(String::new(), |s| s.to_string())
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels((slots * 2.0) as usize + 1)
            .x_label_formatter(&name_at)
            .x_label_style(("sans-serif", 14))
            .x_desc("infrastructure")
            .y_label_formatter(&|y| format!("{y:.prec$}", prec = self.decimals))
            .y_desc(self.y_desc.as_str())
            .draw()
            .map_err(err)?;
        for (m, mode) in MODES.iter().enumerate() {
            let color = Palette99::pick(m).to_rgba();
            let placed: Vec<(f64, f64)> = infras
                .iter()
                .enumerate()
                .filter_map(|(i, infra)| {
                    let v = *self.values.get(&((*infra).clone(), mode.to_string()))?;
                    Some((i as f64 * 3.0 + 0.25 + m as f64 * 1.3, v))
                })
                .collect();
            chart
                .draw_series(
                    placed.iter().map(|(x0, v)| {
                        Rectangle::new([(*x0, 0.0), (x0 + 1.2, *v)], color.filled())
                    }),
                )
                .map_err(err)?
                .label(*mode)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
            chart
                .draw_series(placed.iter().map(|(x0, v)| {
                    Text::new(
                        format!("{v:.prec$}{}", self.suffix, prec = self.decimals),
                        (*x0 + 0.1, v + top * 0.04),
                        ("sans-serif", 14),
                    )
                }))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}
