//! Matrix and epidermis over the whole follow-up, relative to before treatment.

use dermasim::Summary;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    axes, band, colour, padded_range, session_markers, side_legend, tick, Chart, DrawResult, Mark,
    DESC_PX, FAMILY, LEGEND_PX, MARKER, TITLE_PX,
};

/// Quantities of the timeline chart: column name and legend text, from the observables table.
fn series() -> Vec<(&'static str, &'static str)> {
    dermasim::OBSERVABLES
        .iter()
        .filter(|o| o.panel == dermasim::Panel::Matrix)
        .map(|o| (o.name, o.label))
        .collect()
}

pub struct TimelineChart<'a> {
    pub summary: &'a Summary,
}

impl Chart for TimelineChart<'_> {
    fn name(&self) -> String {
        "timeline".into()
    }

    fn title(&self) -> String {
        "Collagen, elastin and epidermis over time".into()
    }

    fn caption(&self) -> String {
        let bands = if has_bands(self.summary) {
            " One panel per quantity. Solid: the central run (the calibrated parameter set); dashed: the median of the ensemble members; shaded: 5-95 % of the members."
        } else {
            ""
        };
        format!(
            "Dermis averages of collagen I, III, total collagen and elastin, and mean epidermal thickness, each divided by its value before treatment (1 = unchanged). Dashed lines: treatment sessions.{bands}"
        )
    }

    fn size(&self) -> (u32, u32) {
        if has_bands(self.summary) {
            (1100, 720)
        } else {
            (1100, 560)
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        if has_bands(self.summary) {
            return self.draw_panels(root);
        }
        let s = self.summary;
        let t_end = s.last().t_day;
        let all = s
            .timeline
            .iter()
            .flat_map(|p| series().into_iter().flat_map(move |(n, _)| values_and_band(p, n)));
        let (lo, hi) = padded_range(all.chain([1.0]), 0.06);
        let root = root.titled(&self.title(), (FAMILY, TITLE_PX))?;
        let (w, _) = root.dim_in_pixel();
        let (plot, key) = root.split_horizontally(w - LEGEND_PX);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(76)
            .build_cartesian_2d(0.0..t_end, lo..hi)?;
        axes(
            &mut chart,
            "time since day 0 (days)",
            Some("relative to before treatment (1 = unchanged)"),
            10,
            &tick,
        )?;
        chart.draw_series(LineSeries::new(
            [(0.0, 1.0), (t_end, 1.0)],
            RGBColor(150, 150, 150).stroke_width(1),
        ))?;
        let mut entries = Vec::new();
        for (i, (name, label)) in series().into_iter().enumerate() {
            let c = colour(i);
            let pts = band_points(&s.timeline, name);
            if pts.len() > 1 {
                chart.draw_series([band(&pts, c)])?;
            }
            chart.draw_series(LineSeries::new(
                s.timeline.iter().filter_map(|p| Some((p.t_day, p.get(name)?))),
                c.stroke_width(2),
            ))?;
            entries.push((label.to_string(), Mark::Line(c)));
        }
        if has_bands(s) {
            entries.push(("5-95 % of the ensemble".into(), Mark::Band(RGBColor(90, 90, 90))));
        }
        let days: Vec<f64> = s.sessions.iter().map(|x| x.day).collect();
        session_markers(&mut chart, &days, (lo, hi))?;
        entries.push(("treatment session (S1, S2, ...)".into(), Mark::Dashed(MARKER)));
        side_legend(&key, &entries)
    }
}

impl TimelineChart<'_> {
    /// One panel per quantity, each with its own band: overlapping translucent bands of five
    /// quantities on one axis cannot be read.
    fn draw_panels<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let s = self.summary;
        let t_end = s.last().t_day;
        let root = root.titled(&self.title(), (FAMILY, TITLE_PX))?;
        let cells = root.split_evenly((2, 3));
        let days: Vec<f64> = s.sessions.iter().map(|x| x.day).collect();
        for (i, (name, label)) in series().into_iter().enumerate() {
            let c = colour(i);
            let values = s.timeline.iter().flat_map(|p| values_and_band(p, name));
            let (lo, hi) = padded_range(values.chain([1.0]), 0.06);
            let mut chart = ChartBuilder::on(&cells[i])
                .caption(label, (FAMILY, DESC_PX))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(52)
                .build_cartesian_2d(0.0..t_end, lo..hi)?;
            let x_desc = if i >= 3 { "time since day 0 (days)" } else { "" };
            axes(&mut chart, x_desc, None, 6, &tick)?;
            chart.draw_series(LineSeries::new(
                [(0.0, 1.0), (t_end, 1.0)],
                RGBColor(150, 150, 150).stroke_width(1),
            ))?;
            let pts = band_points(&s.timeline, name);
            if pts.len() > 1 {
                chart.draw_series([band(&pts, c)])?;
            }
            let median = format!("{name}_p50");
            chart.draw_series(DashedLineSeries::new(
                s.timeline.iter().filter_map(|p| Some((p.t_day, *p.bands.get(&median)?))),
                5,
                3,
                c.stroke_width(1),
            ))?;
            chart.draw_series(LineSeries::new(
                s.timeline.iter().filter_map(|p| Some((p.t_day, p.get(name)?))),
                c.stroke_width(2),
            ))?;
            session_markers(&mut chart, &days, (lo, hi))?;
        }
        let grey = RGBColor(90, 90, 90);
        let entries = [
            ("central run (the calibrated set)".to_string(), Mark::Line(grey)),
            ("median of the ensemble members".to_string(), Mark::Dashed(grey)),
            ("5-95 % of the ensemble members".to_string(), Mark::Band(grey)),
            ("treatment session (S1, S2, ...)".to_string(), Mark::Dashed(MARKER)),
            ("each relative to before treatment".to_string(), Mark::Line(RGBColor(150, 150, 150))),
        ];
        side_legend(&cells[5], &entries)
    }
}

pub fn has_bands(s: &Summary) -> bool {
    s.timeline.first().is_some_and(|p| !p.bands.is_empty())
}

/// A quantity with its band values, for axis ranges.
pub fn values_and_band(p: &dermasim::TimelinePoint, name: &str) -> impl Iterator<Item = f64> {
    [
        p.get(name),
        p.bands.get(&format!("{name}_p05")).copied(),
        p.bands.get(&format!("{name}_p95")).copied(),
    ]
    .into_iter()
    .flatten()
}

/// `(t, p05, p95)` where the band exists.
pub fn band_points<'a>(
    s: impl IntoIterator<Item = &'a dermasim::TimelinePoint>,
    name: &str,
) -> Vec<(f64, f64, f64)> {
    s.into_iter()
        .filter_map(|p| {
            Some((
                p.t_day,
                *p.bands.get(&format!("{name}_p05"))?,
                *p.bands.get(&format!("{name}_p95"))?,
            ))
        })
        .collect()
}
