//! Opening the database, migrations, the audit trail.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

/// Migrations in order; `PRAGMA user_version` holds how many are applied.
const MIGRATIONS: [&str; 4] = [
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_notes_runs_consent_photos.sql"),
    include_str!("../migrations/0003_workspace_accounts.sql"),
    include_str!("../migrations/0004_deletions_screening_gate.sql"),
];

pub(crate) fn open(path: &Path) -> rusqlite::Result<Connection> {
    let mut conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the database would not switch to WAL mode (it says {mode})"
        )));
    }
    // FULL: an acknowledged write survives a power cut, not only a killed process.
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let applied: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
    }
    tx.commit()
}

/// Now as RFC 3339 UTC text.
pub(crate) fn now_text() -> String {
    jiff::Timestamp::now().to_string()
}

/// Now in Unix seconds.
pub(crate) fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The id of clinic `name` (created when missing), or of the first clinic (created as
/// "Main clinic" when there is none).
pub(crate) fn clinic_id(conn: &Connection, name: Option<&str>) -> rusqlite::Result<i64> {
    match name {
        Some(n) => {
            conn.execute("INSERT OR IGNORE INTO clinics (name) VALUES (?1)", [n])?;
            conn.query_row("SELECT id FROM clinics WHERE name = ?1", [n], |r| r.get(0))
        }
        None => {
            let first: Option<i64> = conn
                .query_row("SELECT MIN(id) FROM clinics", [], |r| r.get(0))
                .optional()?
                .flatten();
            match first {
                Some(id) => Ok(id),
                None => {
                    conn.execute("INSERT INTO clinics (name) VALUES ('Main clinic')", [])?;
                    Ok(conn.last_insert_rowid())
                }
            }
        }
    }
}

/// Append one row to the audit trail (the table refuses updates and deletes).
pub(crate) fn audit(
    conn: &Connection,
    user_id: Option<i64>,
    clinic_id: Option<i64>,
    action: &str,
    entity: &str,
    entity_id: Option<i64>,
    detail: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO audit (at, user_id, clinic_id, action, entity, entity_id, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![now_text(), user_id, clinic_id, action, entity, entity_id, detail],
    )?;
    Ok(())
}
