//! Routes, the request guard (session, CSRF, headers) and the pages.

use std::net::{IpAddr, SocketAddr};

use crate::db::{params, OptionalExtension};
use axum::body::Body;
use axum::extract::{ConnectInfo, Extension, Form, Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use crate::auth::{self, Auth, MaybeAuth, Role, LOGIN_COOKIE, SESSION_COOKIE};
use crate::db::{self, now_secs, now_text};

use crate::App;

/// Largest form body accepted (a clinical profile with notes fits many times over).
const MAX_FORM: usize = 256 * 1024;
/// Largest multipart body (one photo and the form's few fields).
const MAX_UPLOAD: usize = crate::photos::MAX_PHOTO_BYTES + 64 * 1024;
const HTMX: &str = include_str!("../static/htmx.min.js");
const CSS: &str = include_str!("../static/app.css");
/// The run page's live progress (an `EventSource` on `/runs/{id}/events`).
const RUN_JS: &str = include_str!("../static/run.js");
/// `connect-src 'self'`: the run page's event stream (`EventSource`) and nothing else.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/patients") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/account", get(account_page))
        .route("/account/password", post(change_password))
        .route("/patients", get(patients).post(create_patient))
        .route("/patients/new", get(new_patient))
        .route("/patients/{id}", get(patient).post(update_patient))
        .route("/patients/{id}/edit", get(edit_patient))
        .route("/patients/{id}/screenings", post(screen_patient))
        .route("/patients/{id}/plans", post(plan_patient))
        .route("/plans/{id}", get(plan_page))
        .route("/plans/{id}/chart.svg", get(plan_chart))
        .route("/audit", get(audit_page))
        .route("/static/htmx.min.js", get(|| async { asset("text/javascript", HTMX) }))
        .route("/static/app.css", get(|| async { asset("text/css", CSS) }))
        .route("/static/run.js", get(|| async { asset("text/javascript", RUN_JS) }))
        .merge(crate::notes::routes())
        .merge(crate::runs::routes())
        .merge(crate::consent::routes())
        .merge(crate::photos::routes())
        .merge(crate::export::routes())
        .merge(crate::followups::routes())
        .merge(crate::workspace::routes())
        .merge(crate::users::routes())
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "max-age=3600")], body).into_response()
}

/// The client's address, when the server knows it (not in router tests).
#[derive(Clone, Copy)]
struct ClientIp(Option<IpAddr>);

/// Every request: resolve the session; refuse a POST without a session (401) or without the
/// CSRF token of its session (403; the login form's token is a cookie of its own); set the
/// security headers on every response.
async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let mut resp = guarded(app, req, next).await;
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    resp
}

async fn guarded(app: App, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    parts.extensions.insert(ClientIp(ip));
    let session = match auth::session(&app, &parts) {
        Ok(s) => s,
        Err(e) => return Fail::Db(e).into_response(),
    };
    let body = if parts.method == Method::GET || parts.method == Method::HEAD {
        body
    } else {
        let login = parts.uri.path() == "/login";
        if !login && session.is_none() {
            return (StatusCode::UNAUTHORIZED, "sign in first").into_response();
        }
        // The photo form is the one multipart form; its token is a part like any field.
        let boundary = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::multipart::boundary);
        let limit = if boundary.is_some() { MAX_UPLOAD } else { MAX_FORM };
        let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
            let msg = format!(
                "the upload is over {} MiB; nothing was saved",
                crate::photos::MAX_PHOTO_BYTES >> 20
            );
            return Fail::TooLarge(msg).into_response();
        };
        let fields: Vec<(String, String)> = match &boundary {
            Some(b) => crate::multipart::parse(&bytes, b)
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p.filename.is_none())
                .map(|p| (p.name, String::from_utf8_lossy(&p.data).into_owned()))
                .collect(),
            None => serde_urlencoded::from_bytes(&bytes).unwrap_or_default(),
        };
        let sent = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or("");
        let expected = if login {
            auth::cookie(&parts, LOGIN_COOKIE)
        } else {
            session.as_ref().map(|s| s.csrf.clone())
        };
        if !expected.is_some_and(|e| auth::same_token(&e, sent)) {
            return Fail::Forbidden(
                "the form's security token is missing or stale; reload the page and try again"
                    .into(),
            )
            .into_response();
        }
        Body::from(bytes)
    };
    parts.extensions.insert(MaybeAuth(session));
    next.run(Request::from_parts(parts, body)).await
}

/// Why a request fails.
pub(crate) enum Fail {
    NotFound,
    Forbidden(String),
    Conflict(String),
    TooLarge(String),
    Db(crate::db::DbError),
    Internal(String),
}

impl From<crate::db::DbError> for Fail {
    fn from(e: crate::db::DbError) -> Fail {
        Fail::Db(e)
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            Fail::NotFound => (StatusCode::NOT_FOUND, "Not found.".to_string()),
            Fail::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            Fail::Conflict(m) => (StatusCode::CONFLICT, m),
            Fail::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            Fail::Db(e) => {
                eprintln!("dermasim serve: database error: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, "A database error; nothing was saved.".into())
            }
            Fail::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
        };
        let title = status.canonical_reason().unwrap_or("Error");
        let body = format!(
            "<h1>{t}</h1><p class=\"error\">{m}</p><p><a href=\"/patients\">Back to patients</a></p>",
            t = esc(title),
            m = esc(&msg)
        );
        (status, layout(None, title, &body)).into_response()
    }
}

