//! Restriction of processing (issue 10, item 4). The DPO restricts processing
//! of a student's records with a reason; while the restriction is open the
//! student's `processing_restricted` flag is set and every role but the DPO
//! reads the student's data under the policy's `restricted` relation (redacted
//! `PROCESSING_RESTRICTED`; the partner feed never signals the student). The
//! DPO records when the student was notified, and only then may lift it.

use super::students::find_required;
use crate::error::{AppError, AppResult};
use crate::policy::{Action, Decisions, FieldClass, Relation};
use crate::service::audit::{self, Event};
use chrono::{DateTime, Utc};
use entity::{restriction, student};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

/// The student-record classes a restriction covers (named in its audit records,
/// and signalled to the partner feed when it is lifted).
fn student_classes() -> crate::policy::ClassSet {
    FieldClass::Identity
        | FieldClass::Contact
        | FieldClass::Demographic
        | FieldClass::Academic
        | FieldClass::TrustedContacts
}

async fn write_event(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    model: &restriction::Model,
    action: &'static str,
    detail: serde_json::Value,
) -> AppResult<()> {
    audit::write(
        db,
        decisions.caller(),
        decisions.origin(),
        vec![Event {
            student_id: Some(model.student_id),
            action,
            fields: vec![FieldClass::Restrictions.as_str().to_owned()],
            outcome: "allow",
            basis: Some(format!("restriction:{}", model.id)),
            detail: Some(detail.to_string()),
        }],
    )
    .await
}

/// Restricts processing of a student's records (the DPO). `CONFLICT` when
/// processing is already restricted.
pub async fn restrict(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    student_id: Uuid,
    reason: String,
) -> AppResult<restriction::Model> {
    let student = find_required(db, decisions, student_id).await?;
    decisions.authorize(Action::RestrictProcessing, Relation::Any)?;
    let now = decisions.now();
    // A conditional update: of two concurrent restrictions exactly one wins.
    let updated = student::Entity::update_many()
        .col_expr(student::Column::ProcessingRestricted, Expr::value(true))
        .col_expr(student::Column::UpdatedAt, Expr::value(now))
        .filter(student::Column::Id.eq(student.id))
        .filter(student::Column::ProcessingRestricted.eq(false))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "processing of this student's records is already restricted".to_owned(),
        ));
    }
    let model = restriction::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student.id),
        reason: Set(reason.clone()),
        restricted_by: Set(decisions.caller().id),
        restricted_at: Set(now),
        student_notified_at: Set(None),
        lifted_by: Set(None),
        lifted_at: Set(None),
        lift_reason: Set(None),
    }
    .insert(db)
    .await?;
    write_event(
        db,
        decisions,
        &model,
        "processing_restricted",
        serde_json::json!({ "reasonChars": reason.chars().count() }),
    )
    .await?;
    Ok(model)
}

/// Records when the student was notified of the restriction (once; not in the
/// future, not before the restriction).
pub async fn record_notified(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
    notified_at: DateTime<Utc>,
) -> AppResult<restriction::Model> {
    let current = super::students::about_visible::<restriction::Entity>(
        db,
        decisions,
        id,
        "restriction",
        |m| m.student_id,
    )
    .await?;
    decisions.authorize(Action::RestrictProcessing, Relation::Any)?;
    if notified_at > decisions.now() || notified_at < current.restricted_at {
        return Err(AppError::bad_input(
            "notifiedAt",
            "must not be in the future nor before the restriction",
        ));
    }
    let updated = restriction::Entity::update_many()
        .col_expr(
            restriction::Column::StudentNotifiedAt,
            Expr::value(notified_at),
        )
        .filter(restriction::Column::Id.eq(id))
        .filter(restriction::Column::StudentNotifiedAt.is_null())
        .filter(restriction::Column::LiftedAt.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the student's notification is already recorded, or the restriction is lifted"
                .to_owned(),
        ));
    }
    let model = restriction::Model {
        student_notified_at: Some(notified_at),
        ..current
    };
    write_event(
        db,
        decisions,
        &model,
        "restriction_notified",
        serde_json::json!({ "notifiedAt": notified_at }),
    )
    .await?;
    Ok(model)
}

/// Lifts a restriction (the DPO): `CONFLICT` until the student's notification
/// is recorded, and when it is already lifted.
pub async fn lift(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
    reason: String,
) -> AppResult<restriction::Model> {
    let current = super::students::about_visible::<restriction::Entity>(
        db,
        decisions,
        id,
        "restriction",
        |m| m.student_id,
    )
    .await?;
    decisions.authorize(Action::RestrictProcessing, Relation::Any)?;
    if current.lifted_at.is_some() {
        return Err(AppError::Conflict(
            "the restriction is already lifted".to_owned(),
        ));
    }
    if current.student_notified_at.is_none() {
        return Err(AppError::Conflict(
            "a restriction cannot be lifted before the student's notification is recorded"
                .to_owned(),
        ));
    }
    let now = decisions.now();
    let caller = decisions.caller().id;
    let updated = restriction::Entity::update_many()
        .col_expr(restriction::Column::LiftedAt, Expr::value(now))
        .col_expr(restriction::Column::LiftedBy, Expr::value(caller))
        .col_expr(restriction::Column::LiftReason, Expr::value(reason.clone()))
        .filter(restriction::Column::Id.eq(id))
        .filter(restriction::Column::LiftedAt.is_null())
        .filter(restriction::Column::StudentNotifiedAt.is_not_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the restriction was lifted by someone else".to_owned(),
        ));
    }
    student::Entity::update_many()
        .col_expr(student::Column::ProcessingRestricted, Expr::value(false))
        .col_expr(student::Column::UpdatedAt, Expr::value(now))
        .filter(student::Column::Id.eq(current.student_id))
        .exec(db)
        .await?;
    // The student's data is readable to outside audiences again: signal it so
    // their feeds resynchronise (never while restricted).
    super::changes::record(db, current.student_id, None, student_classes(), &[]).await?;
    let model = restriction::Model {
        lifted_at: Some(now),
        lifted_by: Some(caller),
        lift_reason: Some(reason.clone()),
        ..current
    };
    write_event(
        db,
        decisions,
        &model,
        "restriction_lifted",
        serde_json::json!({ "reasonChars": reason.chars().count() }),
    )
    .await?;
    Ok(model)
}

/// Restrictions of these students, newest first.
pub async fn of_students(
    db: &impl ConnectionTrait,
    student_ids: &[Uuid],
) -> AppResult<Vec<restriction::Model>> {
    Ok(restriction::Entity::find()
        .filter(restriction::Column::StudentId.is_in(student_ids.iter().copied()))
        .order_by_desc(restriction::Column::RestrictedAt)
        .all(db)
        .await?)
}
