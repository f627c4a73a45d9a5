//! The release ledger: what each caller has been given, so that a new query
//! is protected against differencing with the caller's earlier ones.

use super::protect::{Entry, Prior};
use super::region::Region;
use super::table::Computed;
use super::Measure;
use crate::error::AppResult;
use crate::policy::Decisions;
use chrono::{DateTime, Utc};
use entity::statistics_release;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

/// Rows per insert statement (9 columns a row: well under the databases'
/// limits on bound parameters).
const ROWS_PER_STATEMENT: usize = 500;

/// Takes the caller's ledger for this transaction, so that two queries of
/// one caller are protected against each other: PostgreSQL locks the
/// caller's staff row until commit (`SELECT ... FOR UPDATE`, which checks no
/// foreign key, unlike an update of the row); on SQLite the request's write
/// transaction (`BEGIN IMMEDIATE`) already serialises every writer.
pub async fn lock(db: &impl ConnectionTrait, caller: Uuid) -> AppResult<()> {
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        entity::staff::Entity::find_by_id(caller)
            .select_only()
            .column(entity::staff::Column::Id)
            .lock_exclusive()
            .into_tuple::<Uuid>()
            .one(db)
            .await?;
    }
    Ok(())
}

/// The figures released to the caller since `since`, each distinct one once.
/// A region stored in a form this version cannot read is an error (fail
/// closed: protection against it cannot be checked).
pub async fn load(
    db: &impl ConnectionTrait,
    caller: Uuid,
    since: DateTime<Utc>,
) -> AppResult<Vec<Prior>> {
    let rows: Vec<(String, String, i64, i64)> = statistics_release::Entity::find()
        .select_only()
        .column(statistics_release::Column::Measure)
        .column(statistics_release::Column::Region)
        .column(statistics_release::Column::Value)
        .column(statistics_release::Column::Students)
        .filter(statistics_release::Column::CallerId.eq(caller))
        .filter(statistics_release::Column::ReleasedAt.gte(since))
        // A busy caller asks the same figures again and again: the database
        // hands each distinct one over once.
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let mut priors = Vec::with_capacity(rows.len());
    for (measure, region, value, students) in rows {
        let measure = Measure::parse(&measure).ok_or_else(|| {
            crate::error::AppError::internal(
                "statistics ledger",
                format!("unknown measure {measure}"),
            )
        })?;
        let region: Region = serde_json::from_str(&region)
            .map_err(|e| crate::error::AppError::internal("statistics ledger", e.to_string()))?;
        priors.push(Prior {
            region,
            measure,
            value,
            students,
        });
    }
    Ok(priors)
}

/// Records the figures released (not the suppressed ones).
pub async fn record(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    release_id: Uuid,
    measure: Measure,
    computed: &Computed,
    shown: &[Option<i64>],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let caller = decisions.caller().id;
    let rows: Vec<statistics_release::ActiveModel> = computed
        .entries
        .iter()
        .zip(shown)
        .filter_map(|(e, s): (&Entry, &Option<i64>)| {
            s.map(|value| statistics_release::ActiveModel {
                id: Set(Uuid::now_v7()),
                release_id: Set(release_id),
                caller_id: Set(caller),
                released_at: Set(now),
                measure: Set(measure.as_str().to_owned()),
                region: Set(e.region.to_text()),
                value: Set(value),
                students: Set(e.students),
                cases: Set(e.cases),
            })
        })
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        statistics_release::Entity::insert_many(chunk)
            .exec(db)
            .await?;
    }
    Ok(())
}
