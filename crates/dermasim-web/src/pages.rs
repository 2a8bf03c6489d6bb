//! Routes, the request guard (session, CSRF, headers) and the pages.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, Extension, Form, Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use crate::auth::{self, Auth, MaybeAuth, Role, LOGIN_COOKIE, SESSION_COOKIE};
use crate::db::{self, now_secs, now_text};
use crate::App;

/// Largest form body accepted (a clinical profile with notes fits many times over).
const MAX_FORM: usize = 256 * 1024;
const HTMX: &str = include_str!("../static/htmx.min.js");
const CSS: &str = include_str!("../static/app.css");
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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
    let session = match auth::session(&app, &parts).await {
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
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
        };
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        let sent = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or("");
        let expected = if login {
            auth::cookie(&parts, LOGIN_COOKIE)
        } else {
            session.as_ref().map(|s| s.csrf.clone())
        };
        if !expected.is_some_and(|e| auth::same_token(&e, sent)) {
            return Fail::Forbidden("the form's security token is missing or stale; reload the page and try again".into())
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
    Db(sqlx::Error),
    Internal(String),
}

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Fail {
        Fail::Db(e)
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            Fail::NotFound => (StatusCode::NOT_FOUND, "Not found.".to_string()),
            Fail::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            Fail::Conflict(m) => (StatusCode::CONFLICT, m),
            Fail::Db(e) => {
                eprintln!("dermasim serve: database error: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, "A database error; nothing was saved.".into())
            }
            Fail::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
        };
        let title = status.canonical_reason().unwrap_or("Error");
        let page = layout(None, title, html! { h1 { (title) } p.error { (msg) } p { a href="/patients" { "Back to patients" } } });
        (status, page).into_response()
    }
}

type Page = Result<Response, Fail>;

fn layout(auth: Option<&Auth>, title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " - dermasim" }
                    link rel="stylesheet" href="/static/app.css";
                    script src="/static/htmx.min.js" defer {}
                }
                body {
                    header {
                        strong { "dermasim" }
                        @if let Some(a) = auth {
                            a href="/patients" { "Patients" }
                            @if a.role == Role::Administrator { a href="/audit" { "Audit" } }
                            a href="/account" { (a.username) " (" (a.role.as_str()) ")" }
                            form method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(a.csrf);
                                button { "Sign out" }
                            }
                        }
                    }
                    main { (body) }
                }
            }
        }
        .into_string(),
    )
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
    let page = layout(
        None,
        "Sign in",
        html! {
            h1 { "Sign in" }
            @if let Some(e) = error { p.error { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(token);
                label { "User name " input name="username" autocomplete="username" required; }
                label { "Password " input type="password" name="password" autocomplete="current-password" required; }
                button { "Sign in" }
            }
        },
    );
    let cookie = auth::set_cookie(app, LOGIN_COOKIE, &token, 3600);
    (status, [(header::SET_COOKIE, cookie)], page).into_response()
}

