//! Screening and treatment plans for a patient profile, with the handout and the forecast
//! chart as bytes for the front end to store or show.

use std::path::Path;

use dermasim_clinic::{
    render, Clinic, ClinicError, Date, PlanOptions, PlanReport, Profile, Screening,
};

use crate::AppError;

/// Plan sizes allowed (ensemble members per plan).
pub const PLAN_MEMBERS: std::ops::RangeInclusive<usize> = 2..=256;

/// Read a patient profile (TOML, or JSON when the name ends in `.json`).
pub fn load_profile(path: &Path) -> Result<Profile, AppError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| dermasim_io::IoError::Read { path: path.into(), source })?;
    let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    Ok(dermasim_clinic::parse_profile(&text, json, &path.display().to_string())?)
}

/// Screen `profile` on `date` (the profile's assessment date, else today).
pub fn screen(profile: &Profile, date: Option<Date>) -> Result<Screening, AppError> {
    Ok(Clinic::embedded().screen(profile, date)?)
}

/// What planning gave: plans, or a refusal with its screening.
#[derive(Debug, Clone)]
pub enum PlanOutcome {
    /// Plans with forecasts.
    Planned(Box<PlanReport>),
    /// Screening says do not treat: no plan is made.
    Refused(Box<Screening>),
}

/// Screen, then plan and forecast each concern at each site of `profile`.
pub fn plan(
    profile: &Profile,
    date: Option<Date>,
    members: Option<usize>,
) -> Result<PlanOutcome, AppError> {
    if let Some(n) = members {
        if !PLAN_MEMBERS.contains(&n) {
            return Err(AppError::request(
                "members",
                format!(
                    "{n} is outside the allowed range {} to {}",
                    PLAN_MEMBERS.start(),
                    PLAN_MEMBERS.end()
                ),
            ));
        }
    }
    match Clinic::embedded().plan(profile, date, PlanOptions { members }) {
        Ok(report) => Ok(PlanOutcome::Planned(Box::new(report))),
        Err(ClinicError::Refused(s)) => Ok(PlanOutcome::Refused(s)),
        Err(e) => Err(e.into()),
    }
}

/// The forecast chart of every plan (collagen with its 5-95 % band, one panel each), as PNG
/// bytes when `png`, else SVG.
pub fn forecast_chart(report: &PlanReport, png: bool) -> Result<Vec<u8>, AppError> {
    use dermasim_report::plots::{first_sentence, ForecastChart, ForecastPanel};
    let panels = report
        .plans
        .iter()
        .enumerate()
        .map(|(i, p)| ForecastPanel {
            title: format!(
                "Plan {}: {} ({} at {} mm, {} sessions)",
                i + 1,
                render::plan_heading(p),
                p.device.as_str(),
                p.depth_mm,
                p.sessions
            ),
            session_days: p.session_days.clone(),
            timeline: p.forecast.timeline.clone(),
        })
        .collect();
    let chart = ForecastChart { panels, note: first_sentence(&report.disclaimer).into() };
    let fig = dermasim_report::render(&chart, png)?;
    Ok(match fig.png {
        Some(bytes) => bytes,
        None => fig.svg.into_bytes(),
    })
}

/// The Markdown handout; `chart` is how it refers to the chart file, when there is one.
pub fn handout_markdown(report: &PlanReport, chart: Option<&str>) -> String {
    render::plan_markdown_with_chart(report, chart)
}
