//! Screening: every rule against the profile, then one verdict.

use serde::{Deserialize, Serialize};

use crate::date::Date;
use crate::profile::Profile;
use crate::rules::{Finding, RuleSet, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Verdict {
    #[serde(rename = "go")]
    Go,
    #[serde(rename = "go with cautions")]
    GoWithCautions,
    #[serde(rename = "defer")]
    Defer,
    #[serde(rename = "do not treat")]
    DoNotTreat,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Go => "go",
            Verdict::GoWithCautions => "go with cautions",
            Verdict::Defer => "defer",
            Verdict::DoNotTreat => "do not treat",
        }
    }
}

/// The outcome of screening one profile on one date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Screening {
    pub assessment_date: Date,
    pub verdict: Verdict,
    /// With `defer`: the first day every deferral has passed, when all of them end on a date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defer_until: Option<Date>,
    /// With `defer`: events that must happen before treatment (pregnancy ended, doctor agreed, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defer_until_events: Vec<String>,
    /// Triggered rules, most severe first.
    pub findings: Vec<Finding>,
    pub disclaimer: String,
}

/// The verdict from a set of findings: absolute -> do not treat; deferring relative -> defer;
/// any other finding -> go with cautions; none -> go.
pub fn verdict_of(findings: &[Finding]) -> Verdict {
    if findings.iter().any(|f| f.severity == Severity::Absolute) {
        Verdict::DoNotTreat
    } else if findings.iter().any(|f| f.defers) {
        Verdict::Defer
    } else if findings.is_empty() {
        Verdict::Go
    } else {
        Verdict::GoWithCautions
    }
}

/// Screen `profile` against `rules` on `date`. The profile should already be validated.
pub fn screen(profile: &Profile, rules: &RuleSet, date: Date) -> Screening {
    let mut findings: Vec<Finding> =
        rules.rule.iter().filter_map(|r| r.evaluate(profile, date)).collect();
    // Most severe first; the data file's order within a severity.
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let verdict = verdict_of(&findings);
    let deferring: Vec<&Finding> = findings.iter().filter(|f| f.defers).collect();
    let (defer_until, defer_until_events) = if verdict == Verdict::Defer {
        let events: Vec<String> = deferring.iter().filter_map(|f| f.until_event.clone()).collect();
        let dated = deferring.iter().all(|f| f.until.is_some());
        (if dated { deferring.iter().filter_map(|f| f.until).max() } else { None }, events)
    } else {
        (None, Vec::new())
    };
    Screening {
        assessment_date: date,
        verdict,
        defer_until,
        defer_until_events,
        findings,
        disclaimer: dermasim::DISCLAIMER.to_string(),
    }
}
