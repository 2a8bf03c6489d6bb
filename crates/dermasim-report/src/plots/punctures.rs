//! Where the needles of one session entered the simulated patch.

use dermasim::Scenario;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    axes, colour, side_legend, tick, Chart, DrawResult, Mark, FAMILY, LEGEND_PX, TITLE_PX,
};

/// Width of the plotting area, pixels.
const PLOT_PX: f64 = 600.0;

pub struct PunctureChart<'a> {
    pub scenario: &'a Scenario,
    /// Session index (0 = first).
    pub session: usize,
    /// Open channel radius at the surface (from the run summary), micrometres.
    pub channel_radius_um: f64,
}

impl PunctureChart<'_> {
    /// The patch as the 3d simulator builds it: whole voxels of `dx_um`.
    fn patch(&self) -> [f64; 2] {
        let sim = &self.scenario.simulation;
        sim.patch_um.map(|p| (p / sim.dx_um).round().max(1.0) * sim.dx_um)
    }

    fn positions(&self) -> Vec<[f64; 2]> {
        self.scenario.punctures(self.session, self.patch()).collect()
    }

    fn aspect(&self) -> f64 {
        let [px, py] = self.patch();
        (py / px).clamp(0.25, 4.0)
    }
}

impl Chart for PunctureChart<'_> {
    fn name(&self) -> String {
        "punctures".into()
    }

    fn title(&self) -> String {
        let day = self.scenario.protocol.sessions[self.session].day;
        format!("Punctures of session {} (day {day})", self.session + 1)
    }

    fn caption(&self) -> String {
        let [px, py] = self.patch();
        let n = self.positions().len();
        let density = n as f64 / (px * py * 1e-8);
        let d = self.scenario.session_device(self.session);
        format!(
            "{n} needle entries of the {} on the simulated {px:.0} x {py:.0} µm patch ({density:.0} per cm²), drawn at the open channel radius {:.0} µm. The pattern ({}) is reproducible from the scenario seed; at fidelity 3d these are the injured columns, at 0d and 1d the same density enters as a lateral average.",
            d.kind(),
            self.channel_radius_um,
            match self.scenario.simulation.placement {
                dermasim::placement::Placement::Random => "placed at random",
                dermasim::placement::Placement::Paths => "along the device's tracks",
            }
        )
    }

    fn size(&self) -> (u32, u32) {
        (PLOT_PX as u32 + 110 + LEGEND_PX, (PLOT_PX * self.aspect()) as u32 + 130)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let [px, py] = self.patch();
        let root = root.titled(&self.title(), (FAMILY, TITLE_PX))?;
        let (w, _) = root.dim_in_pixel();
        let (plot, key) = root.split_horizontally(w - LEGEND_PX);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..px, 0.0..py)?;
        axes(&mut chart, "x (µm)", Some("y (µm)"), 6, &tick)?;
        // Channels are drawn in patch coordinates and cut at its edges, with their periodic
        // images on the opposite side (the patch is periodic), so none spills over the axes.
        let width_px = chart.plotting_area().dim_in_pixel().0 as f64;
        let r = self.channel_radius_um.max(1.5 * px / width_px);
        let c = colour(1);
        let mut discs = Vec::new();
        for [x, y] in self.positions() {
            for (dx, dy) in [-1.0, 0.0, 1.0].iter().flat_map(|a| [-1.0, 0.0, 1.0].map(|b| (*a, b)))
            {
                let (cx, cy) = (x + dx * px, y + dy * py);
                if cx + r < 0.0 || cx - r > px || cy + r < 0.0 || cy - r > py {
                    continue;
                }
                let outline: Vec<(f64, f64)> = (0..48)
                    .map(|k| {
                        let a = k as f64 * std::f64::consts::TAU / 48.0;
                        ((cx + r * a.cos()).clamp(0.0, px), (cy + r * a.sin()).clamp(0.0, py))
                    })
                    .collect();
                discs.push(Polygon::new(outline, c.mix(0.7).filled()));
            }
        }
        chart.draw_series(discs)?;
        side_legend(
            &key,
            &[(format!("needle channel (radius {:.0} µm)", self.channel_radius_um), Mark::Dot(c))],
        )?;
        Ok(())
    }
}
