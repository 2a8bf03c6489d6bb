//! Consent: versioned templates per clinic and kind (treatment, photo, marketing), and each
//! patient's answers. A signed consent records the template version, the time and who took
//! it; photo consent is separate from marketing consent; a withdrawal is a later "declined".
//! Templates and answers are append-only (database triggers).

use crate::db::{params, OptionalExtension};
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use crate::auth::{Auth, Role};
use crate::db::{self, now_text};
use crate::pages::{bad_request, esc, hidden_csrf, layout, load_patient, Fail, Page};
use crate::App;

/// The kinds of consent, with how the page names them.
pub(crate) const KINDS: [(&str, &str); 3] = [
    ("treatment", "Treatment (microneedling)"),
    ("photo", "Clinical photographs"),
    ("marketing", "Marketing use of photographs and contact"),
];

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/consent-templates", get(templates_page).post(create_template))
        .route("/patients/{id}/consents", post(record_consent))
}

/// Who may take and read consents: everyone but researchers (consent forms carry names).
fn may_handle(a: &Auth) -> Result<(), Fail> {
    if a.role.sees_names() {
        Ok(())
    } else {
        Err(Fail::Forbidden("Your role cannot read or take consents.".into()))
    }
}

/// A template: kind, id, version, title, body.
type Template = (String, i64, i64, String, String);

