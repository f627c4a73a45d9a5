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
    /// PostgreSQL: whether the connection is encrypted (see [`DatabaseTls`]).
    pub tls: DatabaseTls,
    /// Connections in the pool; `None` for the backend's default
    /// ([`SQLITE_POOL_SIZE`], [`POSTGRES_POOL_SIZE`]).
    pub pool_size: Option<u32>,
}

/// Transport security to PostgreSQL, applied when the URL names no `sslmode`
/// of its own (an explicit `sslmode` in the URL is used as written).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DatabaseTls {
    /// No TLS to a server on this host (a loopback address, `localhost` or a
    /// Unix socket: the traffic never leaves the machine, and TLS there cost
    /// ~15 % of a dashboard request's throughput); TLS required to any other.
    #[default]
    Auto,
    /// TLS required, whatever the host.
    Require,
    /// TLS if the server offers it (sqlx's own default; open to a downgrade).
    Prefer,
    /// No TLS: refused unless the server is on this host.
    Disable,
}

/// Whether a PostgreSQL host is this machine: a loopback address,
/// `localhost`, or a Unix socket directory.
fn is_local_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether the URL's query names an `sslmode` itself.
fn url_names_sslmode(url: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| {
        query
            .split('&')
            .any(|kv| kv.starts_with("sslmode=") || kv.starts_with("ssl-mode="))
    })
}

/// The sslmode for a server at `host`, or a refusal (`disable` to a server
/// elsewhere would send student records in clear over a network).
fn ssl_mode_for(tls: DatabaseTls, host: &str) -> AppResult<sea_orm::sqlx::postgres::PgSslMode> {
    use sea_orm::sqlx::postgres::PgSslMode;
    let local = is_local_host(host);
    Ok(match tls {
        DatabaseTls::Auto if local => PgSslMode::Disable,
        DatabaseTls::Auto | DatabaseTls::Require => PgSslMode::Require,
        DatabaseTls::Prefer => PgSslMode::Prefer,
        DatabaseTls::Disable if local => PgSslMode::Disable,
        DatabaseTls::Disable => {
            return Err(AppError::internal(
                "database connect",
                format!("database TLS disable refused: {host} is not this machine"),
            ))
        }
    })
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            statement_timeout: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(5),
            tls: DatabaseTls::Auto,
            pool_size: None,
        }
    }
}

/// Connections in a SQLite pool by default.
pub const SQLITE_POOL_SIZE: u32 = 8;

/// Connections in a PostgreSQL pool by default.
pub const POSTGRES_POOL_SIZE: u32 = 16;

/// SQLite: how many requests may hold a write transaction at once.
///
/// SQLite has one writer at a time, so a request's write transaction (`BEGIN
/// IMMEDIATE`) can hold a pooled connection while it waits its turn, and the
/// writer whose turn it is may still need a connection for a read (a query's
/// fields resolve concurrently: one may read through the pool while another is
/// beginning the write). With every connection held by writers in line, that
/// read waited for the acquire timeout: more queries that read and write
/// (statistics record what they released) than the pool had connections
/// stalled it for 10 s, then failed with INTERNAL. A licence, taken before the
/// write transaction's connection and held with it, leaves two connections no
/// writer holds, for reads (which wait on nothing in WAL mode) and the audit
/// batcher. Off on PostgreSQL, whose writers do not queue for one lock.
#[derive(Clone, Debug, Default)]
pub struct WriterLicences {
    permits: Option<Arc<tokio::sync::Semaphore>>,
}

impl WriterLicences {
    /// For a pool on `backend`: on for SQLite, off for PostgreSQL.
    pub fn for_backend(backend: sea_orm::DbBackend) -> Self {
        if backend == sea_orm::DbBackend::Sqlite {
            let permits = SQLITE_POOL_SIZE.saturating_sub(2).max(1) as usize;
            WriterLicences {
                permits: Some(Arc::new(tokio::sync::Semaphore::new(permits))),
            }
        } else {
            WriterLicences::default()
        }
    }

    /// A licence for one write transaction, waiting for one to be free;
    /// `None` when licences are off.
    pub async fn take(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.permits.as_ref()?.clone().acquire_owned().await.ok()
    }
}