pub(crate) type Page = Result<Response, Fail>;

/// Text escaped for HTML content and double-quoted attribute values.
pub(crate) fn esc(s: impl std::fmt::Display) -> String {
    let s = s.to_string();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn hidden_csrf(a: &Auth) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", esc(&a.csrf))
}

/// The page frame; `body` is HTML built with [`esc`] around every value.
pub(crate) fn layout(auth: Option<&Auth>, title: &str, body: &str) -> Html<String> {
    let nav = match auth {
        Some(a) => format!(
            "<a href=\"/patients\">Patients</a>{followups}{workspace}{audit}<a href=\"/account\">{user} ({role})</a>\
             <form method=\"post\" action=\"/logout\">{csrf}<button>Sign out</button></form>",
            audit = if a.role == Role::Administrator {
                "<a href=\"/audit\">Audit</a><a href=\"/consent-templates\">Consent templates</a><a href=\"/users\">Users</a>"
            } else {
                ""
            },
            workspace = if crate::workspace::uses_workspace(a.role) {
                "<a href=\"/workspace\">Workspace</a>"
            } else {
                ""
            },
            followups = if a.role.edits_clinical() { "<a href=\"/follow-ups\">Follow-ups</a>" } else { "" },
            user = esc(&a.username),
            role = a.role.as_str(),
            csrf = hidden_csrf(a)
        ),
        None => String::new(),
    };
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} - dermasim</title><link rel=\"stylesheet\" href=\"/static/app.css\">\
         <script src=\"/static/htmx.min.js\" defer></script></head>\
         <body><header><strong>dermasim</strong>{nav}</header><main>{body}</main></body></html>",
        title = esc(title)
    ))
}

impl App {
    /// Run `f` on the connection (locked for the call only; never across an `.await`).
    pub(crate) fn db<T>(
        &self,
        f: impl FnOnce(&crate::db::Db) -> crate::db::DbResult<T>,
    ) -> Result<T, Fail> {
        Ok(f(&self.connection())?)
    }

    pub(crate) fn audit(
        &self,
        a: Option<&Auth>,
        action: &str,
        entity: &str,
        id: Option<i64>,
        detail: &str,
    ) -> Result<(), Fail> {
        self.db(|c| {
            db::audit(c, a.map(|a| a.user_id), a.map(|a| a.clinic_id), action, entity, id, detail)
        })
    }
}

// ---------------------------------------------------------------- accounts

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn login_page(State(app): State<App>, Extension(m): Extension<MaybeAuth>) -> Response {
    if m.0.is_some() {
        return Redirect::to("/patients").into_response();
    }
    login_form(&app, StatusCode::OK, None)
}

fn login_form(app: &App, status: StatusCode, error: Option<&str>) -> Response {
    let token = auth::random_hex(32);
    let body = format!(
        "<h1>Sign in</h1>{err}<form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
         <label>User name <input name=\"username\" autocomplete=\"username\" required></label>\
         <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\
         <button>Sign in</button></form>",
        err = error.map(|e| format!("<p class=\"error\">{}</p>", esc(e))).unwrap_or_default()
    );
    let cookie = auth::set_cookie(app, LOGIN_COOKIE, &token, 3600);
    (status, [(header::SET_COOKIE, cookie)], layout(None, "Sign in", &body)).into_response()
}

async fn login(
    State(app): State<App>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Form(f): Form<LoginForm>,
) -> Page {
    let allowed = app.limiter.lock().unwrap_or_else(|e| e.into_inner()).allow(ip);
    if !allowed {
        app.audit(None, "login_rate_limited", "user", None, &f.username)?;
        return Ok(login_form(
            &app,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many sign-in attempts from this address; wait a few minutes."),
        ));
    }
    let row: Option<(i64, i64, String, i64, Option<i64>)> = app.db(|c| {
        c.query_row(
            // A disabled account is treated as unknown: same message, same work.
            "SELECT id, clinic_id, password_hash, failed_logins, locked_until FROM users WHERE username = ?1 AND disabled = 0",
            [&f.username],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()
    })?;
    let wrong = "Wrong user name or password.";
    let now = now_secs();
    let Some((id, clinic, hash, failed, locked_until)) = row else {
        let pw = f.password.clone();
        let _ = tokio::task::spawn_blocking(move || auth::verify_password(&pw, auth::dummy_hash()))
            .await;
        app.audit(None, "login_failed", "user", None, &format!("unknown user {}", f.username))?;
        return Ok(login_form(&app, StatusCode::UNAUTHORIZED, Some(wrong)));
    };
    let audit = |action: &str, detail: &str| {
        app.db(|c| db::audit(c, Some(id), Some(clinic), action, "user", Some(id), detail))
    };
    if locked_until.is_some_and(|t| t > now) {
        audit("login_refused_locked", "")?;
        return Ok(login_form(&app, StatusCode::TOO_MANY_REQUESTS, Some("This account is locked after too many failed sign-ins; try again in 15 minutes or ask an administrator.")));
    }
    let pw = f.password.clone();
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&pw, &hash))
        .await
        .map_err(|e| Fail::Internal(e.to_string()))?;
    if !ok {
        let failed = failed + 1;
        let lock = (failed >= auth::MAX_FAILED_LOGINS).then_some(now + auth::LOCK_SECS);
        app.db(|c| {
            c.execute(
                "UPDATE users SET failed_logins = ?1, locked_until = ?2 WHERE id = ?3",
                params![if lock.is_some() { 0 } else { failed }, lock, id],
            )
        })?;
        audit(
            if lock.is_some() { "locked" } else { "login_failed" },
            &format!("{failed} failed in a row"),
        )?;
        return Ok(login_form(&app, StatusCode::UNAUTHORIZED, Some(wrong)));
    }
    let token = app.db(|c| {
        c.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?1", [id])?;
        auth::start_session(c, id)
    })?;
    audit("login", "")?;
    let mut resp = Redirect::to("/patients").into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie_value(&auth::set_cookie(&app, SESSION_COOKIE, &token, auth::SESSION_SECS)),
    );
    h.append(header::SET_COOKIE, cookie_value(&auth::set_cookie(&app, LOGIN_COOKIE, "", 0)));
    Ok(resp)
}

