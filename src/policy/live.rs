//! The policy in force, shared by every instance through the database.
//!
//! Versions of the policy are stored in table `policy_version` (written once by
//! `confide policy publish FILE`, which refuses a policy that does not load).
//! Every instance serves the version with the highest id, checking for a newer
//! one every `--policy-poll-secs` seconds and at once on SIGHUP, and swaps it in
//! atomically ([`arc_swap::ArcSwap`]). A request takes one snapshot of the
//! policy when it starts ([`Live::snapshot`]) and decides everything with it,
//! so no request is decided by a mix of two versions. A version that fails to
//! load (stored by hand, or written for another release) is never swapped in:
//! the running one stays and the error is logged.
//!
//! Until a version is published, the policy file (`--policy-path`) or the
//! embedded default is served, named `file:` or `embedded:` and the first 12
//! hex digits of its SHA-256.

use super::Policy;
use crate::error::{AppError, AppResult};
use arc_swap::ArcSwap;
use entity::policy_version;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Hex SHA-256 of a policy text.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A published version, as `confide policy publish` and `list` show it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Published {
    pub id: i64,
    pub sha256: String,
    pub published_at: chrono::DateTime<chrono::Utc>,
    pub published_by: String,
    pub comment: Option<String>,
}

impl From<policy_version::Model> for Published {
    fn from(m: policy_version::Model) -> Self {
        Published {
            id: m.id,
            sha256: m.sha256,
            published_at: m.published_at,
            published_by: m.published_by,
            comment: m.comment,
        }
    }
}

/// The id and hash of the latest published version, if any (one short query).
async fn latest_head(db: &impl ConnectionTrait) -> AppResult<Option<(i64, String)>> {
    Ok(policy_version::Entity::find()
        .select_only()
        .column(policy_version::Column::Id)
        .column(policy_version::Column::Sha256)
        .order_by_desc(policy_version::Column::Id)
        .limit(1)
        .into_tuple::<(i64, String)>()
        .one(db)
        .await?)
}

/// Loads a stored version: its text must match its hash and load.
async fn load_version(db: &impl ConnectionTrait, id: i64) -> AppResult<Policy> {
    let row = policy_version::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal("policy", format!("version {id} vanished")))?;
    if sha256_hex(&row.body) != row.sha256 {
        return Err(AppError::internal(
            "policy",
            format!("version {id}: the stored text does not match its hash"),
        ));
    }
    Ok(Policy::from_text(&row.body)
        .await?
        .with_version(id.to_string()))
}

/// The policy to start with: the latest published version (which must load:
/// an instance does not start on a policy it cannot read), else the file at
/// `path`, else the embedded default.
pub async fn initial(db: &impl ConnectionTrait, path: Option<&Path>) -> AppResult<Policy> {
    match latest_head(db).await? {
        Some((id, _)) => {
            if let Some(path) = path {
                tracing::warn!(
                    path = %path.display(),
                    version = id,
                    "a policy version is published in the database: the policy file is not used"
                );
            }
            load_version(db, id).await
        }
        None => super::load_text(path).await,
    }
}

/// Publishes `text` as the next version, if it loads (else the error says why
/// and nothing is stored). Two publishers at once: one wins, the other is
/// refused with CONFLICT (the id is the primary key).
pub async fn publish(
    db: &sea_orm::DatabaseConnection,
    text: &str,
    published_by: &str,
    comment: Option<&str>,
) -> AppResult<Published> {
    Policy::from_text(text).await.map_err(|e| match e {
        AppError::Internal { source, .. } => {
            AppError::bad_input("policy", format!("refused, it does not load: {source}"))
        }
        other => other,
    })?;
    let txn = db.begin().await?;
    let next = latest_head(&txn).await?.map_or(1, |(id, _)| id + 1);
    let row = policy_version::ActiveModel {
        id: Set(next),
        body: Set(text.to_owned()),
        sha256: Set(sha256_hex(text)),
        published_at: Set(chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6)),
        published_by: Set(published_by.to_owned()),
        comment: Set(comment.map(str::to_owned)),
    }
    .insert(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            AppError::Conflict("another version was published at the same time; try again".into())
        }
        _ => AppError::from(e),
    })?;
    txn.commit().await?;
    Ok(row.into())
}

/// Every published version, newest first.
pub async fn list(db: &impl ConnectionTrait) -> AppResult<Vec<Published>> {
    Ok(policy_version::Entity::find()
        .order_by_desc(policy_version::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Published::from)
        .collect())
}

/// The policy an instance serves, swapped atomically when a new version is
/// published.
pub struct Live {
    current: ArcSwap<Policy>,
    /// The id of the latest version this instance tried and failed to load,
    /// so its error is logged once, not on every poll.
    failed: AtomicI64,
}

impl Live {
    pub fn new(policy: Policy) -> Self {
        Live {
            current: ArcSwap::from_pointee(policy),
            failed: AtomicI64::new(0),
        }
    }

    /// The policy a request decides everything with: taken once, when it starts.
    pub fn snapshot(&self) -> Arc<Policy> {
        self.current.load_full()
    }

    /// Checks the database for a newer version and swaps it in if it loads.
    /// Returns the version now served. A version that fails to load is
    /// logged (once) and never served.
    pub async fn refresh(&self, db: &impl ConnectionTrait) -> AppResult<String> {
        let running = self.current.load();
        let Some((id, sha256)) = latest_head(db).await? else {
            return Ok(running.version().to_owned());
        };
        if running.version() == id.to_string() || self.failed.load(Ordering::Relaxed) == id {
            return Ok(running.version().to_owned());
        }
        match load_version(db, id).await {
            Ok(policy) => {
                tracing::info!(
                    from = running.version(),
                    to = id,
                    sha256 = %sha256,
                    "policy version swapped in"
                );
                self.current.store(Arc::new(policy));
                Ok(id.to_string())
            }
            Err(e) => {
                self.failed.store(id, Ordering::Relaxed);
                tracing::error!(
                    version = id,
                    running = running.version(),
                    error = ?e,
                    "published policy version does not load; still serving the running one"
                );
                Ok(running.version().to_owned())
            }
        }
    }

    /// Refreshes every `interval`, and at once on SIGHUP, until the task is
    /// aborted. A failed check (database unreachable) is logged and retried at
    /// the next tick; the running policy stays.
    pub fn spawn_watcher(
        self: Arc<Self>,
        db: sea_orm::DatabaseConnection,
        interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut hangup = hangup_signal();
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    Some(()) = next_hangup(&mut hangup) => {
                        tracing::info!("SIGHUP: checking for a new policy version");
                    }
                }
                if let Err(e) = self.refresh(&db).await {
                    tracing::warn!(error = ?e, "could not check for a new policy version");
                }
            }
        })
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; polling only");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {
    None
}

/// The next SIGHUP; never, without a listener.
async fn next_hangup(hangup: &mut Hangup) -> Option<()> {
    #[cfg(unix)]
    if let Some(signal) = hangup {
        return signal.recv().await;
    }
    let _ = hangup;
    std::future::pending().await
}
