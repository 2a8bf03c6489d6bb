//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no external
//! assets) with the scenario, the summary, the sessions, the charts, the evidence the run
//! rests on and the disclaimer.
//!
//! Later layers add their own parts through [`Section`] (e.g. the delivered dose, a plan's
//! forecast): a title, trusted HTML and figures, placed after the built-in charts.
//!
//! The page is a maud template: text is escaped by the template, so only markup built by
//! maud (figures' SVG, sections' markup) reaches the page unescaped.

use std::collections::BTreeMap;

use dermasim::params::{Grade, ParameterSet};
use dermasim::{Scenario, Summary};
use dermasim_io::ScenarioFile;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::plots::Figure;

/// Days shown in the summary table, when the run covers them (as in the terminal summary).
const DAYS: [f64; 12] = [0.0, 1.0, 3.0, 7.0, 14.0, 28.0, 56.0, 84.0, 120.0, 180.0, 270.0, 365.0];

/// An extra part of the report.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// Anchor id (letters, digits, `-`).
    pub id: String,
    pub title: String,
    /// Trusted HTML, built with maud (which escapes the text it interpolates).
    pub html: Markup,
    pub figures: Vec<Figure>,
}

/// Everything the page shows.
pub struct ReportInput<'a> {
    /// The scenario file as run (shown whole, `[outputs]` included).
    pub scenario: &'a ScenarioFile,
    pub summary: &'a Summary,
    /// The parameter set the run used (sources and grades); `None` when unknown.
    pub parameters: Option<&'a ParameterSet>,
    pub scenario_hash: &'a str,
    pub figures: &'a [Figure],
    pub extra: &'a [Section],
}