fn cookie_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("cookie text is ASCII")
}

async fn logout(State(app): State<App>, a: Auth) -> Page {
    app.db(|c| c.execute("DELETE FROM sessions WHERE token_hash = ?1", [&a.token_hash]))?;
    app.audit(Some(&a), "logout", "user", Some(a.user_id), "")?;
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut()
        .append(header::SET_COOKIE, cookie_value(&auth::set_cookie(&app, SESSION_COOKIE, "", 0)));
    Ok(resp)
}

async fn account_page(a: Auth) -> Response {
    account_form(&a, StatusCode::OK, None)
}

fn account_form(a: &Auth, status: StatusCode, msg: Option<&str>) -> Response {
    let body = format!(
        "<h1>Account: {user}</h1>{notice}{err}<form method=\"post\" action=\"/account/password\">{csrf}\
         <label>Current password <input type=\"password\" name=\"current\" autocomplete=\"current-password\" required></label>\
         <label>New password (12 characters or more) <input type=\"password\" name=\"new\" autocomplete=\"new-password\" required></label>\
         <label>New password again <input type=\"password\" name=\"repeat\" autocomplete=\"new-password\" required></label>\
         <button>Change password</button></form>",
        user = esc(&a.username),
        notice = if a.must_change_password {
            "<p class=\"notice\">Choose your own password before going on (the one you were given works only once).</p>"
        } else {
            ""
        },
        err = msg.map(|m| format!("<p class=\"error\">{}</p>", esc(m))).unwrap_or_default(),
        csrf = hidden_csrf(a)
    );
    (status, layout(Some(a), "Account", &body)).into_response()
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

async fn change_password(State(app): State<App>, a: Auth, Form(f): Form<PasswordForm>) -> Page {
    let hash: String = app.db(|c| {
        c.query_row("SELECT password_hash FROM users WHERE id = ?1", [a.user_id], |r| r.get(0))
    })?;
    let current = f.current.clone();
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&current, &hash))
        .await
        .map_err(|e| Fail::Internal(e.to_string()))?;
    let problem = if !ok {
        Some("The current password is wrong.")
    } else if f.new.chars().count() < 12 {
        Some("The new password needs 12 characters or more.")
    } else if f.new != f.repeat {
        Some("The two new passwords differ.")
    } else if f.new == f.current {
        Some("The new password must differ from the current one.")
    } else {
        None
    };
    if let Some(p) = problem {
        return Ok(account_form(&a, StatusCode::UNPROCESSABLE_ENTITY, Some(p)));
    }
    let new = f.new.clone();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&new))
        .await
        .map_err(|e| Fail::Internal(e.to_string()))?;
    app.db(|c| {
        c.execute(
            "UPDATE users SET password_hash = ?1, must_change_password = 0 WHERE id = ?2",
            params![hash, a.user_id],
        )?;
        // Other sessions of this account end.
        c.execute(
            "DELETE FROM sessions WHERE user_id = ?1 AND token_hash <> ?2",
            params![a.user_id, a.token_hash],
        )
    })?;
    app.audit(Some(&a), "change_password", "user", Some(a.user_id), "")?;
    Ok(Redirect::to("/patients").into_response())
}

// ---------------------------------------------------------------- patients

/// A patient row of the signed-in user's clinic.
#[derive(Default)]
pub(crate) struct PatientRow {
    pub(crate) full_name: String,
    pub(crate) date_of_birth: Option<String>,
    pub(crate) phone: String,
    pub(crate) profile_toml: String,
    pub(crate) clinical_notes: String,
    pub(crate) version: i64,
    pub(crate) updated_at: String,
}

pub(crate) fn load_patient(app: &App, a: &Auth, id: i64) -> Result<PatientRow, Fail> {
    app.db(|c| {
        c.query_row(
            "SELECT full_name, date_of_birth, phone, profile_toml, clinical_notes, version, updated_at
             FROM patients WHERE id = ?1 AND clinic_id = ?2",
            [id, a.clinic_id],
            |r| {
                Ok(PatientRow {
                    full_name: r.get(0)?,
                    date_of_birth: r.get(1)?,
                    phone: r.get(2)?,
                    profile_toml: r.get(3)?,
                    clinical_notes: r.get(4)?,
                    version: r.get(5)?,
                    updated_at: r.get(6)?,
                })
            },
        )
        .optional()
    })?
    .ok_or(Fail::NotFound)
}

/// How a researcher sees a patient.
pub(crate) fn pseudonym(id: i64) -> String {
    format!("P-{id:06}")
}

