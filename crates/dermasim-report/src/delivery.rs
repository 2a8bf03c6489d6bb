//! The report's "Delivered dose" part, for runs whose scenario applies a topical product.

use std::fmt::Write;

use dermasim::delivery::DeliveryReport;

use crate::html::{escape, Section};
use crate::plots::{self, render};

/// Numbers from 1e-3 to 1e5 in plain notation, others in scientific.
fn num(v: f64) -> String {
    if v == 0.0 || (1e-3..1e5).contains(&v.abs()) {
        format!("{}", (v * 1e4).round() / 1e4)
    } else {
        format!("{v:.3e}")
    }
}

fn hours(h: Option<f64>) -> String {
    h.map_or("never".into(), |h| format!("{h:.1}"))
}

/// Text, per-session table and the two dose charts (`plots/dose`, `plots/dose_profile`).
pub fn section(d: &DeliveryReport, png: bool) -> Result<Section, plots::PlotError> {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<p>{} ({} Da, log Kow {}), {} mg/mL &times; {} uL/cm2 = {} ug/cm2 applied, {} h after needling for {} h{}, {} skin; report window {} h; channel patency {}.</p>",
        escape(&d.compound_name),
        num(d.molecular_weight_da),
        num(d.log_kow),
        num(d.concentration_mg_per_ml),
        num(d.amount_ul_per_cm2),
        num(d.applied_ug_per_cm2),
        num(d.start_h),
        num(d.duration_h),
        if d.occlusion { " under occlusion" } else { "" },
        if d.skin == dermasim::delivery::SkinState::Excised { "excised" } else { "living" },
        num(d.report_h),
        num(d.channel_patency)
    );
    let _ = writeln!(h, "<p>Dermis dose: {}.</p>", escape(&d.dermis_dose_definition));
    h.push_str("<table>\n<tr><th>session</th><th>day</th><th>device</th><th>channel depth (um)</th><th>dermis dose (ug/cm2)</th><th>intact skin (ug/cm2)</th><th>enhancement</th><th>t50 (h)</th><th>t90 (h)</th></tr>\n");
    for s in &d.sessions {
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{:.0}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            s.session + 1,
            num(s.day),
            escape(&s.device),
            s.effective_depth_um,
            num(s.dermis_dose_ug_per_cm2),
            num(s.intact_skin_dose_ug_per_cm2),
            s.enhancement_factor.map_or("n/a".into(), num),
            hours(s.channel_t50_h),
            hours(s.channel_t90_h)
        );
    }
    h.push_str("</table>\n");
    if !d.notes.is_empty() {
        h.push_str("<ul>\n");
        for n in &d.notes {
            let _ = writeln!(h, "<li>{}</li>", escape(n));
        }
        h.push_str("</ul>\n");
    }
    let mut figures = Vec::new();
    if !d.sessions.is_empty() {
        figures.push(render(&plots::DoseChart { delivery: d }, png)?);
        if d.sessions.iter().any(|s| !s.profile.is_empty()) {
            figures.push(render(&plots::DoseProfileChart { delivery: d }, png)?);
        }
    }
    Ok(Section { id: "delivery".into(), title: "Delivered dose".into(), html: h, figures })
}
