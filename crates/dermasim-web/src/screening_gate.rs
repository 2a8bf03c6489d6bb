//! Screening before a session is signed: a session note is signed only when the patient's
//! latest screening on the session's date allows treatment ("go" or "go with cautions"), or
//! when the practitioner states why they go ahead without one (the override is stored with the
//! note and audited). The latest screening of the day counts, so a later "defer" on the same
//! day is not outvoted by an earlier "go".

use crate::db::{Db, OptionalExtension};

use crate::auth::Auth;
use crate::pages::esc;

/// Longest override reason accepted.
pub(crate) const MAX_OVERRIDE: usize = 500;

/// The verdicts under which a session may go ahead (`dermasim_clinic::Verdict::as_str`).
const ALLOWING: [&str; 2] = ["go", "go with cautions"];

/// The latest screening of a patient on one date.
pub(crate) struct DayScreening {
    pub id: i64,
    pub verdict: String,
}

impl DayScreening {
    pub fn allows_treatment(&self) -> bool {
        ALLOWING.contains(&self.verdict.as_str())
    }
}

/// The patient's latest screening on `date` (YYYY-MM-DD) in the clinic, if any.
pub(crate) fn latest_on(
    c: &Db,
    clinic_id: i64,
    patient_id: i64,
    date: &str,
) -> crate::db::DbResult<Option<DayScreening>> {
    c.query_row(
        "SELECT id, verdict FROM screenings
         WHERE clinic_id = ?1 AND patient_id = ?2 AND assessment_date = ?3
         ORDER BY id DESC LIMIT 1",
        crate::params![clinic_id, patient_id, date],
        |r| Ok(DayScreening { id: r.get(0)?, verdict: r.get(1)? }),
    )
    .optional()
}

/// What the record holds for the date, when it does not allow treatment.
fn found(date: &str, latest: Option<&DayScreening>) -> String {
    match latest {
        None => format!("there is no screening of this patient on {date}"),
        Some(s) => format!("the latest screening of this patient on {date} says `{}`", s.verdict),
    }
}

/// Why signing is refused without an override.
pub(crate) fn refusal(date: &str, latest: Option<&DayScreening>) -> String {
    format!(
        "screening_override: {}, so the note cannot be signed. Screen the patient before the \
         session (kind pre_session, date {date}), or state the reason for treating without a \
         screening that allows it (1 to {MAX_OVERRIDE} characters). Nothing was signed.",
        found(date, latest)
    )
}

/// Above the sign button: what the screening of the session's date says, and the override
/// field when it does not allow treatment.
pub(crate) fn sign_notice(date: &str, latest: Option<&DayScreening>) -> String {
    match latest {
        Some(s) if s.allows_treatment() => format!(
            "<p id=\"sign-screening\">Screening on {}: <span class=\"verdict\">{}</span>; the note can be signed.</p>",
            esc(date),
            esc(&s.verdict)
        ),
        _ => format!(
            "<p id=\"sign-screening\" class=\"error\">Not signable yet: {}. Screen the patient \
             (kind pre_session, date {}) and reload this note, or give the reason for treating \
             without a screening that allows it.</p>\
             <label>Reason to sign without a screening that allows treatment \
             <input name=\"screening_override\" maxlength=\"{MAX_OVERRIDE}\" size=\"60\"></label>",
            esc(found(date, latest)),
            esc(date)
        ),
    }
}

/// On a signed note: what it was signed on (the screening, or the override and its reason;
/// the reason is free text, not shown to researchers).
pub(crate) fn signed_basis(
    a: &Auth,
    screening: Option<(i64, String)>,
    override_reason: Option<&str>,
) -> String {
    match (screening, override_reason) {
        (Some((id, verdict)), _) => format!(
            "<p id=\"signed-screening\">Signed on screening {id}: <span class=\"verdict\">{}</span>.</p>",
            esc(&verdict)
        ),
        (None, Some(reason)) => format!(
            "<p id=\"signed-screening\" class=\"notice\">Signed without a screening that allows treatment; reason: {}</p>",
            if a.role.sees_names() { esc(reason) } else { "(free text not shown)".into() }
        ),
        // Signed before this check existed.
        (None, None) => String::new(),
    }
}