async fn patients(State(app): State<App>, a: Auth) -> Page {
    let rows: Vec<(i64, String, Option<String>, String)> = app.db(|c| {
        let mut st = c.prepare(
            "SELECT id, full_name, date_of_birth, updated_at FROM patients WHERE clinic_id = ?1 ORDER BY full_name, id",
        )?;
        let rows = st.query_map([a.clinic_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect()
    })?;
    app.audit(Some(&a), "list", "patients", None, &format!("{} rows", rows.len()))?;
    let names = a.role.sees_names();
    let mut body = String::from("<h1>Patients</h1>");
    if a.role.edits_demographics() {
        body.push_str("<p><a href=\"/patients/new\">New patient</a></p>");
    }
    body.push_str(if names {
        "<table><tr><th>Patient</th><th>Date of birth</th><th>Last change</th></tr>"
    } else {
        "<table><tr><th>Patient</th><th>Last change</th></tr>"
    });
    for (id, name, dob, updated) in &rows {
        if names {
            body.push_str(&format!(
                "<tr><td><a href=\"/patients/{id}\">{}</a></td><td>{}</td><td>{}</td></tr>",
                esc(name),
                esc(dob.as_deref().unwrap_or("")),
                esc(updated)
            ));
        } else {
            body.push_str(&format!(
                "<tr><td><a href=\"/patients/{id}\">{}</a></td><td>{}</td></tr>",
                pseudonym(*id),
                esc(updated)
            ));
        }
    }
    body.push_str("</table>");
    if rows.is_empty() {
        body.push_str("<p>No patients yet.</p>");
    }
    Ok(layout(Some(&a), "Patients", &body).into_response())
}

#[derive(Deserialize, Default)]
struct PatientForm {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    date_of_birth: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    profile_toml: String,
    #[serde(default)]
    clinical_notes: String,
    #[serde(default)]
    version: i64,
}

/// The patient form. The clinical profile is form fields ([`crate::profile_form`]), filled
/// from `refused` (the fields of a refused save) or else from the recorded profile; a profile
/// can also be pasted whole as TOML (`examples/patients/`), which then replaces the fields.
fn patient_form(
    a: &Auth,
    action: &str,
    f: &PatientForm,
    refused: Option<&[(String, String)]>,
    error: Option<&str>,
) -> String {
    let clinical = if a.role.edits_clinical() {
        let fields = match refused {
            Some(pairs) if crate::profile_form::present(pairs) => {
                crate::profile_form::fields_from_pairs(pairs)
            }
            _ => crate::profile_form::fields_from_toml(&f.profile_toml),
        };
        // A recorded profile the fields show needs no copy in the paste box.
        let pasted = if refused.is_some()
            || dermasim_clinic::parse_profile(&f.profile_toml, false, "profile").is_err()
        {
            f.profile_toml.as_str()
        } else {
            ""
        };
        format!(
            "{fields}<details{open}><summary>Or paste a whole profile in TOML (the format of <code>dermasim screen</code>, \
             <code>examples/patients/</code>); when not empty it replaces the fields above</summary>\
             <textarea name=\"profile_toml\" rows=\"20\">{}</textarea></details>\
             <label>Clinical notes<textarea name=\"clinical_notes\" rows=\"6\">{}</textarea></label>",
            esc(pasted),
            esc(&f.clinical_notes),
            open = if pasted.is_empty() { "" } else { " open" }
        )
    } else {
        String::new()
    };
    format!(
        "{err}<form method=\"post\" action=\"{action}\">{csrf}<input type=\"hidden\" name=\"version\" value=\"{version}\">\
         <label>Full name <input name=\"full_name\" value=\"{name}\" required maxlength=\"200\"></label>\
         <label>Date of birth <input type=\"date\" name=\"date_of_birth\" value=\"{dob}\"></label>\
         <label>Phone <input name=\"phone\" value=\"{phone}\" maxlength=\"50\"></label>{clinical}<button>Save</button></form>",
        err = error.map(|e| format!("<p class=\"error\">{}</p>", esc(e))).unwrap_or_default(),
        action = esc(action),
        csrf = hidden_csrf(a),
        version = f.version,
        name = esc(&f.full_name),
        dob = esc(&f.date_of_birth),
        phone = esc(&f.phone),
    )
}

async fn new_patient(a: Auth) -> Page {
    if !a.role.edits_demographics() {
        return Err(Fail::Forbidden("Your role cannot create patients.".into()));
    }
    let f = PatientForm::default();
    let body = format!("<h1>New patient</h1>{}", patient_form(&a, "/patients", &f, None, None));
    Ok(layout(Some(&a), "New patient", &body).into_response())
}

/// The form's fields checked: a name, a real past date of birth, and a clinical profile that
/// `dermasim_clinic` accepts (its messages, as the CLI prints them).
fn check_patient(f: &PatientForm) -> Result<Option<String>, String> {
    let name = f.full_name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err("full_name: a name of 1 to 200 characters is needed".into());
    }
    let dob = f.date_of_birth.trim();
    let dob = if dob.is_empty() {
        None
    } else {
        let d: jiff::civil::Date = dob
            .parse()
            .map_err(|_| format!("date_of_birth: `{dob}` is not a date (YYYY-MM-DD)"))?;
        if d > jiff::Zoned::now().date() {
            return Err(format!("date_of_birth: {d} is in the future"));
        }
        Some(d.to_string())
    };
    if !f.profile_toml.trim().is_empty() {
        let profile = dermasim_clinic::parse_profile(&f.profile_toml, false, "profile")
            .map_err(|e| e.to_string())?;
        dermasim_app::clinic::screen(&profile, None).map_err(|e| e.to_string())?;
    }
    Ok(dob)
}

/// The patient form's fields; the clinical profile from its fields when no TOML was pasted.
/// `Err` carries the form as sent and the profile's refusal.
fn read_patient_form(pairs: &[(String, String)]) -> (PatientForm, Option<String>) {
    let encoded = serde_urlencoded::to_string(pairs).unwrap_or_default();
    let mut f: PatientForm = serde_urlencoded::from_str(&encoded).unwrap_or_default();
    let mut refusal = None;
    if f.profile_toml.trim().is_empty() && crate::profile_form::present(pairs) {
        match crate::profile_form::profile_toml(pairs) {
            Ok(t) => f.profile_toml = t,
            Err(e) => refusal = Some(e),
        }
    }
    (f, refusal)
}

async fn create_patient(
    State(app): State<App>,
    a: Auth,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Page {
    if !a.role.edits_demographics() {
        return Err(Fail::Forbidden("Your role cannot create patients.".into()));
    }
    let (mut f, refusal) = read_patient_form(&pairs);
    if !a.role.edits_clinical() {
        f.profile_toml.clear();
        f.clinical_notes.clear();
    }
    let checked = match refusal {
        Some(e) if a.role.edits_clinical() => Err(e),
        _ => check_patient(&f),
    };
    let dob = match checked {
        Ok(d) => d,
        Err(e) => {
            let form = patient_form(&a, "/patients", &f, Some(&pairs), Some(&e));
            let body = format!("<h1>New patient</h1>{form}");
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, layout(Some(&a), "New patient", &body))
                .into_response());
        }
    };
    let now = now_text();
    let id = app.db(|c| {
        let id = c.insert_returning_id(
            "INSERT INTO patients (clinic_id, full_name, date_of_birth, phone, profile_toml, clinical_notes, created_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![a.clinic_id, f.full_name.trim(), dob, f.phone.trim(), f.profile_toml, f.clinical_notes, a.user_id, now],
        )?;
        db::audit(c, Some(a.user_id), Some(a.clinic_id), "create", "patient", Some(id), "")?;
        Ok(id)
    })?;
    Ok(Redirect::to(&format!("/patients/{id}")).into_response())
}

