//! Screening rules as data (`data/contraindications.toml`) and the small condition language
//! they are written in.
//!
//! Each rule has one condition. Conditions read only the profile fields they name (see
//! [`Condition::reads`]), so a rule triggers on its condition and on nothing else.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use dermasim::params::Grade;
use dermasim::FieldError;

use crate::date::Date;
use crate::profile::{Profile, Status};

/// The embedded rule file.
pub const CONTRAINDICATIONS_TOML: &str = include_str!("../../../data/contraindications.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing and acting on; treatment can go ahead.
    Caution,
    /// Treatment waits (until a date or a stated event) or goes ahead with care, as the rule says.
    Relative,
    /// Do not treat.
    Absolute,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Caution => "caution",
            Severity::Relative => "relative",
            Severity::Absolute => "absolute",
        }
    }
}

/// Names a profile may use, so that a misspelt drug cannot slip past screening.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabulary {
    pub conditions: Vec<String>,
    pub medications: Vec<String>,
    pub procedures: Vec<String>,
}

impl Vocabulary {
    pub fn require(
        &self,
        what: &str,
        list: &[String],
        name: &str,
        path: &str,
    ) -> Result<(), FieldError> {
        if list.iter().any(|n| n == name) {
            return Ok(());
        }
        Err(FieldError::new(
            path,
            format!(
                "unknown {what} `{name}`; known: {} (use `other` with a note for anything else)",
                list.join(", ")
            ),
        ))
    }
}

/// When a rule applies. Written in the data file as an inline table tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// A listed condition in one of the given states; with `in_treatment_area`, only where it
    /// lies at a treated site (or its sites are not recorded).
    Condition {
        any_of: Vec<String>,
        statuses: Vec<Status>,
        #[serde(default)]
        in_treatment_area: bool,
    },
    /// A listed medication taken now, or stopped fewer than `within_days_after_stop` days before
    /// the assessment date. The wash-out ends on stop + N days: the first day treatment may go ahead.
    Medication {
        any_of: Vec<String>,
        #[serde(default)]
        within_days_after_stop: u32,
    },
    /// A listed procedure done fewer than `within_days` days before the assessment date
    /// (clears on date + N days).
    Procedure {
        any_of: Vec<String>,
        within_days: u32,
        #[serde(default)]
        in_treatment_area: bool,
    },
    Pregnancy,
    Breastfeeding,
    FitzpatrickAtLeast {
        value: u8,
    },
}

/// A profile field a condition reads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reads {
    Condition(String),
    Medication(String),
    Procedure(String),
    Pregnancy,
    Breastfeeding,
    Fitzpatrick,
    /// The sites of the concerns (for `in_treatment_area`).
    TreatmentSites,
}

/// What matched, in words, and when it stops mattering.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub detail: String,
    /// The first day the condition no longer holds, when the condition is time-limited and known.
    pub until: Option<Date>,
}

impl Condition {
    /// The profile fields this condition reads; nothing else changes its answer.
    pub fn reads(&self) -> Vec<Reads> {
        match self {
            Condition::Condition { any_of, in_treatment_area, .. } => {
                let mut r: Vec<Reads> =
                    any_of.iter().map(|n| Reads::Condition(n.clone())).collect();
                if *in_treatment_area {
                    r.push(Reads::TreatmentSites);
                }
                r
            }
            Condition::Medication { any_of, .. } => {
                any_of.iter().map(|n| Reads::Medication(n.clone())).collect()
            }
            Condition::Procedure { any_of, in_treatment_area, .. } => {
                let mut r: Vec<Reads> =
                    any_of.iter().map(|n| Reads::Procedure(n.clone())).collect();
                if *in_treatment_area {
                    r.push(Reads::TreatmentSites);
                }
                r
            }
            Condition::Pregnancy => vec![Reads::Pregnancy],
            Condition::Breastfeeding => vec![Reads::Breastfeeding],
            Condition::FitzpatrickAtLeast { .. } => vec![Reads::Fitzpatrick],
        }
    }

