//! The append-only audit trail: reads, redactions, denials and disclosures.

use crate::auth::Caller;
use crate::error::AppResult;
use crate::policy::ClassSet;
use entity::audit_event;
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use uuid::Uuid;

/// One audit record to write.
#[derive(Clone, Debug)]
pub struct Event {
    pub student_id: Option<Uuid>,
    pub action: &'static str,
    pub fields: Vec<String>,
    pub outcome: &'static str,
    pub basis: Option<String>,
    pub detail: Option<String>,
}

pub fn class_names(classes: ClassSet) -> Vec<String> {
    classes.iter().map(|c| c.as_str().to_owned()).collect()
}

/// Rows per insert statement: well under SQLite's and PostgreSQL's limits on
/// bound parameters (11 columns a row), so no read is refused for its size.
const ROWS_PER_STATEMENT: usize = 500;

/// Writes the events (one statement per 500; callers that need all-or-nothing
/// write inside a transaction or treat any error as "nothing released").
pub async fn write(
    db: &impl ConnectionTrait,
    caller: &Caller,
    request_id: Option<Uuid>,
    events: Vec<Event>,
) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now();
    let rows: Vec<audit_event::ActiveModel> = events
        .into_iter()
        .map(|e| audit_event::ActiveModel {
            // Time-ordered ids keep the append-only table's primary key index
            // appending at its right edge; the time they encode is `occurred_at`.
            id: Set(Uuid::now_v7()),
            occurred_at: Set(now),
            actor_id: Set(caller.id),
            actor_role: Set(caller.role.as_str().to_owned()),
            student_id: Set(e.student_id),
            action: Set(e.action.to_owned()),
            fields: Set(serde_json::json!(e.fields)),
            outcome: Set(e.outcome.to_owned()),
            basis: Set(e.basis),
            detail: Set(e.detail),
            request_id: Set(request_id),
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        audit_event::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await?;
    }
    Ok(())
}