async fn edit_patient(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    if !a.role.edits_demographics() {
        return Err(Fail::Forbidden("Your role cannot change patients.".into()));
    }
    let p = load_patient(&app, &a, id)?;
    let clinical = a.role.edits_clinical();
    let f = PatientForm {
        full_name: p.full_name,
        date_of_birth: p.date_of_birth.unwrap_or_default(),
        phone: p.phone,
        profile_toml: if clinical { p.profile_toml } else { String::new() },
        clinical_notes: if clinical { p.clinical_notes } else { String::new() },
        version: p.version,
    };
    app.audit(Some(&a), "view", "patient", Some(id), "edit form")?;
    let body = format!(
        "<h1>Edit patient</h1>{}",
        patient_form(&a, &format!("/patients/{id}"), &f, None, None)
    );
    Ok(layout(Some(&a), "Edit patient", &body).into_response())
}

async fn update_patient(
    State(app): State<App>,
    a: Auth,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Page {
    if !a.role.edits_demographics() {
        return Err(Fail::Forbidden("Your role cannot change patients.".into()));
    }
    let current = load_patient(&app, &a, id)?;
    let (f, refusal) = read_patient_form(&pairs);
    let checked = match refusal {
        Some(e) if a.role.edits_clinical() => Err(e),
        _ => check_patient(&f),
    };
    let dob = match checked {
        Ok(d) => d,
        Err(e) => {
            let form = patient_form(&a, &format!("/patients/{id}"), &f, Some(&pairs), Some(&e));
            let body = format!("<h1>Edit patient</h1>{form}");
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, layout(Some(&a), "Edit patient", &body))
                .into_response());
        }
    };
    // Reception changes demographics only; the clinical fields keep their stored values.
    let (profile, notes) = if a.role.edits_clinical() {
        (f.profile_toml.clone(), f.clinical_notes.clone())
    } else {
        (current.profile_toml.clone(), current.clinical_notes.clone())
    };
    let mut changed = Vec::new();
    if current.full_name != f.full_name.trim() {
        changed.push("full_name");
    }
    if current.date_of_birth != dob {
        changed.push("date_of_birth");
    }
    if current.phone != f.phone.trim() {
        changed.push("phone");
    }
    if current.profile_toml != profile {
        changed.push("profile");
    }
    if current.clinical_notes != notes {
        changed.push("clinical_notes");
    }
    let done = app.db(|c| {
        let tx = c.unchecked_transaction()?;
        let n = tx.execute(
            "UPDATE patients SET full_name = ?1, date_of_birth = ?2, phone = ?3, profile_toml = ?4, clinical_notes = ?5,
                 version = version + 1, updated_at = ?6
             WHERE id = ?7 AND clinic_id = ?8 AND version = ?9",
            params![f.full_name.trim(), dob, f.phone.trim(), profile, notes, now_text(), id, a.clinic_id, f.version],
        )?;
        let (action, detail) = if n == 0 {
            ("update_conflict", format!("sent version {}, stored {}", f.version, current.version))
        } else {
            ("update", format!("version {} -> {}; {}", f.version, f.version + 1, changed.join(", ")))
        };
        db::audit(&tx, Some(a.user_id), Some(a.clinic_id), action, "patient", Some(id), &detail)?;
        tx.commit()?;
        Ok(n)
    })?;
    if done == 0 {
        return Err(Fail::Conflict(format!(
            "Someone else changed this record since you opened it (your version {}, now {}). Nothing was saved: \
             reload the record, then make your change again.",
            f.version, current.version
        )));
    }
    Ok(Redirect::to(&format!("/patients/{id}")).into_response())
}

