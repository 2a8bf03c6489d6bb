//! Text and Markdown for people. No printing: the CLI decides where the text goes.

use std::fmt::Write;

use crate::forecast::Forecast;
use crate::planner::Plan;
use crate::rules::{roman, Finding};
use crate::screen::Screening;
use crate::{PlanReport, Verdict};

fn verdict_line(s: &Screening) -> String {
    let mut line = s.verdict.as_str().to_uppercase();
    if s.verdict == Verdict::Defer {
        if let Some(d) = s.defer_until {
            let _ = write!(line, " until {d}");
        }
        if !s.defer_until_events.is_empty() {
            let _ = write!(line, " (until {})", s.defer_until_events.join("; "));
        }
    }
    line
}

fn finding_text(out: &mut String, f: &Finding, indent: &str) {
    let wait = if f.defers { ", defers treatment" } else { "" };
    let _ = writeln!(out, "{indent}[{}{wait}] {}", f.severity.as_str(), f.rule_id);
    let _ = writeln!(out, "{indent}  why:    {}", f.reason);
    let _ = writeln!(out, "{indent}  found:  {}", f.detail);
    if let Some(d) = f.until {
        let _ = writeln!(out, "{indent}  until:  {d}");
    } else if let Some(e) = &f.until_event {
        let _ = writeln!(out, "{indent}  until:  {e}");
    }
    if let Some(a) = &f.advice {
        let _ = writeln!(out, "{indent}  advice: {a}");
    }
    let _ = writeln!(out, "{indent}  source: {} [grade {:?}]", f.source, f.grade);
}

/// `dermasim screen` for people.
pub fn screening_text(s: &Screening, patient: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "dermasim screen | patient {} | assessed {}",
        patient.unwrap_or("(no id)"),
        s.assessment_date
    );
    let _ = writeln!(out, "verdict: {}", verdict_line(s));
    if s.findings.is_empty() {
        let _ = writeln!(out, "\nNo rule in data/contraindications.toml was triggered.");
    } else {
        let _ = writeln!(out, "\nfindings ({}):", s.findings.len());
        for f in &s.findings {
            finding_text(&mut out, f, "  ");
        }
    }
    let _ = writeln!(out, "\nNote: {}", s.disclaimer);
    out
}

fn f2(v: f64) -> String {
    format!("{v:.2}")
}

fn band(v: Option<f64>) -> String {
    v.map(f2).unwrap_or_else(|| "-".into())
}

fn visible_text(f: &Forecast) -> String {
    let v = &f.visible_change;
    let lower = match v.lower_band_day {
        Some(d) => format!("the 5 % lower band stays above {} from day {d:.0}", f2(v.threshold_rel)),
        None => format!("the 5 % lower band never stays above {} within follow-up, so the model cannot promise a visible change", f2(v.threshold_rel)),
    };
    let central = match v.central_day {
        Some(d) => format!("the central run from day {d:.0}"),
        None => "the central run does not stay above it".into(),
    };
    format!("{lower}; {central}. {}", v.studies)
}

/// Timeline rows for the collagen table: about monthly, and the last point.
fn collagen_rows(f: &Forecast) -> Vec<(f64, f64, Option<f64>, Option<f64>)> {
    let mut rows = Vec::new();
    let mut next = 0.0;
    let last = f.timeline.last().map(|p| p.t_day).unwrap_or(0.0);
    for p in &f.timeline {
        if p.t_day + 1e-9 >= next || p.t_day == last {
            rows.push((
                p.t_day,
                p.collagen_total_rel,
                p.bands.get("collagen_total_rel_p05").copied(),
                p.bands.get("collagen_total_rel_p95").copied(),
            ));
            next = p.t_day + 28.0;
        }
    }
    rows
}

/// Concern (and scar type) and site of a plan, e.g. `Acne scars (rolling scars) at the cheek`.
pub fn plan_heading(p: &Plan) -> String {
    let scar = p
        .scar_type
        .map(|t| format!(" ({} scars)", t.as_str().replace('_', "-")))
        .unwrap_or_default();
    format!("{}{scar} at the {}", p.concern.label(), p.site.replace('_', " "))
}

