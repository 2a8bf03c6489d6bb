//! Topical delivery: the dose reaching the dermis over time, and concentration against depth.

use dermasim::delivery::{DeliveryReport, SessionDelivery};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    axes, colour, depth_tick, padded_range, side_legend, tick, Chart, DrawResult, Mark, DESC_PX,
    FAMILY, LABEL_PX, LEGEND_PX, MARKER, TITLE_PX,
};

const BOUNDARY: RGBColor = RGBColor(120, 120, 120);
const PRODUCT: RGBColor = RGBColor(230, 159, 0);

/// Sessions with the same delivery share one curve: `(the sessions, the first of them)`.
fn groups(
    sessions: &[SessionDelivery],
    same: impl Fn(&SessionDelivery, &SessionDelivery) -> bool,
) -> Vec<(Vec<&SessionDelivery>, &SessionDelivery)> {
    let mut out: Vec<(Vec<&SessionDelivery>, &SessionDelivery)> = Vec::new();
    for s in sessions {
        match out.iter_mut().find(|(_, first)| same(first, s)) {
            Some((members, _)) => members.push(s),
            None => out.push((vec![s], s)),
        }
    }
    out
}

/// `session 1` or `sessions 1, 2, 3` (numbered from 1, as the session markers S1, S2, ...).
fn sessions_label(members: &[&SessionDelivery]) -> String {
    let list: Vec<String> = members.iter().map(|s| (s.session + 1).to_string()).collect();
    format!("{} {}", if members.len() == 1 { "session" } else { "sessions" }, list.join(", "))
}

fn days_label(members: &[&SessionDelivery]) -> String {
    let list: Vec<String> = members.iter().map(|s| tick(&s.day)).collect();
    format!("{} {}", if members.len() == 1 { "day" } else { "days" }, list.join(", "))
}

/// Cumulative amount that has entered the dermis against hours after needling, per session,
/// beside the same application on intact skin; channel closure times marked.
pub struct DoseChart<'a> {
    pub delivery: &'a DeliveryReport,
}

impl Chart for DoseChart<'_> {
    fn name(&self) -> String {
        "dose".into()
    }

    fn title(&self) -> String {
        format!("Dose of {} reaching the dermis", self.delivery.compound_name)
    }

    fn caption(&self) -> String {
        let d = self.delivery;
        format!(
            "Cumulative amount of {} that has entered the dermis (in the dermis plus cleared from it), ug per cm2 of treated skin, against hours after each session's needling; dashed: the same application on intact skin. Shaded: product on the skin ({} to {} h). Dotted verticals: half (t50) and 90 % (t90) of the channels closed. {} mg/mL, {} uL/cm2, channel patency {}.",
            d.compound_name,
            tick(&d.start_h),
            tick(&(d.start_h + d.duration_h)),
            tick(&d.concentration_mg_per_ml),
            tick(&d.amount_ul_per_cm2),
            tick(&d.channel_patency)
        )
    }

    fn size(&self) -> (u32, u32) {
        (1100, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let d = self.delivery;
        let curves = groups(&d.sessions, |a, b| {
            a.dose_timeline == b.dose_timeline
                && a.channel_t50_h == b.channel_t50_h
                && a.channel_t90_h == b.channel_t90_h
        });
        if curves.is_empty() {
            return Err("no delivery sessions to draw".into());
        }
        let t_end = d.report_h.max(1e-6);
        let all = d.sessions.iter().flat_map(|s| {
            s.dose_timeline
                .iter()
                .flat_map(|p| [p.dermis_dose_ug_per_cm2, p.intact_skin_dose_ug_per_cm2])
        });
        let (_, hi) = padded_range(all.chain([0.0]), 0.08);
        let root = root.titled(&self.title(), (FAMILY, TITLE_PX))?;
        let (w, _) = root.dim_in_pixel();
        let (plot, key) = root.split_horizontally(w - LEGEND_PX);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(86)
            .build_cartesian_2d(0.0..t_end, 0.0..hi)?;
        axes(
            &mut chart,
            "time after needling (h)",
            Some("delivered to the dermis (µg/cm²)"),
            10,
            &tick,
        )?;
        chart.draw_series([Rectangle::new(
            [(d.start_h, 0.0), ((d.start_h + d.duration_h).min(t_end), hi)],
            PRODUCT.mix(0.12).filled(),
        )])?;
        let mut entries = Vec::new();
        for (i, (numbers, s)) in curves.iter().enumerate() {
            let c = colour(i);
            let label = sessions_label(numbers);
            chart.draw_series(LineSeries::new(
                s.dose_timeline.iter().map(|p| (p.t_h, p.dermis_dose_ug_per_cm2)),
                c.stroke_width(3),
            ))?;
            chart.draw_series(DashedLineSeries::new(
                s.dose_timeline.iter().map(|p| (p.t_h, p.intact_skin_dose_ug_per_cm2)),
                8,
                5,
                c.stroke_width(2),
            ))?;
            entries.push((format!("{label}: needled skin"), Mark::Line(c)));
            entries.push((format!("{label}: intact skin"), Mark::Dashed(c)));
            for (t, name) in [(s.channel_t50_h, "t50"), (s.channel_t90_h, "t90")] {
                let Some(t) = t.filter(|&t| t <= t_end) else { continue };
                chart.draw_series(DashedLineSeries::new(
                    [(t, 0.0), (t, hi)],
                    2,
                    4,
                    c.mix(0.8).stroke_width(1),
                ))?;
                let font =
                    (FAMILY, LABEL_PX).into_font().color(&c).pos(Pos::new(HPos::Left, VPos::Top));
                let y = hi * (1.0 - 0.05 * (1 + i) as f64);
                chart.draw_series([Text::new(format!(" {name}"), (t, y), font)])?;
            }
        }
        entries.push(("channels 50 %, 90 % closed".into(), Mark::Dashed(MARKER)));
        entries.push(("product on the skin".into(), Mark::Band(PRODUCT)));
        side_legend(&key, &entries)
    }
}

