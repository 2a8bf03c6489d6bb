//! Opening the database, migrations, the audit trail.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

/// Migrations in order; `PRAGMA user_version` holds how many are applied.
const MIGRATIONS: [&str; 1] = [include_str!("../migrations/0001_init.sql")];

pub(crate) async fn open(path: &Path) -> Result<SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: an acknowledged write survives a power cut, not only a killed process.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
    migrate(&pool).await?;
    Ok(pool)
}

async fn migrate(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let applied: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut *tx).await?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::raw_sql(&format!("PRAGMA user_version = {}", i + 1)).execute(&mut *tx).await?;
    }
    tx.commit().await
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
pub(crate) async fn clinic_id(pool: &SqlitePool, name: Option<&str>) -> Result<i64, sqlx::Error> {
    match name {
        Some(n) => {
            sqlx::query("INSERT OR IGNORE INTO clinics (name) VALUES (?)").bind(n).execute(pool).await?;
            sqlx::query_scalar("SELECT id FROM clinics WHERE name = ?").bind(n).fetch_one(pool).await
        }
        None => {
            let first: Option<i64> = sqlx::query_scalar("SELECT MIN(id) FROM clinics")
                .fetch_one(pool)
                .await?;
            match first {
                Some(id) => Ok(id),
                None => Ok(sqlx::query("INSERT INTO clinics (name) VALUES ('Main clinic')")
                    .execute(pool)
                    .await?
                    .last_insert_rowid()),
            }
        }
    }
}

/// Append one row to the audit trail (the table refuses updates and deletes).
pub(crate) async fn audit(
    pool: &SqlitePool,
    user_id: Option<i64>,
    clinic_id: Option<i64>,
    action: &str,
    entity: &str,
    entity_id: Option<i64>,
    detail: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit (at, user_id, clinic_id, action, entity, entity_id, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(now_text())
    .bind(user_id)
    .bind(clinic_id)
    .bind(action)
    .bind(entity)
    .bind(entity_id)
    .bind(detail)
    .execute(pool)
    .await?;
    Ok(())
}