fn schedule(p: &Plan) -> String {
    let days: Vec<String> = p.session_days.iter().map(|d| format!("{d:.0}")).collect();
    let dates: Vec<String> =
        p.forecast.sessions.iter().filter_map(|s| s.date.map(|d| d.to_string())).collect();
    let mut s = format!(
        "{} sessions every {} days (days {})",
        p.sessions,
        p.interval_days,
        days.join(", ")
    );
    if !dates.is_empty() {
        let _ = write!(s, "; earliest dates {}", dates.join(", "));
    }
    s
}

/// `dermasim plan` for people.
pub fn plan_text(r: &PlanReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "dermasim plan | patient {} | assessed {}",
        r.patient_id.as_deref().unwrap_or("(no id)"),
        r.assessment_date
    );
    let _ = writeln!(out, "screening verdict: {}", verdict_line(&r.screening));
    for f in &r.screening.findings {
        finding_text(&mut out, f, "  ");
    }
    for n in &r.notes {
        let _ = writeln!(out, "\n{n}");
    }
    for (i, p) in r.plans.iter().enumerate() {
        let fc = &p.forecast;
        let _ = writeln!(out, "\n== plan {}: {} ==", i + 1, plan_heading(p));
        let limits = &p.depth_limits_mm;
        let home = limits.home_mm.map(|h| format!(", home cap {h} mm")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} at {} mm (site limit {} mm{home}; skin {:.2} mm thick, channel ~{:.0} % of the needle), {}, ~{:.0} punctures/cm2 per session",
            p.device.as_str(),
            p.depth_mm,
            limits.site_mm,
            limits.skin_thickness_mm,
            100.0 * limits.penetration_efficiency,
            p.passes,
            p.punctures_per_cm2
        );
        let _ = writeln!(out, "  {}", schedule(p));
        let _ = writeln!(out, "  topical: {}", p.topical.text);
        let _ = writeln!(out, "  why:");
        for w in &p.rationale {
            let _ =
                writeln!(out, "    - {}: {} ({} [{:?}])", w.choice, w.because, w.source, w.grade);
        }
        if !p.cautions.is_empty() {
            let _ = writeln!(out, "  cautions:");
            for c in &p.cautions {
                finding_text(&mut out, c, "    ");
            }
        }
        let _ = writeln!(
            out,
            "  forecast (fidelity {}, {} ensemble members; {}):",
            fc.fidelity, fc.ensemble_members, fc.parameter_set
        );
        let _ = writeln!(
            out,
            "    redness and swelling: {}-{} days after each session [{:?}]",
            fc.downtime_range_days[0], fc.downtime_range_days[1], fc.downtime_grade
        );
        let _ = writeln!(
            out,
            "    bleeding: {} (channels ~{:.0} um deep; capillary loops at ~{:.0} um)",
            fc.bleeding.text,
            fc.bleeding.effective_depth_um,
            fc.bleeding.pinpoint_bleeding_depth_um
        );
        let _ = writeln!(
            out,
            "    pigment (PIH) risk for type {}: {}. {}",
            roman(fc.pih_risk.fitzpatrick),
            fc.pih_risk.level,
            fc.pih_risk.text
        );
        let _ = writeln!(out, "    visible change: {}", visible_text(fc));
        let _ = writeln!(out, "    expected in studies: {}", p.expectation.text);
        let _ = writeln!(out, "    dermal collagen relative to before (central, 5-95 % band):");
        let _ = writeln!(out, "      {:>5} {:>8} {:>8} {:>8}", "day", "central", "p05", "p95");
        for (t, c, lo, hi) in collagen_rows(fc) {
            let _ = writeln!(out, "      {t:>5.0} {:>8} {:>8} {:>8}", f2(c), band(lo), band(hi));
        }
    }
    let _ = writeln!(out, "\ncare after each session:");
    for c in &r.care_advice {
        let _ = writeln!(out, "  - [{}] {} ({} [{:?}])", c.topic, c.text, c.source, c.grade);
    }
    let _ = writeln!(out, "\nNote: {}", r.disclaimer);
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// A handout in Markdown.
pub fn plan_markdown(r: &PlanReport) -> String {
    plan_markdown_with_chart(r, None)
}

