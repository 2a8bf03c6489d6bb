//! Session notes: what was done at a treatment session, per treatment area. A note is edited
//! while unsigned (each save checks the version the editor saw), then signed and locked (the
//! database refuses changes to a signed note); later corrections are amendments that keep the
//! original visible.

use crate::db::{params, OptionalExtension};
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};

use crate::auth::Auth;
use crate::db::{self, now_text};
use crate::pages::{bad_request, esc, hidden_csrf, layout, load_patient, pseudonym, Fail, Page};
use crate::{screening_gate, App};

/// Rows for treatment areas and topicals in the form (empty rows are ignored).
const AREA_ROWS: usize = 4;
const TOPICAL_ROWS: usize = 3;

/// How far the treatment was taken (the clinical endpoint).
const ENDPOINTS: [(&str, &str); 3] = [
    ("erythema", "erythema"),
    ("pinpoint_bleeding", "pinpoint bleeding"),
    ("not_reached", "endpoint not reached"),
];

/// One treated area: a site of `dermasim sites`, the depth setting and passes used there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Area {
    pub site: String,
    pub depth_mm: f64,
    pub passes: u32,
}

/// A product applied, with its batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TopicalUse {
    pub product: String,
    pub batch: String,
}

/// The structured note of one session (stored as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub(crate) struct Note {
    /// `pen` or `roller` (the devices the simulator models per pass and depth).
    pub device: String,
    pub device_model: String,
    pub device_serial: String,
    pub cartridge_lot: String,
    pub cartridge_expiry: String,
    pub areas: Vec<Area>,
    pub topicals: Vec<TopicalUse>,
    pub endpoint: String,
    pub reactions: String,
}

/// A note row as stored, with its amendments (oldest first).
pub(crate) struct NoteRow {
    pub id: i64,
    pub patient_id: i64,
    pub session_date: String,
    pub note: Note,
    pub version: i64,
    pub signed: Option<(String, String)>,
    /// What signing rested on: the screening (id, verdict), or the override's reason.
    pub signed_screening: Option<(i64, String)>,
    pub screening_override: Option<String>,
    pub amendments: Vec<(String, String, String, Note)>,
}

impl NoteRow {
    /// The note as it stands: the latest amendment, else the original.
    pub fn current(&self) -> &Note {
        self.amendments.last().map(|a| &a.3).unwrap_or(&self.note)
    }
}

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/patients/{id}/notes", post(create_note))
        .route("/patients/{id}/notes/new", get(new_note))
        .route("/notes/{id}", get(note_page).post(update_note))
        .route("/notes/{id}/sign", post(sign_note))
        .route("/notes/{id}/amend", post(amend_note))
}

/// The depth range of a device setting, mm: the pen's maximum setting (SkinPen class 2.5 mm,
/// `dermasim` default `max_depth_mm`), the roller's needle lengths (0.1 to 3.0 mm).
fn depth_range(device: &str) -> (f64, f64) {
    if device == "pen" {
        (0.1, 2.5)
    } else {
        (0.1, 3.0)
    }
}

