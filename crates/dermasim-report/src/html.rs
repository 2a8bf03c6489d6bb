//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no external
//! assets) with the scenario, the summary, the sessions, the charts, the evidence the run
//! rests on and the disclaimer.
//!
//! Later layers add their own parts through [`Section`] (e.g. the delivered dose, a plan's
//! forecast): a title, trusted HTML and figures, placed after the built-in charts.

use std::collections::BTreeMap;
use std::fmt::Write;

use dermasim::params::{Grade, ParameterSet};
use dermasim::{Scenario, Summary};

use crate::plots::Figure;

/// Days shown in the summary table, when the run covers them (as in the terminal summary).
const DAYS: [f64; 12] = [0.0, 1.0, 3.0, 7.0, 14.0, 28.0, 56.0, 84.0, 120.0, 180.0, 270.0, 365.0];

/// An extra part of the report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    /// Anchor id (letters, digits, `-`).
    pub id: String,
    pub title: String,
    /// Trusted HTML; escape any user text with [`escape`].
    pub html: String,
    pub figures: Vec<Figure>,
}

/// Everything the page shows.
pub struct ReportInput<'a> {
    pub scenario: &'a Scenario,
    pub summary: &'a Summary,
    /// The parameter set the run used (sources and grades); `None` when unknown.
    pub parameters: Option<&'a ParameterSet>,
    pub scenario_hash: &'a str,
    pub figures: &'a [Figure],
    pub extra: &'a [Section],
}

/// Text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
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
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>dermasim report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    let _ = writeln!(h, "<h1>dermasim run report: {}</h1>", escape(&title));
    let _ = writeln!(
        h,
        "<p class=\"meta\">{} {} &middot; site {} &middot; fidelity {} &middot; seed {} &middot; scenario hash {}</p>",
        escape(&s.program),
        escape(&s.version),
        escape(&s.site),
        escape(&s.fidelity),
        s.seed,
        escape(r.scenario_hash)
    );
    let _ = writeln!(
        h,
        "<p class=\"disclaimer\" id=\"disclaimer-top\"><strong>Note.</strong> {}</p>",
        escape(&s.disclaimer)
    );

    let mut toc: Vec<(String, String)> = vec![
        ("scenario".into(), "Scenario".into()),
        ("summary".into(), "Summary".into()),
        ("sessions".into(), "Sessions".into()),
        ("figures".into(), "Charts".into()),
    ];
    toc.extend(r.extra.iter().map(|x| (x.id.clone(), x.title.clone())));
    toc.push(("evidence".into(), "Evidence".into()));
    h.push_str("<nav><ol>");
    for (id, t) in &toc {
        let _ = write!(h, "<li><a href=\"#{}\">{}</a></li>", escape(id), escape(t));
    }
    h.push_str("</ol></nav>\n");

    scenario_section(&mut h, r.scenario);
    summary_section(&mut h, s);
    sessions_section(&mut h, s);
    h.push_str("<section id=\"figures\">\n<h2>Charts</h2>\n");
    for f in r.figures {
        figure(&mut h, f);
    }
    h.push_str("</section>\n");
    for x in r.extra {
        let _ = writeln!(
            h,
            "<section id=\"{}\">\n<h2>{}</h2>\n{}",
            escape(&x.id),
            escape(&x.title),
            x.html
        );
        for f in &x.figures {
            figure(&mut h, f);
        }
        h.push_str("</section>\n");
    }
    evidence_section(&mut h, s, r.parameters, r.scenario);
    let _ = writeln!(
        h,
        "<p class=\"disclaimer\" id=\"disclaimer\"><strong>Note.</strong> {}</p>",
        escape(&s.disclaimer)
    );
    h.push_str("</body>\n</html>\n");
    h
}

