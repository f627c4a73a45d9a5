//! The partner feed: the students an outside caller may see for whom something
//! that caller can read changed since a given time, or whose consent or
//! exception naming the caller was given or confirmed since then.

use super::students::{query, StudentFilter};
use super::Page;
use crate::error::AppResult;
use crate::policy::access::caller_recipient;
use crate::policy::facts::{self, exception_naming, readable_changes};
use crate::policy::{Action, Decisions, Relation};
use chrono::{DateTime, Utc};
use entity::{change_event, risk_exception, student};
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};

/// Changes in `(since, until]`: `until` trails the clock by the settling time,
/// so a change stamped before it (at write time) has committed by the time it
/// is served, and a sync resuming from `until` misses none.
fn feed_query(
    decisions: &Decisions,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> AppResult<Option<Select<student::Entity>>> {
    decisions.authorize(Action::PartnerFeed, Relation::None)?;
    let Some(recipient) = caller_recipient(decisions.caller()) else {
        return Ok(None);
    };
    let Some(readable) = readable_changes(decisions, decisions.now()) else {
        return Ok(None);
    };
    let Some(q) = query(decisions, &StudentFilter::default())? else {
        return Ok(None);
    };
    let student_id = || Expr::col((student::Entity, student::Column::Id));
    let changed = Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(change_event::Entity)
            .and_where(
                Expr::col((change_event::Entity, change_event::Column::StudentId)).eq(student_id()),
            )
            .and_where(change_event::Column::OccurredAt.gt(since))
            .and_where(change_event::Column::OccurredAt.lte(until))
            .cond_where(readable)
            .to_owned(),
    );
    let now = decisions.now();
    let consent_given = facts::consent_given_between(&recipient, student_id(), since, until, now);
    let exception_confirmed = exception_naming(
        &recipient,
        student_id(),
        facts::exception_active_sql(now)
            .add(risk_exception::Column::ConfirmedAt.gt(since))
            .add(risk_exception::Column::ConfirmedAt.lte(until)),
    );
    Ok(Some(
        // A student whose processing is restricted has nothing the recipient
        // may read: never signalled.
        q.filter(student::Column::ProcessingRestricted.eq(false))
            .filter(
                Condition::any()
                    .add(changed)
                    .add(consent_given)
                    .add(exception_confirmed),
            ),
    ))
}

/// One page of the feed, in student id order.
pub async fn page(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    page: Page,
) -> AppResult<Vec<student::Model>> {
    match feed_query(decisions, since, until)? {
        Some(q) => Ok(q
            .order_by(student::Column::Id, Order::Asc)
            .offset(page.offset)
            .limit(page.limit)
            .all(db)
            .await?),
        None => Ok(Vec::new()),
    }
}

/// How many students the feed holds since `since`.
pub async fn count(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> AppResult<u64> {
    match feed_query(decisions, since, until)? {
        Some(q) => Ok(q.count(db).await?),
        None => Ok(0),
    }
}