/// Passes allowed per area: at least one (the area was treated), at most `dermasim`'s limit
/// for the device (pen 20, roller 50 per direction).
fn passes_range(device: &str) -> (u32, u32) {
    if device == "pen" {
        (1, 20)
    } else {
        (1, 50)
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or("")
}

fn text(
    fields: &[(String, String)],
    name: &str,
    max: usize,
    required: bool,
) -> Result<String, String> {
    let v = field(fields, name);
    if required && v.is_empty() {
        return Err(format!("{name}: required (1 to {max} characters)"));
    }
    if v.chars().count() > max {
        return Err(format!("{name}: {} characters; at most {max}", v.chars().count()));
    }
    Ok(v.to_string())
}

fn date(fields: &[(String, String)], name: &str) -> Result<jiff::civil::Date, String> {
    let v = field(fields, name);
    v.parse().map_err(|_| format!("{name}: `{v}` is not a date (YYYY-MM-DD)"))
}

/// The session date and note from the form, checked; the message names the field and the
/// allowed range.
pub(crate) fn parse_note(fields: &[(String, String)]) -> Result<(String, Note), String> {
    let session_date = date(fields, "session_date")?;
    if session_date > jiff::Zoned::now().date() {
        return Err(format!("session_date: {session_date} is in the future"));
    }
    let device = field(fields, "device").to_string();
    if device != "pen" && device != "roller" {
        return Err(format!("device: `{device}` is not a device; use pen or roller"));
    }
    let expiry = date(fields, "cartridge_expiry")?;
    let sites = dermasim::tissue::SiteTable::embedded();
    let (dlo, dhi) = depth_range(&device);
    let (plo, phi) = passes_range(&device);
    let mut areas: Vec<Area> = Vec::new();
    for i in 0..AREA_ROWS {
        let site = field(fields, &format!("area_site_{i}"));
        if site.is_empty() {
            continue;
        }
        let name = format!("area_site_{i}");
        sites.require(site, &name).map_err(|e| e.to_string())?;
        if areas.iter().any(|a| a.site == site) {
            return Err(format!("{name}: `{site}` is listed twice; one row per area"));
        }
        let d = field(fields, &format!("area_depth_{i}"));
        let depth_mm: f64 =
            d.parse().map_err(|_| format!("area_depth_{i}: `{d}` is not a number (mm)"))?;
        if !(depth_mm.is_finite() && (dlo..=dhi).contains(&depth_mm)) {
            return Err(format!(
                "area_depth_{i}: {depth_mm} is outside the allowed range {dlo} to {dhi} mm for a {device}"
            ));
        }
        let p = field(fields, &format!("area_passes_{i}"));
        let passes: u32 =
            p.parse().map_err(|_| format!("area_passes_{i}: `{p}` is not a whole number"))?;
        if !(plo..=phi).contains(&passes) {
            return Err(format!(
                "area_passes_{i}: {passes} is outside the allowed range {plo} to {phi} for a {device}"
            ));
        }
        areas.push(Area { site: site.to_string(), depth_mm, passes });
    }
    if areas.is_empty() {
        return Err("area_site_0: at least one treated area is needed".into());
    }
    let mut topicals = Vec::new();
    for i in 0..TOPICAL_ROWS {
        let product = text(fields, &format!("topical_product_{i}"), 120, false)?;
        let batch = text(fields, &format!("topical_batch_{i}"), 64, false)?;
        if product.is_empty() && batch.is_empty() {
            continue;
        }
        if product.is_empty() || batch.is_empty() {
            return Err(format!(
                "topical_batch_{i}: a topical needs both its product and its batch"
            ));
        }
        topicals.push(TopicalUse { product, batch });
    }
    let endpoint = field(fields, "endpoint").to_string();
    if !ENDPOINTS.iter().any(|(k, _)| *k == endpoint) {
        return Err(format!(
            "endpoint: `{endpoint}` is not an endpoint; use erythema, pinpoint_bleeding or not_reached"
        ));
    }
    let note = Note {
        device,
        device_model: text(fields, "device_model", 120, false)?,
        device_serial: text(fields, "device_serial", 64, true)?,
        cartridge_lot: text(fields, "cartridge_lot", 64, true)?,
        cartridge_expiry: expiry.to_string(),
        areas,
        topicals,
        endpoint,
        reactions: text(fields, "reactions", 4000, false)?,
    };
    Ok((session_date.to_string(), note))
}

fn may_read(a: &Auth) -> Result<(), Fail> {
    if a.role.reads_clinical() {
        Ok(())
    } else {
        Err(Fail::Forbidden("Your role cannot read session notes.".into()))
    }
}

fn may_write(a: &Auth) -> Result<(), Fail> {
    if a.role.edits_clinical() {
        Ok(())
    } else {
        Err(Fail::Forbidden("Your role cannot write session notes.".into()))
    }
}

fn decode(json: &str) -> Result<Note, Fail> {
    serde_json::from_str(json).map_err(|e| Fail::Internal(format!("a stored note: {e}")))
}

/// Note `id` of the user's clinic (404 for another clinic's, like a missing one).
pub(crate) fn load_note(app: &App, a: &Auth, id: i64) -> Result<NoteRow, Fail> {
    type Raw = (i64, String, String, i64, Option<String>, Option<String>);
    type Basis = (Option<i64>, Option<String>, Option<String>);
    let row: Option<(Raw, Basis)> = app.db(|c| {
        c.query_row(
            "SELECT n.patient_id, n.session_date, n.note_json, n.version, n.signed_at, u.username,
                    n.screening_id, s.verdict, n.screening_override
             FROM session_notes n LEFT JOIN users u ON u.id = n.signed_by
             LEFT JOIN screenings s ON s.id = n.screening_id
             WHERE n.id = ?1 AND n.clinic_id = ?2",
            [id, a.clinic_id],
            |r| {
                Ok((
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?),
                    (r.get(6)?, r.get(7)?, r.get(8)?),
                ))
            },
        )
        .optional()
    })?;
    let ((patient_id, session_date, json, version, signed_at, signer), basis) =
        row.ok_or(Fail::NotFound)?;
    let (screening_id, verdict, screening_override) = basis;
    let raw: Vec<(String, String, String, String)> = app.db(|c| {
        let mut st = c.prepare(
            "SELECT a.created_at, u.username, a.reason, a.note_json FROM note_amendments a
             JOIN users u ON u.id = a.created_by WHERE a.note_id = ?1 ORDER BY a.id",
        )?;
        let rows = st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect()
    })?;
    let mut amendments = Vec::new();
    for (at, who, reason, json) in raw {
        amendments.push((at, who, reason, decode(&json)?));
    }
    Ok(NoteRow {
        id,
        patient_id,
        session_date,
        note: decode(&json)?,
        version,
        signed: signed_at.map(|at| (at, signer.unwrap_or_default())),
        signed_screening: screening_id.zip(verdict),
        screening_override,
        amendments,
    })
}

