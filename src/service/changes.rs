//! What changed about a student, by field class, for the partner feed. Written
//! in the same transaction as the change itself.

use crate::domain::{labels_to_json, SensitivityLabel};
use crate::error::AppResult;
use crate::policy::ClassSet;
use entity::change_event;
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use uuid::Uuid;

/// Records that `classes` of a student (and `case`) changed now; `labels` are a
/// note's labels.
pub async fn record(
    db: &impl ConnectionTrait,
    student_id: Uuid,
    case_id: Option<Uuid>,
    classes: ClassSet,
    labels: &[SensitivityLabel],
) -> AppResult<()> {
    if classes.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now();
    let rows = classes.iter().map(|class| change_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        student_id: Set(student_id),
        case_id: Set(case_id),
        class: Set(class.as_str().to_owned()),
        labels: Set(labels_to_json(labels)),
        occurred_at: Set(now),
    });
    change_event::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}