/// Concentration against depth at the profile times, one panel per distinct session.
pub struct DoseProfileChart<'a> {
    pub delivery: &'a DeliveryReport,
}

/// At most this many panels (sessions with different devices).
const MAX_PANELS: usize = 3;

impl Chart for DoseProfileChart<'_> {
    fn name(&self) -> String {
        "dose_profile".into()
    }

    fn title(&self) -> String {
        format!("{} against depth after needling", self.delivery.compound_name)
    }

    fn caption(&self) -> String {
        "Concentration of the compound in the viable skin (below the stratum corneum), ug per mL of tissue, against depth below the skin surface in micrometres, at the profile times (hours after needling). Dotted: layer boundaries; dashed: the depth the channels reach.".into()
    }

    fn size(&self) -> (u32, u32) {
        (1240, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let d = self.delivery;
        let mut panels = groups(&d.sessions, |a, b| {
            a.profile == b.profile && a.effective_depth_um == b.effective_depth_um
        });
        panels.truncate(MAX_PANELS);
        let Some((_, first)) = panels.first() else {
            return Err("no delivery sessions to draw".into());
        };
        let times: Vec<f64> = first.profile.iter().map(|p| p.t_h).collect();
        if times.is_empty() {
            return Err("no depth profiles to draw".into());
        }
        let bottom = panels
            .iter()
            .flat_map(|(_, s)| s.profile.iter().flat_map(|p| p.depth_um.last().copied()))
            .fold(0.0_f64, f64::max)
            .max(1.0);
        let (_, top) = padded_range(
            panels
                .iter()
                .flat_map(|(_, s)| {
                    s.profile.iter().flat_map(|p| p.concentration_ug_per_ml.iter().copied())
                })
                .chain([0.0]),
            0.06,
        );
        // Room on the right for the layer names.
        let hi = top * 1.3;
        let root = root.titled(&self.title(), (FAMILY, TITLE_PX))?;
        let (w, _) = root.dim_in_pixel();
        let (plots, key) = root.split_horizontally(w - LEGEND_PX + 30);
        let areas = plots.split_evenly((1, panels.len()));
        for (p, ((numbers, s), area)) in panels.iter().zip(&areas).enumerate() {
            let mut chart = ChartBuilder::on(area)
                .caption(
                    format!("{} ({})", sessions_label(numbers), days_label(numbers)),
                    (FAMILY, DESC_PX + 1),
                )
                .margin(10)
                .x_label_area_size(46)
                .y_label_area_size(if p == 0 { 76 } else { 52 })
                .build_cartesian_2d(0.0..hi, -bottom..0.0)?;
            axes(
                &mut chart,
                "concentration (µg/mL)",
                (p == 0).then_some("depth below the surface (µm)"),
                4,
                &depth_tick,
            )?;
            let tops: Vec<_> =
                s.layer_tops_um.iter().filter(|l| l.top_um > 0.0 && l.top_um < bottom).collect();
            for l in &tops {
                chart.draw_series(DashedLineSeries::new(
                    [(0.0, -l.top_um), (hi, -l.top_um)],
                    2,
                    3,
                    BOUNDARY.stroke_width(1),
                ))?;
            }
            if s.effective_depth_um > 0.0 {
                chart.draw_series(DashedLineSeries::new(
                    [(0.0, -s.effective_depth_um), (hi, -s.effective_depth_um)],
                    8,
                    5,
                    MARKER.stroke_width(2),
                ))?;
            }
            for (i, prof) in s.profile.iter().enumerate() {
                let pts =
                    prof.depth_um.iter().zip(&prof.concentration_ug_per_ml).map(|(&z, &c)| (c, -z));
                chart.draw_series(LineSeries::new(pts, colour(i).stroke_width(2)))?;
            }
            // Layer names last, on top of the curves, where the layer starts.
            for l in &tops {
                let font = (FAMILY, LABEL_PX - 2)
                    .into_font()
                    .color(&BOUNDARY)
                    .pos(Pos::new(HPos::Right, VPos::Top));
                chart.draw_series([Text::new(l.layer.replace('_', " "), (hi, -l.top_um), font)])?;
            }
        }
        let mut entries: Vec<(String, Mark)> = times
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("{} h after needling", tick(t)), Mark::Line(colour(i))))
            .collect();
        entries.push(("channel depth".into(), Mark::Dashed(MARKER)));
        entries.push(("layer boundary".into(), Mark::Dashed(BOUNDARY)));
        side_legend(&key, &entries)
    }
}
