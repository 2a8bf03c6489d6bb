//! Two or more runs on one chart: total dermal collagen of each, its central run as a line and,
//! for an ensemble, its 5-95 % band, in the colour of the run (the research workspace's
//! comparison).

use dermasim::TimelinePoint;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::timeline::band_points;
use super::{
    axes, band, colour, padded_range, side_legend, tick, titled_with_note, Chart, DrawResult, Mark,
};

const COLUMN: &str = "collagen_total_rel";
const UNCHANGED: RGBColor = RGBColor(60, 60, 60);

/// One run: its label in the legend and its timeline (days from the run's day 0).
#[derive(Debug, Clone, PartialEq)]
pub struct CompareSeries {
    pub label: String,
    pub timeline: Vec<TimelinePoint>,
}

/// Runs compared on one set of axes.
pub struct CompareChart {
    pub series: Vec<CompareSeries>,
    /// A line under the plot (the disclaimer's first sentence).
    pub note: String,
}

impl Chart for CompareChart {
    fn name(&self) -> String {
        "compare".into()
    }

    fn title(&self) -> String {
        "Compared: total dermal collagen relative to before treatment".into()
    }

    fn caption(&self) -> String {
        format!(
            "Mean total collagen of the dermis divided by its value before treatment (1 = unchanged, dashed) of each run, central run and, for ensembles, 5-95 % of the ensemble, against days from each run's day 0. {}",
            self.note
        )
    }

    fn size(&self) -> (u32, u32) {
        (1100, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        if self.series.is_empty() {
            return Err("no runs to compare".into());
        }
        let (plot, key) = titled_with_note(root, &self.title(), &self.note)?;
        let lines: Vec<Vec<(f64, f64)>> = self
            .series
            .iter()
            .map(|s| s.timeline.iter().map(|p| (p.t_day, p.collagen_total_rel)).collect())
            .collect();
        let bands: Vec<Vec<(f64, f64, f64)>> =
            self.series.iter().map(|s| band_points(&s.timeline, COLUMN)).collect();
        let t_end = lines.iter().filter_map(|l| l.last()).map(|p| p.0).fold(1.0, f64::max);
        let (lo, hi) = padded_range(
            lines
                .iter()
                .flatten()
                .map(|p| p.1)
                .chain(bands.iter().flatten().flat_map(|b| [b.1, b.2]))
                .chain([1.0]),
            0.08,
        );
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .x_label_area_size(42)
            .y_label_area_size(76)
            .build_cartesian_2d(0.0..t_end, lo..hi)?;
        axes(
            &mut chart,
            "time from the run's day 0 (days)",
            Some("total collagen (relative, 1 = unchanged)"),
            10,
            &tick,
        )?;
        let mut entries = Vec::new();
        // Bands first, so that no band hides another run's line.
        for (i, b) in bands.iter().enumerate() {
            if b.len() > 1 {
                chart.draw_series([band(b, colour(i))])?;
            }
        }
        chart.draw_series(DashedLineSeries::new(
            [(0.0, 1.0), (t_end, 1.0)],
            8,
            5,
            UNCHANGED.stroke_width(1),
        ))?;
        for (i, (s, line)) in self.series.iter().zip(&lines).enumerate() {
            chart.draw_series(LineSeries::new(line.clone(), colour(i).stroke_width(2)))?;
            entries.push((format!("{}: central run", s.label), Mark::Line(colour(i))));
            if bands[i].len() > 1 {
                entries.push((format!("{}: 5-95 %", s.label), Mark::Band(colour(i))));
            }
        }
        entries.push(("1 = unchanged".into(), Mark::Dashed(UNCHANGED)));
        side_legend(&key, &entries)
    }
}