/// Every note of a patient, oldest session first.
pub(crate) fn patient_notes(app: &App, a: &Auth, patient_id: i64) -> Result<Vec<NoteRow>, Fail> {
    let ids: Vec<i64> = app.db(|c| {
        let mut st = c.prepare(
            "SELECT id FROM session_notes WHERE patient_id = ?1 AND clinic_id = ?2
             ORDER BY session_date, id",
        )?;
        let rows = st.query_map([patient_id, a.clinic_id], |r| r.get(0))?;
        rows.collect()
    })?;
    ids.into_iter().map(|id| load_note(app, a, id)).collect()
}

/// The patient page's section: the notes listed, a link to record one.
pub(crate) fn section(a: &Auth, patient_id: i64, notes: &[NoteRow]) -> String {
    let mut b = String::from("<h2 id=\"notes\">Session notes</h2>");
    if a.role.edits_clinical() {
        b += &format!("<p><a href=\"/patients/{patient_id}/notes/new\">Record a session</a></p>");
    }
    b += "<ul>";
    for n in notes {
        let state = match &n.signed {
            Some(_) if !n.amendments.is_empty() => {
                format!("signed, {} amendment(s)", n.amendments.len())
            }
            Some(_) => "signed".to_string(),
            None => "draft".to_string(),
        };
        let sites: Vec<&str> = n.current().areas.iter().map(|x| x.site.as_str()).collect();
        b += &format!(
            "<li><a href=\"/notes/{}\">{}: {}</a> · {} · {}</li>",
            n.id,
            esc(&n.session_date),
            esc(sites.join(", ")),
            esc(&n.current().device),
            esc(state)
        );
    }
    b += "</ul>";
    if notes.is_empty() {
        b += "<p>No sessions recorded yet.</p>";
    }
    b
}