async fn login(
    State(app): State<App>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Form(f): Form<LoginForm>,
) -> Page {
    if !app.limiter.lock().expect("limiter").allow(ip) {
        db::audit(&app.pool, None, None, "login_rate_limited", "user", None, &f.username).await?;
        return Ok(login_form(&app, StatusCode::TOO_MANY_REQUESTS, Some("Too many sign-in attempts from this address; wait a few minutes.")));
    }
    let row: Option<(i64, i64, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, clinic_id, password_hash, failed_logins, locked_until FROM users WHERE username = ?",
    )
    .bind(&f.username)
    .fetch_optional(&app.pool)
    .await?;
    let wrong = "Wrong user name or password.";
    let now = now_secs();
    let Some((id, clinic, hash, failed, locked_until)) = row else {
        let pw = f.password.clone();
        let _ = tokio::task::spawn_blocking(move || auth::verify_password(&pw, auth::dummy_hash())).await;
        db::audit(&app.pool, None, None, "login_failed", "user", None, &format!("unknown user {}", f.username)).await?;
        return Ok(login_form(&app, StatusCode::UNAUTHORIZED, Some(wrong)));
    };
    if locked_until.is_some_and(|t| t > now) {
        db::audit(&app.pool, Some(id), Some(clinic), "login_refused_locked", "user", Some(id), "").await?;
        return Ok(login_form(&app, StatusCode::TOO_MANY_REQUESTS, Some("This account is locked after too many failed sign-ins; try again in 15 minutes or ask an administrator.")));
    }
    let pw = f.password.clone();
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&pw, &hash))
        .await
        .map_err(|e| Fail::Internal(e.to_string()))?;
    if !ok {
        let failed = failed + 1;
        let lock = (failed >= auth::MAX_FAILED_LOGINS).then_some(now + auth::LOCK_SECS);
        sqlx::query("UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?")
            .bind(if lock.is_some() { 0 } else { failed })
            .bind(lock)
            .bind(id)
            .execute(&app.pool)
            .await?;
        let action = if lock.is_some() { "locked" } else { "login_failed" };
        db::audit(&app.pool, Some(id), Some(clinic), action, "user", Some(id), &format!("{failed} failed in a row")).await?;
        return Ok(login_form(&app, StatusCode::UNAUTHORIZED, Some(wrong)));
    }
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?").bind(id).execute(&app.pool).await?;
    let token = auth::start_session(&app, id).await?;
    db::audit(&app.pool, Some(id), Some(clinic), "login", "user", Some(id), "").await?;
    let mut resp = Redirect::to("/patients").into_response();
    let h = resp.headers_mut();
    h.append(header::SET_COOKIE, cookie_value(&auth::set_cookie(&app, SESSION_COOKIE, &token, auth::SESSION_SECS)));
    h.append(header::SET_COOKIE, cookie_value(&auth::set_cookie(&app, LOGIN_COOKIE, "", 0)));
    Ok(resp)
}

fn cookie_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("cookie text is ASCII")
}

async fn logout(State(app): State<App>, a: Auth) -> Page {
    sqlx::query("DELETE FROM sessions WHERE token_hash = ?").bind(&a.token_hash).execute(&app.pool).await?;
    db::audit(&app.pool, Some(a.user_id), Some(a.clinic_id), "logout", "user", Some(a.user_id), "").await?;
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie_value(&auth::set_cookie(&app, SESSION_COOKIE, "", 0)));
    Ok(resp)
}

async fn account_page(a: Auth) -> Response {
    account_form(&a, StatusCode::OK, None)
}

fn account_form(a: &Auth, status: StatusCode, msg: Option<&str>) -> Response {
    let page = layout(
        Some(a),
        "Account",
        html! {
            h1 { "Account: " (a.username) }
            @if a.must_change_password { p.notice { "Choose your own password before going on (the one you were given works only once)." } }
            @if let Some(m) = msg { p.error { (m) } }
            form method="post" action="/account/password" {
                input type="hidden" name="csrf" value=(a.csrf);
                label { "Current password " input type="password" name="current" autocomplete="current-password" required; }
                label { "New password (12 characters or more) " input type="password" name="new" autocomplete="new-password" required; }
                label { "New password again " input type="password" name="repeat" autocomplete="new-password" required; }
                button { "Change password" }
            }
        },
    );
    (status, page).into_response()
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
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = ?")
        .bind(a.user_id)
        .fetch_one(&app.pool)
        .await?;
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
    sqlx::query("UPDATE users SET password_hash = ?, must_change_password = 0 WHERE id = ?")
        .bind(hash)
        .bind(a.user_id)
        .execute(&app.pool)
        .await?;
    // Other sessions of this account end.
    sqlx::query("DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?")
        .bind(a.user_id)
        .bind(&a.token_hash)
        .execute(&app.pool)
        .await?;
    db::audit(&app.pool, Some(a.user_id), Some(a.clinic_id), "change_password", "user", Some(a.user_id), "").await?;
    Ok(Redirect::to("/patients").into_response())
}

// ---------------------------------------------------------------- patients

/// A patient row of the signed-in user's clinic.
#[derive(Default)]
struct PatientRow {
    full_name: String,
    date_of_birth: Option<String>,
    phone: String,
    profile_toml: String,
    clinical_notes: String,
    version: i64,
    updated_at: String,
}

type PatientTuple = (i64, String, Option<String>, String, String, String, i64, String);

