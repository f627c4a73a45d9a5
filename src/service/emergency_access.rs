//! Break-glass: a practitioner's time-boxed emergency read of one case outside
//! their service. A reason is required; it ends by itself; every read under it
//! is audited with its basis; the case's service lead reviews it.

use crate::error::{AppError, AppResult};
use crate::policy::{facts, Action, Decisions, Relation};
use crate::service::audit::{self, Event};
use chrono::{DateTime, Duration, Utc};
use entity::{emergency_access, student};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use std::collections::HashMap;
use uuid::Uuid;

/// How an audit record names a break-glass read as its basis.
pub fn emergency_access_basis(id: Uuid) -> String {
    format!("emergency_access:{id}")
}

/// Opens a break-glass read of `case_id` for `minutes` (at most `max_minutes`).
pub async fn open(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    case_id: Uuid,
    reason: String,
    minutes: i64,
    max_minutes: i64,
) -> AppResult<emergency_access::Model> {
    let caller = decisions.caller();
    let (case, student) = super::cases::find_required(db, decisions, case_id).await?;
    // Only for a case of another service (one's own needs no glass broken).
    let relation = facts::service_relation(
        caller,
        student.id,
        Some(&case.service),
        student.processing_restricted,
    );
    decisions.authorize(Action::OpenEmergencyAccess, relation)?;
    if minutes < 1 || minutes > max_minutes {
        return Err(AppError::bad_input(
            "minutes",
            format!("must be between 1 and {max_minutes}"),
        ));
    }
    let now = decisions.now();
    let model = emergency_access::ActiveModel {
        id: Set(Uuid::new_v4()),
        case_id: Set(case.id),
        student_id: Set(student.id),
        staff_id: Set(caller.id),
        service: Set(case.service.clone()),
        reason: Set(reason.clone()),
        opened_at: Set(now),
        expires_at: Set(now + Duration::minutes(minutes)),
        reviewed_by: Set(None),
        reviewed_at: Set(None),
    }
    .insert(db)
    .await?;
    audit::write(
        db,
        caller,
        decisions.origin(),
        vec![Event {
            student_id: Some(student.id),
            action: "emergency_access",
            fields: vec![format!("case:{}", case.id)],
            outcome: "allow",
            basis: Some(emergency_access_basis(model.id)),
            detail: Some(
                serde_json::json!({ "reasonChars": reason.chars().count(), "expiresAt": model.expires_at })
                    .to_string(),
            ),
        }],
    )
    .await?;
    Ok(model)
}

/// The caller's break-glass reads active at `now`, by case.
pub async fn active_for(
    db: &impl ConnectionTrait,
    staff_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<HashMap<Uuid, emergency_access::Model>> {
    Ok(emergency_access::Entity::find()
        .filter(emergency_access::Column::StaffId.eq(staff_id))
        .filter(emergency_access::Column::OpenedAt.lte(now))
        .filter(emergency_access::Column::ExpiresAt.gt(now))
        .all(db)
        .await?
        .into_iter()
        .map(|g| (g.case_id, g))
        .collect())
}

/// Reviews a break-glass read: the lead of the case's service, or the DPO.
pub async fn review(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
) -> AppResult<emergency_access::Model> {
    let caller = decisions.caller();
    let current = emergency_access::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("emergency access"))?;
    let relation = if caller.service.as_deref() == Some(current.service.as_str()) {
        Relation::Own
    } else {
        Relation::Other
    };
    decisions.authorize(Action::ReviewEmergencyAccess, relation)?;
    let now = decisions.now();
    let updated = emergency_access::Entity::update_many()
        .col_expr(emergency_access::Column::ReviewedBy, Expr::value(caller.id))
        .col_expr(emergency_access::Column::ReviewedAt, Expr::value(now))
        .filter(emergency_access::Column::Id.eq(id))
        .filter(emergency_access::Column::ReviewedAt.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the review is already complete".to_owned(),
        ));
    }
    decisions.wrote(
        Action::ReviewEmergencyAccess,
        Some(current.student_id),
        current.id,
    );
    Ok(emergency_access::Model {
        reviewed_by: Some(caller.id),
        reviewed_at: Some(now),
        ..current
    })
}

/// Break-glass reads awaiting review: a service lead's own service's, or all
/// (the DPO), oldest first, with their student.
pub async fn pending_reviews(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
) -> AppResult<Vec<(emergency_access::Model, student::Model)>> {
    decisions.authorize(Action::ListEmergencyAccessReviews, Relation::Any)?;
    let caller = decisions.caller();
    let mut q = emergency_access::Entity::find()
        .filter(emergency_access::Column::ReviewedAt.is_null())
        .order_by_asc(emergency_access::Column::OpenedAt);
    if let Some(service) = &caller.service {
        q = q.filter(emergency_access::Column::Service.eq(service.clone()));
    }
    let grants = q.all(db).await?;
    let ids: Vec<Uuid> = grants.iter().map(|g| g.student_id).collect();
    let students: HashMap<Uuid, student::Model> = student::Entity::find()
        .filter(student::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    Ok(grants
        .into_iter()
        .filter_map(|g| students.get(&g.student_id).cloned().map(|s| (g, s)))
        .collect())
}
