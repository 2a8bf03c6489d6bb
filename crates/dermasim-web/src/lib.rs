//! `dermasim serve`: the clinic web app.
//!
//! A front end over [`dermasim_app`]: screening and plans are `dermasim_app::clinic::screen`
//! and `dermasim_app::clinic::plan`, the forecast chart is `dermasim_app::clinic::forecast_chart`;
//! nothing here re-implements them. Records live in SQLite (WAL, foreign keys on, the schema in
//! `migrations/` applied at start).
//!
//! - [`App::open`] opens (or creates) the database; [`App::bootstrap`] makes the first
//!   administrator; [`App::create_user`] adds an account.
//! - [`router`] is the whole HTTP surface (tested with `tower::ServiceExt::oneshot`);
//!   [`serve`] runs it on a listener.
//!
//! Security: Argon2id passwords, sessions stored in the database (the cookie holds a random
//! token, the database its SHA-256), HttpOnly + SameSite=Strict cookies (+ Secure behind TLS),
//! a CSRF token checked on every POST before any handler runs, security headers on every
//! response, login lockout after [`MAX_FAILED_LOGINS`] failures, clinic isolation on every query,
//! and an append-only audit table.

#![deny(missing_docs)]

mod auth;
mod consent;
mod db;
mod export;
mod followups;
mod multipart;
mod notes;
mod pages;
mod photos;
mod profile_form;
mod runs;
mod screening_gate;
mod users;
mod workspace;
mod zip;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use auth::{Role, MAX_FAILED_LOGINS};
pub use photos::MAX_PHOTO_BYTES;
pub use runs::{wait_finished, RUN_QUEUE_CAPACITY, RUN_WORKERS};

/// What can go wrong starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The database (open, migrate, query).
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// Listening or serving.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A bad request from the command line (unknown role, existing user name).
    #[error("{0}")]
    Request(String),
}

/// Server settings.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Mark cookies `Secure` (set when served over TLS, e.g. behind a TLS-terminating proxy).
    pub secure_cookies: bool,
}

/// The shared state of the server: the database and settings.
#[derive(Clone)]
pub struct App {
    pub(crate) db: Arc<Mutex<rusqlite::Connection>>,
    pub(crate) config: Config,
    pub(crate) limiter: Arc<Mutex<auth::Limiter>>,
    pub(crate) runs: Arc<runs::Queue>,
    /// Where photos are stored: `NAME.photos` beside the database file.
    pub(crate) photo_dir: PathBuf,
}

/// The default database: `$XDG_DATA_HOME/dermasim/dermasim.db`, else
/// `~/.local/share/dermasim/dermasim.db`, else `dermasim.db` in the working folder.
pub fn default_db_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        });
    match base {
        Some(b) => b.join("dermasim").join("dermasim.db"),
        None => PathBuf::from("dermasim.db"),
    }
}

/// A multi-threaded Tokio runtime for the front end to `block_on`.
pub fn runtime() -> Result<tokio::runtime::Runtime, WebError> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

impl App {
    /// Open the SQLite database at `path` (created with its folder when missing), in WAL mode
    /// with foreign keys on, and apply the migrations it lacks.
    pub fn open(path: &Path, config: Config) -> Result<App, WebError> {
        refuse_database_url(path)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let db = Arc::new(Mutex::new(db::open(path)?));
        let runs = runs::start(&db);
        Ok(App {
            db,
            config,
            limiter: Arc::new(Mutex::new(auth::Limiter::default())),
            runs,
            photo_dir: photos::folder_for(path),
        })
    }

    /// Mark the runs an earlier server process left queued or running as interrupted (it
    /// stopped or was killed); returns how many. [`serve`] does this before it listens.
    pub fn recover_interrupted_runs(&self) -> Result<usize, WebError> {
        Ok(runs::mark_interrupted(&self.connection())?)
    }

    /// The folder holding the photos (`NAME.photos` beside the database file).
    pub fn photo_dir(&self) -> &Path {
        &self.photo_dir
    }

