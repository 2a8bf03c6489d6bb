//! Shared helpers of the router tests: a fresh database per test (a temp-file SQLite database,
//! or, when `DERMASIM_TEST_POSTGRES` holds a URL, a schema of its own on that PostgreSQL
//! server), signed-in users, requests through `tower::ServiceExt::oneshot`.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use dermasim_web::{App, Config};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

pub struct Env {
    pub app: App,
    pub router: Router,
    pub db: TestDb,
}

/// The PostgreSQL server the tests use instead of SQLite, when set.
pub const POSTGRES_VAR: &str = "DERMASIM_TEST_POSTGRES";

/// One test's own database, removed at the end: a SQLite file in a temp folder, or, when
/// [`POSTGRES_VAR`] holds a URL, a new schema on that server (the app connects with it as its
/// `search_path`, so tests run in parallel without seeing each other's rows).
pub struct TestDb {
    pub dir: tempfile::TempDir,
    /// What `--db` would be: the file path, or the URL with the schema as `search_path`.
    pub location: std::path::PathBuf,
    /// The server URL and the schema, with PostgreSQL.
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A fresh database named `name` (the file name on SQLite).
    pub fn new(name: &str) -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        match std::env::var(POSTGRES_VAR).ok().filter(|u| !u.is_empty()) {
            None => TestDb { location: dir.path().join(name), dir, postgres: None },
            Some(url) => {
                use std::sync::atomic::{AtomicU64, Ordering};
                static NEXT: AtomicU64 = AtomicU64::new(0);
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos();
                let schema = format!(
                    "t_{}_{}_{nanos}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                );
                admin(&url, format!("CREATE SCHEMA {schema}"))
                    .unwrap_or_else(|e| panic!("{POSTGRES_VAR}={url}: {e}"));
                let sep = if url.contains('?') { '&' } else { '?' };
                let location = format!("{url}{sep}options=-csearch_path%3D{schema}").into();
                TestDb { dir, location, postgres: Some((url, schema)) }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// Open (or reopen) the app on this database; photos in the temp folder with PostgreSQL.
    pub fn open(&self, mut config: Config) -> App {
        if self.is_postgres() && config.photo_dir.is_none() {
            config.photo_dir = Some(self.dir.path().join("photos"));
        }
        App::open(&self.location, config).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((url, schema)) = &self.postgres {
            // The app's own connection may still be open (its run workers hold it); a DROP
            // waits only for statements in flight.
            let _ = admin(url, format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// Run `sql` on the server at `url`, on a thread of its own: the sync client starts a runtime
/// of its own, which cannot start inside the test's.
fn admin(url: &str, sql: String) -> Result<(), postgres::Error> {
    let url = url.to_string();
    std::thread::spawn(move || {
        postgres::Client::connect(&url, postgres::NoTls)?.batch_execute(&sql)
    })
    .join()
    .expect("the admin thread ran")
}

/// A test environment on a fresh [`TestDb`] opened with `config`.
pub fn env_with(config: Config) -> Env {
    let db = TestDb::new("test.db");
    let app = db.open(config);
    Env { router: dermasim_web::router(app.clone()), app, db }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// A signed-in browser: its session cookie and the session's CSRF token.
pub struct User {
    pub cookie: String,
    pub csrf: String,
}

pub async fn env() -> Env {
    env_with(Config::default())
}

pub fn form_body(fields: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(fields).unwrap()
}

pub async fn send(
    env: &Env,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    form: Option<&[(&str, &str)]>,
) -> Resp {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let body = match form {
        Some(f) => {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(form_body(f))
        }
        None => Body::empty(),
    };
    let resp = env.router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Resp { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

pub fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

pub fn set_cookie(resp: &Resp, name: &str) -> Option<String> {
    resp.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
}

pub async fn login(env: &Env, name: &str, password: &str) -> Resp {
    let page = send(env, "GET", "/login", None, None).await;
    let token = hidden_csrf(&page.body);
    let cookie = set_cookie(&page, "dermasim_login").unwrap();
    send(
        env,
        "POST",
        "/login",
        Some(&cookie),
        Some(&[("csrf", &token), ("username", name), ("password", password)]),
    )
    .await
}

/// Create `name` with `role` in `clinic`, skip the forced password change, sign in.
pub async fn user(env: &Env, name: &str, role: &str, clinic: Option<&str>) -> User {
    let password = env.app.create_user(name, role, clinic).unwrap();
    env.app
        .connection()
        .execute("UPDATE users SET must_change_password = 0 WHERE username = ?1", [name])
        .unwrap();
    let resp = login(env, name, &password).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    let cookie = set_cookie(&resp, "dermasim_session").expect("a session cookie");
    let page = send(env, "GET", "/account", Some(&cookie), None).await;
    assert_eq!(page.status, StatusCode::OK);
    User { csrf: hidden_csrf(&page.body), cookie }
}

pub async fn post(env: &Env, u: &User, uri: &str, fields: &[(&str, &str)]) -> Resp {
    let mut f = vec![("csrf", u.csrf.as_str())];
    f.extend_from_slice(fields);
    send(env, "POST", uri, Some(&u.cookie), Some(&f)).await
}

pub async fn get(env: &Env, u: &User, uri: &str) -> Resp {
    send(env, "GET", uri, Some(&u.cookie), None).await
}

pub const PROFILE: &str = include_str!("../../../../examples/patients/acne_scars_type_iv.toml");

/// Create a patient; returns its id.
pub async fn patient(env: &Env, u: &User, name: &str, notes: &str) -> i64 {
    let r = post(
        env,
        u,
        "/patients",
        &[
            ("full_name", name),
            ("date_of_birth", "1997-03-04"),
            ("profile_toml", PROFILE),
            ("clinical_notes", notes),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.location().trim_start_matches("/patients/").parse().unwrap()
}

/// Screen patient `pid` before a session on `date` (kind `pre_session`); the verdict stored.
pub async fn screened(env: &Env, u: &User, pid: i64, date: &str) -> String {
    let r = post(
        env,
        u,
        &format!("/patients/{pid}/screenings"),
        &[("kind", "pre_session"), ("date", date)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    env.app
        .connection()
        .query_row(
            "SELECT verdict FROM screenings WHERE patient_id = ?1 AND assessment_date = ?2
             ORDER BY id DESC LIMIT 1",
            dermasim_web::params![pid, date],
            |r| r.get(0),
        )
        .unwrap()
}

pub fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub async fn count(env: &Env, sql: &str) -> i64 {
    env.app.connection().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The entries (name, data) of a zip, read through its central directory (a reader of its
/// own, independent of the server's writer); CRC-32 checked.
pub fn unzip(z: &[u8]) -> Vec<(String, Vec<u8>)> {
    let u16_at = |i: usize| u16::from_le_bytes([z[i], z[i + 1]]) as usize;
    let u32_at = |i: usize| u32::from_le_bytes([z[i], z[i + 1], z[i + 2], z[i + 3]]) as usize;
    let eocd = z.len() - 22;
    assert_eq!(u32_at(eocd), 0x06054b50, "no end of central directory");
    let (count, mut at) = (u16_at(eocd + 10), u32_at(eocd + 16));
    let mut out = Vec::new();
    for _ in 0..count {
        assert_eq!(u32_at(at), 0x02014b50, "central directory entry");
        let (crc, size, name_len) = (u32_at(at + 16), u32_at(at + 20), u16_at(at + 28));
        let extra_comment = u16_at(at + 30) + u16_at(at + 32);
        let local = u32_at(at + 42);
        let name = String::from_utf8(z[at + 46..at + 46 + name_len].to_vec()).unwrap();
        let data_at = local + 30 + u16_at(local + 26) + u16_at(local + 28);
        let data = z[data_at..data_at + size].to_vec();
        assert_eq!(crc32(&data), crc as u32, "{name}: CRC-32");
        out.push((name, data));
        at += 46 + name_len + extra_comment;
    }
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// GET `uri` as `u`, the body as bytes.
pub async fn get_bytes(env: &Env, u: &User, uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let req =
        Request::builder().uri(uri).header(header::COOKIE, &u.cookie).body(Body::empty()).unwrap();
    let resp = env.router.clone().oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.into_body().collect().await.unwrap().to_bytes().to_vec())
}
