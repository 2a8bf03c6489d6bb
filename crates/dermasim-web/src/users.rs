//! Account management for administrators: the clinic's users, a new user with a role (its
//! one-time password shown once, on the answer to the form), disabling a user (no sign-in,
//! sessions ended) and enabling them again, and a password reset (a new one-time password shown
//! once, to be changed at the next sign-in). Every change is audited; another clinic's user ids
//! answer 404, and an administrator's own account is changed at `/account`, not here (409).

use crate::db::{params, OptionalExtension};
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use crate::auth::{Auth, Role};
use crate::db;
use crate::pages::{esc, hidden_csrf, layout, Fail, Page};
use crate::{App, NewUserRefused};

const ROLES: [Role; 4] =
    [Role::Practitioner, Role::Reception, Role::Researcher, Role::Administrator];

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{id}/disable", post(disable))
        .route("/users/{id}/enable", post(enable))
        .route("/users/{id}/reset-password", post(reset_password))
}

fn require(a: &Auth) -> Result<(), Fail> {
    if a.role == Role::Administrator {
        Ok(())
    } else {
        Err(Fail::Forbidden("Only administrators manage accounts.".into()))
    }
}

/// The page: the clinic's users, then the form for a new one; `top` goes above (a message).
fn page(app: &App, a: &Auth, status: StatusCode, top: &str) -> Page {
    type Row = (i64, String, String, String, bool, Option<i64>);
    let rows: Vec<Row> = app.db(|c| {
        let mut st = c.prepare(
            "SELECT id, username, role, created_at, disabled, locked_until FROM users
             WHERE clinic_id = ?1 ORDER BY username",
        )?;
        let rows = st.query_map([a.clinic_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, i64>(4)? != 0, r.get(5)?))
        })?;
        rows.collect()
    })?;
    let now = db::now_secs();
    let mut b = format!(
        "<h1>Accounts of this clinic</h1>{top}<table id=\"users\"><tr><th>User</th><th>Role</th>\
         <th>Created (UTC)</th><th>State</th><th></th></tr>"
    );
    for (id, name, role, at, disabled, locked) in &rows {
        let state = if *disabled {
            "disabled"
        } else if locked.is_some_and(|t| t > now) {
            "locked (failed sign-ins)"
        } else {
            "active"
        };
        let action = if *id == a.user_id {
            String::new()
        } else {
            let csrf = hidden_csrf(a);
            let toggle = if *disabled {
                format!("<form method=\"post\" action=\"/users/{id}/enable\">{csrf}<button>Enable again</button></form>")
            } else {
                format!("<form method=\"post\" action=\"/users/{id}/disable\">{csrf}<button>Disable</button></form>")
            };
            format!(
                "{toggle}<form method=\"post\" action=\"/users/{id}/reset-password\">{csrf}\
                 <button>Reset password</button></form>"
            )
        };
        b += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{state}</td><td>{action}</td></tr>",
            esc(name),
            esc(role),
            esc(at)
        );
    }
    let options: String =
        ROLES.iter().map(|r| format!("<option value=\"{0}\">{0}</option>", r.as_str())).collect();
    b += &format!(
        "</table><h2>New account</h2><form method=\"post\" action=\"/users\">{}\
         <label>User name (1 to 64 characters, no spaces) <input name=\"username\" required maxlength=\"64\"></label>\
         <label>Role <select name=\"role\">{options}</select></label>\
         <button>Create the account</button></form>\
         <p>The new account's one-time password is shown once, on the next page; it must be \
         changed at first sign-in.</p>",
        hidden_csrf(a)
    );
    Ok((status, layout(Some(a), "Accounts", &b)).into_response())
}

async fn list(State(app): State<App>, a: Auth) -> Page {
    require(&a)?;
    app.audit(Some(&a), "view", "users", None, "")?;
    page(&app, &a, StatusCode::OK, "")
}

#[derive(Deserialize)]
struct NewUser {
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
}

fn refused(app: &App, a: &Auth, msg: &str) -> Page {
    let top =
        format!("<p class=\"error\" role=\"alert\">{}</p><p>Nothing was saved.</p>", esc(msg));
    page(app, a, StatusCode::UNPROCESSABLE_ENTITY, &top)
}