async fn load_patient(app: &App, a: &Auth, id: i64) -> Result<PatientRow, Fail> {
    let row: Option<PatientTuple> = sqlx::query_as(
        "SELECT id, full_name, date_of_birth, phone, profile_toml, clinical_notes, version, updated_at
         FROM patients WHERE id = ? AND clinic_id = ?",
    )
    .bind(id)
    .bind(a.clinic_id)
    .fetch_optional(&app.pool)
    .await?;
    let (_, full_name, date_of_birth, phone, profile_toml, clinical_notes, version, updated_at) =
        row.ok_or(Fail::NotFound)?;
    Ok(PatientRow { full_name, date_of_birth, phone, profile_toml, clinical_notes, version, updated_at })
}

/// How a researcher sees a patient.
fn pseudonym(id: i64) -> String {
    format!("P-{id:06}")
}

async fn patients(State(app): State<App>, a: Auth) -> Page {
    let rows: Vec<(i64, String, Option<String>, String)> = sqlx::query_as(
        "SELECT id, full_name, date_of_birth, updated_at FROM patients WHERE clinic_id = ? ORDER BY full_name, id",
    )
    .bind(a.clinic_id)
    .fetch_all(&app.pool)
    .await?;
    db::audit(&app.pool, Some(a.user_id), Some(a.clinic_id), "list", "patients", None, &format!("{} rows", rows.len())).await?;
    let names = a.role.sees_names();
    Ok(layout(
        Some(&a),
        "Patients",
        html! {
            h1 { "Patients" }
            @if a.role.edits_demographics() { p { a href="/patients/new" { "New patient" } } }
            table {
                tr { th { "Patient" } @if names { th { "Date of birth" } } th { "Last change" } }
                @for (id, name, dob, updated) in &rows {
                    tr {
                        td { a href={ "/patients/" (id) } { @if names { (name) } @else { (pseudonym(*id)) } } }
                        @if names { td { (dob.as_deref().unwrap_or("")) } }
                        td { (updated) }
                    }
                }
            }
            @if rows.is_empty() { p { "No patients yet." } }
        },
    )
    .into_response())
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

/// A starting profile: the fields `dermasim screen` reads.
const PROFILE_TEMPLATE: &str = r#"# The clinical profile, in the format `dermasim screen` reads (examples/patients/).
age_years = 35
sex = "female"          # female | male | unspecified
fitzpatrick = 3         # 1 to 6
skin = "thin"           # thin | thick
setting = "professional" # professional | home
pregnant = false
breastfeeding = false

[[concerns]]
kind = "fine_lines"     # acne_scars (with scar_type) | fine_lines | ... (docs/clinic.md)
sites = ["forehead"]    # dermasim sites

# [[conditions]]
# name = "inflammatory_acne"
# status = "past"       # active | controlled | past

# [[medications]]
# name = "isotretinoin"
# start = 2026-01-10
# stop = 2026-06-01

# [[procedures]]
# name = "chemical_peel"
# date = 2026-09-01
# sites = ["cheek"]
"#;

fn patient_form(a: &Auth, action: &str, f: &PatientForm, error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error { p.error { (e) } }
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(a.csrf);
            input type="hidden" name="version" value=(f.version);
            label { "Full name " input name="full_name" value=(f.full_name) required maxlength="200"; }
            label { "Date of birth " input type="date" name="date_of_birth" value=(f.date_of_birth); }
            label { "Phone " input name="phone" value=(f.phone) maxlength="50"; }
            @if a.role.edits_clinical() {
                label { "Clinical profile: demographics for screening, Fitzpatrick type, concerns and sites, medical history, medications with dates, allergies and other conditions, prior procedures (TOML, the same format and checks as " code { "dermasim screen" } ")"
                    textarea name="profile_toml" rows="24" { (f.profile_toml) } }
                label { "Clinical notes" textarea name="clinical_notes" rows="6" { (f.clinical_notes) } }
            }
            button { "Save" }
        }
    }
}

