//! Legal holds (issue 10, item 5): the DPO places a hold on a student's
//! records, with a reason, and lifts it, with a reason. While a hold is active
//! nothing of the student is destroyed (the purge skips them and reports them
//! held; a granted erasure request is refused with CONFLICT). The reasons stay
//! in the hold's own row (destroyed with the student); the audit records carry
//! the hold's id only.

use super::destruction::lock_student;
use super::students::find_required;
use crate::error::{AppError, AppResult};
use crate::policy::{Action, Decisions, FieldClass, Relation};
use crate::service::audit::{self, Event};
use entity::legal_hold;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

async fn write_event(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    model: &legal_hold::Model,
    action: &'static str,
) -> AppResult<()> {
    audit::write(
        db,
        decisions.caller(),
        decisions.origin(),
        vec![Event {
            student_id: Some(model.student_id),
            action,
            fields: vec![FieldClass::Retention.as_str().to_owned()],
            outcome: "allow",
            basis: Some(format!("legal_hold:{}", model.id)),
            detail: None,
        }],
    )
    .await
}

/// Places a legal hold on a student's records (the DPO).
pub async fn place(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    student_id: Uuid,
    reason: String,
) -> AppResult<legal_hold::Model> {
    let student = find_required(db, decisions, student_id).await?;
    decisions.authorize(Action::PlaceLegalHold, Relation::Any)?;
    // Serialised with a destruction of the same student: the hold is seen by
    // it, or the student is gone.
    if !lock_student(db, student.id).await? {
        return Err(AppError::NotFound("student"));
    }
    let model = legal_hold::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student.id),
        reason: Set(reason),
        placed_by: Set(decisions.caller().id),
        placed_at: Set(decisions.now()),
        lifted_by: Set(None),
        lifted_at: Set(None),
        lift_reason: Set(None),
    }
    .insert(db)
    .await?;
    write_event(db, decisions, &model, "legal_hold_placed").await?;
    Ok(model)
}

/// Lifts a legal hold (the DPO). `CONFLICT` when already lifted.
pub async fn lift(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
    reason: String,
) -> AppResult<legal_hold::Model> {
    let current = super::students::about_visible::<legal_hold::Entity>(
        db,
        decisions,
        id,
        "legal hold",
        |m| m.student_id,
    )
    .await?;
    decisions.authorize(Action::PlaceLegalHold, Relation::Any)?;
    let now = decisions.now();
    let caller = decisions.caller().id;
    let updated = legal_hold::Entity::update_many()
        .col_expr(legal_hold::Column::LiftedAt, Expr::value(now))
        .col_expr(legal_hold::Column::LiftedBy, Expr::value(caller))
        .col_expr(legal_hold::Column::LiftReason, Expr::value(reason.clone()))
        .filter(legal_hold::Column::Id.eq(id))
        .filter(legal_hold::Column::LiftedAt.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the legal hold is already lifted".to_owned(),
        ));
    }
    let model = legal_hold::Model {
        lifted_at: Some(now),
        lifted_by: Some(caller),
        lift_reason: Some(reason),
        ..current
    };
    write_event(db, decisions, &model, "legal_hold_lifted").await?;
    Ok(model)
}
