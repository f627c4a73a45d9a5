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

/// How long statements and locks may take.
#[derive(Copy, Clone, Debug)]
pub struct DbOptions {
    /// PostgreSQL's `statement_timeout`: no statement runs longer (bulk loads
    /// by `confide seed` stay well under the default, 30 s).
    pub statement_timeout: Duration,
    /// SQLite: how long a writer waits for another writer's lock (default 5 s).
    pub busy_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            statement_timeout: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Connects (creating a SQLite file if needed) and installs the statement counter.
pub async fn connect(url: &str) -> AppResult<DatabaseConnection> {
    connect_with(url, DbOptions::default()).await
}

/// Writes the readiness probe row: whether the database takes a write now.
pub async fn write_probe(db: &DatabaseConnection) -> AppResult<()> {
    use sea_orm::ConnectionTrait;
    db.execute_unprepared("UPDATE readiness_probe SET writes = writes + 1 WHERE id = 1")
        .await?;
    Ok(())
}

/// As [`connect`], with the given timeouts.
pub async fn connect_with(url: &str, db_options: DbOptions) -> AppResult<DatabaseConnection> {
    let statement_timeout = db_options.statement_timeout;
    let busy_timeout = db_options.busy_timeout;
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
            .map_sqlx_sqlite_opts(move |o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(busy_timeout)
                    // 16 MiB page cache per connection (SQLite's default is 2 MiB):
                    // a dashboard page otherwise re-reads index pages through
                    // read(2) on every request.
                    .pragma("cache_size", "-16384")
            })
            .map_sqlx_sqlite_pool_opts(|o| {
                // A connection released while still inside a transaction (its
                // COMMIT or ROLLBACK failed, e.g. on a full disk) would keep the
                // write lock and swallow later writes: it is closed, never reused.
                o.after_release(|conn, _meta| {
                    Box::pin(async move {
                        use sea_orm::sqlx::Executor;
                        match conn.execute("ROLLBACK").await {
                            Ok(_) => {
                                tracing::warn!(
                                    "closing a SQLite connection released inside a transaction"
                                );
                                Ok(false)
                            }
                            // "no transaction is active": clean.
                            Err(_) => Ok(true),
                        }
                    })
                })
            });
    } else {
        let timeout_ms = statement_timeout.as_millis().to_string();
        options
            .max_connections(16)
            .min_connections(1)
            .map_sqlx_postgres_opts(move |o| {
                // No JIT: the guard's queries are many short ones, and
                // compiling one costs ~50 ms, more than running it (run 7).
                o.options([
                    ("statement_timeout", timeout_ms.clone()),
                    ("jit", "off".to_owned()),
                ])
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

/// The PostgreSQL advisory lock key held while migrating (`confide-mg`).
const MIGRATION_LOCK: i64 = 0x636f_6e66_6964_656d;

/// Applies every pending migration. Safe to run from several instances at
/// once: on PostgreSQL the migrations run in one transaction holding an
/// advisory lock, so a second instance waits for the first, then finds nothing
/// pending (SQLite serialises writers itself).
pub async fn migrate(db: &DatabaseConnection) -> AppResult<()> {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let result = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        async {
            let txn = db.begin().await?;
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                .await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await
        }
        .await
    } else {
        Migrator::up(db, None).await
    };
    result.map_err(|e| AppError::internal("migrate", e))
}

/// Refuses a database whose schema is behind this release (for `serve
/// --no-migrate`, where `confide migrate` is run once by the deployment).
pub async fn check_migrated(db: &DatabaseConnection) -> AppResult<()> {
    let pending = Migrator::get_pending_migrations(db)
        .await
        .map_err(|e| AppError::internal("migrate", e))?;
    if let Some(first) = pending.first() {
        return Err(AppError::internal(
            "migrate",
            format!(
                "{} migration(s) pending (first: {}): run `confide migrate` first, \
                 or start without --no-migrate",
                pending.len(),
                first.name()
            ),
        ));
    }
    Ok(())
}
