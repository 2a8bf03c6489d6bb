//! Follow-ups and adverse events. The next session of each planned site is due one plan
//! interval after the last signed session there (the first when none was recorded yet: from
//! the plan's earliest date); `/follow-ups` lists what is due, overdue first. Adverse events are
//! recorded against a session note, "none" included, append-only.

use crate::db::params;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use jiff::civil::Date;
use serde::Deserialize;

use crate::auth::Auth;
use crate::db::{self, now_text};
use crate::notes::{load_note, patient_notes, NoteRow};
use crate::pages::{bad_request, esc, hidden_csrf, layout, pseudonym, Fail, Page};
use crate::App;

/// Adverse event kinds: `none` is the explicit "nothing happened" record.
const KINDS: [(&str, &str); 8] = [
    ("none", "none"),
    ("prolonged_erythema", "erythema beyond 72 hours"),
    ("infection", "infection"),
    ("hyperpigmentation", "post-inflammatory hyperpigmentation"),
    ("scarring", "scarring or tram-track marks"),
    ("allergic_reaction", "allergic or contact reaction"),
    ("herpes_reactivation", "herpes reactivation"),
    ("other", "other (describe)"),
];

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/follow-ups", get(followups_page))
        .route("/notes/{id}/adverse-events", post(record_event))
}

/// Where a planned site stands.
pub(crate) struct Due {
    pub site: String,
    pub done: usize,
    pub planned: u32,
    /// The next session's date; `None` once the planned course is complete.
    pub next: Option<Date>,
}

/// The schedule of a patient from their latest plan and signed notes.
pub(crate) fn schedule(
    app: &App,
    a: &Auth,
    patient_id: i64,
    notes: &[NoteRow],
) -> Result<Vec<Due>, Fail> {
    let json: Option<String> = app.db(|c| {
        use crate::db::OptionalExtension;
        c.query_row(
            "SELECT report_json FROM plans WHERE patient_id = ?1 AND clinic_id = ?2 AND outcome = 'planned'
             ORDER BY id DESC LIMIT 1",
            [patient_id, a.clinic_id],
            |r| r.get(0),
        )
        .optional()
    })?;
    let Some(json) = json else { return Ok(Vec::new()) };
    let report: dermasim_clinic::PlanReport =
        serde_json::from_str(&json).map_err(|e| Fail::Internal(format!("a stored plan: {e}")))?;
    let start: Date = report
        .assessment_date
        .to_string()
        .parse()
        .map_err(|_| Fail::Internal("a plan date".into()))?;
    let mut out: Vec<Due> = Vec::new();
    for p in &report.plans {
        if out.iter().any(|d| d.site == p.site) {
            continue;
        }
        let dates: Vec<Date> = notes
            .iter()
            .filter(|n| n.signed.is_some() && n.current().areas.iter().any(|x| x.site == p.site))
            .filter_map(|n| n.session_date.parse().ok())
            .collect();
        let first = p
            .first_session_not_before
            .as_ref()
            .and_then(|d| d.to_string().parse().ok())
            .unwrap_or(start);
        let next = match dates.iter().max() {
            _ if dates.len() >= p.sessions as usize => None,
            Some(last) => last.checked_add(jiff::Span::new().days(p.interval_days as i64)).ok(),
            None => Some(first),
        };
        out.push(Due { site: p.site.clone(), done: dates.len(), planned: p.sessions, next });
    }
    Ok(out)
}

fn state(next: Option<Date>, today: Date) -> &'static str {
    match next {
        None => "course complete",
        Some(d) if d < today => "overdue",
        Some(d) if d == today => "due today",
        Some(_) => "upcoming",
    }
}

/// The patient page's lines: the next session per planned site.
pub(crate) fn section(
    app: &App,
    a: &Auth,
    patient_id: i64,
    notes: &[NoteRow],
) -> Result<String, Fail> {
    let due = schedule(app, a, patient_id, notes)?;
    if due.is_empty() {
        return Ok(String::new());
    }
    let today = jiff::Zoned::now().date();
    let mut b = String::from("<h2 id=\"follow-ups\">Next sessions (from the latest plan)</h2><ul>");
    for d in &due {
        b += &format!(
            "<li>{}: {} of {} sessions done · next {} <span class=\"followup\">{}</span></li>",
            esc(&d.site),
            d.done,
            d.planned,
            d.next.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
            state(d.next, today)
        );
    }
    b += "</ul>";
    Ok(b)
}

