//! Erasure requests (issue 10, items 5 and 6). A student requests erasure of
//! their own record (the DPO may open one on their behalf); the student lists
//! their own requests; the DPO lists the requests and decides each: granted
//! (the student is destroyed at once, by the purge's code path, with the
//! tombstone basis `erasure_request:<id>`; refused with CONFLICT while a legal
//! hold is active) or refused with a recorded reason.
//!
//! The request row is destroyed with the student (it carries their grounds);
//! what remains of a granted request is in the audit trail: the
//! `erasure_granted` record and the `destroyed` tombstone, both naming the
//! request by id. Grounds and refusal reasons stay in the request's own row.

use super::destruction::{self, lock_student, Grounds};
use super::students::find_required;
use crate::error::{AppError, AppResult};
use crate::policy::facts::service_relation;
use crate::policy::{Action, Decisions, FieldClass, Relation};
use crate::service::audit::{self, Event};
use entity::{erasure_request, student};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

pub const OPEN: &str = "open";
pub const GRANTED: &str = "granted";
pub const REFUSED: &str = "refused";

pub fn basis(id: Uuid) -> String {
    format!("erasure_request:{id}")
}

async fn write_event(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    model: &erasure_request::Model,
    action: &'static str,
) -> AppResult<()> {
    audit::write(
        db,
        decisions.caller(),
        decisions.origin(),
        vec![Event {
            student_id: Some(model.student_id),
            action,
            fields: vec![FieldClass::ErasureRequests.as_str().to_owned()],
            outcome: "allow",
            basis: Some(basis(model.id)),
            detail: None,
        }],
    )
    .await
}

/// Requests erasure of a student's records: the student themself (any other
/// student is not found), or the DPO on their behalf. `CONFLICT` while
/// another request of theirs is open.
pub async fn request(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    student_id: Uuid,
    grounds: Option<String>,
) -> AppResult<erasure_request::Model> {
    let student = find_required(db, decisions, student_id).await?;
    let caller = decisions.caller();
    decisions.authorize(
        Action::RequestErasure,
        service_relation(caller, student.id, None, student.processing_restricted),
    )?;
    let open = erasure_request::Entity::find()
        .filter(erasure_request::Column::StudentId.eq(student.id))
        .filter(erasure_request::Column::Status.eq(OPEN))
        .one(db)
        .await?;
    if open.is_some() {
        return Err(AppError::Conflict(
            "an erasure request of this student is already open".to_owned(),
        ));
    }
    let model = erasure_request::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student.id),
        grounds: Set(grounds),
        requested_by: Set(caller.id),
        requested_by_role: Set(caller.role.as_str().to_owned()),
        requested_at: Set(decisions.now()),
        status: Set(OPEN.to_owned()),
        decided_by: Set(None),
        decided_at: Set(None),
        refusal_reason: Set(None),
    }
    .insert(db)
    .await?;
    write_event(db, decisions, &model, "erasure_requested").await?;
    Ok(model)
}

/// The caller's own erasure requests (a student), newest first.
pub async fn mine(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
) -> AppResult<Vec<erasure_request::Model>> {
    decisions.authorize(Action::RequestErasure, Relation::SelfRecord)?;
    Ok(erasure_request::Entity::find()
        .filter(erasure_request::Column::StudentId.eq(decisions.caller().id))
        .order_by_desc(erasure_request::Column::RequestedAt)
        .all(db)
        .await?)
}

/// Erasure requests (the DPO), oldest first: the open ones, or all.
pub async fn list(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    open_only: bool,
) -> AppResult<Vec<(erasure_request::Model, student::Model)>> {
    decisions.authorize(Action::DecideErasure, Relation::Any)?;
    let mut q = erasure_request::Entity::find().find_also_related(student::Entity);
    if open_only {
        q = q.filter(erasure_request::Column::Status.eq(OPEN));
    }
    Ok(q.order_by_asc(erasure_request::Column::RequestedAt)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(r, s)| s.map(|s| (r, s)))
        .collect())
}

async fn open_request(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
) -> AppResult<erasure_request::Model> {
    let current = super::students::about_visible::<erasure_request::Entity>(
        db,
        decisions,
        id,
        "erasure request",
        |m| m.student_id,
    )
    .await?;
    decisions.authorize(Action::DecideErasure, Relation::Any)?;
    if current.status != OPEN {
        return Err(AppError::Conflict(
            "the erasure request is already decided".to_owned(),
        ));
    }
    Ok(current)
}

/// Marks an open request decided (a conditional update: of two concurrent
/// decisions exactly one wins).
async fn decide(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    current: erasure_request::Model,
    status: &'static str,
    refusal_reason: Option<String>,
) -> AppResult<erasure_request::Model> {
    let now = decisions.now();
    let caller = decisions.caller().id;
    let updated = erasure_request::Entity::update_many()
        .col_expr(erasure_request::Column::Status, Expr::value(status))
        .col_expr(erasure_request::Column::DecidedAt, Expr::value(now))
        .col_expr(erasure_request::Column::DecidedBy, Expr::value(caller))
        .col_expr(
            erasure_request::Column::RefusalReason,
            Expr::value(refusal_reason.clone()),
        )
        .filter(erasure_request::Column::Id.eq(current.id))
        .filter(erasure_request::Column::Status.eq(OPEN))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::changed_meanwhile("erasure request"));
    }
    Ok(erasure_request::Model {
        status: status.to_owned(),
        decided_at: Some(now),
        decided_by: Some(caller),
        refusal_reason,
        ..current
    })
}

/// Grants an open request (the DPO): the student is destroyed at once.
/// `CONFLICT` while a legal hold is active. Returns the request as decided
/// (its row is destroyed with the student).
pub async fn grant(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
) -> AppResult<erasure_request::Model> {
    let current = open_request(db, decisions, id).await?;
    if !lock_student(db, current.student_id).await? {
        return Err(AppError::NotFound("erasure request"));
    }
    if destruction::held(db, current.student_id).await? {
        return Err(AppError::Conflict(
            "the student's records are under a legal hold: erasure cannot be granted".to_owned(),
        ));
    }
    let model = decide(db, decisions, current, GRANTED, None).await?;
    write_event(db, decisions, &model, "erasure_granted").await?;
    destruction::destroy(
        db,
        decisions.caller(),
        decisions.origin(),
        model.student_id,
        &Grounds {
            basis: basis(model.id),
            rule: "erasure_request".to_owned(),
            due_on: None,
        },
    )
    .await?;
    Ok(model)
}

/// Refuses an open request (the DPO), with the reason (kept in the request).
pub async fn refuse(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
    reason: String,
) -> AppResult<erasure_request::Model> {
    let current = open_request(db, decisions, id).await?;
    let model = decide(db, decisions, current, REFUSED, Some(reason)).await?;
    write_event(db, decisions, &model, "erasure_refused").await?;
    Ok(model)
}