/// The handout, referring to a forecast chart file by its name relative to the handout.
pub fn plan_markdown_with_chart(r: &PlanReport, chart: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Microneedling plan{}\n",
        r.patient_id.as_deref().map(|i| format!(": {i}")).unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "> **A planning aid, not a medical device and not a promise.** {}\n",
        r.disclaimer
    );
    let _ = writeln!(
        out,
        "Assessed {}. Screening verdict: **{}**.\n",
        r.assessment_date,
        verdict_line(&r.screening)
    );
    if !r.screening.findings.is_empty() {
        let _ = writeln!(out, "## Screening findings\n");
        let _ = writeln!(out, "| rule | severity | why | found | source |\n|---|---|---|---|---|");
        for f in &r.screening.findings {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} [{:?}] |",
                f.rule_id,
                f.severity.as_str(),
                md_escape(&f.reason),
                md_escape(&f.detail),
                md_escape(&f.source),
                f.grade
            );
        }
        out.push('\n');
    }
    for n in &r.notes {
        let _ = writeln!(out, "{n}\n");
    }
    if let Some(file) = chart {
        let target =
            if file.contains([' ', '(', ')']) { format!("<{file}>") } else { file.to_string() };
        let _ = writeln!(out, "## Forecast chart\n\n![Total dermal collagen relative to before treatment, with its 5-95 % band, one panel per plan]({target})\n");
    }
    for (i, p) in r.plans.iter().enumerate() {
        let fc = &p.forecast;
        let _ = writeln!(out, "## Plan {}: {}\n", i + 1, plan_heading(p));
        let _ = writeln!(
            out,
            "- **Device and depth:** {} at {} mm, {} (~{:.0} punctures per cm²)",
            p.device.as_str(),
            p.depth_mm,
            p.passes,
            p.punctures_per_cm2
        );
        let _ = writeln!(out, "- **Sessions:** {}", schedule(p));
        let _ = writeln!(out, "- **Product on the skin:** {}", p.topical.text);
        let _ = writeln!(
            out,
            "- **Redness and swelling:** about {}-{} days after each session",
            fc.downtime_range_days[0], fc.downtime_range_days[1]
        );
        let _ = writeln!(out, "- **Bleeding:** {}", fc.bleeding.text);
        let _ = writeln!(
            out,
            "- **Risk of dark patches (PIH), skin type {}:** {}. {}",
            roman(fc.pih_risk.fitzpatrick),
            fc.pih_risk.level,
            fc.pih_risk.text
        );
        let _ = writeln!(out, "- **When change may show:** {}", visible_text(fc));
        let _ = writeln!(out, "- **What the studies saw:** {}\n", p.expectation.text);
        if !p.cautions.is_empty() {
            let _ = writeln!(out, "**Cautions**\n");
            for c in &p.cautions {
                let advice = c.advice.as_deref().map(|a| format!(" {a}")).unwrap_or_default();
                let _ = writeln!(out, "- {}{advice} *({}, {:?})*", c.reason, c.source, c.grade);
            }
            out.push('\n');
        }
        let _ = writeln!(out, "**Collagen in the dermis, relative to before treatment** (model, fidelity {}, {} runs; 1.00 = unchanged)\n", fc.fidelity, fc.ensemble_members);
        let _ = writeln!(out, "| day | central | 5 % | 95 % |\n|---:|---:|---:|---:|");
        for (t, c, lo, hi) in collagen_rows(fc) {
            let _ = writeln!(out, "| {t:.0} | {} | {} | {} |", f2(c), band(lo), band(hi));
        }
        let _ = writeln!(out, "\n<details><summary>Why this plan</summary>\n");
        for w in &p.rationale {
            let _ = writeln!(
                out,
                "- **{}**: {} *({}, {:?})*",
                w.choice,
                md_escape(&w.because),
                md_escape(&w.source),
                w.grade
            );
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    let _ = writeln!(out, "## Care in the days after each session\n");
    for c in &r.care_advice {
        let _ = writeln!(out, "- **{}:** {}", c.topic, c.text);
    }
    let _ = writeln!(out, "\n---\n\n*{}*", r.disclaimer);
    out
}
