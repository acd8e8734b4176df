//! Total p99 heatmap: batch size × infrastructure (and mode), one figure per
//! wait; each cell coloured by p99 on a log scale and labelled with it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use plotters::prelude::*;

use super::canvas::{both, Area, Figure};
use super::tables::{Key, Point};
use envload_results::numfmt::float;

struct Heatmap {
    wait: f64,
    rows: Vec<String>,
    cols: Vec<u64>,
    cells: BTreeMap<(usize, usize), f64>,
}

/// Writes one heatmap per wait; returns the file stems.
pub fn render(
    pts: &BTreeMap<Key, BTreeMap<u64, Point>>,
    out: &Path,
) -> Result<Vec<String>, String> {
    let waits: BTreeSet<u64> = pts.keys().map(|k| k.2).collect();
    let mut stems = Vec::new();
    for w in waits {
        let series: Vec<(&Key, &BTreeMap<u64, Point>)> =
            pts.iter().filter(|(k, _)| k.2 == w).collect();
        let cols: Vec<u64> = series
            .iter()
            .flat_map(|(_, by_n)| by_n.keys().copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let rows: Vec<String> = series
            .iter()
            .map(|((infra, mode, _), _)| format!("{infra} ({mode})"))
            .collect();
        let mut cells = BTreeMap::new();
        for (r, (_, by_n)) in series.iter().enumerate() {
            for (n, p) in by_n.iter() {
                let c = cols
                    .iter()
                    .position(|x| x == n)
                    .expect("column of a known N");
                cells.insert((r, c), p.total_p99);
            }
        }
        let stem = format!("total_p99_heatmap_wait_{}", float(w as f64 / 1e6));
        both(
            out,
            &stem,
            &Heatmap {
                wait: w as f64 / 1e6,
                rows,
                cols,
                cells,
            },
        )?;
        stems.push(stem);
    }
    Ok(stems)
}

impl Figure for Heatmap {
    fn draw<DB: DrawingBackend>(&self, area: &Area<DB>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        area.fill(&WHITE).map_err(err)?;
        let (nc, nr) = (self.cols.len().max(1), self.rows.len().max(1));
        let (cols, rows) = (self.cols.clone(), self.rows.clone());
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("Total p99 (s) by batch size, wait {} s", self.wait),
                ("sans-serif", 24),
            )
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(190)
            .build_cartesian_2d(0f64..nc as f64, 0f64..nr as f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(nc * 2 + 1)
            .y_labels(nr * 2 + 1)
            .x_label_formatter(&|x| {
                label_at(*x, &cols.iter().map(u64::to_string).collect::<Vec<_>>())
            })
            .y_label_formatter(&|y| label_at(*y, &rows))
            .x_desc("batch size")
            .draw()
            .map_err(err)?;
        let (lo, hi) = self
            .cells
            .values()
            .fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        let (llo, lhi) = (lo.max(1e-3).ln(), hi.max(1e-3).ln());
        let rects = self.cells.iter().map(|((r, c), v)| {
            let t = if lhi > llo {
                (v.max(1e-3).ln() - llo) / (lhi - llo)
            } else {
                0.0
            };
            let color = HSLColor((1.0 - t) * 0.33, 0.75, 0.55); // green (fast) → red (slow)
            Rectangle::new(
                [(*c as f64, *r as f64), (*c as f64 + 1.0, *r as f64 + 1.0)],
                color.filled(),
            )
        });
        chart.draw_series(rects).map_err(err)?;
        let labels = self.cells.iter().map(|((r, c), v)| {
            Text::new(
                format!("{v:.2}"),
                (*c as f64 + 0.3, *r as f64 + 0.6),
                ("sans-serif", 14),
            )
        });
        chart.draw_series(labels).map_err(err)?;
        Ok(())
    }
}

/// The name of the cell whose centre is at `x` (labels sit at half steps).
fn label_at(x: f64, names: &[String]) -> String {
    let i = x.floor();
    if (x - i - 0.5).abs() < 1e-6 {
        names.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}
