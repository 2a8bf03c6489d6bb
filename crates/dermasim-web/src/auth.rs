//! Passwords, sessions, CSRF, roles, login limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::App;

/// Failed logins in a row that lock an account (for 15 minutes).
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a locked account stays locked.
pub(crate) const LOCK_SECS: i64 = 15 * 60;
/// Session lifetime.
pub(crate) const SESSION_SECS: i64 = 12 * 3600;
/// Login attempts allowed per client address per [`LIMIT_WINDOW`].
pub(crate) const LIMIT_ATTEMPTS: usize = 30;
pub(crate) const LIMIT_WINDOW: Duration = Duration::from_secs(300);

pub(crate) const SESSION_COOKIE: &str = "dermasim_session";
pub(crate) const LOGIN_COOKIE: &str = "dermasim_login";

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, including the audit trail.
    Administrator,
    /// Patients, clinical records, screening, plans.
    Practitioner,
    /// Patients' names and contact details; no clinical records.
    Reception,
    /// De-identified clinical data only: no names, no dates of birth, no free text.
    Researcher,
}

impl Role {
    /// The role named `s`.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "administrator" => Role::Administrator,
            "practitioner" => Role::Practitioner,
            "reception" => Role::Reception,
            "researcher" => Role::Researcher,
            _ => return None,
        })
    }

    /// The role's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Practitioner => "practitioner",
            Role::Reception => "reception",
            Role::Researcher => "researcher",
        }
    }

    pub(crate) fn sees_names(self) -> bool {
        self != Role::Researcher
    }
    pub(crate) fn reads_clinical(self) -> bool {
        self != Role::Reception
    }
    pub(crate) fn edits_demographics(self) -> bool {
        self != Role::Researcher
    }
    pub(crate) fn edits_clinical(self) -> bool {
        matches!(self, Role::Administrator | Role::Practitioner)
    }
}

/// The signed-in user of a request (resolved by the session middleware).
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    pub user_id: i64,
    pub clinic_id: i64,
    pub username: String,
    pub role: Role,
    pub csrf: String,
    pub token_hash: String,
    pub must_change_password: bool,
}

/// The session of a request, or none; put into the request's extensions by the middleware.
#[derive(Debug, Clone)]
pub(crate) struct MaybeAuth(pub Option<Auth>);

impl FromRequestParts<App> for Auth {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &App) -> Result<Auth, Response> {
        let auth = parts.extensions.get::<MaybeAuth>().and_then(|m| m.0.clone());
        match auth {
            Some(a) => {
                let path = parts.uri.path();
                if a.must_change_password && !path.starts_with("/account") && path != "/logout" {
                    return Err(Redirect::to("/account").into_response());
                }
                Ok(a)
            }
            None if parts.method == Method::GET || parts.method == Method::HEAD => {
                Err(Redirect::to("/login").into_response())
            }
            None => Err((StatusCode::UNAUTHORIZED, "sign in first").into_response()),
        }
    }
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A 20-character password from an alphabet without look-alikes.
pub(crate) fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut buf = [0u8; 20];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

pub(crate) fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Argon2id (the crate's defaults: 19 MiB, 2 passes) in PHC string form.
pub(crate) fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 hashes").to_string()
}

pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so the answer takes as long.
pub(crate) fn dummy_hash() -> &'static str {
    static HASH: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash_password("not a password"));
    &HASH
}

/// Constant-time comparison of two tokens.
pub(crate) fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes().zip(b.bytes()).fold(0u8, |x, (p, q)| x | (p ^ q)) == 0
}

/// A cookie's value from the request headers.
pub(crate) fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts.headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        v.split(';').find_map(|kv| {
            let (k, val) = kv.trim().split_once('=')?;
            (k == name).then(|| val.to_string())
        })
    })
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure when configured.
pub(crate) fn set_cookie(app: &App, name: &str, value: &str, max_age: i64) -> String {
    let secure = if app.config.secure_cookies { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// Login attempts per client address in a sliding window.
#[derive(Default)]
pub(crate) struct Limiter {
    attempts: HashMap<Option<IpAddr>, Vec<Instant>>,
}

impl Limiter {
    /// Record an attempt from `ip`; false when it is over the limit.
    pub fn allow(&mut self, ip: Option<IpAddr>) -> bool {
        let now = Instant::now();
        let v = self.attempts.entry(ip).or_default();
        v.retain(|t| now.duration_since(*t) < LIMIT_WINDOW);
        if v.len() >= LIMIT_ATTEMPTS {
            return false;
        }
        v.push(now);
        true
    }
}

/// The session behind the request's cookie, if valid.
pub(crate) fn session(app: &App, parts: &Parts) -> crate::db::DbResult<Option<Auth>> {
    use crate::db::OptionalExtension;
    let Some(token) = cookie(parts, SESSION_COOKIE) else { return Ok(None) };
    let token_hash = sha256_hex(&token);
    let row: Option<(i64, i64, String, String, String, i64)> = app
        .connection()
        .query_row(
            "SELECT u.id, u.clinic_id, u.username, u.role, s.csrf, u.must_change_password
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0",
            crate::params![token_hash, crate::db::now_secs()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
    Ok(row.and_then(|(user_id, clinic_id, username, role, csrf, must)| {
        Some(Auth {
            user_id,
            clinic_id,
            username,
            role: Role::parse(&role)?,
            csrf,
            token_hash: token_hash.clone(),
            must_change_password: must != 0,
        })
    }))
}

/// A new session for `user_id`; returns the cookie token.
pub(crate) fn start_session(conn: &crate::db::Db, user_id: i64) -> crate::db::DbResult<String> {
    let token = random_hex(32);
    let now = crate::db::now_secs();
    conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        crate::params![sha256_hex(&token), user_id, random_hex(32), now, now + SESSION_SECS],
    )?;
    Ok(token)
}
