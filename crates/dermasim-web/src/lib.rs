//! `dermasim serve`: the clinic web app.
//!
//! A front end over [`dermasim_app`]: screening and plans are `dermasim_app::clinic::screen`
//! and `dermasim_app::clinic::plan`, the forecast chart is `dermasim_app::clinic::forecast_chart`;
//! nothing here re-implements them. Records live in SQLite (WAL, foreign keys on, the schema in
//! `migrations/` applied at start) or, given a `postgres://` URL, in PostgreSQL (the schema in
//! `migrations/postgres/`); every handler runs the same queries on both ([`Db`]).
//!
//! - [`App::open`] opens (or creates) the database named by `--db` ([`Store::parse`]); [`App::bootstrap`] makes the first
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
pub mod db;
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
pub use db::{Db, DbError, OptionalExtension, Row, ToValue, Value};
pub use photos::MAX_PHOTO_BYTES;
pub use runs::{wait_finished, RUN_QUEUE_CAPACITY, RUN_WORKERS};

/// What can go wrong starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The database (open, migrate, query).
    #[error("database: {0}")]
    Db(#[from] DbError),
    /// The PostgreSQL server of `--db` could not be reached or refused the connection.
    #[error("--db: cannot connect to the PostgreSQL server {url}: {reason}")]
    Connect {
        /// The URL without its password.
        url: String,
        /// Why (in the message, not a separate cause, so it is printed once).
        reason: DbError,
    },
    /// The photo folder (`--photos`) cannot be created or written.
    #[error("--photos: cannot write photos to {dir}: {reason}")]
    Photos {
        /// The folder.
        dir: PathBuf,
        /// Why (in the message, not a separate cause, so it is printed once).
        reason: std::io::Error,
    },
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
    /// Where photos are stored (`--photos`). `None`: `NAME.photos` beside a SQLite file, the
    /// user's data folder `dermasim/photos` ([`default_photo_dir`]) with PostgreSQL.
    pub photo_dir: Option<PathBuf>,
}

/// Where the records live, as `--db` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// An embedded SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL server: a `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl Store {
    /// `--db` as a store: a `postgres://` or `postgresql://` URL is PostgreSQL, any other URL
    /// is refused (read as a path, it would quietly become a SQLite file named `mysql:`), and
    /// anything else is a SQLite file path.
    pub fn parse(db: &Path) -> Result<Store, WebError> {
        let text = db.to_string_lossy();
        let scheme = text.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '+'))
        {
            None => Ok(Store::Sqlite(db.to_path_buf())),
            Some(s) if s == "postgres" || s == "postgresql" => {
                Ok(Store::Postgres(text.into_owned()))
            }
            Some(s) => Err(WebError::Request(format!(
                "--db: `{s}://...` is a URL, and only PostgreSQL URLs (postgres://...) are \
                 supported: give a postgres:// URL, a SQLite file path (e.g. --db clinic.db), or \
                 leave --db out for the default file. Nothing was created."
            ))),
        }
    }

    /// The store as named in messages: a URL without its password.
    pub fn shown(&self) -> String {
        match self {
            Store::Sqlite(p) => p.display().to_string(),
            Store::Postgres(url) => without_password(url),
        }
    }
}

/// `url` with the password of its user part (`user:secret@`) replaced by `***`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = &rest[..at];
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            let masked = if rest[..at].contains(':') { format!("{user}:***") } else { user.into() };
            format!("{scheme}://{masked}{}", &rest[at..])
        }
        None => url.to_string(),
    }
}

/// The photo folder used with PostgreSQL when `--photos` is not given:
/// `$XDG_DATA_HOME/dermasim/photos`, else `~/.local/share/dermasim/photos`, else `photos` in
/// the working folder.
pub fn default_photo_dir() -> PathBuf {
    match default_db_path().parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(data) => data.join("photos"),
        None => PathBuf::from("photos"),
    }
}

/// Create `dir` when missing and prove it writable (a file written and removed), so an
/// unwritable folder is refused at start, not at the first upload.
fn writable_photo_dir(dir: &Path) -> Result<(), WebError> {
    let check = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let probe = dir.join(format!(".dermasim-write-check-{}", std::process::id()));
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(&probe)
    };
    check().map_err(|reason| WebError::Photos { dir: dir.to_path_buf(), reason })
}

/// The shared state of the server: the database and settings.
#[derive(Clone)]
pub struct App {
    pub(crate) db: Arc<Mutex<Db>>,
    pub(crate) config: Config,
    pub(crate) limiter: Arc<Mutex<auth::Limiter>>,
    pub(crate) runs: Arc<runs::Queue>,
    /// Where photos are stored: `--photos`, else `NAME.photos` beside a SQLite file or
    /// [`default_photo_dir`] with PostgreSQL.
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
    /// Open the database `--db` names ([`Store::parse`]): a SQLite file at `path` (created with
    /// its folder when missing, WAL mode, foreign keys on) or a PostgreSQL server given as a
    /// `postgres://` URL; apply the migrations it lacks.
    pub fn open(path: &Path, config: Config) -> Result<App, WebError> {
        let store = Store::parse(path)?;
        // The photo folder first: a server that could not store photos is refused before it
        // creates or touches the database. Beside a SQLite file it is made at the first upload,
        // as the file's own folder is writable.
        let photo_dir = match (&config.photo_dir, &store) {
            (Some(dir), _) => Some(dir.clone()),
            (None, Store::Postgres(_)) => Some(default_photo_dir()),
            (None, Store::Sqlite(_)) => None,
        };
        if let Some(dir) = &photo_dir {
            writable_photo_dir(dir)?;
        }
        let (db, photo_dir) = match &store {
            Store::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)?;
                }
                (db::open_sqlite(path)?, photo_dir.unwrap_or_else(|| photos::folder_for(path)))
            }
            Store::Postgres(url) => {
                let db = db::open_postgres(url)
                    .map_err(|reason| WebError::Connect { url: store.shown(), reason })?;
                (db, photo_dir.unwrap_or_else(default_photo_dir))
            }
        };
        let db = Arc::new(Mutex::new(db));
        let runs = runs::start(&db);
        Ok(App {
            db,
            config,
            limiter: Arc::new(Mutex::new(auth::Limiter::default())),
            runs,
            photo_dir,
        })
    }

    /// Mark the runs an earlier server process left queued or running as interrupted (it
    /// stopped or was killed); returns how many. [`serve`] does this before it listens.
    pub fn recover_interrupted_runs(&self) -> Result<usize, WebError> {
        Ok(runs::mark_interrupted(&self.connection())?)
    }

    /// The folder holding the photos (`--photos`, else `NAME.photos` beside a SQLite file or
    /// [`default_photo_dir`] with PostgreSQL).
    pub fn photo_dir(&self) -> &Path {
        &self.photo_dir
    }

    /// The database connection (one, shared; statements are short). Never hold it across an
    /// `.await`.
    pub fn connection(&self) -> std::sync::MutexGuard<'_, Db> {
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
        let res: Result<i64, DbError> = conn.query_row(
            "INSERT INTO users (clinic_id, username, role, password_hash, must_change_password, created_at)
             VALUES (?1, ?2, ?3, ?4, 1, ?5) RETURNING id",
            params![clinic_id, name, role.as_str(), hash, db::now_text()],
            |r| r.get(0),
        );
        match res {
            Ok(id) => {
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
            Err(e) if e.is_unique_violation() => Ok(Err(NewUserRefused::Exists)),
            Err(e) => Err(e.into()),
        }
    }
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
