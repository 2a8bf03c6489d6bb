//! The report's "Delivered dose" part, for runs whose scenario applies a topical product.

use dermasim::delivery::DeliveryReport;
use maud::html;

use crate::html::Section;
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
    let skin = if d.skin == dermasim::delivery::SkinState::Excised { "excised" } else { "living" };
    let html = html! {
        p {
            (d.compound_name) " (" (num(d.molecular_weight_da)) " Da, log Kow " (num(d.log_kow)) "), "
            (num(d.concentration_mg_per_ml)) " mg/mL × " (num(d.amount_ul_per_cm2)) " uL/cm2 = "
            (num(d.applied_ug_per_cm2)) " ug/cm2 applied, " (num(d.start_h)) " h after needling for "
            (num(d.duration_h)) " h" @if d.occlusion { " under occlusion" } ", " (skin)
            " skin; report window " (num(d.report_h)) " h; channel patency " (num(d.channel_patency)) "."
        }
        p { "Dermis dose: " (d.dermis_dose_definition) "." }
        table {
            tr {
                @for h in ["session", "day", "device", "channel depth (um)", "dermis dose (ug/cm2)",
                    "intact skin (ug/cm2)", "enhancement", "t50 (h)", "t90 (h)"] { th { (h) } }
            }
            @for s in &d.sessions {
                tr {
                    td.num { (s.session + 1) }
                    td.num { (num(s.day)) }
                    td { (s.device) }
                    td.num { (format!("{:.0}", s.effective_depth_um)) }
                    td.num { (num(s.dermis_dose_ug_per_cm2)) }
                    td.num { (num(s.intact_skin_dose_ug_per_cm2)) }
                    td.num { (s.enhancement_factor.map_or("n/a".into(), num)) }
                    td.num { (hours(s.channel_t50_h)) }
                    td.num { (hours(s.channel_t90_h)) }
                }
            }
        }
        @if !d.notes.is_empty() { ul { @for n in &d.notes { li { (n) } } } }
    };
    let mut figures = Vec::new();
    if !d.sessions.is_empty() {
        figures.push(render(&plots::DoseChart { delivery: d }, png)?);
        if d.sessions.iter().any(|s| !s.profile.is_empty()) {
            figures.push(render(&plots::DoseProfileChart { delivery: d }, png)?);
        }
    }
    Ok(Section { id: "delivery".into(), title: "Delivered dose".into(), html, figures })
}
