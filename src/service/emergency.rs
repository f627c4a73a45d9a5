//! Emergency disclosures: in a life-threatening emergency one practitioner
//! discloses at once and records it here; a registered mental health
//! professional other than the discloser reviews it within a configured number
//! of working days; overdue reviews are listed to service leads and the DPO; the
//! student is informed as for risk exceptions.

use super::risk_exceptions::{informed_input, professional, CLOCK_SKEW};
use super::students::{find_required, write_relation};
use crate::domain::{enum_list_to_json, DataCategory};
use crate::error::{AppError, AppResult};
use crate::policy::{facts, Action, Decisions};
use crate::service::audit::{self, Event};
use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use entity::{emergency_disclosure, student};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

/// How an audit record names an emergency disclosure as its basis.
pub fn emergency_basis(id: Uuid) -> String {
    format!("emergency:{id}")
}

/// `days` working days (Monday to Friday) after `from`.
pub fn add_working_days(from: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let mut at = from;
    let mut left = days;
    while left > 0 {
        at += Duration::days(1);
        if !matches!(at.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    at
}

#[derive(Clone, Debug)]
pub struct NewEmergencyDisclosure {
    pub student_id: Uuid,
    pub recipient: String,
    pub method: String,
    pub categories: Vec<DataCategory>,
    pub reason: String,
    pub occurred_at: DateTime<Utc>,
}

/// Records a disclosure made at once; its review falls due after
/// `review_working_days` working days.
pub async fn record(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    new: NewEmergencyDisclosure,
    review_working_days: u32,
) -> AppResult<emergency_disclosure::Model> {
    let caller = decisions.caller();
    let student = find_required(db, decisions, new.student_id).await?;
    decisions.authorize(
        Action::RecordEmergencyDisclosure,
        write_relation(caller, &student),
    )?;
    if new.categories.is_empty() {
        return Err(AppError::bad_input(
            "input.categories",
            "must name at least one category",
        ));
    }
    let now = decisions.now();
    if new.occurred_at > now + CLOCK_SKEW || new.occurred_at < now - Duration::days(7) {
        return Err(AppError::bad_input(
            "input.occurredAt",
            "must be within the last seven days (record an emergency disclosure at once)",
        ));
    }
    let id = Uuid::new_v4();
    let model = emergency_disclosure::ActiveModel {
        id: Set(id),
        student_id: Set(student.id),
        disclosed_by: Set(caller.id),
        recipient: Set(new.recipient.clone()),
        method: Set(new.method.clone()),
        categories: Set(enum_list_to_json(new.categories.iter().map(|c| c.as_str()))),
        reason: Set(new.reason),
        occurred_at: Set(new.occurred_at),
        review_due_at: Set(add_working_days(new.occurred_at, review_working_days)),
        reviewed_by: Set(None),
        reviewed_at: Set(None),
        review_outcome: Set(None),
        student_informed_at: Set(None),
        not_informed_reason: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    audit::write(
        db,
        caller,
        decisions.origin(),
        vec![Event {
            student_id: Some(student.id),
            action: "disclosure",
            fields: new
                .categories
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            outcome: "allow",
            basis: Some(emergency_basis(id)),
            detail: Some(
                // The recipient and method stay in the disclosure's own row.
                serde_json::json!({
                    "emergencyDisclosure": id,
                    "occurredAt": new.occurred_at,
                })
                .to_string(),
            ),
        }],
    )
    .await?;
    Ok(model)
}

/// Completes the review: a registered professional other than the discloser.
pub async fn review(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
    outcome: String,
) -> AppResult<emergency_disclosure::Model> {
    let caller = decisions.caller();
    let current = super::students::about_visible::<emergency_disclosure::Entity>(
        db,
        decisions,
        id,
        "emergency disclosure",
        |m| m.student_id,
    )
    .await?;
    decisions.authorize(
        Action::ReviewEmergencyDisclosure,
        professional(caller, Some(current.disclosed_by)),
    )?;
    let now = decisions.now();
    let updated = emergency_disclosure::Entity::update_many()
        .col_expr(
            emergency_disclosure::Column::ReviewedBy,
            Expr::value(caller.id),
        )
        .col_expr(emergency_disclosure::Column::ReviewedAt, Expr::value(now))
        .col_expr(
            emergency_disclosure::Column::ReviewOutcome,
            Expr::value(outcome.clone()),
        )
        .filter(emergency_disclosure::Column::Id.eq(id))
        .filter(emergency_disclosure::Column::ReviewedAt.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the review is already complete".to_owned(),
        ));
    }
    decisions.wrote(
        Action::ReviewEmergencyDisclosure,
        Some(current.student_id),
        current.id,
    );
    Ok(emergency_disclosure::Model {
        reviewed_by: Some(caller.id),
        reviewed_at: Some(now),
        review_outcome: Some(outcome),
        ..current
    })
}

/// Records when the student was told, or why not (once).
pub async fn record_student_informed(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
    informed_at: Option<DateTime<Utc>>,
    not_informed_reason: Option<String>,
) -> AppResult<emergency_disclosure::Model> {
    let caller = decisions.caller();
    let current = super::students::about_visible::<emergency_disclosure::Entity>(
        db,
        decisions,
        id,
        "emergency disclosure",
        |m| m.student_id,
    )
    .await?;
    decisions.authorize(Action::RecordStudentInformed, professional(caller, None))?;
    informed_input(decisions, informed_at, not_informed_reason.as_deref())?;
    let updated = emergency_disclosure::Entity::update_many()
        .col_expr(
            emergency_disclosure::Column::StudentInformedAt,
            Expr::value(informed_at),
        )
        .col_expr(
            emergency_disclosure::Column::NotInformedReason,
            Expr::value(not_informed_reason.clone()),
        )
        .filter(emergency_disclosure::Column::Id.eq(id))
        .filter(emergency_disclosure::Column::StudentInformedAt.is_null())
        .filter(emergency_disclosure::Column::NotInformedReason.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "whether the student was informed is already recorded".to_owned(),
        ));
    }
    decisions.wrote(
        Action::RecordStudentInformed,
        Some(current.student_id),
        current.id,
    );
    Ok(emergency_disclosure::Model {
        student_informed_at: informed_at,
        not_informed_reason,
        ..current
    })
}

