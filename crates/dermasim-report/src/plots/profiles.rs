//! Depth profiles (lateral means) at the snapshot days.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    axes, colour, depth_tick, padded_range, side_legend, Chart, DrawResult, Mark, DESC_PX, FAMILY,
    LEGEND_PX, TITLE_PX,
};
use crate::depth::{DepthRow, DepthTable};

/// Panels: column, panel title, x-axis text.
const PANELS: [(&str, &str, &str); 3] = [
    ("collagen_total_rel", "Total collagen", "relative to rest at that depth"),
    ("fibroblasts_rel", "Fibroblasts", "relative to rest at that depth"),
    ("neutrophils", "Neutrophils", "density (Cooper 2015 units)"),
];

const BOUNDARY: RGBColor = RGBColor(120, 120, 120);

pub struct ProfilesChart<'a> {
    pub profiles: &'a DepthTable,
}

/// Layers of a profile: name, top and bottom depth (um).
pub fn layers(rows: &[&DepthRow]) -> Vec<(&'static str, f64, f64)> {
    let mut out: Vec<(&'static str, f64, f64)> = Vec::new();
    for r in rows {
        let (top, bottom) = (r.depth_um - r.thickness_um / 2.0, r.depth_um + r.thickness_um / 2.0);
        match out.last_mut() {
            Some(l) if l.0 == r.layer.name() => l.2 = bottom,
            _ => out.push((r.layer.name(), top, bottom)),
        }
    }
    out
}

impl Chart for ProfilesChart<'_> {
    fn name(&self) -> String {
        "depth_profiles".into()
    }

    fn title(&self) -> String {
        "Depth profiles at the snapshot days".into()
    }

    fn caption(&self) -> String {
        "Lateral means against depth below the skin surface, taken at the start of each snapshot day (before any session of that day). Collagen and fibroblasts are divided by the resting value at the same depth (1 = unchanged) and are absent above the dermis. Dotted lines: layer boundaries.".into()
    }

    fn size(&self) -> (u32, u32) {
        (1240, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let t = self.profiles;
        let days = t.days();
        if days.is_empty() {
            return Err("no depth profiles to draw".into());
        }
        let first: Vec<&DepthRow> = t.at(days[0]).collect();
        let layers = layers(&first);
        let bottom = layers.last().map_or(1.0, |l| l.2);
        let root = root.titled(&self.title(), (FAMILY, TITLE_PX))?;
        let (w, _) = root.dim_in_pixel();
        let (plots, key) = root.split_horizontally(w - LEGEND_PX + 30);
        let areas = plots.split_evenly((1, PANELS.len()));
        for (p, ((column, title, x_desc), area)) in PANELS.iter().zip(&areas).enumerate() {
            let relative = column.ends_with("_rel");
            let (lo, hi) = padded_range(
                t.rows.iter().filter_map(|r| r.get(column)).chain(relative.then_some(1.0)),
                0.06,
            );
            let lo = if relative { lo } else { lo.max(0.0) };
            let mut chart = ChartBuilder::on(area)
                .caption(*title, (FAMILY, DESC_PX + 1))
                .margin(10)
                .x_label_area_size(46)
                .y_label_area_size(if p == 0 { 76 } else { 52 })
                .build_cartesian_2d(lo..hi, -bottom..0.0)?;
            axes(
                &mut chart,
                x_desc,
                (p == 0).then_some("depth below the surface (µm)"),
                4,
                &depth_tick,
            )?;
            for &(_, top, _) in &layers[1..] {
                chart.draw_series(DashedLineSeries::new(
                    [(lo, -top), (hi, -top)],
                    2,
                    3,
                    BOUNDARY.stroke_width(1),
                ))?;
            }
            if relative {
                chart.draw_series(LineSeries::new(
                    [(1.0, -bottom), (1.0, 0.0)],
                    RGBColor(170, 170, 170).stroke_width(1),
                ))?;
            }
            for (i, &d) in days.iter().enumerate() {
                // Break the line where the quantity is undefined (NaN above the dermis).
                let mut segments = vec![Vec::new()];
                for r in t.at(d) {
                    match r.get(column).filter(|v| v.is_finite()) {
                        Some(v) => {
                            segments.last_mut().expect("one open segment").push((v, -r.depth_um))
                        }
                        None => segments.push(Vec::new()),
                    }
                }
                for seg in segments.into_iter().filter(|s| !s.is_empty()) {
                    chart.draw_series(LineSeries::new(seg, colour(i).stroke_width(2)))?;
                }
            }
        }
        let mut entries: Vec<(String, Mark)> = days
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("day {d}"), Mark::Line(colour(i))))
            .collect();
        entries.push(("layer boundary".into(), Mark::Dashed(BOUNDARY)));
        // Layer names beside the panels, never over the curves.
        for &(name, top, low) in &layers {
            let short = match name {
                "stratum_corneum" => "SC".to_string(),
                n => n.trim_end_matches("_dermis").replace('_', " "),
            };
            entries.push((format!("{short} {top:.0}-{low:.0} µm"), Mark::Line(WHITE)));
        }
        side_legend(&key, &entries)
    }
}