    /// The database connection (one, shared; statements are short). Never hold it across an
    /// `.await`.
    pub fn connection(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// On an empty database: create the first clinic and an `admin` administrator, and return
    /// the one-time password (to be changed at first login). `None` when accounts exist.
    pub fn bootstrap(&self) -> Result<Option<String>, WebError> {
        let n: i64 = self.connection().query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        if n > 0 {
            return Ok(None);
        }
        let password = self.create_user("admin", "administrator", None)?;
        Ok(Some(password))
    }

    /// Create account `name` with `role` in `clinic` (created when missing; the first clinic
    /// when `None`), and return its one-time password.
    pub fn create_user(
        &self,
        name: &str,
        role: &str,
        clinic: Option<&str>,
    ) -> Result<String, WebError> {
        let role = Role::parse(role).ok_or_else(|| {
            WebError::Request(format!(
                "--role: unknown role `{role}`; use administrator, practitioner, reception or researcher"
            ))
        })?;
        // Checked before the clinic is created, so a refused name writes nothing.
        if !valid_user_name(name) {
            return Err(WebError::Request(
                "--create-user: a user name is 1 to 64 characters without spaces".into(),
            ));
        }
        let clinic_id = db::clinic_id(&self.connection(), clinic)?;
        match self.insert_user(clinic_id, name, role, None)? {
            Ok(password) => Ok(password),
            Err(NewUserRefused::Name) => Err(WebError::Request(
                "--create-user: a user name is 1 to 64 characters without spaces".into(),
            )),
            Err(NewUserRefused::Exists) => Err(WebError::Request(format!(
                "--create-user: user `{}` exists already",
                name.trim()
            ))),
        }
    }

    /// Insert account `name` with `role` in clinic `clinic_id`, audited as done by `actor`
    /// (`None`: the command line); the one-time password, or why the name is refused.
    pub(crate) fn insert_user(
        &self,
        clinic_id: i64,
        name: &str,
        role: Role,
        actor: Option<i64>,
    ) -> Result<Result<String, NewUserRefused>, WebError> {
        let name = name.trim();
        if !valid_user_name(name) {
            return Ok(Err(NewUserRefused::Name));
        }
        let password = auth::random_password();
        let hash = auth::hash_password(&password);
        let conn = self.connection();
        let res = conn.execute(
            "INSERT INTO users (clinic_id, username, role, password_hash, must_change_password, created_at)
             VALUES (?1, ?2, ?3, ?4, 1, ?5)",
            rusqlite::params![clinic_id, name, role.as_str(), hash, db::now_text()],
        );
        match res {
            Ok(_) => {
                let id = conn.last_insert_rowid();
                db::audit(
                    &conn,
                    actor,
                    Some(clinic_id),
                    "create",
                    "user",
                    Some(id),
                    &format!("{name} ({})", role.as_str()),
                )?;
                Ok(Ok(password))
            }
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
            {
                Ok(Err(NewUserRefused::Exists))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// A PostgreSQL URL given as the database: refused before anything is created (read as a
/// path, it would quietly become a SQLite file named `postgres:`).
fn refuse_database_url(path: &Path) -> Result<(), WebError> {
    let text = path.to_string_lossy();
    let scheme = text.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if let Some(scheme) =
        scheme.filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '+'))
    {
        let which = if scheme == "postgres" || scheme == "postgresql" {
            "PostgreSQL is not supported yet"
        } else {
            "database URLs are not supported"
        };
        return Err(WebError::Request(format!(
            "--db: `{scheme}://...` is a URL, and {which}: this build keeps records in an \
             embedded SQLite file only. Give a file path (e.g. --db clinic.db), or leave --db \
             out for the default file. Nothing was created."
        )));
    }
    Ok(())
}

/// 1 to 64 characters (after trimming), no whitespace.
fn valid_user_name(name: &str) -> bool {
    let name = name.trim();
    !name.is_empty() && name.len() <= 64 && !name.chars().any(|c| c.is_whitespace())
}

/// Why a new account's name is refused.
pub(crate) enum NewUserRefused {
    /// Empty, longer than 64 characters, or with spaces.
    Name,
    /// Taken (user names are unique across clinics: they sign in without naming one).
    Exists,
}

/// The whole HTTP surface.
pub fn router(app: App) -> axum::Router {
    pages::router(app)
}

/// Bind `addr` (a port of 0 picks a free one).
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, WebError> {
    Ok(tokio::net::TcpListener::bind(addr).await?)
}

/// Serve `app` on `listener` until the process ends, after marking the runs a previous
/// server left unfinished as interrupted.
pub async fn serve(listener: tokio::net::TcpListener, app: App) -> Result<(), WebError> {
    let interrupted = app.recover_interrupted_runs()?;
    if interrupted > 0 {
        eprintln!("dermasim serve: {interrupted} run(s) left unfinished by the last server marked interrupted");
    }
    let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service).await?;
    Ok(())
}
