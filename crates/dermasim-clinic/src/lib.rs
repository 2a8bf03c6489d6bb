//! dermasim-clinic: the practitioner's side of dermasim.
//!
//! - [`profile`]: the patient profile (TOML or JSON) and its validation.
//! - [`rules`] and [`screen`]: contraindication rules as data (`data/contraindications.toml`)
//!   and the verdict `go`, `go with cautions`, `defer` or `do not treat`.
//! - [`planner`]: a protocol for each concern and site inside every depth limit, with reasons
//!   (`data/protocols.toml`, `data/sites.toml`).
//! - [`forecast`]: the plan simulated by the core (ensemble at a fast fidelity) and read as a
//!   course of redness, bleeding, pigment risk and collagen change, with care advice.
//! - [`render`]: text and Markdown for people.
//!
//! It never re-implements biology: forecasts are `dermasim` scenarios run by
//! `dermasim::ensemble::run_ensemble`. No printing; the `dermasim` binary presents the results.

pub mod date;
pub mod forecast;
mod load;
pub mod planner;
pub mod profile;
pub mod protocols;
pub mod render;
pub mod rules;
pub mod screen;

use serde::{Deserialize, Serialize};

use dermasim::tissue::{Column, SiteTable};
use dermasim::{FieldError, ParameterSet};

pub use date::Date;
pub use load::parse_profile;
pub use planner::Plan;
pub use profile::Profile;
pub use protocols::{Care, Protocols};
pub use rules::{Finding, RuleSet, Severity};
pub use screen::{Screening, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum ClinicError {
    #[error("{origin}: not valid {format}: {message}")]
    Syntax { origin: String, format: &'static str, message: String },
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("screening says do not treat ({}); no plan is made", refusal_ids(.0))]
    Refused(Box<Screening>),
    #[error("the forecast simulation failed")]
    Simulation(#[from] dermasim::Error),
}

fn refusal_ids(s: &Screening) -> String {
    s.findings
        .iter()
        .filter(|f| f.severity == Severity::Absolute)
        .map(|f| f.rule_id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Knobs of `plan`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// Ensemble members per plan; `data/protocols.toml` when absent.
    pub members: Option<usize>,
}

/// What `dermasim plan` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanReport {
    pub program: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    pub assessment_date: Date,
    pub screening: Screening,
    pub plans: Vec<Plan>,
    /// After-care for the days after each session, for this patient.
    pub care_advice: Vec<Care>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub disclaimer: String,
}

/// The data tables the clinical layer works from.
#[derive(Debug, Clone)]
pub struct Clinic {
    pub rules: RuleSet,
    pub protocols: Protocols,
    pub sites: SiteTable,
    pub params: ParameterSet,
}

impl Clinic {
    /// The tables shipped in `data/`.
    pub fn embedded() -> Clinic {
        Clinic {
            rules: RuleSet::embedded(),
            protocols: Protocols::embedded(),
            sites: SiteTable::embedded(),
            params: ParameterSet::default_set(),
        }
    }

    /// Check the profile for `date` (the override, else the profile's, else today) and screen it.
    pub fn screen(&self, profile: &Profile, date: Option<Date>) -> Result<Screening, ClinicError> {
        let today = profile.assessment(date);
        profile.validate(&self.rules.vocabulary, &self.sites, today)?;
        Ok(screen::screen(profile, &self.rules, today))
    }

    /// Screen, then plan and forecast each concern at each site. Refuses when screening says
    /// `do not treat`.
    pub fn plan(
        &self,
        profile: &Profile,
        date: Option<Date>,
        options: PlanOptions,
    ) -> Result<PlanReport, ClinicError> {
        let screening = self.screen(profile, date)?;
        let today = screening.assessment_date;
        if screening.verdict == Verdict::DoNotTreat {
            return Err(ClinicError::Refused(Box::new(screening)));
        }
        let start = match screening.verdict {
            Verdict::Defer => screening.defer_until,
            _ => Some(today),
        };
        let members = options
            .members
            .unwrap_or(self.protocols.forecast.ensemble_members.value as usize)
            .max(2);
        let mut plans = Vec::new();
        for concern in &profile.concerns {
            for site in planner::concern_sites(concern, &self.sites) {
                let draft = planner::draft(profile, concern, site, &self.protocols, &self.params)?;
                let scenario = draft.scenario(profile, &self.protocols);
                let column = Column::build(site, profile.age_years, profile.sex, &self.params)?;
                let cx = forecast::Context {
                    depth_mm: draft.depth_mm,
                    fitzpatrick: profile.fitzpatrick,
                    pinpoint_bleeding_depth_um: column.pinpoint_bleeding_depth_um,
                    start,
                    members,
                };
                let forecast = forecast::forecast(&scenario, cx, &self.protocols, &self.params)?;
                let device = draft.device_model();
                plans.push(Plan {
                    passes: match &device {
                        dermasim::device::Device::Pen(p) => format!("{} passes", p.passes),
                        dermasim::device::Device::Roller(r) => {
                            format!("{} passes in each of {} directions", r.passes, r.directions)
                        }
                        dermasim::device::Device::Stamp(_) => "stamped".into(),
                    },
                    punctures_per_cm2: device.punctures_per_cm2(),
                    session_days: draft.session_days(),
                    first_session_not_before: start,
                    concern: draft.concern,
                    scar_type: draft.scar_type,
                    site: draft.site,
                    setting: draft.setting,
                    device: draft.device,
                    depth_mm: draft.depth_mm,
                    requested_depth_mm: draft.requested_depth_mm,
                    depth_limits_mm: draft.depth_limits_mm,
                    sessions: draft.sessions,
                    interval_days: draft.interval_days,
                    topical: draft.topical,
                    expectation: draft.expectation,
                    rationale: draft.rationale,
                    cautions: draft.cautions,
                    forecast,
                    scenario,
                });
            }
        }
        let care_advice = self
            .protocols
            .care
            .iter()
            .filter(|c| {
                c.min_fitzpatrick.is_none_or(|m| profile.fitzpatrick >= m)
                    && c.setting.is_none_or(|s| s == profile.setting)
            })
            .cloned()
            .collect();
        let mut notes = Vec::new();
        if screening.verdict == Verdict::Defer {
            notes.push(match screening.defer_until {
                Some(d) => format!("Screening defers treatment: the first session should not be before {d}."),
                None => format!("Screening defers treatment until: {}. Session dates are counted from the first session.", screening.defer_until_events.join("; ")),
            });
        }
        Ok(PlanReport {
            program: "dermasim".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            patient_id: profile.id.clone(),
            assessment_date: today,
            screening,
            plans,
            care_advice,
            notes,
            disclaimer: dermasim::DISCLAIMER.into(),
        })
    }
}