const STYLE: &str = r#"
body { font-family: system-ui, "DejaVu Sans", Arial, sans-serif; margin: 0 auto; max-width: 1240px; padding: 0 24px 48px; color: #1d1d1d; line-height: 1.45; }
h1 { font-size: 1.7em; margin: 24px 0 4px; }
h2 { border-bottom: 2px solid #0072b2; padding-bottom: 4px; margin-top: 40px; }
.meta { color: #555; margin: 0 0 12px; }
.disclaimer { background: #fff4e5; border-left: 6px solid #e69f00; padding: 10px 14px; margin: 16px 0; }
nav ol { columns: 2; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef3f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 24px 0; border: 1px solid #ddd; padding: 8px; }
figure svg { display: block; width: 100%; height: auto; margin: 0 auto; }
.band { display: block; color: #666; font-size: 0.85em; white-space: nowrap; }
figcaption { color: #444; font-size: 0.92em; margin-top: 6px; }
pre { background: #f6f6f6; padding: 10px; overflow-x: auto; font-size: 0.88em; }
.grade { font-weight: bold; }
"#;

/// The whole page.
pub fn report_html(r: &ReportInput) -> String {
    let s = r.summary;
    let title = s.scenario_name.clone().unwrap_or_else(|| format!("{} scenario", s.site));
    let mut toc: Vec<(&str, &str)> = vec![
        ("scenario", "Scenario"),
        ("summary", "Summary"),
        ("sessions", "Sessions"),
        ("figures", "Charts"),
    ];
    toc.extend(r.extra.iter().map(|x| (x.id.as_str(), x.title.as_str())));
    toc.push(("evidence", "Evidence"));
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "dermasim report: " (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "dermasim run report: " (title) }
                p.meta {
                    (s.program) " " (s.version) " · site " (s.site) " · fidelity " (s.fidelity)
                    " · seed " (s.seed) " · scenario hash " (r.scenario_hash)
                }
                p.disclaimer #disclaimer-top { strong { "Note." } " " (s.disclaimer) }
                nav { ol { @for (id, t) in &toc { li { a href={ "#" (id) } { (t) } } } } }
                (scenario_section(r.scenario))
                (summary_section(s))
                (sessions_section(s))
                section #figures {
                    h2 { "Charts" }
                    @for f in r.figures { (figure(f)) }
                }
                @for x in r.extra {
                    section id=(x.id) {
                        h2 { (x.title) }
                        (x.html)
                        @for f in &x.figures { (figure(f)) }
                    }
                }
                (evidence_section(s, r.parameters, &r.scenario.scenario))
                p.disclaimer #disclaimer { strong { "Note." } " " (s.disclaimer) }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

fn figure(f: &Figure) -> Markup {
    html! {
        figure.plot id={ "fig-" (f.name) } {
            (PreEscaped(inline_svg(&f.svg)))
            figcaption { strong { (f.title) "." } " " (f.caption) }
        }
    }
}

/// An SVG document as an inline element: no XML declaration, no namespace URL (HTML parsers
/// put `<svg>` in the SVG namespace themselves), sized by CSS from its viewBox.
pub fn inline_svg(svg: &str) -> String {
    let body = match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    };
    let end = body.find('>').unwrap_or(0);
    let (tag, rest) = body.split_at(end);
    let tag = tag.replace(" xmlns=\"http://www.w3.org/2000/svg\"", "");
    // The viewBox keeps the aspect ratio; the width follows the page up to the drawn size.
    let width = attr(&tag, "width");
    let tag = strip_attr(&strip_attr(&tag, "width"), "height");
    match width {
        Some(w) => format!("{tag} role=\"img\" style=\"max-width: {w}px\"{rest}"),
        None => format!("{tag} role=\"img\"{rest}"),
    }
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let after = &tag[tag.find(&key)? + key.len()..];
    Some(after[..after.find('"')?].to_string())
}

fn strip_attr(tag: &str, name: &str) -> String {
    let key = format!(" {name}=\"");
    match tag.find(&key) {
        Some(i) => {
            let after = &tag[i + key.len()..];
            let close = after.find('"').map_or(after.len(), |j| j + 1);
            format!("{}{}", &tag[..i], &after[close..])
        }
        None => tag.to_string(),
    }
}

/// A table cell; numbers are right-aligned.
fn cell(content: Markup) -> Markup {
    let text = content.0.trim_start_matches(['-', '+']);
    let numeric = text.starts_with(|ch: char| ch.is_ascii_digit());
    html! {
        @if numeric { td.num { (content) } } @else { td { (content) } }
    }
}

fn text_cell(text: impl AsRef<str>) -> Markup {
    cell(html! { (text.as_ref()) })
}

fn header(cells: &[&str]) -> Markup {
    html! { tr { @for c in cells { th { (c) } } } }
}

fn scenario_section(file: &ScenarioFile) -> Markup {
    let sc = &file.scenario;
    let p = &sc.patient;
    let sessions: Vec<String> = sc.protocol.sessions.iter().map(|x| format!("{}", x.day)).collect();
    let d = &sc.device;
    let facts = [
        (
            "patient",
            format!(
                "{}, age {} years, {:?}, Fitzpatrick type {}",
                p.site, p.age_years, p.sex, p.fitzpatrick
            )
            .to_lowercase(),
        ),
        (
            "device",
            format!(
                "{}, needle depth {} mm, {:.0} punctures per cm² per session",
                d.kind(),
                d.nominal_depth_mm(),
                d.punctures_per_cm2()
            ),
        ),
        ("sessions (day)", sessions.join(", ")),
        ("follow-up", format!("{} days", sc.protocol.follow_up_days)),
        (
            "simulation",
            format!("fidelity {}, seed {}", sc.simulation.fidelity.as_str(), sc.simulation.seed),
        ),
    ];
    let text = toml::to_string_pretty(file)
        .unwrap_or_else(|e| format!("(cannot show the scenario as TOML: {e})"));
    html! {
        section #scenario {
            h2 { "Scenario" }
            table { @for (k, v) in &facts { tr { th { (k) } td { (v) } } } }
            details {
                summary { "The scenario file as run (TOML)" }
                pre { (text) }
            }
        }
    }
}

/// A value, with its ensemble band when there is one.
fn with_band(p: &dermasim::TimelinePoint, name: &str) -> Markup {
    let v = p.get(name).unwrap_or(f64::NAN);
    let band = (p.bands.get(&format!("{name}_p05")), p.bands.get(&format!("{name}_p95")));
    html! {
        (format!("{v:.3}"))
        @if let (Some(lo), Some(hi)) = band { span.band { (format!("{lo:.3} to {hi:.3}")) } }
    }
}

fn summary_section(s: &Summary) -> Markup {
    let l = &s.layers_um;
    let end = s.last().t_day;
    let mut shown: Vec<&dermasim::TimelinePoint> = Vec::new();
    for d in DAYS.iter().copied().filter(|&d| d <= end).chain([end]) {
        let Some(p) = s.at(d) else { continue };
        if !shown.iter().any(|q| (q.t_day - p.t_day).abs() < 1e-9) {
            shown.push(p);
        }
    }
    let relative = [
        "collagen_i_rel",
        "collagen_iii_rel",
        "collagen_total_rel",
        "elastin_rel",
        "epidermis_thickness_rel",
        "fibroblasts_rel",
    ];
    let e = &s.endpoints;
    html! {
        section #summary {
            h2 { "Summary" }
            p {
                (format!(
                    "Skin column: stratum corneum {:.0} µm, epidermis {:.0} µm, papillary dermis {:.0} µm, reticular dermis {:.0} µm. ",
                    l.stratum_corneum, l.epidermis, l.papillary_dermis, l.reticular_dermis
                ))
                "Values below are relative to before treatment (1.000 = unchanged)"
                @if crate::plots::has_bands(s) { "; under each value in grey, the 5-95 % range of the ensemble" }
                "."
            }
            table {
                (header(&[
                    "day",
                    "collagen I",
                    "collagen III",
                    "total collagen",
                    "elastin",
                    "epidermis",
                    "fibroblasts",
                    "neutrophils",
                    "macrophages",
                ]))
                @for p in &shown {
                    tr {
                        (text_cell(format!("{}", p.t_day)))
                        @for n in relative { (cell(with_band(p, n))) }
                        (text_cell(format!("{:.4}", p.neutrophils)))
                        (text_cell(format!("{:.4}", p.macrophages)))
                    }
                }
            }
            p {
                (format!(
                    "Peaks after the first session (within its treatment cycle): neutrophils day {:.1}, macrophages day {:.1}, fibroblasts day {:.1}, collagen III day {:.1}. ",
                    e.neutrophil_peak_day, e.macrophage_peak_day, e.fibroblast_peak_day, e.collagen_iii_peak_day
                ))
                "Neutrophils and macrophages are dermis means in the units of Cooper et al. 2015."
            }
            @if !s.notes.is_empty() { ul { @for n in &s.notes { li { (n) } } } }
        }
    }
}

fn sessions_section(s: &Summary) -> Markup {
    html! {
        section #sessions {
            h2 { "Sessions" }
            table {
                (header(&[
                    "session",
                    "day",
                    "device",
                    "punctures per cm²",
                    "needle depth (µm)",
                    "penetration",
                    "channel depth (µm)",
                    "channel radius (µm)",
                    "tilt (deg)",
                    "bleeding",
                    "dermis injured",
                ]))
                @for (i, x) in s.sessions.iter().enumerate() {
                    tr {
                        (text_cell(format!("S{}", i + 1)))
                        (text_cell(format!("{}", x.day)))
                        (text_cell(&x.device))
                        (text_cell(format!("{:.0}", x.punctures_per_cm2)))
                        (text_cell(format!("{:.0}", x.nominal_depth_um)))
                        (text_cell(format!("{:.0} %", 100.0 * x.penetration_efficiency)))
                        (text_cell(format!("{:.0}", x.effective_depth_um)))
                        (text_cell(format!("{:.1}", x.channel_radius_um)))
                        (text_cell(format!("{:.1}", x.channel_angle_deg)))
                        (text_cell(format!("{:?}", x.bleeding).to_lowercase()))
                        (text_cell(format!("{:.2} %", 100.0 * x.dermis_injured_fraction)))
                    }
                }
            }
        }
    }
}

fn grade_meaning(g: Grade) -> &'static str {
    match g {
        Grade::P => "peer-reviewed paper",
        Grade::L => "low grade (vendor, clinic page, textbook summary)",
        Grade::E => "estimate from graded numbers (working in the note)",
        Grade::A => "labelled assumption with a range",
        Grade::C => "fitted by calibration to published targets",
    }
}

fn evidence_section(s: &Summary, set: Option<&ParameterSet>, sc: &Scenario) -> Markup {
    let Some(set) = set else {
        return html! {
            section #evidence {
                h2 { "Evidence" }
                p { "Parameter set: " strong { (s.parameter_set) } "." }
                p { "The parameter table of this run is not in its folder (write it with the " code { "parameters" } " output)." }
            }
        };
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for p in set.param.values() {
        *counts.entry(format!("{:?}", p.grade)).or_default() += 1;
    }
    let changed: Vec<String> = sc.parameters.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    html! {
        section #evidence {
            h2 { "Evidence" }
            p { "Parameter set: " strong { (s.parameter_set) } "." }
            p { (set.param.len()) " parameters, by evidence grade:" }
            table {
                (header(&["grade", "meaning", "parameters"]))
                @for g in [Grade::P, Grade::L, Grade::E, Grade::A, Grade::C] {
                    tr {
                        td { span.grade { (format!("{g:?}")) } }
                        (text_cell(grade_meaning(g)))
                        (text_cell(counts.get(&format!("{g:?}")).copied().unwrap_or(0).to_string()))
                    }
                }
            }
            @if !changed.is_empty() { p { "Changed by the scenario: " (changed.join(", ")) "." } }
            details {
                summary { "Every parameter with its value, range, grade and source" }
                table {
                    (header(&["parameter", "value", "unit", "range", "grade", "source", "note"]))
                    @for (name, p) in &set.param {
                        tr {
                            td {
                                (name)
                                @if sc.parameters.contains_key(name) { " (scenario)" }
                            }
                            (text_cell(p.value.to_string()))
                            (text_cell(p.unit.as_deref().unwrap_or("")))
                            (text_cell(format!("{} to {}", p.range[0], p.range[1])))
                            td { span.grade { (format!("{:?}", p.grade)) } }
                            (text_cell(&p.source))
                            (text_cell(p.note.as_deref().unwrap_or("")))
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_is_shown_inert() {
        let mut scenario = Scenario::default_scenario();
        let hostile = "<script>alert(1)</script>\" onload=\"x";
        scenario.name = Some(hostile.into());
        scenario.simulation.fidelity = dermasim::Fidelity::Zero;
        let summary = dermasim::run(&scenario, &ParameterSet::default_set()).unwrap();
        let page = report_html(&ReportInput {
            scenario: &scenario.clone().into(),
            summary: &summary,
            parameters: None,
            scenario_hash: "<b>",
            figures: &[],
            extra: &[],
        });
        assert!(!page.contains("<script") && !page.contains("<b>"), "markup passed through");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot; onload=&quot;x"));
        assert!(page.contains("&lt;b&gt;"));
    }

    #[test]
    fn inline_svg_drops_the_namespace_url_and_fixed_size() {
        let svg = r#"<svg width="960" height="540" viewBox="0 0 960 540" xmlns="http://www.w3.org/2000/svg"><rect/></svg>"#;
        let out = inline_svg(svg);
        assert_eq!(
            out,
            r#"<svg viewBox="0 0 960 540" role="img" style="max-width: 960px"><rect/></svg>"#
        );
    }
}