/// `column IN (ids)`, written so that PostgreSQL plans it once: there it is
/// `column = ANY($1)` with the ids as one array parameter, so the statement
/// has one text (one prepared statement) whatever the number of ids, and
/// PostgreSQL keeps a generic plan for it. An `IN` list of 50 bound values
/// was planned again on every execution (the plan for those exact values
/// looked a little cheaper than the generic one): a tenth of a millisecond of
/// PostgreSQL's CPU per dashboard request (BENCHMARKS.md run 25). SQLite has
/// no arrays and prepares each statement text once: `IN` as before.
pub fn any_of<C: sea_orm::ColumnTrait>(
    backend: sea_orm::DbBackend,
    column: C,
    ids: &[uuid::Uuid],
) -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{extension::postgres::PgFunc, Expr, ExprTrait};
    match backend {
        sea_orm::DbBackend::Postgres => {
            Expr::col(column.as_column_ref()).eq(PgFunc::any(Expr::val(ids.to_vec())))
        }
        _ => column.is_in(ids.iter().copied()),
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
        .acquire_timeout(Duration::from_secs(10))
        // No ping before every statement: it was a third of a dashboard
        // request's round trips to PostgreSQL (issue 13). A connection the
        // server closed fails its next statement, and is then dropped from
        // the pool; connections are recycled after 30 minutes regardless.
        .test_before_acquire(false)
        .max_lifetime(Duration::from_secs(30 * 60));
    if url.starts_with("sqlite:") {
        // WAL lets readers proceed during the per-request audit write; NORMAL
        // synchronous is durable in WAL mode across application crashes.
        options
            .max_connections(db_options.pool_size.unwrap_or(SQLITE_POOL_SIZE))
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
                // sqlx counts the transactions it began and finished (a failed
                // COMMIT leaves the count up), so a clean connection, nearly
                // every release, is told apart without a statement; only one
                // the count says is inside a transaction pays for the ROLLBACK
                // (which also clears a rollback still queued from a dropped
                // transaction). Before, every release ran a ROLLBACK on the
                // connection's thread: a second round trip per statement.
                o.after_release(|conn, _meta| {
                    Box::pin(async move {
                        use sea_orm::sqlx::{Connection, Executor};
                        if !conn.is_in_transaction() {
                            return Ok(true);
                        }
                        match conn.execute("ROLLBACK").await {
                            Ok(_) => {
                                tracing::warn!(
                                    "closing a SQLite connection released inside a transaction"
                                );
                                Ok(false)
                            }
                            // "no transaction is active": clean once the count
                            // agrees (a rollback queued by a dropped transaction
                            // ran first). A count still up on a connection SQLite
                            // says is outside any transaction would make sqlx
                            // nest the next BEGIN as a SAVEPOINT: closed.
                            Err(_) => Ok(!conn.is_in_transaction()),
                        }
                    })
                })
            });
    } else {
        let timeout_ms = statement_timeout.as_millis().to_string();
        let ssl_mode = if url_names_sslmode(url) {
            None
        } else {
            let parsed = url
                .parse::<sea_orm::sqlx::postgres::PgConnectOptions>()
                .map_err(|e| AppError::internal("database connect", e))?;
            Some(ssl_mode_for(db_options.tls, parsed.get_host())?)
        };
        options
            .max_connections(db_options.pool_size.unwrap_or(POSTGRES_POOL_SIZE))
            .min_connections(1)
            .map_sqlx_postgres_opts(move |o| {
                // No JIT: the guard's queries are many short ones, and
                // compiling one costs ~50 ms, more than running it (run 7).
                let o = o.options([
                    ("statement_timeout", timeout_ms.clone()),
                    ("jit", "off".to_owned()),
                ]);
                match ssl_mode {
                    Some(mode) => o.ssl_mode(mode),
                    None => o,
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sqlx::postgres::PgSslMode;

    /// Polls `cond` for up to 5 s (a release's check runs after the drop).
    async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
        for _ in 0..500 {
            if cond() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// Releases `conn` and tells whether the pool closed it.
    async fn closed_on_release(
        pool: &sea_orm::sqlx::SqlitePool,
        conn: sea_orm::sqlx::pool::PoolConnection<sea_orm::sqlx::Sqlite>,
    ) -> bool {
        let size = pool.size();
        drop(conn);
        eventually(|| pool.size() == size - 1).await
    }

    #[tokio::test]
    async fn a_sqlite_connection_released_inside_a_transaction_is_closed_and_a_clean_one_kept() {
        use sea_orm::sqlx::{Connection, Executor};
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = connect(&url).await.unwrap();
        let pool = db.get_sqlite_connection_pool();
        pool.execute("CREATE TABLE t (x INTEGER)").await.unwrap();

        // Clean: used and released, then kept (the pool does not shrink).
        let mut clean = pool.acquire().await.unwrap();
        clean.execute("INSERT INTO t VALUES (1)").await.unwrap();
        assert!(!clean.is_in_transaction());
        let size = pool.size();
        drop(clean);
        assert!(eventually(|| pool.num_idle() == size as usize).await);
        assert_eq!(pool.size(), size, "a clean connection was closed");

        // Left inside a write transaction (as a failed COMMIT leaves it):
        // closed on release, so its write lock goes with it.
        let mut stuck = pool.acquire().await.unwrap();
        let mut txn = stuck.begin_with("BEGIN IMMEDIATE").await.unwrap();
        txn.execute("INSERT INTO t VALUES (2)").await.unwrap();
        // Forgotten, not dropped: nothing rolls it back.
        std::mem::forget(txn);
        assert!(stuck.is_in_transaction());
        assert!(
            closed_on_release(pool, stuck).await,
            "a connection inside a transaction went back to the pool"
        );
        // Its write was rolled back and the lock released: another writes at once.
        pool.execute("INSERT INTO t VALUES (3)").await.unwrap();
        let rows: Vec<(i64,)> = sea_orm::sqlx::query_as("SELECT x FROM t ORDER BY x")
            .fetch_all(pool)
            .await
            .unwrap();
        assert_eq!(rows, vec![(1,), (3,)]);

        // Counted inside a transaction that SQLite already ended (as when it
        // rolls back by itself on an error): the next BEGIN would become a
        // SAVEPOINT, so it is closed too.
        let mut miscounted = pool.acquire().await.unwrap();
        std::mem::forget(miscounted.begin().await.unwrap());
        miscounted.execute("ROLLBACK").await.unwrap();
        assert!(miscounted.is_in_transaction());
        assert!(
            closed_on_release(pool, miscounted).await,
            "a connection with a wrong transaction count went back to the pool"
        );
    }

    #[test]
    fn auto_tls_is_off_only_for_a_server_on_this_host() {
        for host in [
            "127.0.0.1",
            "127.0.0.2",
            "::1",
            "[::1]",
            "localhost",
            "/var/run/postgresql",
        ] {
            assert!(
                matches!(
                    ssl_mode_for(DatabaseTls::Auto, host),
                    Ok(PgSslMode::Disable)
                ),
                "{host}"
            );
        }
        for host in [
            "db.example.ac.uk",
            "10.0.0.5",
            "192.168.1.2",
            "localhost.evil.com",
        ] {
            assert!(
                matches!(
                    ssl_mode_for(DatabaseTls::Auto, host),
                    Ok(PgSslMode::Require)
                ),
                "{host}"
            );
        }
    }

    #[test]
    fn tls_cannot_be_disabled_to_a_remote_database() {
        assert!(ssl_mode_for(DatabaseTls::Disable, "db.example.ac.uk").is_err());
        assert!(ssl_mode_for(DatabaseTls::Disable, "10.0.0.5").is_err());
        assert!(matches!(
            ssl_mode_for(DatabaseTls::Disable, "127.0.0.1"),
            Ok(PgSslMode::Disable)
        ));
        assert!(matches!(
            ssl_mode_for(DatabaseTls::Require, "127.0.0.1"),
            Ok(PgSslMode::Require)
        ));
        assert!(matches!(
            ssl_mode_for(DatabaseTls::Prefer, "db.example.ac.uk"),
            Ok(PgSslMode::Prefer)
        ));
    }

    #[test]
    fn an_sslmode_in_the_url_is_used_as_written() {
        assert!(url_names_sslmode(
            "postgres://u@db.example.ac.uk/confide?sslmode=verify-full"
        ));
        assert!(url_names_sslmode(
            "postgres://u@h/d?application_name=x&sslmode=disable"
        ));
        assert!(!url_names_sslmode("postgres://u@h/d?application_name=x"));
        assert!(!url_names_sslmode("postgres://u@h/d"));
    }
}
