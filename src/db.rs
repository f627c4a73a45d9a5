//! Database connection, migrations, and the per-request SQL statement counter.

use crate::error::{AppError, AppResult};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

tokio::task_local! {
    static SQL_STATEMENTS: Arc<AtomicU64>;
}

/// Runs `fut` counting the SQL statements it issues (the GraphQL execution of one
/// request runs in one task, so a task-local counter sees exactly its statements).
pub async fn counting_statements<F: Future>(counter: Arc<AtomicU64>, fut: F) -> F::Output {
    SQL_STATEMENTS.scope(counter, fut).await
}

/// PostgreSQL's `statement_timeout` unless configured: no statement of a
/// request runs longer (bulk loads by `confide seed` stay well under it).
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects (creating a SQLite file if needed) and installs the statement counter.
pub async fn connect(url: &str) -> AppResult<DatabaseConnection> {
    connect_with(url, DEFAULT_STATEMENT_TIMEOUT).await
}

/// As [`connect`], with PostgreSQL's statement timeout.
pub async fn connect_with(url: &str, statement_timeout: Duration) -> AppResult<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
    if url.starts_with("sqlite:") {
        // WAL lets readers proceed during the per-request audit write; NORMAL
        // synchronous is durable in WAL mode across application crashes.
        options
            .max_connections(8)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    // 16 MiB page cache per connection (SQLite's default is 2 MiB):
                    // a dashboard page otherwise re-reads index pages through
                    // read(2) on every request.
                    .pragma("cache_size", "-16384")
            });
    } else {
        let timeout_ms = statement_timeout.as_millis().to_string();
        options
            .max_connections(16)
            .min_connections(1)
            .map_sqlx_postgres_opts(move |o| {
                o.options([("statement_timeout", timeout_ms.clone())])
            });
    }
    let mut db = Database::connect(options)
        .await
        .map_err(|e| AppError::internal("database connect", e))?;
    db.set_metric_callback(|_info| {
        let _ = SQL_STATEMENTS.try_with(|c| c.fetch_add(1, Ordering::Relaxed));
    });
    Ok(db)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> AppResult<()> {
    Migrator::up(db, None)
        .await
        .map_err(|e| AppError::internal("migrate", e))
}
