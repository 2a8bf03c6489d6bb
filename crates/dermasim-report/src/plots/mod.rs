//! Charts drawn with plotters, each to SVG (for files and the report) and optionally PNG.
//!
//! A chart is a type implementing [`Chart`]; [`render`] turns it into a [`Figure`]. Text uses
//! DejaVu Sans shipped in `assets/fonts` (rendered through ab_glyph), so PNGs need no system
//! fonts; SVG text names the generic `sans-serif` family.

mod cells;
mod compare;
mod dose;
mod forecast;
mod profiles;
mod punctures;
mod section;
mod timeline;

use std::error::Error;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub use cells::CellsChart;
pub use compare::{CompareChart, CompareSeries};
pub use dose::{DoseChart, DoseProfileChart};
pub use forecast::{first_sentence, ForecastChart, ForecastPanel};
pub use profiles::ProfilesChart;
pub use punctures::PunctureChart;
pub use section::SectionChart;
pub use timeline::{has_bands, TimelineChart};

pub type DrawResult = Result<(), Box<dyn Error>>;

/// Something that can be drawn on any plotters backend.
pub trait Chart {
    /// File stem: `plots/<name>.svg`.
    fn name(&self) -> String;
    fn title(&self) -> String;
    /// One or two sentences under the figure in the report: what it shows and its units.
    fn caption(&self) -> String;
    /// Pixels (PNG) or user units (SVG).
    fn size(&self) -> (u32, u32) {
        (960, 540)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// A rendered chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    pub title: String,
    pub caption: String,
    pub size: (u32, u32),
    pub svg: String,
    pub png: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
#[error("plot {name}: {message}")]
pub struct PlotError {
    pub name: String,
    pub message: String,
}

/// Draw a chart to SVG and, when `png`, to a PNG image of the same size.
pub fn render(chart: &impl Chart, png: bool) -> Result<Figure, PlotError> {
    register_font();
    let name = chart.name();
    let err = |e: Box<dyn Error>| PlotError { name: name.clone(), message: e.to_string() };
    let size = chart.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.into()))?;
        chart.draw(&root).map_err(err)?;
        root.present().map_err(|e| err(e.into()))?;
    }
    let png = if png {
        let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
            root.fill(&WHITE).map_err(|e| err(e.into()))?;
            chart.draw(&root).map_err(err)?;
            root.present().map_err(|e| err(e.into()))?;
        }
        Some(encode_png(&rgb, size).map_err(|e| err(e.into()))?)
    } else {
        None
    };
    Ok(Figure {
        name: name.clone(),
        title: chart.title(),
        caption: chart.caption(),
        size,
        svg,
        png,
    })
}

fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            unreachable!("the shipped DejaVu Sans is a valid TrueType font");
        }
    });
}

/// The font family every chart uses.
pub const FAMILY: &str = "sans-serif";

/// Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
    RGBColor(240, 228, 66),  // yellow
];

pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Title and axis text sizes, shared by every chart.
pub const TITLE_PX: u32 = 22;
pub const LABEL_PX: u32 = 15;
pub const DESC_PX: u32 = 16;

/// `(lo, hi)` of finite values, padded by `pad` of the span (and never empty).
pub fn padded_range(values: impl IntoIterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = (hi - lo).max(1e-9 * hi.abs().max(1.0));
    (lo - pad * span, hi + pad * span)
}

/// Dashed vertical session markers labelled S1, S2, ... at the top of a chart's plotting area.
pub fn session_markers<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    days: &[f64],
    y: (f64, f64),
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (x0, x1) = (chart.x_range().start, chart.x_range().end);
    // Labels sit a little right of their line, so "S1" at day 0 is clear of the y axis.
    let nudge = 0.008 * (x1 - x0);
    for (i, &d) in days.iter().enumerate().filter(|(_, &d)| d >= x0 && d <= x1) {
        chart.draw_series(DashedLineSeries::new(
            [(d, y.0), (d, y.1)],
            6,
            4,
            MARKER.stroke_width(1),
        ))?;
        let font =
            (FAMILY, LABEL_PX).into_font().color(&MARKER).pos(Pos::new(HPos::Left, VPos::Top));
        chart.draw_series([Text::new(format!("S{}", i + 1), (d + nudge, y.1), font)])?;
    }
    Ok(())
}