async fn new_patient(a: Auth) -> Page {
    if !a.role.edits_demographics() {
        return Err(Fail::Forbidden("Your role cannot create patients.".into()));
    }
    let f = PatientForm { profile_toml: PROFILE_TEMPLATE.into(), ..Default::default() };
    Ok(layout(Some(&a), "New patient", html! { h1 { "New patient" } (patient_form(&a, "/patients", &f, None)) }).into_response())
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

async fn create_patient(State(app): State<App>, a: Auth, Form(mut f): Form<PatientForm>) -> Page {
    if !a.role.edits_demographics() {
        return Err(Fail::Forbidden("Your role cannot create patients.".into()));
    }
    if !a.role.edits_clinical() {
        f.profile_toml.clear();
        f.clinical_notes.clear();
    }
    let dob = match check_patient(&f) {
        Ok(d) => d,
        Err(e) => {
            let page = layout(Some(&a), "New patient", html! { h1 { "New patient" } (patient_form(&a, "/patients", &f, Some(&e))) });
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let now = now_text();
    let id = sqlx::query(
        "INSERT INTO patients (clinic_id, full_name, date_of_birth, phone, profile_toml, clinical_notes, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(a.clinic_id)
    .bind(f.full_name.trim())
    .bind(dob)
    .bind(f.phone.trim())
    .bind(&f.profile_toml)
    .bind(&f.clinical_notes)
    .bind(a.user_id)
    .bind(&now)
    .bind(&now)
    .execute(&app.pool)
    .await?
    .last_insert_rowid();
    db::audit(&app.pool, Some(a.user_id), Some(a.clinic_id), "create", "patient", Some(id), "").await?;
    Ok(Redirect::to(&format!("/patients/{id}")).into_response())
}

async fn edit_patient(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    if !a.role.edits_demographics() {
        return Err(Fail::Forbidden("Your role cannot change patients.".into()));
    }
    let p = load_patient(&app, &a, id).await?;
    let f = PatientForm {
        full_name: p.full_name,
        date_of_birth: p.date_of_birth.unwrap_or_default(),
        phone: p.phone,
        profile_toml: if a.role.edits_clinical() { p.profile_toml } else { String::new() },
        clinical_notes: if a.role.edits_clinical() { p.clinical_notes } else { String::new() },
        version: p.version,
    };
    db::audit(&app.pool, Some(a.user_id), Some(a.clinic_id), "view", "patient", Some(id), "edit form").await?;
    Ok(layout(Some(&a), "Edit patient", html! { h1 { "Edit patient" } (patient_form(&a, &format!("/patients/{id}"), &f, None)) }).into_response())
}

async fn update_patient(
    State(app): State<App>,
    a: Auth,
    Path(id): Path<i64>,
    Form(f): Form<PatientForm>,
) -> Page {
    if !a.role.edits_demographics() {
        return Err(Fail::Forbidden("Your role cannot change patients.".into()));
    }
    let current = load_patient(&app, &a, id).await?;
    let dob = match check_patient(&f) {
        Ok(d) => d,
        Err(e) => {
            let page = layout(Some(&a), "Edit patient", html! { h1 { "Edit patient" } (patient_form(&a, &format!("/patients/{id}"), &f, Some(&e))) });
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    // Reception changes demographics only; the clinical fields keep their stored values.
    let (profile, notes) = if a.role.edits_clinical() {
        (f.profile_toml.clone(), f.clinical_notes.clone())
    } else {
        (current.profile_toml.clone(), current.clinical_notes.clone())
    };
    let done = sqlx::query(
        "UPDATE patients SET full_name = ?, date_of_birth = ?, phone = ?, profile_toml = ?, clinical_notes = ?,
             version = version + 1, updated_at = ?
         WHERE id = ? AND clinic_id = ? AND version = ?",
    )
    .bind(f.full_name.trim())
    .bind(dob)
    .bind(f.phone.trim())
    .bind(&profile)
    .bind(&notes)
    .bind(now_text())
    .bind(id)
    .bind(a.clinic_id)
    .bind(f.version)
    .execute(&app.pool)
    .await?
    .rows_affected();
    if done == 0 {
        db::audit(&app.pool, Some(a.user_id), Some(a.clinic_id), "update_conflict", "patient", Some(id), &format!("sent version {}, stored {}", f.version, current.version)).await?;
        return Err(Fail::Conflict(format!(
            "Someone else changed this record since you opened it (your version {}, now {}). Nothing was saved: reload the record, then make your change again.",
            f.version, current.version
        )));
    }
    let mut changed = Vec::new();
    if current.full_name != f.full_name.trim() { changed.push("full_name"); }
    if current.date_of_birth != dob { changed.push("date_of_birth"); }
    if current.phone != f.phone.trim() { changed.push("phone"); }
    if current.profile_toml != profile { changed.push("profile"); }
    if current.clinical_notes != notes { changed.push("clinical_notes"); }
    db::audit(&app.pool, Some(a.user_id), Some(a.clinic_id), "update", "patient", Some(id), &format!("version {} -> {}; {}", f.version, f.version + 1, changed.join(", "))).await?;
    Ok(Redirect::to(&format!("/patients/{id}")).into_response())
}

async fn patient(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    let p = load_patient(&app, &a, id).await?;
    db::audit(&app.pool, Some(a.user_id), Some(a.clinic_id), "view", "patient", Some(id), "").await?;
    let screenings: Vec<(String, String, String, String, String)> = if a.role.reads_clinical() {
        sqlx::query_as(
            "SELECT kind, assessment_date, verdict, result_json, created_at FROM screenings
             WHERE patient_id = ? AND clinic_id = ? ORDER BY id DESC",
        )
        .bind(id)
        .bind(a.clinic_id)
        .fetch_all(&app.pool)
        .await?
    } else {
        Vec::new()
    };
    let plans: Vec<(i64, String, String, String)> = if a.role.reads_clinical() {
        sqlx::query_as(
            "SELECT id, assessment_date, outcome, created_at FROM plans WHERE patient_id = ? AND clinic_id = ? ORDER BY id DESC",
        )
        .bind(id)
        .bind(a.clinic_id)
        .fetch_all(&app.pool)
        .await?
    } else {
        Vec::new()
    };
    let profile = dermasim_clinic::parse_profile(&p.profile_toml, false, "profile").ok();
    let title = if a.role.sees_names() { p.full_name.clone() } else { pseudonym(id) };
    Ok(layout(
        Some(&a),
        &title,
        html! {
            h1 { (title) }
            @if a.role.sees_names() {
                p { "Date of birth: " (p.date_of_birth.as_deref().unwrap_or("not recorded")) " · Phone: " (p.phone) }
            }
            p { "Record version " (p.version) ", last changed " (p.updated_at) }
            @if a.role.edits_demographics() { p { a href={ "/patients/" (id) "/edit" } { "Edit" } } }
            @if a.role.reads_clinical() {
                h2 { "Clinical profile" }
                @if let Some(pr) = &profile {
                    p { "Age " (pr.age_years) ", sex " (format!("{:?}", pr.sex).to_lowercase()) ", Fitzpatrick " (pr.fitzpatrick) }
                    ul { @for c in &pr.concerns { li { (c.kind.label()) " at " (c.sites.join(", ")) } } }
                    p { (pr.conditions.len()) " conditions, " (pr.medications.len()) " medications, " (pr.procedures.len()) " prior procedures recorded." }
                } @else { p { "No clinical profile recorded yet." } }
                @if a.role.edits_clinical() {
                    details { summary { "Profile as recorded" } pre { (p.profile_toml) } }
                    h2 { "Clinical notes" }
                    pre { (p.clinical_notes) }
                }
                h2 id="screenings" { "Screening" }
                @if a.role.edits_clinical() && profile.is_some() {
                    form method="post" action={ "/patients/" (id) "/screenings" } {
                        input type="hidden" name="csrf" value=(a.csrf);
                        select name="kind" { option value="intake" { "At intake" } option value="pre_session" { "Before a session" } }
                        " on " input type="date" name="date";
                        " " button { "Screen" }
                    }
                }
                @for (kind, date, verdict, json, at) in &screenings {
                    @let s: Option<dermasim_clinic::Screening> = serde_json::from_str(json).ok();
                    div {
                        p { (date) " (" (kind.replace('_', " ")) "): " span.verdict { (verdict) } " · recorded " (at) }
                        @if let Some(s) = &s {
                            ul { @for f in &s.findings { li { (f.reason) @if !f.detail.is_empty() { " (" (f.detail) ")" } } } }
                        }
                    }
                }
                h2 { "Treatment plans" }
                @if a.role.edits_clinical() && profile.is_some() {
                    form method="post" action={ "/patients/" (id) "/plans" } {
                        input type="hidden" name="csrf" value=(a.csrf);
                        "Assessment date " input type="date" name="date";
                        " forecast members " input type="number" name="members" value="8" min="2" max="256";
                        " " button { "Plan and forecast" }
                    }
                }
                ul { @for (pid, date, outcome, at) in &plans { li { a href={ "/plans/" (pid) } { (date) ": " (outcome) } " · " (at) } } }
            }
        },
    )
    .into_response())
}

// ---------------------------------------------------------------- screening and plans

#[derive(Deserialize)]
struct ScreenForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    date: String,
}

fn parse_date(s: &str) -> Result<Option<dermasim_clinic::Date>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    dermasim_clinic::Date::parse(s).map(Some).map_err(|e| format!("date: {e}"))
}

async fn clinical_profile(app: &App, a: &Auth, id: i64) -> Result<dermasim_clinic::Profile, Fail> {
    if !a.role.edits_clinical() {
        return Err(Fail::Forbidden("Your role cannot screen or plan.".into()));
    }
    let p = load_patient(app, a, id).await?;
    dermasim_clinic::parse_profile(&p.profile_toml, false, "profile")
        .map_err(|e| Fail::Conflict(format!("The recorded profile is not usable: {e}")))
}

fn bad_request(a: &Auth, msg: &str) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, layout(Some(a), "Not done", html! { h1 { "Not done" } p.error { (msg) } })).into_response()
}

async fn screen_patient(State(app): State<App>, a: Auth, Path(id): Path<i64>, Form(f): Form<ScreenForm>) -> Page {
    let profile = clinical_profile(&app, &a, id).await?;
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
    let sid = sqlx::query(
        "INSERT INTO screenings (patient_id, clinic_id, kind, assessment_date, verdict, result_json, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(a.clinic_id)
    .bind(&f.kind)
    .bind(s.assessment_date.to_string())
    .bind(s.verdict.as_str())
    .bind(json)
    .bind(a.user_id)
    .bind(now_text())
    .execute(&app.pool)
    .await?
    .last_insert_rowid();
    db::audit(&app.pool, Some(a.user_id), Some(a.clinic_id), "create", "screening", Some(sid), &format!("patient {id}: {}", s.verdict.as_str())).await?;
    Ok(Redirect::to(&format!("/patients/{id}#screenings")).into_response())
}

#[derive(Deserialize)]
struct PlanForm {
    #[serde(default)]
    date: String,
    #[serde(default)]
    members: String,
}

async fn plan_patient(State(app): State<App>, a: Auth, Path(id): Path<i64>, Form(f): Form<PlanForm>) -> Page {
    let profile = clinical_profile(&app, &a, id).await?;
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
            dermasim_app::clinic::PlanOutcome::Planned(r) => Some(dermasim_app::clinic::forecast_chart(r, false)?),
            dermasim_app::clinic::PlanOutcome::Refused(_) => None,
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
        dermasim_app::clinic::PlanOutcome::Planned(r) => ("planned", r.assessment_date.to_string(), serde_json::to_string(r)),
        dermasim_app::clinic::PlanOutcome::Refused(s) => ("refused", s.assessment_date.to_string(), serde_json::to_string(s)),
    };
    let json = json.map_err(|e| Fail::Internal(e.to_string()))?;
    let chart = chart.map(|c| String::from_utf8_lossy(&c).into_owned());
    let pid = sqlx::query(
        "INSERT INTO plans (patient_id, clinic_id, assessment_date, outcome, report_json, chart_svg, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(a.clinic_id)
    .bind(date)
    .bind(kind)
    .bind(json)
    .bind(chart)
    .bind(a.user_id)
    .bind(now_text())
    .execute(&app.pool)
    .await?
    .last_insert_rowid();
    db::audit(&app.pool, Some(a.user_id), Some(a.clinic_id), "create", "plan", Some(pid), &format!("patient {id}: {kind}")).await?;
    Ok(Redirect::to(&format!("/plans/{pid}")).into_response())
}

async fn load_plan(app: &App, a: &Auth, id: i64) -> Result<(i64, String, String, Option<String>), Fail> {
    if !a.role.reads_clinical() {
        return Err(Fail::Forbidden("Your role cannot read clinical records.".into()));
    }
    sqlx::query_as("SELECT patient_id, outcome, report_json, chart_svg FROM plans WHERE id = ? AND clinic_id = ?")
        .bind(id)
        .bind(a.clinic_id)
        .fetch_optional(&app.pool)
        .await?
        .ok_or(Fail::NotFound)
}

async fn plan_page(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    let (patient_id, outcome, json, chart) = load_plan(&app, &a, id).await?;
    db::audit(&app.pool, Some(a.user_id), Some(a.clinic_id), "view", "plan", Some(id), "").await?;
    let body = if outcome == "planned" {
        let mut r: dermasim_clinic::PlanReport = serde_json::from_str(&json).map_err(|e| Fail::Internal(e.to_string()))?;
        if !a.role.sees_names() {
            r.patient_id = None;
        }
        let handout = dermasim_app::clinic::handout_markdown(&r, None);
        html! {
            p { "Screening: " span.verdict { (r.screening.verdict.as_str()) } " on " (r.assessment_date) }
            table {
                tr { th { "Plan" } th { "Device" } th { "Depth" } th { "Passes" } th { "Sessions" } th { "Interval" } }
                @for p in &r.plans {
                    tr { td { (dermasim_clinic::render::plan_heading(p)) } td { (p.device.as_str()) } td { (p.depth_mm) " mm" } td { (p.passes) } td { (p.sessions) } td { (p.interval_days) " days" } }
                }
            }
            @if chart.is_some() {
                h2 { "Forecast (collagen, 5-95 % band)" }
                img.chart src={ "/plans/" (id) "/chart.svg" } alt="Forecast chart: collagen change over time with its 5-95 % band, one panel per plan";
            }
            p.disclaimer { (r.disclaimer) }
            details { summary { "Handout" } pre { (handout) } }
        }
    } else {
        let s: dermasim_clinic::Screening = serde_json::from_str(&json).map_err(|e| Fail::Internal(e.to_string()))?;
        html! {
            p { "No plan: screening says " span.verdict { (s.verdict.as_str()) } " on " (s.assessment_date) "." }
            ul { @for f in &s.findings { li { (f.reason) } } }
            p.disclaimer { (s.disclaimer) }
        }
    };
    let who = if a.role.sees_names() { format!("patient {patient_id}") } else { pseudonym(patient_id) };
    Ok(layout(
        Some(&a),
        "Treatment plan",
        html! {
            h1 { "Treatment plan " (id) }
            p { a href={ "/patients/" (patient_id) } { "Back to " (who) } }
            (body)
            p.disclaimer { (dermasim::DISCLAIMER) }
        },
    )
    .into_response())
}

async fn plan_chart(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    let (_, _, _, chart) = load_plan(&app, &a, id).await?;
    let chart = chart.ok_or(Fail::NotFound)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], chart).into_response())
}