type ScreeningRow = (String, String, String, String, String);
type PlanRow = (i64, String, String, String);

async fn patient(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    let p = load_patient(&app, &a, id)?;
    app.audit(Some(&a), "view", "patient", Some(id), "")?;
    let (screenings, plans): (Vec<ScreeningRow>, Vec<PlanRow>) = if a.role.reads_clinical() {
        app.db(|c| {
            let mut st = c.prepare(
                "SELECT kind, assessment_date, verdict, result_json, created_at FROM screenings
                 WHERE patient_id = ?1 AND clinic_id = ?2 ORDER BY id DESC",
            )?;
            let s = st
                .query_map([id, a.clinic_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<crate::db::DbResult<Vec<_>>>()?;
            let mut st = c.prepare(
                "SELECT id, assessment_date, outcome, created_at FROM plans WHERE patient_id = ?1 AND clinic_id = ?2 ORDER BY id DESC",
            )?;
            let p = st
                .query_map([id, a.clinic_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<crate::db::DbResult<Vec<_>>>()?;
            Ok((s, p))
        })?
    } else {
        (Vec::new(), Vec::new())
    };
    let profile = dermasim_clinic::parse_profile(&p.profile_toml, false, "profile").ok();
    let title = if a.role.sees_names() { p.full_name.clone() } else { pseudonym(id) };
    let mut b = format!("<h1>{}</h1>", esc(&title));
    if a.role.sees_names() {
        b += &format!(
            "<p>Date of birth: {} · Phone: {}</p>",
            esc(p.date_of_birth.as_deref().unwrap_or("not recorded")),
            esc(&p.phone)
        );
    }
    b += &format!("<p>Record version {}, last changed {}</p>", p.version, esc(&p.updated_at));
    if a.role.edits_demographics() {
        b += &format!("<p><a href=\"/patients/{id}/edit\">Edit</a></p>");
    }
    if a.role.edits_clinical() {
        b += &format!(
            "<p><a href=\"/patients/{id}/export.zip\" download>Export the whole record (JSON and photos, zip)</a></p>"
        );
    }
    b += &crate::consent::section(&app, &a, id)?;
    if a.role.reads_clinical() {
        b += "<h2>Clinical profile</h2>";
        match &profile {
            Some(pr) => {
                b += &format!(
                    "<p>Age {}, sex {}, Fitzpatrick {}</p><ul>",
                    pr.age_years,
                    esc(format!("{:?}", pr.sex).to_lowercase()),
                    pr.fitzpatrick
                );
                for c in &pr.concerns {
                    b +=
                        &format!("<li>{} at {}</li>", esc(c.kind.label()), esc(c.sites.join(", ")));
                }
                b += &format!(
                    "</ul><p>{} conditions, {} medications, {} prior procedures recorded.</p>",
                    pr.conditions.len(),
                    pr.medications.len(),
                    pr.procedures.len()
                );
            }
            None => b += "<p>No clinical profile recorded yet.</p>",
        }
        if a.role.edits_clinical() {
            b += &format!(
                "<details><summary>Profile as recorded</summary><pre>{}</pre></details><h2>Clinical notes</h2><pre>{}</pre>",
                esc(&p.profile_toml),
                esc(&p.clinical_notes)
            );
        }
        b += "<h2 id=\"screenings\">Screening</h2>";
        if a.role.edits_clinical() && profile.is_some() {
            b += &format!(
                "<form method=\"post\" action=\"/patients/{id}/screenings\">{}\
                 <select name=\"kind\"><option value=\"intake\">At intake</option><option value=\"pre_session\">Before a session</option></select>\
                 on <input type=\"date\" name=\"date\"> <button>Screen</button></form>",
                hidden_csrf(&a)
            );
        }
        for (kind, date, verdict, json, at) in &screenings {
            b += &format!(
                "<div><p>{} ({}): <span class=\"verdict\">{}</span> · recorded {}</p><ul>",
                esc(date),
                esc(kind.replace('_', " ")),
                esc(verdict),
                esc(at)
            );
            if let Ok(s) = serde_json::from_str::<dermasim_clinic::Screening>(json) {
                for f in &s.findings {
                    b += &format!("<li>{}", esc(&f.reason));
                    if !f.detail.is_empty() {
                        b += &format!(" ({})", esc(&f.detail));
                    }
                    b += "</li>";
                }
            }
            b += "</ul></div>";
        }
        b += "<h2>Treatment plans</h2>";
        if a.role.edits_clinical() && profile.is_some() {
            b += &format!(
                "<form method=\"post\" action=\"/patients/{id}/plans\">{}Assessment date <input type=\"date\" name=\"date\"> \
                 forecast members <input type=\"number\" name=\"members\" value=\"8\" min=\"2\" max=\"256\"> \
                 <button>Plan and forecast</button></form>",
                hidden_csrf(&a)
            );
        }
        b += "<ul>";
        for (pid, date, outcome, at) in &plans {
            b += &format!(
                "<li><a href=\"/plans/{pid}\">{}: {}</a> · {}</li>",
                esc(date),
                esc(outcome),
                esc(at)
            );
        }
        b += "</ul>";
        let notes = crate::notes::patient_notes(&app, &a, id)?;
        b += &crate::followups::section(&app, &a, id, &notes)?;
        b += &crate::notes::section(&a, id, &notes);
        b += &crate::runs::section(&app, &a, id, &notes)?;
        b += &crate::photos::section(&app, &a, id)?;
    }
    Ok(layout(Some(&a), &title, &b).into_response())
}

// ---------------------------------------------------------------- screening and plans

#[derive(Deserialize)]
struct ScreenForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    date: String,
}

pub(crate) fn parse_date(s: &str) -> Result<Option<dermasim_clinic::Date>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    dermasim_clinic::Date::parse(s).map(Some).map_err(|e| format!("date: {e}"))
}

fn clinical_profile(app: &App, a: &Auth, id: i64) -> Result<dermasim_clinic::Profile, Fail> {
    let p = load_patient(app, a, id)?;
    if !a.role.edits_clinical() {
        return Err(Fail::Forbidden("Your role cannot screen or plan.".into()));
    }
    dermasim_clinic::parse_profile(&p.profile_toml, false, "profile")
        .map_err(|e| Fail::Conflict(format!("The recorded profile is not usable: {e}")))
}

pub(crate) fn bad_request(a: &Auth, msg: &str) -> Response {
    let body = format!("<h1>Not done</h1><p class=\"error\">{}</p>", esc(msg));
    (StatusCode::UNPROCESSABLE_ENTITY, layout(Some(a), "Not done", &body)).into_response()
}

async fn screen_patient(
    State(app): State<App>,
    a: Auth,
    Path(id): Path<i64>,
    Form(f): Form<ScreenForm>,
) -> Page {
    let profile = clinical_profile(&app, &a, id)?;
    if f.kind != "intake" && f.kind != "pre_session" {
        return Ok(bad_request(&a, "kind: use intake or pre_session"));
    }
    let date = match parse_date(&f.date) {
        Ok(d) => d,
        Err(e) => return Ok(bad_request(&a, &e)),
    };
    let s = match dermasim_app::clinic::screen(&profile, date) {
        Ok(s) => s,
        Err(e) => return Ok(bad_request(&a, &e.to_string())),
    };
    let json = serde_json::to_string(&s).map_err(|e| Fail::Internal(e.to_string()))?;
    app.db(|c| {
        let sid = c.insert_returning_id(
            "INSERT INTO screenings (patient_id, clinic_id, kind, assessment_date, verdict, result_json, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![id, a.clinic_id, f.kind, s.assessment_date.to_string(), s.verdict.as_str(), json, a.user_id, now_text()],
        )?;
        db::audit(c, Some(a.user_id), Some(a.clinic_id), "create", "screening", Some(sid), &format!("patient {id}: {}", s.verdict.as_str()))
    })?;
    Ok(Redirect::to(&format!("/patients/{id}#screenings")).into_response())
}

#[derive(Deserialize)]
struct PlanForm {
    #[serde(default)]
    date: String,
    #[serde(default)]
    members: String,
}

async fn plan_patient(
    State(app): State<App>,
    a: Auth,
    Path(id): Path<i64>,
    Form(f): Form<PlanForm>,
) -> Page {
    use dermasim_app::clinic::PlanOutcome;
    let profile = clinical_profile(&app, &a, id)?;
    let date = match parse_date(&f.date) {
        Ok(d) => d,
        Err(e) => return Ok(bad_request(&a, &e)),
    };
    let members = match f.members.trim() {
        "" => None,
        m => match m.parse::<usize>() {
            Ok(n) => Some(n),
            Err(_) => return Ok(bad_request(&a, &format!("members: `{m}` is not a whole number"))),
        },
    };
    // The forecast is CPU work: off the request threads.
    let outcome = tokio::task::spawn_blocking(move || {
        let outcome = dermasim_app::clinic::plan(&profile, date, members)?;
        let chart = match &outcome {
            PlanOutcome::Planned(r) => Some(dermasim_app::clinic::forecast_chart(r, false)?),
            PlanOutcome::Refused(_) => None,
        };
        Ok::<_, dermasim_app::AppError>((outcome, chart))
    })
    .await
    .map_err(|e| Fail::Internal(e.to_string()))?;
    let (outcome, chart) = match outcome {
        Ok(o) => o,
        Err(e) => return Ok(bad_request(&a, &e.to_string())),
    };
    let (kind, date, json) = match &outcome {
        PlanOutcome::Planned(r) => {
            ("planned", r.assessment_date.to_string(), serde_json::to_string(r))
        }
        PlanOutcome::Refused(s) => {
            ("refused", s.assessment_date.to_string(), serde_json::to_string(s))
        }
    };
    let json = json.map_err(|e| Fail::Internal(e.to_string()))?;
    let chart = chart.map(|c| String::from_utf8_lossy(&c).into_owned());
    let pid = app.db(|c| {
        let pid = c.insert_returning_id(
            "INSERT INTO plans (patient_id, clinic_id, assessment_date, outcome, report_json, chart_svg, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![id, a.clinic_id, date, kind, json, chart, a.user_id, now_text()],
        )?;
        db::audit(c, Some(a.user_id), Some(a.clinic_id), "create", "plan", Some(pid), &format!("patient {id}: {kind}"))?;
        Ok(pid)
    })?;
    Ok(Redirect::to(&format!("/plans/{pid}")).into_response())
}

fn load_plan(app: &App, a: &Auth, id: i64) -> Result<(i64, String, String, Option<String>), Fail> {
    let row = app.db(|c| {
        c.query_row(
            "SELECT patient_id, outcome, report_json, chart_svg FROM plans WHERE id = ?1 AND clinic_id = ?2",
            [id, a.clinic_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
    })?;
    let row = row.ok_or(Fail::NotFound)?;
    if !a.role.reads_clinical() {
        return Err(Fail::Forbidden("Your role cannot read clinical records.".into()));
    }
    Ok(row)
}

async fn plan_page(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    let (patient_id, outcome, json, chart) = load_plan(&app, &a, id)?;
    app.audit(Some(&a), "view", "plan", Some(id), "")?;
    let who =
        if a.role.sees_names() { format!("patient {patient_id}") } else { pseudonym(patient_id) };
    let mut b = format!(
        "<h1>Treatment plan {id}</h1><p><a href=\"/patients/{patient_id}\">Back to {}</a></p>",
        esc(who)
    );
    if outcome == "planned" {
        let mut r: dermasim_clinic::PlanReport =
            serde_json::from_str(&json).map_err(|e| Fail::Internal(e.to_string()))?;
        if !a.role.sees_names() {
            r.patient_id = None;
        }
        b += &format!(
            "<p>Screening: <span class=\"verdict\">{}</span> on {}</p><table><tr><th>Plan</th><th>Device</th><th>Depth</th>\
             <th>Passes</th><th>Sessions</th><th>Interval</th></tr>",
            esc(r.screening.verdict.as_str()),
            esc(r.assessment_date)
        );
        for p in &r.plans {
            b += &format!(
                "<tr><td>{}</td><td>{}</td><td>{} mm</td><td>{}</td><td>{}</td><td>{} days</td></tr>",
                esc(dermasim_clinic::render::plan_heading(p)),
                esc(p.device.as_str()),
                p.depth_mm,
                esc(&p.passes),
                p.sessions,
                p.interval_days
            );
        }
        b += "</table>";
        if chart.is_some() {
            b += &format!(
                "<h2>Forecast (collagen, 5-95 % band)</h2><img class=\"chart\" src=\"/plans/{id}/chart.svg\" \
                 alt=\"Forecast chart: collagen change over time with its 5-95 % band, one panel per plan\">"
            );
        }
        b += &format!(
            "<p class=\"disclaimer\">{}</p><details><summary>Handout</summary><pre>{}</pre></details>",
            esc(&r.disclaimer),
            esc(dermasim_app::clinic::handout_markdown(&r, None))
        );
    } else {
        let s: dermasim_clinic::Screening =
            serde_json::from_str(&json).map_err(|e| Fail::Internal(e.to_string()))?;
        b += &format!(
            "<p>No plan: screening says <span class=\"verdict\">{}</span> on {}.</p><ul>",
            esc(s.verdict.as_str()),
            esc(s.assessment_date)
        );
        for f in &s.findings {
            b += &format!("<li>{}</li>", esc(&f.reason));
        }
        b += &format!("</ul><p class=\"disclaimer\">{}</p>", esc(&s.disclaimer));
    }
    // The planner's disclaimer is the program's; show the program's too if it ever differs.
    if !b.contains(&esc(dermasim::DISCLAIMER)) {
        b += &format!("<p class=\"disclaimer\">{}</p>", esc(dermasim::DISCLAIMER));
    }
    Ok(layout(Some(&a), "Treatment plan", &b).into_response())
}

async fn plan_chart(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    let (_, _, _, chart) = load_plan(&app, &a, id)?;
    let chart = chart.ok_or(Fail::NotFound)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], chart).into_response())
}

// ---------------------------------------------------------------- audit

type AuditRow = (i64, String, Option<String>, String, String, Option<i64>, String);

async fn audit_page(State(app): State<App>, a: Auth) -> Page {
    if a.role != Role::Administrator {
        return Err(Fail::Forbidden("Only administrators read the audit trail.".into()));
    }
    let rows: Vec<AuditRow> = app.db(|c| {
        let mut st = c.prepare(
            "SELECT a.id, a.at, u.username, a.action, a.entity, a.entity_id, a.detail
             FROM audit a LEFT JOIN users u ON u.id = a.user_id
             WHERE a.clinic_id = ?1 ORDER BY a.id DESC LIMIT 500",
        )?;
        let rows = st.query_map([a.clinic_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })?;
        rows.collect()
    })?;
    let mut b = String::from(
        "<h1>Audit trail (latest 500)</h1><table><tr><th>#</th><th>When (UTC)</th><th>Who</th><th>Action</th><th>What</th><th>Detail</th></tr>",
    );
    for (n, at, who, action, entity, eid, detail) in &rows {
        b += &format!(
            "<tr><td>{n}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>",
            esc(at),
            esc(who.as_deref().unwrap_or("-")),
            esc(action),
            esc(entity),
            eid.map(|e| format!(" {e}")).unwrap_or_default(),
            esc(detail)
        );
    }
    b += "</table>";
    Ok(layout(Some(&a), "Audit trail", &b).into_response())
}