async fn followups_page(State(app): State<App>, a: Auth) -> Page {
    if !a.role.edits_clinical() {
        return Err(Fail::Forbidden(
            "Only practitioners and administrators see the follow-up list.".into(),
        ));
    }
    let patients: Vec<(i64, String)> = app.db(|c| {
        let mut st = c.prepare(
            "SELECT DISTINCT p.id, p.full_name FROM patients p JOIN plans l ON l.patient_id = p.id
             WHERE p.clinic_id = ?1 AND l.outcome = 'planned' ORDER BY p.full_name, p.id",
        )?;
        let rows = st.query_map([a.clinic_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    })?;
    let today = jiff::Zoned::now().date();
    let mut rows = Vec::new();
    for (id, name) in patients {
        let notes = patient_notes(&app, &a, id)?;
        for d in schedule(&app, &a, id, &notes)? {
            if d.next.is_some() {
                rows.push((d.next, id, name.clone(), d));
            }
        }
    }
    rows.sort_by_key(|r| r.0);
    app.audit(Some(&a), "list", "follow_ups", None, &format!("{} rows", rows.len()))?;
    let mut b = String::from(
        "<h1>Follow-ups</h1><table><tr><th>Due</th><th>Patient</th><th>Site</th><th>Sessions</th><th>State</th></tr>",
    );
    for (next, id, name, d) in &rows {
        let st = state(*next, today);
        b += &format!(
            "<tr class=\"{}\"><td>{}</td><td><a href=\"/patients/{id}\">{}</a></td><td>{}</td><td>{} of {}</td><td>{st}</td></tr>",
            st.replace(' ', "-"),
            next.map(|x| x.to_string()).unwrap_or_default(),
            esc(if a.role.sees_names() { name.clone() } else { pseudonym(*id) }),
            esc(&d.site),
            d.done,
            d.planned
        );
    }
    b += "</table>";
    if rows.is_empty() {
        b += "<p>Nothing due.</p>";
    }
    Ok(layout(Some(&a), "Follow-ups", &b).into_response())
}

/// The note page's part: events so far and the form.
pub(crate) fn events_section(app: &App, a: &Auth, note_id: i64) -> Result<String, Fail> {
    type Row = (String, String, Option<String>, String, String, String);
    let rows: Vec<Row> = app.db(|c| {
        let mut st = c.prepare(
            "SELECT e.kind, e.severity, e.onset_date, e.description, e.created_at, u.username
             FROM adverse_events e JOIN users u ON u.id = e.created_by
             WHERE e.note_id = ?1 AND e.clinic_id = ?2 ORDER BY e.id",
        )?;
        let rows = st.query_map([note_id, a.clinic_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })?;
        rows.collect()
    })?;
    let mut b = String::from("<h2 id=\"adverse-events\">Adverse events</h2><ul>");
    for (kind, severity, onset, text, at, who) in &rows {
        let label = KINDS.iter().find(|k| k.0 == kind).map(|k| k.1).unwrap_or("?");
        b += &format!(
            "<li class=\"adverse\">{}{} · onset {} · {} (recorded by {} at {})</li>",
            esc(label),
            if severity == "none" { String::new() } else { format!(", {}", esc(severity)) },
            esc(onset.as_deref().unwrap_or("-")),
            if a.role.sees_names() { esc(text) } else { "(free text not shown)".into() },
            esc(who),
            esc(at)
        );
    }
    b += "</ul>";
    if rows.is_empty() {
        b += "<p>Nothing recorded yet (record \"none\" when the patient reports no problem).</p>";
    }
    if a.role.edits_clinical() {
        let kinds: String = KINDS
            .iter()
            .map(|(k, l)| format!("<option value=\"{k}\">{}</option>", esc(l)))
            .collect();
        b += &format!(
            "<form method=\"post\" action=\"/notes/{note_id}/adverse-events\">{}\
             <label>Event <select name=\"kind\">{kinds}</select></label>\
             <label>Severity <select name=\"severity\"><option>none</option><option>mild</option>\
             <option>moderate</option><option>severe</option></select></label>\
             <label>Onset <input type=\"date\" name=\"onset_date\"></label>\
             <label>Description <input name=\"description\" maxlength=\"2000\"></label>\
             <button>Record the adverse event</button></form>",
            hidden_csrf(a)
        );
    }
    Ok(b)
}

#[derive(Deserialize)]
struct EventForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    onset_date: String,
    #[serde(default)]
    description: String,
}

/// The event checked: a known kind; "none" with severity none; any other with a severity and
/// an onset on or after the session and not in the future; "other" described.
fn check_event(f: &EventForm, session_date: &str) -> Result<Option<String>, String> {
    if !KINDS.iter().any(|k| k.0 == f.kind) {
        return Err(format!("kind: `{}` is not an adverse event kind", f.kind));
    }
    if f.description.chars().count() > 2000 {
        return Err("description: at most 2000 characters".into());
    }
    if f.kind == "none" {
        if f.severity != "none" {
            return Err("severity: `none` goes with the event `none`".into());
        }
        return Ok(None);
    }
    if !["mild", "moderate", "severe"].contains(&f.severity.as_str()) {
        return Err(format!("severity: `{}`; an event needs mild, moderate or severe", f.severity));
    }
    if f.kind == "other" && f.description.trim().is_empty() {
        return Err("description: describe an event of kind `other`".into());
    }
    let onset: Date =
        f.onset_date.trim().parse().map_err(|_| {
            format!("onset_date: `{}` is not a date (YYYY-MM-DD)", f.onset_date.trim())
        })?;
    if onset.to_string().as_str() < session_date {
        return Err(format!("onset_date: {onset} is before the session ({session_date})"));
    }
    if onset > jiff::Zoned::now().date() {
        return Err(format!("onset_date: {onset} is in the future"));
    }
    Ok(Some(onset.to_string()))
}

async fn record_event(
    State(app): State<App>,
    a: Auth,
    Path(id): Path<i64>,
    Form(f): Form<EventForm>,
) -> Page {
    let n = load_note(&app, &a, id)?;
    if !a.role.edits_clinical() {
        return Err(Fail::Forbidden("Your role cannot record adverse events.".into()));
    }
    let onset = match check_event(&f, &n.session_date) {
        Ok(o) => o,
        Err(e) => return Ok(bad_request(&a, &e)),
    };
    app.db(|c| {
        let eid = c.insert_returning_id(
            "INSERT INTO adverse_events (note_id, clinic_id, kind, severity, onset_date, description, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![id, a.clinic_id, f.kind, f.severity, onset, f.description.trim(), a.user_id, now_text()],
        )?;
        db::audit(c, Some(a.user_id), Some(a.clinic_id), "create", "adverse_event", Some(eid), &format!("note {id}: {}", f.kind))
    })?;
    Ok(Redirect::to(&format!("/notes/{id}#adverse-events")).into_response())
}