// ---------------------------------------------------------------- audit

async fn audit_page(State(app): State<App>, a: Auth) -> Page {
    if a.role != Role::Administrator {
        return Err(Fail::Forbidden("Only administrators read the audit trail.".into()));
    }
    let rows: Vec<(i64, String, Option<String>, String, String, Option<i64>, String)> = sqlx::query_as(
        "SELECT a.id, a.at, u.username, a.action, a.entity, a.entity_id, a.detail
         FROM audit a LEFT JOIN users u ON u.id = a.user_id
         WHERE a.clinic_id = ? ORDER BY a.id DESC LIMIT 500",
    )
    .bind(a.clinic_id)
    .fetch_all(&app.pool)
    .await?;
    Ok(layout(
        Some(&a),
        "Audit trail",
        html! {
            h1 { "Audit trail (latest 500)" }
            table {
                tr { th { "#" } th { "When (UTC)" } th { "Who" } th { "Action" } th { "What" } th { "Detail" } }
                @for (n, at, who, action, entity, eid, detail) in &rows {
                    tr { td { (n) } td { (at) } td { (who.as_deref().unwrap_or("-")) } td { (action) } td { (entity) @if let Some(e) = eid { " " (e) } } td { (detail) } }
                }
            }
        },
    )
    .into_response())
}