/// The latest template of each kind in the clinic.
fn latest_templates(app: &App, clinic: i64) -> Result<Vec<Template>, Fail> {
    app.db(|c| {
        let mut st = c.prepare(
            "SELECT t.kind, t.id, t.version, t.title, t.body FROM consent_templates t
             WHERE t.clinic_id = ?1 AND t.version =
               (SELECT MAX(version) FROM consent_templates u WHERE u.clinic_id = t.clinic_id AND u.kind = t.kind)
             ORDER BY t.kind",
        )?;
        let rows = st.query_map([clinic], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        rows.collect()
    })
}

/// Whether the patient's latest answer on `kind` is a grant.
pub(crate) fn granted(app: &App, clinic: i64, patient: i64, kind: &str) -> Result<bool, Fail> {
    let g: Option<i64> = app.db(|c| {
        c.query_row(
            "SELECT c.granted FROM consents c JOIN consent_templates t ON t.id = c.template_id
             WHERE c.patient_id = ?1 AND c.clinic_id = ?2 AND t.kind = ?3 ORDER BY c.id DESC LIMIT 1",
            params![patient, clinic, kind],
            |r| r.get(0),
        )
        .optional()
    })?;
    Ok(g == Some(1))
}

/// The patient page's section: the answers so far and a form per kind.
pub(crate) fn section(app: &App, a: &Auth, patient_id: i64) -> Result<String, Fail> {
    if !a.role.sees_names() {
        return Ok(String::new());
    }
    let mut b = String::from("<h2 id=\"consent\">Consent</h2>");
    type Answer = (String, i64, String, i64, String, String);
    let answers: Vec<Answer> = app.db(|c| {
        let mut st = c.prepare(
            "SELECT t.kind, t.version, t.title, c.granted, c.taken_at, u.username
             FROM consents c JOIN consent_templates t ON t.id = c.template_id JOIN users u ON u.id = c.taken_by
             WHERE c.patient_id = ?1 AND c.clinic_id = ?2 ORDER BY c.id DESC",
        )?;
        let rows = st.query_map([patient_id, a.clinic_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })?;
        rows.collect()
    })?;
    b += "<table><tr><th>Consent</th><th>Now</th></tr>";
    for (kind, label) in KINDS {
        let now =
            answers
                .iter()
                .find(|x| x.0 == kind)
                .map(|x| if x.3 == 1 { "granted" } else { "declined" });
        b += &format!(
            "<tr><td>{}</td><td class=\"consent-{kind}\">{}</td></tr>",
            esc(label),
            now.unwrap_or("not asked")
        );
    }
    b += "</table>";
    let templates = latest_templates(app, a.clinic_id)?;
    if templates.is_empty() {
        b += "<p>No consent templates yet";
        if a.role == Role::Administrator {
            b += ": <a href=\"/consent-templates\">write them</a>";
        }
        b += ".</p>";
    }
    for (kind, id, version, title, body) in &templates {
        b += &format!(
            "<form method=\"post\" action=\"/patients/{patient_id}/consents\" class=\"consent\">{}\
             <input type=\"hidden\" name=\"template_id\" value=\"{id}\">\
             <details><summary>{} (version {version})</summary><pre>{}</pre></details>\
             <button name=\"decision\" value=\"granted\">Patient signs: {}</button> \
             <button name=\"decision\" value=\"declined\">Patient declines or withdraws</button></form>",
            hidden_csrf(a),
            esc(title),
            esc(body),
            esc(kind)
        );
    }
    if !answers.is_empty() {
        b += "<details><summary>History</summary><ul>";
        for (kind, version, title, g, at, who) in &answers {
            b += &format!(
                "<li>{}: {} {} (version {version}) · taken by {} at {}</li>",
                esc(kind),
                esc(title),
                if *g == 1 { "granted" } else { "declined" },
                esc(who),
                esc(at)
            );
        }
        b += "</ul></details>";
    }
    Ok(b)
}

#[derive(Deserialize)]
struct ConsentForm {
    #[serde(default)]
    template_id: String,
    #[serde(default)]
    decision: String,
}

async fn record_consent(
    State(app): State<App>,
    a: Auth,
    Path(pid): Path<i64>,
    Form(f): Form<ConsentForm>,
) -> Page {
    load_patient(&app, &a, pid)?;
    may_handle(&a)?;
    let granted = match f.decision.as_str() {
        "granted" => 1,
        "declined" => 0,
        d => return Ok(bad_request(&a, &format!("decision: `{d}`; use granted or declined"))),
    };
    let Ok(tid) = f.template_id.trim().parse::<i64>() else {
        return Ok(bad_request(&a, "template_id: not a template number"));
    };
    let template: Option<(String, i64)> = app.db(|c| {
        c.query_row(
            "SELECT kind, version FROM consent_templates WHERE id = ?1 AND clinic_id = ?2",
            [tid, a.clinic_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
    })?;
    let (kind, version) = template.ok_or(Fail::NotFound)?;
    let latest = latest_templates(&app, a.clinic_id)?;
    if !latest.iter().any(|t| t.1 == tid) {
        return Err(Fail::Conflict(format!(
            "A newer version of the {kind} consent exists (this form showed version {version}); \
             reload the page and let the patient read the current text."
        )));
    }
    app.db(|c| {
        let cid = c.insert_returning_id(
            "INSERT INTO consents (patient_id, clinic_id, template_id, granted, taken_by, taken_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![pid, a.clinic_id, tid, granted, a.user_id, now_text()],
        )?;
        let detail = format!(
            "patient {pid}: {kind} v{version} {}",
            if granted == 1 { "granted" } else { "declined" }
        );
        db::audit(c, Some(a.user_id), Some(a.clinic_id), "create", "consent", Some(cid), &detail)
    })?;
    Ok(Redirect::to(&format!("/patients/{pid}#consent")).into_response())
}

fn admin(a: &Auth) -> Result<(), Fail> {
    if a.role == Role::Administrator {
        Ok(())
    } else {
        Err(Fail::Forbidden("Only administrators write consent templates.".into()))
    }
}

async fn templates_page(State(app): State<App>, a: Auth) -> Page {
    admin(&a)?;
    type Row = (String, i64, String, String, String, String);
    let rows: Vec<Row> = app.db(|c| {
        let mut st = c.prepare(
            "SELECT t.kind, t.version, t.title, t.body, t.created_at, u.username FROM consent_templates t
             JOIN users u ON u.id = t.created_by WHERE t.clinic_id = ?1 ORDER BY t.kind, t.version DESC",
        )?;
        let rows = st.query_map([a.clinic_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })?;
        rows.collect()
    })?;
    let mut kinds = String::new();
    for (k, label) in KINDS {
        kinds += &format!("<option value=\"{k}\">{}</option>", esc(label));
    }
    let mut b = format!(
        "<h1>Consent templates</h1><p>A changed text is a new version; earlier versions stay, with \
         the consents signed on them.</p><form method=\"post\" action=\"/consent-templates\">{}\
         <label>Kind <select name=\"kind\">{kinds}</select></label>\
         <label>Title <input name=\"title\" required maxlength=\"200\"></label>\
         <label>Text<textarea name=\"body\" rows=\"10\" required></textarea></label>\
         <button>Save as a new version</button></form><ul>",
        hidden_csrf(&a)
    );
    for (kind, version, title, body, at, who) in &rows {
        b += &format!(
            "<li><details><summary>{} v{version}: {} ({} at {})</summary><pre>{}</pre></details></li>",
            esc(kind),
            esc(title),
            esc(who),
            esc(at),
            esc(body)
        );
    }
    b += "</ul>";
    Ok(layout(Some(&a), "Consent templates", &b).into_response())
}

#[derive(Deserialize)]
struct TemplateForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
}

async fn create_template(State(app): State<App>, a: Auth, Form(f): Form<TemplateForm>) -> Page {
    admin(&a)?;
    if !KINDS.iter().any(|(k, _)| *k == f.kind) {
        return Ok(bad_request(
            &a,
            &format!("kind: `{}`; use treatment, photo or marketing", f.kind),
        ));
    }
    let title = f.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Ok(bad_request(&a, "title: 1 to 200 characters"));
    }
    if f.body.trim().is_empty() || f.body.chars().count() > 50_000 {
        return Ok(bad_request(&a, "body: 1 to 50000 characters of consent text"));
    }
    app.db(|c| {
        let tx = c.unchecked_transaction()?;
        let version: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM consent_templates WHERE clinic_id = ?1 AND kind = ?2",
            params![a.clinic_id, f.kind],
            |r| r.get(0),
        )?;
        let id = tx.insert_returning_id(
            "INSERT INTO consent_templates (clinic_id, kind, version, title, body, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![a.clinic_id, f.kind, version, title, f.body, a.user_id, now_text()],
        )?;
        db::audit(&tx, Some(a.user_id), Some(a.clinic_id), "create", "consent_template", Some(id), &format!("{} v{version}", f.kind))?;
        tx.commit()
    })?;
    Ok(Redirect::to("/consent-templates").into_response())
}