async fn create(State(app): State<App>, a: Auth, Form(f): Form<NewUser>) -> Page {
    require(&a)?;
    let Some(role) = Role::parse(f.role.trim()) else {
        let msg = format!(
            "role: unknown role `{}`; use administrator, practitioner, reception or researcher",
            f.role.trim()
        );
        return refused(&app, &a, &msg);
    };
    let name = f.username.trim().to_string();
    // Argon2id hashing takes a while: off the request threads.
    let (app2, clinic, actor, n) = (app.clone(), a.clinic_id, a.user_id, name.clone());
    let made = tokio::task::spawn_blocking(move || app2.insert_user(clinic, &n, role, Some(actor)))
        .await
        .map_err(|e| Fail::Internal(e.to_string()))?
        .map_err(|e| Fail::Internal(e.to_string()))?;
    let password = match made {
        Ok(p) => p,
        Err(NewUserRefused::Name) => {
            return refused(&app, &a, "username: 1 to 64 characters without spaces")
        }
        Err(NewUserRefused::Exists) => {
            return refused(&app, &a, &format!("username: `{name}` exists already"))
        }
    };
    let top = format!(
        "<div class=\"notice\" id=\"new-user\"><p>Account <strong>{}</strong> ({}) created. \
         Its one-time password, shown this once: <code id=\"one-time-password\">{}</code></p>\
         <p>Give it to the user in person; they choose their own at first sign-in.</p></div>",
        esc(&name),
        role.as_str(),
        esc(&password)
    );
    page(&app, &a, StatusCode::OK, &top)
}

/// The name of account `id` of the administrator's clinic (404 for another clinic's or a
/// missing id; 409 for the administrator's own account, with `own` saying why).
fn other_account(app: &App, a: &Auth, id: i64, own: &str) -> Result<String, Fail> {
    let name: Option<String> = app.db(|c| {
        c.query_row(
            "SELECT username FROM users WHERE id = ?1 AND clinic_id = ?2",
            [id, a.clinic_id],
            |r| r.get(0),
        )
        .optional()
    })?;
    let name = name.ok_or(Fail::NotFound)?;
    if id == a.user_id {
        return Err(Fail::Conflict(own.into()));
    }
    Ok(name)
}

async fn disable(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    require(&a)?;
    let name = other_account(
        &app,
        &a,
        id,
        "You cannot disable your own account; ask another administrator.",
    )?;
    app.db(|c| {
        c.execute(
            "UPDATE users SET disabled = 1 WHERE id = ?1 AND clinic_id = ?2",
            params![id, a.clinic_id],
        )?;
        // Signed out everywhere at once, not at the sessions' expiry.
        c.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
        db::audit(c, Some(a.user_id), Some(a.clinic_id), "disable", "user", Some(id), &name)
    })?;
    Ok(Redirect::to("/users").into_response())
}

async fn enable(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    require(&a)?;
    let name = other_account(&app, &a, id, "Your own account is enabled: you are signed in.")?;
    app.db(|c| {
        // A fresh start: the failures counted before it was disabled do not lock it now.
        c.execute(
            "UPDATE users SET disabled = 0, failed_logins = 0, locked_until = NULL
             WHERE id = ?1 AND clinic_id = ?2",
            params![id, a.clinic_id],
        )?;
        db::audit(c, Some(a.user_id), Some(a.clinic_id), "enable", "user", Some(id), &name)
    })?;
    Ok(Redirect::to("/users").into_response())
}

async fn reset_password(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    require(&a)?;
    let name = other_account(
        &app,
        &a,
        id,
        "Change your own password on the account page; a reset is for other accounts.",
    )?;
    let password = crate::auth::random_password();
    // Argon2id hashing takes a while: off the request threads.
    let p = password.clone();
    let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&p))
        .await
        .map_err(|e| Fail::Internal(e.to_string()))?;
    app.db(|c| {
        // The old password stops working, the lockout is lifted, the user must choose a new
        // password at the next sign-in, and every open session of the account ends.
        c.execute(
            "UPDATE users SET password_hash = ?1, must_change_password = 1, failed_logins = 0,
             locked_until = NULL WHERE id = ?2 AND clinic_id = ?3",
            params![hash, id, a.clinic_id],
        )?;
        c.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
        db::audit(c, Some(a.user_id), Some(a.clinic_id), "reset_password", "user", Some(id), &name)
    })?;
    let top = format!(
        "<div class=\"notice\" id=\"reset-user\"><p>Password of <strong>{}</strong> reset. \
         The one-time password, shown this once: <code id=\"one-time-password\">{}</code></p>\
         <p>Give it to the user in person; they must choose their own at the next sign-in. \
         Their open sessions have ended.</p></div>",
        esc(&name),
        esc(&password)
    );
    page(&app, &a, StatusCode::OK, &top)
}
