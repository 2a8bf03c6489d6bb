//! The forecast of a treatment plan: dermal collagen with its ensemble band, one panel per plan.
//!
//! The chart takes plain timelines so that the clinical crate needs no plotting dependency:
//! the caller (the CLI) builds one [`ForecastPanel`] per plan.

use dermasim::TimelinePoint;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::timeline::band_points;
use super::{
    axes, band, colour, padded_range, session_markers, side_legend, tick, titled_with_note, Chart,
    DrawResult, Mark, FAMILY, LABEL_PX, MARKER,
};

const COLUMN: &str = "collagen_total_rel";
const UNCHANGED: RGBColor = RGBColor(60, 60, 60);

/// One plan: its heading (concern and site), session days and forecast timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastPanel {
    pub title: String,
    pub session_days: Vec<f64>,
    pub timeline: Vec<TimelinePoint>,
}

pub struct ForecastChart {
    pub panels: Vec<ForecastPanel>,
    /// A line under the panels (the disclaimer's first sentence).
    pub note: String,
}

/// Height of one panel, pixels.
const PANEL_PX: u32 = 340;

impl Chart for ForecastChart {
    fn name(&self) -> String {
        "forecast".into()
    }

    fn title(&self) -> String {
        "Forecast: total dermal collagen relative to before treatment".into()
    }

    fn caption(&self) -> String {
        format!(
            "Mean total collagen of the dermis divided by its value before treatment (1 = unchanged, dashed), central run and 5-95 % of the ensemble, against days after the first session; S1, S2, ... mark the sessions. {}",
            self.note
        )
    }

    fn size(&self) -> (u32, u32) {
        (1100, 80 + PANEL_PX * self.panels.len().max(1) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        if self.panels.is_empty() {
            return Err("no plans to draw".into());
        }
        let (plots, key) = titled_with_note(root, &self.title(), &self.note)?;
        let c = colour(0);
        for (panel, area) in self.panels.iter().zip(plots.split_evenly((self.panels.len(), 1))) {
            let first = panel.session_days.first().copied().unwrap_or(0.0);
            let pts: Vec<(f64, f64)> =
                panel.timeline.iter().map(|p| (p.t_day - first, p.collagen_total_rel)).collect();
            let bands: Vec<(f64, f64, f64)> = band_points(&panel.timeline, COLUMN)
                .into_iter()
                .map(|(t, lo, hi)| (t - first, lo, hi))
                .collect();
            let t_end = pts.last().map_or(1.0, |p| p.0).max(1.0);
            let (lo, hi) = padded_range(
                pts.iter().map(|p| p.1).chain(bands.iter().flat_map(|b| [b.1, b.2])).chain([1.0]),
                0.08,
            );
            let mut chart = ChartBuilder::on(&area)
                .caption(&panel.title, (FAMILY, LABEL_PX + 2))
                .margin(10)
                .x_label_area_size(42)
                .y_label_area_size(76)
                .build_cartesian_2d(0.0..t_end, lo..hi)?;
            axes(
                &mut chart,
                "time after the first session (days)",
                Some("total collagen (relative, 1 = unchanged)"),
                10,
                &tick,
            )?;
            if bands.len() > 1 {
                chart.draw_series([band(&bands, c)])?;
            }
            chart.draw_series(DashedLineSeries::new(
                [(0.0, 1.0), (t_end, 1.0)],
                8,
                5,
                UNCHANGED.stroke_width(1),
            ))?;
            chart.draw_series(LineSeries::new(pts, c.stroke_width(2)))?;
            let days: Vec<f64> = panel.session_days.iter().map(|d| d - first).collect();
            session_markers(&mut chart, &days, (lo, hi))?;
        }
        let entries = vec![
            ("central run".to_string(), Mark::Line(c)),
            ("5-95 % of the ensemble".into(), Mark::Band(c)),
            ("1 = unchanged".into(), Mark::Dashed(UNCHANGED)),
            ("treatment session (S1, S2, ...)".into(), Mark::Dashed(MARKER)),
        ];
        side_legend(&key, &entries)
    }
}

/// The first sentence of a text (up to and including its first full stop).
pub fn first_sentence(text: &str) -> &str {
    match text.find(". ") {
        Some(i) => &text[..=i],
        None => text,
    }
}
