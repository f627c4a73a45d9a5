//! Legal disclosures (settled decision "legal obligations"): a disclosure
//! required by law or directed by a court order is authorised by the DPO, not by
//! the two-professional rule. The authority records the order's reference, the
//! recipient (a partner organisation), the exact scope and an expiry; while it
//! is active the recipient reads exactly that scope, and every item released is
//! audited against it. The student is informed unless the order forbids it.

use super::consents::{honoured_in_full, parse_recipient};
use super::risk_exceptions::informed_input;
use super::students::find_required;
use crate::domain::{enum_list_to_json, text_enum, DataCategory, RecipientKind};
use crate::error::{AppError, AppResult};
use crate::policy::access::legal_basis;
use crate::policy::{Action, Decisions, Relation};
use crate::service::audit::{self, Event};
use chrono::{DateTime, Duration, Utc};
use entity::{legal_authority, support_case};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

text_enum!(
    /// What obliges the disclosure.
    LegalAuthorityKind {
        CourtOrder => "court_order",
        StatutoryDuty => "statutory_duty",
    }
);

/// The longest an authority may stay active: an order needing longer is
/// recorded again when renewed.
pub const MAX_DURATION: Duration = Duration::days(366);

#[derive(Clone, Debug)]
pub struct NewLegalAuthority {
    pub student_id: Uuid,
    pub kind: LegalAuthorityKind,
    pub reference: String,
    pub issuer: String,
    pub recipient_kind: RecipientKind,
    pub recipient_ref: Option<String>,
    pub categories: Vec<DataCategory>,
    pub case_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
    /// The order forbids telling the student: `not_informed_reason` says where.
    pub inform_forbidden: bool,
    pub not_informed_reason: Option<String>,
}

/// Records a legal authority (the DPO). Its scope is held to the rule consents
/// are: honoured in full under the policy's `legal` relation, or refused.
pub async fn record(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    new: NewLegalAuthority,
) -> AppResult<legal_authority::Model> {
    let caller = decisions.caller();
    let student = find_required(db, decisions, new.student_id).await?;
    decisions.authorize(Action::RecordLegalAuthority, Relation::Any)?;
    if new.recipient_kind != RecipientKind::Partner {
        return Err(AppError::bad_input(
            "input.recipient.kind",
            "a legal authority names a partner organisation (a court, the police, a \
             regulator or the body the order directs disclosure to)",
        ));
    }
    let recipient = parse_recipient(
        db,
        "input.recipient.reference",
        new.recipient_kind,
        new.recipient_ref.as_deref(),
    )
    .await?;
    let mut categories = new.categories.clone();
    categories.sort_by_key(|c| c.as_str());
    categories.dedup();
    if categories.is_empty() {
        return Err(AppError::bad_input(
            "input.categories",
            "must name at least one category",
        ));
    }
    honoured_in_full(
        decisions,
        recipient.kind,
        &categories,
        new.case_id.is_some(),
        Relation::Legal,
    )?;
    if let Some(case_id) = new.case_id {
        let case = support_case::Entity::find_by_id(case_id).one(db).await?;
        if case.is_none_or(|c| c.student_id != student.id) {
            return Err(AppError::bad_input(
                "input.caseId",
                "is not a case of this student",
            ));
        }
    }
    let now = decisions.now();
    if new.expires_at <= now || new.expires_at > now + MAX_DURATION {
        return Err(AppError::bad_input(
            "input.expiresAt",
            "must be in the future and at most a year away",
        ));
    }
    if new.inform_forbidden && new.not_informed_reason.is_none() {
        return Err(AppError::bad_input(
            "input.notInformedReason",
            "say where the order forbids telling the student",
        ));
    }
    let id = Uuid::new_v4();
    let recipient_ref = recipient.reference.unwrap_or_default();
    let model = legal_authority::ActiveModel {
        id: Set(id),
        student_id: Set(student.id),
        kind: Set(new.kind.as_str().to_owned()),
        reference: Set(new.reference.clone()),
        issuer: Set(new.issuer.clone()),
        recipient_kind: Set(recipient.kind.as_str().to_owned()),
        recipient_ref: Set(recipient_ref.clone()),
        categories: Set(enum_list_to_json(categories.iter().map(|c| c.as_str()))),
        case_id: Set(new.case_id),
        recorded_at: Set(now),
        recorded_by: Set(caller.id),
        expires_at: Set(new.expires_at),
        revoked_at: Set(None),
        revoked_by: Set(None),
        inform_forbidden: Set(new.inform_forbidden),
        student_informed_at: Set(None),
        not_informed_reason: Set(new.not_informed_reason.clone()),
    }
    .insert(db)
    .await?;
    write_event(
        db,
        decisions,
        &model,
        "legal_authority",
        serde_json::json!({
            // The order's reference and issuer stay in the authority's own row.
            "kind": new.kind.as_str(),
            "recipient": recipient_ref,
            "caseId": new.case_id,
            "expiresAt": new.expires_at,
            "informForbidden": new.inform_forbidden,
        }),
    )
    .await?;
    Ok(model)
}