    /// Does the condition hold for `p` on `today`?
    pub fn check(&self, p: &Profile, today: Date) -> Option<Match> {
        let treated = p.treatment_sites();
        let in_area = |sites: &[String]| {
            sites.is_empty() || sites.iter().any(|s| treated.contains(&s.as_str()))
        };
        match self {
            Condition::Condition { any_of, statuses, in_treatment_area } => {
                let hits: Vec<String> = p
                    .conditions
                    .iter()
                    .filter(|c| {
                        any_of.contains(&c.name)
                            && statuses.contains(&c.status)
                            && (!in_treatment_area || in_area(&c.sites))
                    })
                    .map(|c| {
                        let place = if c.sites.is_empty() {
                            String::new()
                        } else {
                            format!(" at {}", c.sites.join(", "))
                        };
                        format!("{} ({}){place}", c.name.replace('_', " "), status_word(c.status))
                    })
                    .collect();
                (!hits.is_empty()).then(|| Match { detail: hits.join("; "), until: None })
            }
            Condition::Medication { any_of, within_days_after_stop } => {
                let n = *within_days_after_stop as i64;
                let mut details = Vec::new();
                let mut until: Option<Date> = None;
                let mut ongoing = false;
                for m in p.medications.iter().filter(|m| any_of.contains(&m.name)) {
                    let name = m.name.replace('_', " ");
                    match m.stop {
                        None => {
                            ongoing = true;
                            details.push(format!("{name}, still taken"));
                        }
                        Some(stop) if today < stop => {
                            let end = stop.add_days(n);
                            until = until.max(Some(end));
                            details.push(format!("{name}, taken until {stop}"));
                        }
                        Some(stop) if today < stop.add_days(n) => {
                            let end = stop.add_days(n);
                            until = until.max(Some(end));
                            details.push(format!("{name}, stopped {stop} ({} days ago; the {n}-day wash-out ends {end})", today.days_since(stop)));
                        }
                        Some(_) => {}
                    }
                }
                (!details.is_empty()).then(|| Match {
                    detail: details.join("; "),
                    until: if ongoing { None } else { until },
                })
            }
            Condition::Procedure { any_of, within_days, in_treatment_area } => {
                let n = *within_days as i64;
                let mut details = Vec::new();
                let mut until: Option<Date> = None;
                for pr in p.procedures.iter().filter(|pr| {
                    any_of.contains(&pr.name) && (!in_treatment_area || in_area(&pr.sites))
                }) {
                    let end = pr.date.add_days(n);
                    if today < end {
                        until = until.max(Some(end));
                        details.push(format!(
                            "{} on {} ({} days ago; wait {n} days, until {end})",
                            pr.name.replace('_', " "),
                            pr.date,
                            today.days_since(pr.date)
                        ));
                    }
                }
                (!details.is_empty()).then(|| Match { detail: details.join("; "), until })
            }
            Condition::Pregnancy => {
                p.pregnant.then(|| Match { detail: "pregnant".into(), until: None })
            }
            Condition::Breastfeeding => {
                p.breastfeeding.then(|| Match { detail: "breastfeeding".into(), until: None })
            }
            Condition::FitzpatrickAtLeast { value } => (p.fitzpatrick >= *value).then(|| Match {
                detail: format!("Fitzpatrick type {}", roman(p.fitzpatrick)),
                until: None,
            }),
        }
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Active => "active",
        Status::Controlled => "controlled",
        Status::Past => "in the past",
    }
}

/// Fitzpatrick types are written in Roman numerals.
pub fn roman(t: u8) -> &'static str {
    ["?", "I", "II", "III", "IV", "V", "VI"].get(t as usize).copied().unwrap_or("?")
}

/// One screening rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub when: Condition,
    pub severity: Severity,
    /// Relative rules only: the treatment waits (`defer`) rather than going ahead with cautions.
    #[serde(default)]
    pub defers: bool,
    /// For deferrals that end on an event, not a date: what must happen first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Why, in plain words.
    pub reason: String,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    pub source: String,
    pub grade: Grade,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A triggered rule (screening) or a planner decision worth telling (plans).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    pub severity: Severity,
    pub reason: String,
    pub source: String,
    pub grade: Grade,
    /// What in the profile triggered it.
    pub detail: String,
    /// Treatment waits for this finding.
    pub defers: bool,
    /// First day treatment may go ahead, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Date>,
    /// What must happen first, when the wait ends on an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

impl Rule {
    pub fn evaluate(&self, p: &Profile, today: Date) -> Option<Finding> {
        let m = self.when.check(p, today)?;
        Some(Finding {
            rule_id: self.id.clone(),
            severity: self.severity,
            reason: self.reason.clone(),
            source: self.source.clone(),
            grade: self.grade,
            detail: m.detail,
            defers: self.defers,
            until: if self.defers { m.until } else { None },
            until_event: if self.defers && m.until.is_none() { self.until.clone() } else { None },
            advice: self.advice.clone(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    pub schema_version: u32,
    pub vocabulary: Vocabulary,
    pub rule: Vec<Rule>,
}

impl RuleSet {
    pub fn embedded() -> RuleSet {
        Self::from_toml(CONTRAINDICATIONS_TOML)
            .expect("embedded data/contraindications.toml is valid")
    }

    pub fn from_toml(text: &str) -> Result<RuleSet, String> {
        let set: RuleSet = toml::from_str(text).map_err(|e| e.to_string())?;
        set.check()?;
        Ok(set)
    }

    /// Ids unique, every rule sourced, names inside the vocabulary, deferral only on relative rules.
    pub fn check(&self) -> Result<(), String> {
        let mut ids = BTreeSet::new();
        let v = &self.vocabulary;
        for r in &self.rule {
            let id = &r.id;
            if !ids.insert(id.as_str()) {
                return Err(format!("rule `{id}` appears twice"));
            }
            if r.source.trim().is_empty() || r.reason.trim().is_empty() {
                return Err(format!("rule `{id}` needs a reason and a source"));
            }
            if r.defers && r.severity != Severity::Relative {
                return Err(format!("rule `{id}`: only relative rules defer (absolute ones stop treatment, cautions never wait)"));
            }
            let names = |list: &[String], any_of: &[String], what: &str| -> Result<(), String> {
                if any_of.is_empty() {
                    return Err(format!("rule `{id}`: any_of is empty"));
                }
                match any_of.iter().find(|n| !list.contains(n)) {
                    Some(n) => Err(format!("rule `{id}`: `{n}` is not in the {what} vocabulary")),
                    None => Ok(()),
                }
            };
            match &r.when {
                Condition::Condition { any_of, statuses, .. } => {
                    names(&v.conditions, any_of, "conditions")?;
                    if statuses.is_empty() {
                        return Err(format!("rule `{id}`: statuses is empty"));
                    }
                }
                Condition::Medication { any_of, .. } => {
                    names(&v.medications, any_of, "medications")?
                }
                Condition::Procedure { any_of, within_days, .. } => {
                    names(&v.procedures, any_of, "procedures")?;
                    if *within_days == 0 {
                        return Err(format!("rule `{id}`: within_days must be at least 1"));
                    }
                }
                Condition::FitzpatrickAtLeast { value } if !(1..=6).contains(value) => {
                    return Err(format!("rule `{id}`: Fitzpatrick type {value} does not exist"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rule.iter().find(|r| r.id == id)
    }
}