/// Colour of the session markers.
pub const MARKER: RGBColor = RGBColor(110, 110, 110);

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy)]
pub enum Mark {
    Line(RGBColor),
    Dashed(RGBColor),
    Band(RGBColor),
    Dot(RGBColor),
}

/// The frame of a chart with a footnote: the title on top, `note` on a line at the bottom, and
/// the body split into the plot area and the legend column on the right.
pub type Framed<DB> = (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>);

/// Draw the title and the footnote on `root`; returns `(plot area, legend area)`.
pub fn titled_with_note<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    note: &str,
) -> Result<Framed<DB>, Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let root = root.titled(title, (FAMILY, TITLE_PX))?;
    let (w, h) = root.dim_in_pixel();
    let (body, foot) = root.split_vertically(h - 34);
    let font = (FAMILY, LABEL_PX).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    foot.draw(&Text::new(note.to_string(), (12, 17), font))?;
    Ok(body.split_horizontally(w - LEGEND_PX))
}

/// A legend in its own area beside the chart, so it never hides data.
pub fn side_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Mark)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let font = (FAMILY, LABEL_PX).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    let (x, top, step) = (8, 56, 26);
    for (i, (label, mark)) in entries.iter().enumerate() {
        let y = top + step * i as i32;
        match *mark {
            Mark::Line(c) => {
                area.draw(&PathElement::new([(x, y), (x + 26, y)], c.stroke_width(3)))?
            }
            Mark::Dashed(c) => {
                for k in 0..3 {
                    area.draw(&PathElement::new(
                        [(x + 10 * k, y), (x + 10 * k + 6, y)],
                        c.stroke_width(2),
                    ))?;
                }
            }
            Mark::Band(c) => {
                area.draw(&Rectangle::new([(x, y - 7), (x + 26, y + 7)], c.mix(0.25).filled()))?
            }
            Mark::Dot(c) => area.draw(&Circle::new((x + 13, y), 6, c.mix(0.7).filled()))?,
        }
        area.draw(&Text::new(label.clone(), (x + 36, y), font.clone()))?;
    }
    Ok(())
}

/// Axis numbers: no trailing `.0`, no `-0`.
pub fn tick(v: &f64) -> String {
    let v = if v.abs() < 1e-12 { 0.0 } else { *v };
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// Depth axis labels: the y coordinate is minus the depth, so depth grows downwards.
pub fn depth_tick(v: &f64) -> String {
    tick(&-v)
}

/// A filled band between two curves (ensemble 5-95 %).
pub fn band(points: &[(f64, f64, f64)], colour: RGBColor) -> Polygon<(f64, f64)> {
    let upper = points.iter().map(|&(x, _, hi)| (x, hi));
    let lower = points.iter().rev().map(|&(x, lo, _)| (x, lo));
    Polygon::new(upper.chain(lower).collect::<Vec<_>>(), colour.mix(0.18).filled())
}

/// The x-y coordinates every line chart uses.
pub type Xy =
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>;

/// Axes with their descriptions (units in brackets), light grid, tidy numbers.
pub fn axes<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Xy>,
    x_desc: &str,
    y_desc: Option<&str>,
    x_labels: usize,
    y_fmt: &dyn Fn(&f64) -> String,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_desc)
        .x_labels(x_labels)
        .x_label_formatter(&tick)
        .y_label_formatter(y_fmt)
        .axis_desc_style((FAMILY, DESC_PX))
        .label_style((FAMILY, LABEL_PX))
        .max_light_lines(1)
        .light_line_style(RGBColor(242, 242, 242))
        .bold_line_style(RGBColor(215, 215, 215));
    if let Some(y) = y_desc {
        mesh.y_desc(y);
    }
    mesh.draw()?;
    Ok(())
}

/// Width of the legend column beside a chart, pixels.
pub const LEGEND_PX: u32 = 250;