/// The note form's fields (areas and topicals as numbered rows).
fn note_form(a: &Auth, action: &str, date: &str, n: &Note, extra: &str) -> String {
    let sites = dermasim::tissue::SiteTable::embedded();
    let opt = |v: &str, label: &str, sel: bool| {
        format!(
            "<option value=\"{}\"{}>{}</option>",
            esc(v),
            if sel { " selected" } else { "" },
            esc(label)
        )
    };
    let mut devices = String::new();
    for d in ["pen", "roller"] {
        devices += &opt(d, d, n.device == d);
    }
    let mut rows = String::new();
    for i in 0..AREA_ROWS {
        let area = n.areas.get(i);
        let mut options = opt("", "(none)", area.is_none());
        for s in &sites.site {
            options += &opt(
                &s.id,
                &format!("{} ({})", s.name, s.id),
                area.is_some_and(|x| x.site == s.id),
            );
        }
        rows += &format!(
            "<tr><td><select name=\"area_site_{i}\" aria-label=\"area {n1}\">{options}</select></td>\
             <td><input name=\"area_depth_{i}\" inputmode=\"decimal\" size=\"5\" value=\"{d}\" aria-label=\"depth {n1} (mm)\"></td>\
             <td><input name=\"area_passes_{i}\" inputmode=\"numeric\" size=\"4\" value=\"{p}\" aria-label=\"passes {n1}\"></td></tr>",
            n1 = i + 1,
            d = area.map(|x| x.depth_mm.to_string()).unwrap_or_default(),
            p = area.map(|x| x.passes.to_string()).unwrap_or_default(),
        );
    }
    let mut topicals = String::new();
    for i in 0..TOPICAL_ROWS {
        let t = n.topicals.get(i);
        topicals += &format!(
            "<tr><td><input name=\"topical_product_{i}\" value=\"{}\" aria-label=\"topical {n1}\"></td>\
             <td><input name=\"topical_batch_{i}\" value=\"{}\" aria-label=\"batch {n1}\"></td></tr>",
            esc(t.map(|x| x.product.as_str()).unwrap_or("")),
            esc(t.map(|x| x.batch.as_str()).unwrap_or("")),
            n1 = i + 1
        );
    }
    let mut endpoints = String::new();
    for (k, label) in ENDPOINTS {
        endpoints += &opt(k, label, n.endpoint == k);
    }
    format!(
        "<form method=\"post\" action=\"{action}\">{csrf}{extra}\
         <label>Session date <input type=\"date\" name=\"session_date\" value=\"{date}\" required></label>\
         <label>Device <select name=\"device\">{devices}</select></label>\
         <label>Device model <input name=\"device_model\" value=\"{model}\" maxlength=\"120\"></label>\
         <label>Device serial <input name=\"device_serial\" value=\"{serial}\" maxlength=\"64\" required></label>\
         <label>Cartridge lot <input name=\"cartridge_lot\" value=\"{lot}\" maxlength=\"64\" required></label>\
         <label>Cartridge expiry <input type=\"date\" name=\"cartridge_expiry\" value=\"{expiry}\" required></label>\
         <table><tr><th>Treatment area (dermasim sites)</th><th>Depth (mm)</th><th>Passes</th></tr>{rows}</table>\
         <table><tr><th>Topical</th><th>Batch</th></tr>{topicals}</table>\
         <label>Endpoint <select name=\"endpoint\">{endpoints}</select></label>\
         <label>Immediate reactions<textarea name=\"reactions\" rows=\"3\">{reactions}</textarea></label>\
         <button>Save</button></form>",
        action = esc(action),
        csrf = hidden_csrf(a),
        date = esc(date),
        model = esc(&n.device_model),
        serial = esc(&n.device_serial),
        lot = esc(&n.cartridge_lot),
        expiry = esc(&n.cartridge_expiry),
        reactions = esc(&n.reactions),
    )
}

fn refused(a: &Auth, title: &str, form: String, msg: &str) -> Response {
    let body = format!("<h1>{}</h1><p class=\"error\">{}</p>{form}", esc(title), esc(msg));
    (StatusCode::UNPROCESSABLE_ENTITY, layout(Some(a), title, &body)).into_response()
}

async fn new_note(State(app): State<App>, a: Auth, Path(pid): Path<i64>) -> Page {
    load_patient(&app, &a, pid)?;
    may_write(&a)?;
    let today = jiff::Zoned::now().date().to_string();
    let n = Note { device: "pen".into(), endpoint: "erythema".into(), ..Default::default() };
    let form = note_form(&a, &format!("/patients/{pid}/notes"), &today, &n, "");
    let body = format!("<h1>Record a session</h1>{form}");
    Ok(layout(Some(&a), "Record a session", &body).into_response())
}

/// The form's values back into a note, for showing a refused form again.
fn echo(fields: &[(String, String)]) -> (String, Note) {
    let mut n = Note {
        device: field(fields, "device").into(),
        device_model: field(fields, "device_model").into(),
        device_serial: field(fields, "device_serial").into(),
        cartridge_lot: field(fields, "cartridge_lot").into(),
        cartridge_expiry: field(fields, "cartridge_expiry").into(),
        endpoint: field(fields, "endpoint").into(),
        reactions: field(fields, "reactions").into(),
        ..Default::default()
    };
    for i in 0..AREA_ROWS {
        let site = field(fields, &format!("area_site_{i}"));
        if !site.is_empty() {
            n.areas.push(Area {
                site: site.into(),
                depth_mm: field(fields, &format!("area_depth_{i}")).parse().unwrap_or(0.0),
                passes: field(fields, &format!("area_passes_{i}")).parse().unwrap_or(0),
            });
        }
    }
    for i in 0..TOPICAL_ROWS {
        let product = field(fields, &format!("topical_product_{i}"));
        let batch = field(fields, &format!("topical_batch_{i}"));
        if !product.is_empty() || !batch.is_empty() {
            n.topicals.push(TopicalUse { product: product.into(), batch: batch.into() });
        }
    }
    (field(fields, "session_date").into(), n)
}