fn figure(h: &mut String, f: &Figure) {
    let _ = writeln!(
        h,
        "<figure id=\"fig-{}\" class=\"plot\">\n{}\n<figcaption><strong>{}.</strong> {}</figcaption>\n</figure>",
        escape(&f.name),
        inline_svg(&f.svg),
        escape(&f.title),
        escape(&f.caption)
    );
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

fn row(h: &mut String, cells: &[String]) {
    h.push_str("<tr>");
    for c in cells {
        let numeric = c.trim_start_matches(['-', '+']).starts_with(|ch: char| ch.is_ascii_digit());
        let _ = write!(h, "<td{}>{}</td>", if numeric { " class=\"num\"" } else { "" }, c);
    }
    h.push_str("</tr>\n");
}

fn header(h: &mut String, cells: &[&str]) {
    h.push_str("<tr>");
    for c in cells {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr>\n");
}

fn scenario_section(h: &mut String, sc: &Scenario) {
    h.push_str("<section id=\"scenario\">\n<h2>Scenario</h2>\n<table>\n");
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
    for (k, v) in facts {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(&v));
    }
    h.push_str("</table>\n");
    let text = toml::to_string_pretty(sc)
        .unwrap_or_else(|e| format!("(cannot show the scenario as TOML: {e})"));
    let _ = writeln!(h, "<details><summary>The scenario file as run (TOML)</summary>\n<pre>{}</pre>\n</details>\n</section>", escape(&text));
}

/// A value, with its ensemble band when there is one.
fn with_band(p: &dermasim::TimelinePoint, name: &str) -> String {
    let v = p.get(name).unwrap_or(f64::NAN);
    match (p.bands.get(&format!("{name}_p05")), p.bands.get(&format!("{name}_p95"))) {
        (Some(lo), Some(hi)) => format!("{v:.3}<span class=\"band\">{lo:.3} to {hi:.3}</span>"),
        _ => format!("{v:.3}"),
    }
}

fn summary_section(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    let l = &s.layers_um;
    let _ = writeln!(
        h,
        "<p>Skin column: stratum corneum {:.0} µm, epidermis {:.0} µm, papillary dermis {:.0} µm, reticular dermis {:.0} µm. Values below are relative to before treatment (1.000 = unchanged){}.</p>",
        l.stratum_corneum,
        l.epidermis,
        l.papillary_dermis,
        l.reticular_dermis,
        if crate::plots::has_bands(s) { "; under each value in grey, the 5-95 % range of the ensemble" } else { "" }
    );
    h.push_str("<table>\n");
    header(
        h,
        &[
            "day",
            "collagen I",
            "collagen III",
            "total collagen",
            "elastin",
            "epidermis",
            "fibroblasts",
            "neutrophils",
            "macrophages",
        ],
    );
    let end = s.last().t_day;
    let mut shown: Vec<f64> = Vec::new();
    for d in DAYS.iter().copied().filter(|&d| d <= end).chain([end]) {
        let Some(p) = s.at(d) else { continue };
        if shown.iter().any(|&t| (t - p.t_day).abs() < 1e-9) {
            continue;
        }
        shown.push(p.t_day);
        let mut cells = vec![format!("{}", p.t_day)];
        for n in [
            "collagen_i_rel",
            "collagen_iii_rel",
            "collagen_total_rel",
            "elastin_rel",
            "epidermis_thickness_rel",
            "fibroblasts_rel",
        ] {
            cells.push(with_band(p, n));
        }
        cells.push(format!("{:.4}", p.neutrophils));
        cells.push(format!("{:.4}", p.macrophages));
        row(h, &cells);
    }
    h.push_str("</table>\n");
    let e = &s.endpoints;
    let _ = writeln!(
        h,
        "<p>Peaks after the first session (within its treatment cycle): neutrophils day {:.1}, macrophages day {:.1}, fibroblasts day {:.1}, collagen III day {:.1}. Neutrophils and macrophages are dermis means in the units of Cooper et al. 2015.</p>",
        e.neutrophil_peak_day, e.macrophage_peak_day, e.fibroblast_peak_day, e.collagen_iii_peak_day
    );
    if !s.notes.is_empty() {
        h.push_str("<ul>");
        for n in &s.notes {
            let _ = write!(h, "<li>{}</li>", escape(n));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");
}

fn sessions_section(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"sessions\">\n<h2>Sessions</h2>\n<table>\n");
    header(
        h,
        &[
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
        ],
    );
    for (i, x) in s.sessions.iter().enumerate() {
        row(
            h,
            &[
                format!("S{}", i + 1),
                format!("{}", x.day),
                escape(&x.device),
                format!("{:.0}", x.punctures_per_cm2),
                format!("{:.0}", x.nominal_depth_um),
                format!("{:.0} %", 100.0 * x.penetration_efficiency),
                format!("{:.0}", x.effective_depth_um),
                format!("{:.1}", x.channel_radius_um),
                format!("{:.1}", x.channel_angle_deg),
                escape(&format!("{:?}", x.bleeding).to_lowercase()),
                format!("{:.2} %", 100.0 * x.dermis_injured_fraction),
            ],
        );
    }
    h.push_str("</table>\n</section>\n");
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

fn evidence_section(h: &mut String, s: &Summary, set: Option<&ParameterSet>, sc: &Scenario) {
    h.push_str("<section id=\"evidence\">\n<h2>Evidence</h2>\n");
    let _ = writeln!(h, "<p>Parameter set: <strong>{}</strong>.</p>", escape(&s.parameter_set));
    let Some(set) = set else {
        h.push_str("<p>The parameter table of this run is not in its folder (write it with the <code>parameters</code> output).</p>\n</section>\n");
        return;
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for p in set.param.values() {
        *counts.entry(format!("{:?}", p.grade)).or_default() += 1;
    }
    let _ = writeln!(h, "<p>{} parameters, by evidence grade:</p>\n<table>", set.param.len());
    header(h, &["grade", "meaning", "parameters"]);
    for g in [Grade::P, Grade::L, Grade::E, Grade::A, Grade::C] {
        let n = counts.get(&format!("{g:?}")).copied().unwrap_or(0);
        row(
            h,
            &[
                format!("<span class=\"grade\">{g:?}</span>"),
                grade_meaning(g).into(),
                format!("{n}"),
            ],
        );
    }
    h.push_str("</table>\n");
    if !sc.parameters.is_empty() {
        let names: Vec<String> =
            sc.parameters.iter().map(|(k, v)| format!("{} = {v}", escape(k))).collect();
        let _ = writeln!(h, "<p>Changed by the scenario: {}.</p>", names.join(", "));
    }
    h.push_str("<details><summary>Every parameter with its value, range, grade and source</summary>\n<table>\n");
    header(h, &["parameter", "value", "unit", "range", "grade", "source", "note"]);
    for (name, p) in &set.param {
        let changed = if sc.parameters.contains_key(name) { " (scenario)" } else { "" };
        row(
            h,
            &[
                format!("{}{changed}", escape(name)),
                format!("{}", p.value),
                escape(p.unit.as_deref().unwrap_or("")),
                format!("{} to {}", p.range[0], p.range[1]),
                format!("<span class=\"grade\">{:?}</span>", p.grade),
                escape(&p.source),
                escape(p.note.as_deref().unwrap_or("")),
            ],
        );
    }
    h.push_str("</table>\n</details>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
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
