//! What every report figure draws on: the canvas size, the font (the
//! built-in DejaVu Sans, or `$ENVLOAD_FONT`, so no system fonts are needed),
//! a [`Figure`] drawn once into both a PNG and an SVG, and the shared legend
//! style.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

const W: u32 = 960;
const H: u32 = 600;
/// DejaVu Sans, built in so figures render on machines without fonts
/// (HPC login nodes, slim containers); licence in `assets/DejaVuSans.LICENSE`.
const BUILTIN_FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the font plotters draws text with (once per process):
/// `$ENVLOAD_FONT` when set, else the built-in DejaVu Sans.
pub(super) fn register_font() -> Result<(), String> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let (bytes, name): (&'static [u8], String) = match std::env::var_os("ENVLOAD_FONT") {
            Some(path) => {
                let path = PathBuf::from(path);
                let bytes = std::fs::read(&path)
                    .map_err(|e| format!("ENVLOAD_FONT={}: {e}", path.display()))?;
                (
                    Box::leak(bytes.into_boxed_slice()),
                    format!("ENVLOAD_FONT={}", path.display()),
                )
            }
            None => (BUILTIN_FONT, "the built-in font".into()),
        };
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("{name} is not a usable TrueType font"))
    })
    .clone()
}

pub(super) type Area<DB> = DrawingArea<DB, Shift>;

/// A figure that draws on any backend.
pub(super) trait Figure {
    fn draw<DB: DrawingBackend>(&self, area: &Area<DB>) -> Result<(), String>
    where
        DB::ErrorType: 'static;
}

/// Draws one figure into both a PNG and an SVG file.
pub(super) fn both(out: &Path, stem: &str, fig: &impl Figure) -> Result<(), String> {
    let png = out.join(format!("{stem}.png"));
    let svg = out.join(format!("{stem}.svg"));
    {
        let area = BitMapBackend::new(&png, (W, H)).into_drawing_area();
        fig.draw(&area)?;
        area.present()
            .map_err(|e| format!("{}: {e}", png.display()))?;
    }
    let area = SVGBackend::new(&svg, (W, H)).into_drawing_area();
    fig.draw(&area)?;
    area.present()
        .map_err(|e| format!("{}: {e}", svg.display()))
}

/// The series legend of a chart, boxed on a translucent white.
pub(super) fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(position)
        .draw()
        .map_err(|e| e.to_string())
}