/// Reviews not yet complete (with `overdue_only`, those past their due date),
/// oldest due first, of students visible to the caller, with their student.
pub async fn pending_reviews(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    overdue_only: bool,
) -> AppResult<Vec<(emergency_disclosure::Model, student::Model)>> {
    decisions.authorize(
        Action::ListEmergencyReviews,
        professional(decisions.caller(), None),
    )?;
    let mut q = emergency_disclosure::Entity::find()
        .find_also_related(student::Entity)
        .filter(emergency_disclosure::Column::ReviewedAt.is_null())
        .order_by_asc(emergency_disclosure::Column::ReviewDueAt);
    if overdue_only {
        q = q.filter(emergency_disclosure::Column::ReviewDueAt.lt(decisions.now()));
    }
    let Some(q) = super::scoped(q, &facts::student_rows(decisions.caller(), decisions.now()))
    else {
        return Ok(Vec::new());
    };
    Ok(q.all(db)
        .await?
        .into_iter()
        .filter_map(|(e, s)| s.map(|s| (e, s)))
        .collect())
}

/// All emergency disclosures about these students, newest first.
pub async fn of_students(
    db: &impl ConnectionTrait,
    student_ids: &[Uuid],
) -> AppResult<Vec<emergency_disclosure::Model>> {
    Ok(emergency_disclosure::Entity::find()
        .filter(emergency_disclosure::Column::StudentId.is_in(student_ids.iter().copied()))
        .order_by_desc(emergency_disclosure::Column::OccurredAt)
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn two_working_days_skip_the_weekend() {
        // Friday 27 November 2026, 14:00 -> Tuesday 1 December, 14:00.
        let friday = Utc.with_ymd_and_hms(2026, 11, 27, 14, 0, 0).unwrap();
        let due = add_working_days(friday, 2);
        assert_eq!(due, Utc.with_ymd_and_hms(2026, 12, 1, 14, 0, 0).unwrap());
        // Monday -> Wednesday.
        let monday = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        assert_eq!(add_working_days(monday, 2).weekday(), Weekday::Wed);
    }
}
