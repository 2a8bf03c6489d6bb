//! Inflammatory cells and fibroblasts over the first weeks after the first session.

use dermasim::Summary;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::timeline::{band_points, has_bands, values_and_band};
use super::{
    axes, band, colour, padded_range, session_markers, side_legend, tick, Chart, DrawResult, Mark,
    DESC_PX, FAMILY, LEGEND_PX, MARKER, TITLE_PX,
};

/// Days shown after the first session.
pub const WINDOW_DAYS: f64 = 42.0;

/// Panels: column, panel title, y-axis text, from the observables table.
/// Inflammatory cells (absolute units) come first, then the relative ones, in the order
/// the healing cascade brings them.
fn panels() -> Vec<(&'static str, String, &'static str)> {
    let mut cells: Vec<_> =
        dermasim::OBSERVABLES.iter().filter(|o| o.panel == dermasim::Panel::Cells).collect();
    cells.sort_by_key(|o| o.unit.starts_with("relative"));
    cells
        .into_iter()
        .map(|o| {
            let mut title = o.label.to_string();
            title[..1].make_ascii_uppercase();
            (o.name, title, o.unit)
        })
        .collect()
}

pub struct CellsChart<'a> {
    pub summary: &'a Summary,
}

impl CellsChart<'_> {
    fn window(&self) -> (f64, f64) {
        let s = self.summary;
        let first = s.sessions.first().map_or(0.0, |x| x.day);
        (first.max(0.0), (first + WINDOW_DAYS).min(s.last().t_day))
    }
}

impl Chart for CellsChart<'_> {
    fn name(&self) -> String {
        "cells".into()
    }

    fn title(&self) -> String {
        "Inflammation and fibroblasts in the first weeks".into()
    }

    fn caption(&self) -> String {
        let (a, b) = self.window();
        format!(
            "Days {a:.0} to {b:.0}. Neutrophils and macrophages: dermis averages in the model units of Cooper et al. 2015. Fibroblasts: dermis average relative to before treatment. Dashed lines: sessions."
        )
    }

    fn size(&self) -> (u32, u32) {
        (1100, 860)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let s = self.summary;
        let (t0, t1) = self.window();
        let t1 = if t1 > t0 { t1 } else { t0 + 1.0 };
        let shown: Vec<_> =
            s.timeline.iter().filter(|p| p.t_day >= t0 - 1e-9 && p.t_day <= t1 + 1e-9).collect();
        let days: Vec<f64> = s.sessions.iter().map(|x| x.day).collect();
        let root = root.titled(&self.title(), (FAMILY, TITLE_PX))?;
        let (w, _) = root.dim_in_pixel();
        let (plots, key) = root.split_horizontally(w - LEGEND_PX);
        let panels = panels();
        let areas = plots.split_evenly((panels.len(), 1));
        let mut entries = Vec::new();
        for (p, ((name, title, y_desc), area)) in panels.iter().zip(&areas).enumerate() {
            let (lo, hi) = padded_range(
                shown.iter().flat_map(|pt| values_and_band(pt, name)).chain([0.0]),
                0.06,
            );
            let mut chart = ChartBuilder::on(area)
                .caption(title.as_str(), (FAMILY, DESC_PX + 1))
                .margin(8)
                .x_label_area_size(if p + 1 == panels.len() { 44 } else { 24 })
                .y_label_area_size(86)
                .build_cartesian_2d(t0..t1, lo.max(0.0)..hi)?;
            let x_desc = if p + 1 == panels.len() { "time since day 0 (days)" } else { "" };
            axes(&mut chart, x_desc, Some(y_desc), 10, &tick)?;
            let c = colour(p + 1);
            let pts = band_points(shown.iter().copied(), name);
            if pts.len() > 1 {
                chart.draw_series([band(&pts, c)])?;
            }
            chart.draw_series(LineSeries::new(
                shown.iter().filter_map(|pt| Some((pt.t_day, pt.get(name)?))),
                c.stroke_width(2),
            ))?;
            session_markers(&mut chart, &days, (lo.max(0.0), hi))?;
            entries.push((title.to_lowercase(), Mark::Line(c)));
        }
        if has_bands(s) {
            entries.push(("5-95 % of the ensemble".into(), Mark::Band(RGBColor(90, 90, 90))));
        }
        entries.push(("treatment session (S1, S2, ...)".into(), Mark::Dashed(MARKER)));
        side_legend(&key, &entries)
    }
}
