//! The append-only audit trail: reads, redactions, denials and disclosures.

use crate::auth::Caller;
use crate::error::AppResult;
use crate::policy::FieldClass;
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

pub fn class_names(bits: u16) -> Vec<String> {
    FieldClass::ALL
        .iter()
        .filter(|c| bits & c.bit() != 0)
        .map(|c| c.as_str().to_owned())
        .collect()
}

/// Writes the events in one statement; an error means none was written.
pub async fn write(
    db: &impl ConnectionTrait,
    caller: &Caller,
    events: Vec<Event>,
) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now();
    let rows = events.into_iter().map(|e| audit_event::ActiveModel {
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
    });
    audit_event::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}
