//! A depth cross-section through the middle of a 3d patch: heatmaps of one quantity at the
//! snapshot days, with a shared colour scale.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{depth_tick, tick, Chart, DrawResult, DESC_PX, FAMILY, LABEL_PX, TITLE_PX};
use crate::depth::DepthTable;

/// Most panels drawn (evenly chosen days).
const MAX_PANELS: usize = 4;

pub struct SectionChart<'a> {
    pub sections: &'a DepthTable,
    /// A column of the table: a `*_rel` quantity is centred on 1 (unchanged).
    pub column: &'a str,
    pub label: &'a str,
}

impl SectionChart<'_> {
    fn days(&self) -> Vec<f64> {
        let all = self.sections.days();
        if all.len() <= MAX_PANELS {
            return all;
        }
        (0..MAX_PANELS).map(|i| all[i * (all.len() - 1) / (MAX_PANELS - 1)]).collect()
    }

    /// Colour range: symmetric about 1 for relative quantities, from zero otherwise.
    fn range(&self) -> (f64, f64) {
        let vals =
            self.sections.rows.iter().filter_map(|r| r.get(self.column)).filter(|v| v.is_finite());
        if self.column.ends_with("_rel") {
            let d = vals.fold(0.0f64, |m, v| m.max((v - 1.0).abs())).max(1e-3);
            (1.0 - d, 1.0 + d)
        } else {
            let hi = vals.fold(0.0f64, f64::max).max(1e-12);
            (0.0, hi)
        }
    }
}

/// Blue (below) - white (centre) - red (above), for a position in [0, 1].
pub fn diverging(u: f64) -> RGBColor {
    let u = u.clamp(0.0, 1.0);
    let (blue, white, red) = ((33.0, 102.0, 172.0), (247.0, 247.0, 247.0), (178.0, 24.0, 43.0));
    let mix = |a: (f64, f64, f64), b: (f64, f64, f64), f: f64| {
        RGBColor(
            (a.0 + (b.0 - a.0) * f) as u8,
            (a.1 + (b.1 - a.1) * f) as u8,
            (a.2 + (b.2 - a.2) * f) as u8,
        )
    };
    if u < 0.5 {
        mix(blue, white, u * 2.0)
    } else {
        mix(white, red, (u - 0.5) * 2.0)
    }
}

impl Chart for SectionChart<'_> {
    fn name(&self) -> String {
        "cross_section".into()
    }

    fn title(&self) -> String {
        format!("Cross-section through the patch: {}", self.label)
    }

    fn caption(&self) -> String {
        let (lo, hi) = self.range();
        format!(
            "The x-depth plane through the middle of the 3d patch at the snapshot days, colour = {} (scale {lo:.3} to {hi:.3}; white = unchanged for relative quantities). Grey: no value (no collagen above the dermis).",
            self.label
        )
    }

    fn size(&self) -> (u32, u32) {
        (1200, 680)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let days = self.days();
        if days.is_empty() {
            return Err("no cross-section to draw".into());
        }
        let (lo, hi) = self.range();
        let colour_of = |v: f64| {
            if v.is_finite() {
                diverging((v - lo) / (hi - lo))
            } else {
                RGBColor(200, 200, 200)
            }
        };
        let root = root.titled(&self.title(), (FAMILY, TITLE_PX))?;
        let (w, _) = root.dim_in_pixel();
        let (panels, bar) = root.split_horizontally(w - 130);
        let areas = panels.split_evenly((1, days.len().max(1)));
        let first: Vec<_> = self.sections.at(days[0]).collect();
        let bottom = first.iter().map(|r| r.depth_um + r.thickness_um / 2.0).fold(0.0, f64::max);
        let width = first.iter().map(|r| r.x_um.unwrap_or(0.0)).fold(0.0, f64::max);
        let dx = first.iter().filter_map(|r| r.x_um).fold(f64::INFINITY, f64::min) * 2.0;
        let width = width + dx / 2.0;
        for (p, (&d, area)) in days.iter().zip(&areas).enumerate() {
            let mut chart = ChartBuilder::on(area)
                .caption(format!("day {d}"), (FAMILY, DESC_PX + 2))
                .margin(8)
                .x_label_area_size(46)
                .y_label_area_size(if p == 0 { 72 } else { 40 })
                .build_cartesian_2d(0.0..width, -bottom..0.0)?;
            let mut mesh = chart.configure_mesh();
            mesh.disable_mesh()
                .x_desc("x (µm)")
                .x_labels(4)
                .x_label_formatter(&tick)
                .y_label_formatter(&depth_tick)
                .axis_desc_style((FAMILY, DESC_PX - 2))
                .label_style((FAMILY, LABEL_PX - 1));
            if p == 0 {
                mesh.y_desc("depth below the surface (µm)");
            }
            mesh.draw()?;
            chart.draw_series(self.sections.at(d).map(|r| {
                let x = r.x_um.unwrap_or(0.0);
                let v = r.get(self.column).unwrap_or(f64::NAN);
                Rectangle::new(
                    [
                        (x - dx / 2.0, -(r.depth_um - r.thickness_um / 2.0)),
                        (x + dx / 2.0, -(r.depth_um + r.thickness_um / 2.0)),
                    ],
                    colour_of(v).filled(),
                )
            }))?;
        }
        // Colour bar.
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(40)
            .margin_bottom(60)
            .margin_right(10)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..1.0, lo..hi)?;
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc(self.label)
            .y_labels(7)
            .y_label_formatter(&tick)
            .axis_desc_style((FAMILY, DESC_PX - 2))
            .label_style((FAMILY, LABEL_PX - 1))
            .draw()?;
        let steps = 100;
        cb.draw_series((0..steps).map(|i| {
            let (a, b) = (
                lo + (hi - lo) * i as f64 / steps as f64,
                lo + (hi - lo) * (i + 1) as f64 / steps as f64,
            );
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                diverging((i as f64 + 0.5) / steps as f64).filled(),
            )
        }))?;
        Ok(())
    }
}