async fn write_event(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    model: &legal_authority::Model,
    action: &'static str,
    detail: serde_json::Value,
) -> AppResult<()> {
    let fields = crate::domain::enum_list_from_json(&model.categories, DataCategory::parse)
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    audit::write(
        db,
        decisions.caller(),
        decisions.origin(),
        vec![Event {
            student_id: Some(model.student_id),
            action,
            fields,
            outcome: "allow",
            basis: Some(legal_basis(model.id)),
            detail: Some(detail.to_string()),
        }],
    )
    .await
}

/// Revokes an authority from now on (the DPO): releases under it stop at once.
pub async fn revoke(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
) -> AppResult<legal_authority::Model> {
    let current = super::students::about_visible::<legal_authority::Entity>(
        db,
        decisions,
        id,
        "legal authority",
        |m| m.student_id,
    )
    .await?;
    decisions.authorize(Action::RecordLegalAuthority, Relation::Any)?;
    let now = decisions.now();
    let updated = legal_authority::Entity::update_many()
        .col_expr(legal_authority::Column::RevokedAt, Expr::value(now))
        .col_expr(
            legal_authority::Column::RevokedBy,
            Expr::value(decisions.caller().id),
        )
        .filter(legal_authority::Column::Id.eq(id))
        .filter(legal_authority::Column::RevokedAt.is_null())
        .filter(legal_authority::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the legal authority is already revoked or expired".to_owned(),
        ));
    }
    let model = legal_authority::Model {
        revoked_at: Some(now),
        revoked_by: Some(decisions.caller().id),
        ..current
    };
    write_event(
        db,
        decisions,
        &model,
        "legal_authority_revoked",
        serde_json::json!({ "revokedAt": now }),
    )
    .await?;
    Ok(model)
}

/// Records when the student was told of the authority, or why not (once);
/// refused when the order forbids telling them.
pub async fn record_student_informed(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
    informed_at: Option<DateTime<Utc>>,
    not_informed_reason: Option<String>,
) -> AppResult<legal_authority::Model> {
    let current = super::students::about_visible::<legal_authority::Entity>(
        db,
        decisions,
        id,
        "legal authority",
        |m| m.student_id,
    )
    .await?;
    decisions.authorize(Action::RecordLegalAuthority, Relation::Any)?;
    informed_input(decisions, informed_at, not_informed_reason.as_deref())?;
    let updated = legal_authority::Entity::update_many()
        .col_expr(
            legal_authority::Column::StudentInformedAt,
            Expr::value(informed_at),
        )
        .col_expr(
            legal_authority::Column::NotInformedReason,
            Expr::value(not_informed_reason.clone()),
        )
        .filter(legal_authority::Column::Id.eq(id))
        .filter(legal_authority::Column::InformForbidden.eq(false))
        .filter(legal_authority::Column::StudentInformedAt.is_null())
        .filter(legal_authority::Column::NotInformedReason.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the student's being informed is already recorded, or the order forbids it".to_owned(),
        ));
    }
    let model = legal_authority::Model {
        student_informed_at: informed_at,
        not_informed_reason,
        ..current
    };
    write_event(
        db,
        decisions,
        &model,
        "legal_authority_informed",
        serde_json::json!({
            "informedAt": model.student_informed_at,
            "notInformedReasonGiven": model.not_informed_reason.is_some(),
        }),
    )
    .await?;
    Ok(model)
}

/// Legal authorities about these students, newest first (callers filter what
/// they list: [`crate::policy::facts::legal_listed`]).
pub async fn of_students(
    db: &impl ConnectionTrait,
    student_ids: &[Uuid],
) -> AppResult<Vec<legal_authority::Model>> {
    Ok(legal_authority::Entity::find()
        .filter(legal_authority::Column::StudentId.is_in(student_ids.iter().copied()))
        .order_by_desc(legal_authority::Column::RecordedAt)
        .all(db)
        .await?)
}