async fn create_note(
    State(app): State<App>,
    a: Auth,
    Path(pid): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Page {
    load_patient(&app, &a, pid)?;
    may_write(&a)?;
    let (date, note) = match parse_note(&fields) {
        Ok(x) => x,
        Err(e) => {
            let (d, n) = echo(&fields);
            let form = note_form(&a, &format!("/patients/{pid}/notes"), &d, &n, "");
            return Ok(refused(&a, "Record a session", form, &e));
        }
    };
    let json = serde_json::to_string(&note).map_err(|e| Fail::Internal(e.to_string()))?;
    let id = app.db(|c| {
        let now = now_text();
        let id = c.insert_returning_id(
            "INSERT INTO session_notes (patient_id, clinic_id, session_date, note_json, created_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![pid, a.clinic_id, date, json, a.user_id, now],
        )?;
        db::audit(c, Some(a.user_id), Some(a.clinic_id), "create", "session_note", Some(id), &format!("patient {pid}"))?;
        Ok(id)
    })?;
    Ok(Redirect::to(&format!("/notes/{id}")).into_response())
}

/// The note's content as a definition list; free text hidden from researchers.
fn show(a: &Auth, n: &Note, session_date: &str) -> String {
    let free = |s: &str| if a.role.sees_names() { esc(s) } else { "(free text not shown)".into() };
    let endpoint = ENDPOINTS.iter().find(|(k, _)| *k == n.endpoint).map(|x| x.1).unwrap_or("?");
    let mut b = format!(
        "<dl><dt>Device</dt><dd>{} {} · serial {}</dd><dt>Cartridge</dt><dd>lot {} · expiry {}{}</dd>",
        esc(&n.device),
        esc(&n.device_model),
        esc(&n.device_serial),
        esc(&n.cartridge_lot),
        esc(&n.cartridge_expiry),
        if n.cartridge_expiry.as_str() < session_date {
            " <strong class=\"error\">(expired before this session)</strong>"
        } else {
            ""
        }
    );
    b += "<dt>Areas</dt><dd><table><tr><th>Site</th><th>Depth</th><th>Passes</th></tr>";
    for x in &n.areas {
        b += &format!(
            "<tr><td>{}</td><td>{} mm</td><td>{}</td></tr>",
            esc(&x.site),
            x.depth_mm,
            x.passes
        );
    }
    b += "</table></dd><dt>Topicals</dt><dd>";
    if n.topicals.is_empty() {
        b += "none";
    }
    let t: Vec<String> = n
        .topicals
        .iter()
        .map(|t| format!("{} (batch {})", esc(&t.product), esc(&t.batch)))
        .collect();
    b += &t.join("; ");
    b += &format!(
        "</dd><dt>Endpoint</dt><dd>{}</dd><dt>Immediate reactions</dt><dd>{}</dd></dl>",
        esc(endpoint),
        if n.reactions.is_empty() { "none recorded".into() } else { free(&n.reactions) }
    );
    b
}

async fn note_page(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    let n = load_note(&app, &a, id)?;
    may_read(&a)?;
    app.audit(Some(&a), "view", "session_note", Some(id), "")?;
    let who = if a.role.sees_names() {
        load_patient(&app, &a, n.patient_id)?.full_name
    } else {
        pseudonym(n.patient_id)
    };
    let mut b = format!(
        "<h1>Session of {}</h1><p><a href=\"/patients/{}#notes\">Back to {}</a></p>",
        esc(&n.session_date),
        n.patient_id,
        esc(&who)
    );
    match &n.signed {
        None => {
            b += &format!("<p class=\"notice\">Draft, version {}: not signed yet.</p>", n.version);
            b += &show(&a, &n.note, &n.session_date);
            if a.role.edits_clinical() {
                let version =
                    format!("<input type=\"hidden\" name=\"version\" value=\"{}\">", n.version);
                let latest = app.db(|c| {
                    screening_gate::latest_on(c, a.clinic_id, n.patient_id, &n.session_date)
                })?;
                b += &format!(
                    "<form method=\"post\" action=\"/notes/{id}/sign\">{}{version}{}\
                     <button>Sign and lock</button></form><h2>Edit the draft</h2>{}",
                    hidden_csrf(&a),
                    screening_gate::sign_notice(&n.session_date, latest.as_ref()),
                    note_form(&a, &format!("/notes/{id}"), &n.session_date, &n.note, &version)
                );
            }
        }
        Some((at, by)) => {
            b += &format!(
                "<p class=\"signed\">Signed by {} at {}; locked.</p><h2>Original note</h2>",
                esc(by),
                esc(at)
            );
            b += &screening_gate::signed_basis(
                &a,
                n.signed_screening.clone(),
                n.screening_override.as_deref(),
            );
            b += &show(&a, &n.note, &n.session_date);
            for (i, (at, who, reason, note)) in n.amendments.iter().enumerate() {
                b += &format!(
                    "<h2>Amendment {} by {} at {}</h2><p>Reason: {}</p>",
                    i + 1,
                    esc(who),
                    esc(at),
                    if a.role.sees_names() { esc(reason) } else { "(free text not shown)".into() }
                );
                b += &show(&a, note, &n.session_date);
            }
            if a.role.edits_clinical() {
                let extra = format!(
                    "<input type=\"hidden\" name=\"seen\" value=\"{}\">\
                     <label>Reason for the amendment <input name=\"reason\" required maxlength=\"500\"></label>",
                    n.amendments.len()
                );
                b += &format!(
                    "<h2>Amend</h2>{}",
                    note_form(
                        &a,
                        &format!("/notes/{id}/amend"),
                        &n.session_date,
                        n.current(),
                        &extra
                    )
                );
            }
        }
    }
    b += &crate::followups::events_section(&app, &a, id)?;
    Ok(layout(Some(&a), "Session note", &b).into_response())
}

fn version_seen(fields: &[(String, String)], name: &str) -> Result<i64, String> {
    let v = field(fields, name);
    v.parse().map_err(|_| format!("{name}: `{v}` is not a version number; reload the page"))
}

async fn update_note(
    State(app): State<App>,
    a: Auth,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Page {
    let n = load_note(&app, &a, id)?;
    may_write(&a)?;
    if n.signed.is_some() {
        return Err(Fail::Conflict(
            "This note is signed and locked; add an amendment instead.".into(),
        ));
    }
    let seen = match version_seen(&fields, "version") {
        Ok(v) => v,
        Err(e) => return Ok(bad_request(&a, &e)),
    };
    let (date, note) = match parse_note(&fields) {
        Ok(x) => x,
        Err(e) => {
            let (d, nn) = echo(&fields);
            let version = format!("<input type=\"hidden\" name=\"version\" value=\"{seen}\">");
            let form = note_form(&a, &format!("/notes/{id}"), &d, &nn, &version);
            return Ok(refused(&a, "Edit the draft", form, &e));
        }
    };
    let json = serde_json::to_string(&note).map_err(|e| Fail::Internal(e.to_string()))?;
    // The version check and the write are one statement: no other save can slip between them.
    let changed = app.db(|c| {
        let changed = c.execute(
            "UPDATE session_notes SET session_date = ?1, note_json = ?2, version = version + 1, updated_at = ?3
             WHERE id = ?4 AND clinic_id = ?5 AND version = ?6 AND signed_at IS NULL",
            params![date, json, now_text(), id, a.clinic_id, seen],
        )?;
        let (action, detail) = if changed == 1 {
            ("update", format!("version {seen} -> {}", seen + 1))
        } else {
            ("update_refused_stale", format!("saved from version {seen}"))
        };
        db::audit(c, Some(a.user_id), Some(a.clinic_id), action, "session_note", Some(id), &detail)?;
        Ok(changed)
    })?;
    if changed == 0 {
        return Err(stale());
    }
    Ok(Redirect::to(&format!("/notes/{id}")).into_response())
}

fn stale() -> Fail {
    Fail::Conflict(
        "Someone else changed this note after you opened it; nothing was saved. Reload the \
         note, check their changes, and make yours again."
            .into(),
    )
}

async fn sign_note(
    State(app): State<App>,
    a: Auth,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Page {
    let n = load_note(&app, &a, id)?;
    may_write(&a)?;
    let seen = match version_seen(&fields, "version") {
        Ok(v) => v,
        Err(e) => return Ok(bad_request(&a, &e)),
    };
    let reason = match text(&fields, "screening_override", screening_gate::MAX_OVERRIDE, false) {
        Ok(r) => r,
        Err(e) => return Ok(bad_request(&a, &e)),
    };
    let date = n.session_date.clone();
    let latest = app.db(|c| screening_gate::latest_on(c, a.clinic_id, n.patient_id, &date))?;
    // A screening that allows treatment is enough; without one, only a stated reason.
    let (screening_id, override_reason, basis) = match &latest {
        Some(s) if s.allows_treatment() => (Some(s.id), None, format!("screening {}", s.id)),
        _ if !reason.is_empty() => {
            (None, Some(reason.clone()), format!("screening override: {reason}"))
        }
        _ => {
            let msg = screening_gate::refusal(&date, latest.as_ref());
            let detail = match &latest {
                Some(s) => format!("screening {} says {}", s.id, s.verdict),
                None => format!("no screening on {date}"),
            };
            app.audit(Some(&a), "sign_refused_unscreened", "session_note", Some(id), &detail)?;
            return Err(Fail::Conflict(msg));
        }
    };
    // Signing says "I checked this version": a newer or signed one is not signed blind. The
    // date is in the condition too: the screening was looked up for it.
    let changed = app.db(|c| {
        let changed = c.execute(
            "UPDATE session_notes SET signed_by = ?1, signed_at = ?2, screening_id = ?3,
             screening_override = ?4
             WHERE id = ?5 AND clinic_id = ?6 AND version = ?7 AND signed_at IS NULL
             AND session_date = ?8",
            params![
                a.user_id,
                now_text(),
                screening_id,
                override_reason,
                id,
                a.clinic_id,
                seen,
                date
            ],
        )?;
        let action = if changed == 1 { "sign" } else { "sign_refused_stale" };
        db::audit(
            c,
            Some(a.user_id),
            Some(a.clinic_id),
            action,
            "session_note",
            Some(id),
            &format!("version {seen}; {basis}"),
        )?;
        Ok(changed)
    })?;
    if changed == 0 {
        return Err(stale());
    }
    Ok(Redirect::to(&format!("/notes/{id}")).into_response())
}

async fn amend_note(
    State(app): State<App>,
    a: Auth,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Page {
    let n = load_note(&app, &a, id)?;
    may_write(&a)?;
    if n.signed.is_none() {
        return Err(Fail::Conflict("This note is a draft; edit it instead of amending.".into()));
    }
    let seen = match version_seen(&fields, "seen") {
        Ok(v) => v,
        Err(e) => return Ok(bad_request(&a, &e)),
    };
    let reason = match text(&fields, "reason", 500, true) {
        Ok(r) => r,
        Err(e) => return Ok(bad_request(&a, &e)),
    };
    let (date, note) = match parse_note(&fields) {
        Ok(x) => x,
        Err(e) => return Ok(bad_request(&a, &e)),
    };
    if date != n.session_date {
        return Ok(bad_request(
            &a,
            "session_date: an amendment cannot move the session; record the date as it was",
        ));
    }
    let json = serde_json::to_string(&note).map_err(|e| Fail::Internal(e.to_string()))?;
    // Count and insert in one transaction: two amendments made from the same view cannot both land.
    let added = app.db(|c| {
        let tx = c.unchecked_transaction()?;
        let count: i64 = tx.query_row("SELECT COUNT(*) FROM note_amendments WHERE note_id = ?1", [id], |r| r.get(0))?;
        let added = count == seen;
        if added {
            tx.execute(
                "INSERT INTO note_amendments (note_id, clinic_id, reason, note_json, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, a.clinic_id, reason, json, a.user_id, now_text()],
            )?;
        }
        let action = if added { "amend" } else { "amend_refused_stale" };
        db::audit(&tx, Some(a.user_id), Some(a.clinic_id), action, "session_note", Some(id), &format!("after {seen} amendment(s)"))?;
        tx.commit()?;
        Ok(added)
    })?;
    if !added {
        return Err(stale());
    }
    Ok(Redirect::to(&format!("/notes/{id}")).into_response())
}
