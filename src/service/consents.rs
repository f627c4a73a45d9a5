//! Consent to share: recorded by the student or by support staff on their behalf,
//! withdrawn from a moment on (never retroactively); both stay on file.

use super::students::{find_required, write_relation};
use crate::domain::{
    self, enum_list_to_json, Audience, DataCategory, RecipientKind, SensitivityLabel,
};
use crate::error::{AppError, AppResult};
use crate::policy::{Action, Decisions, FieldClass, Relation};
use chrono::{DateTime, Utc};
use entity::{consent, partner_organisation, support_case};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use std::collections::HashMap;
use uuid::Uuid;

/// A recipient as named in input: its kind and, where the kind needs one, its name.
#[derive(Clone, Debug)]
pub struct Recipient {
    pub kind: RecipientKind,
    pub reference: Option<String>,
}

/// Validates a recipient: departments and units by slug, partners by the id of
/// an active partner organisation; the others take an optional free-text name.
pub async fn parse_recipient(
    db: &impl ConnectionTrait,
    field: &str,
    kind: RecipientKind,
    reference: Option<&str>,
) -> AppResult<Recipient> {
    let reference = match kind {
        RecipientKind::Department | RecipientKind::UniversityService => {
            let r = reference
                .ok_or_else(|| AppError::bad_input(field, "names no department or unit"))?;
            Some(domain::slug(field, r)?)
        }
        RecipientKind::Partner => {
            let r = reference
                .ok_or_else(|| AppError::bad_input(field, "names no partner organisation"))?;
            let id = domain::uuid(field, r)?;
            let org = partner_organisation::Entity::find_by_id(id).one(db).await?;
            if !org.is_some_and(|o| o.active) {
                return Err(AppError::bad_input(
                    field,
                    "is not an active partner organisation",
                ));
            }
            Some(id.to_string())
        }
        RecipientKind::Gp | RecipientKind::EmergencyContact | RecipientKind::Research => {
            domain::optional_text(field, reference, 200)?
        }
    };
    Ok(Recipient { kind, reference })
}

#[derive(Clone, Debug)]
pub struct NewConsent {
    pub student_id: Uuid,
    pub recipient: Recipient,
    pub categories: Vec<DataCategory>,
    pub excluded_labels: Vec<SensitivityLabel>,
    pub case_id: Option<Uuid>,
    pub purpose: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub form_reference: Option<String>,
}

fn unique<T: PartialEq + Copy>(items: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for i in items {
        if !out.contains(i) {
            out.push(*i);
        }
    }
    out
}

pub async fn record(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    new: NewConsent,
) -> AppResult<consent::Model> {
    let caller = decisions.caller();
    let student = find_required(db, decisions, new.student_id).await?;
    decisions.authorize(Action::RecordConsent, write_relation(caller, &student))?;
    if new.categories.is_empty() {
        return Err(AppError::bad_input(
            "input.categories",
            "must name at least one category",
        ));
    }
    let on_behalf = match caller.role.audience() {
        Audience::Student => false,
        Audience::Staff | Audience::Outside => true,
    };
    if on_behalf && new.form_reference.is_none() {
        return Err(AppError::bad_input(
            "input.formReference",
            "is required when staff record a consent on the student's behalf",
        ));
    }
    let now = decisions.now();
    if new
        .expires_at
        .is_some_and(|e| e <= now || e > now + chrono::Duration::days(10 * 366))
    {
        return Err(AppError::bad_input(
            "input.expiresAt",
            "must be in the future and within ten years",
        ));
    }
    if new.recipient.kind == RecipientKind::Department
        && new.recipient.reference.as_deref() != Some(student.department.as_str())
    {
        return Err(AppError::bad_input(
            "input.recipient.reference",
            "a department consent names the student's own department",
        ));
    }
    if let Some(case_id) = new.case_id {
        let case = support_case::Entity::find_by_id(case_id).one(db).await?;
        if case.is_none_or(|c| c.student_id != student.id) {
            return Err(AppError::bad_input(
                "input.caseId",
                "is not a case of this student",
            ));
        }
    }
    let categories = unique(&new.categories);
    honoured_in_full(
        decisions,
        new.recipient.kind,
        &categories,
        new.case_id.is_some(),
        Relation::Consented,
    )?;
    if new.recipient.kind == RecipientKind::Research
        && !categories.contains(&DataCategory::SupportSummary)
    {
        // The research extract is one row per support case: a research
        // consent without SUPPORT_SUMMARY would be accepted and never used.
        return Err(AppError::bad_input(
            "input.categories",
            "a research consent must name SUPPORT_SUMMARY (the research extract is \
             one row per support case); ACADEMIC, CASE_NOTES and RISK add the \
             department and year of study, the note labels and the risk level",
        ));
    }
    let excluded = unique(&new.excluded_labels);
    if !excluded.is_empty() && !categories.contains(&DataCategory::CaseNotes) {
        // Labels are carried by notes only: an exclusion without notes would be
        // accepted and mean nothing.
        return Err(AppError::bad_input(
            "input.excludedLabels",
            "excluded labels apply to CASE_NOTES only: name CASE_NOTES or exclude nothing",
        ));
    }
    let model = consent::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student.id),
        recipient_kind: Set(new.recipient.kind.as_str().to_owned()),
        recipient_ref: Set(new.recipient.reference),
        categories: Set(enum_list_to_json(categories.iter().map(|c| c.as_str()))),
        excluded_labels: Set(enum_list_to_json(excluded.iter().map(|l| l.as_str()))),
        case_id: Set(new.case_id),
        purpose: Set(new.purpose),
        given_at: Set(now),
        expires_at: Set(new.expires_at),
        form_reference: Set(new.form_reference),
        recorded_by: Set(caller.id),
        recorded_by_role: Set(caller.role.as_str().to_owned()),
        withdrawn_at: Set(None),
        withdrawn_by: Set(None),
        withdrawal_reason: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    decisions.wrote(Action::RecordConsent, Some(model.student_id), model.id);
    Ok(model)
}

/// A consent is honoured as given, or refused: every category it names must be
/// reachable (a case-level category is reached only through the student's
/// cases, which a consent opens with SUPPORT_SUMMARY) and, for a recipient that
/// calls the API, allowed by the policy under a consent in force. The refusal
/// names the first category that would not be honoured.
/// (Legal authorities are held to the same rule under the relation `legal`.)
pub(crate) fn honoured_in_full(
    decisions: &Decisions,
    kind: RecipientKind,
    categories: &[DataCategory],
    case_scoped: bool,
    relation: Relation,
) -> AppResult<()> {
    let what = match relation {
        Relation::Legal => "legal authority",
        _ => "consent",
    };
    let named = FieldClass::set_of(categories);
    for category in categories {
        let classes = FieldClass::of_category(*category);
        if case_scoped && !classes.iter().any(FieldClass::is_case_level) {
            return Err(AppError::bad_input(
                "input.categories",
                format!(
                    "{category} belongs to the student record, not to one case: \
                     give it in a {what} that is not limited to a case"
                ),
            ));
        }
        if classes.iter().any(FieldClass::is_case_level)
            && !named.contains(FieldClass::SupportSummary)
        {
            return Err(AppError::bad_input(
                "input.categories",
                format!(
                    "{category} can only be shared through the student's support cases: \
                     the {what} must also name SUPPORT_SUMMARY"
                ),
            ));
        }
        if let Some(role) = kind.caller_role() {
            let allowed = decisions.allowed_for(role, relation);
            if !allowed.is_superset(classes) {
                return Err(AppError::bad_input(
                    "input.categories",
                    format!(
                        "{category} cannot be shared with a {kind} under the policy, \
                         even with a {what}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

pub async fn withdraw(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
    reason: String,
) -> AppResult<consent::Model> {
    let caller = decisions.caller();
    let current = consent::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("consent"))?;
    let student = super::students::find(db, decisions, current.student_id)
        .await?
        .ok_or(AppError::NotFound("consent"))?;
    decisions.authorize(Action::WithdrawConsent, write_relation(caller, &student))?;
    if current.withdrawn_at.is_some() {
        return Err(AppError::Conflict(
            "the consent is already withdrawn".to_owned(),
        ));
    }
    // Conditional: of two withdrawals at once (a double submit), one succeeds.
    let now = decisions.now();
    let updated = consent::Entity::update_many()
        .col_expr(consent::Column::WithdrawnAt, Expr::value(now))
        .col_expr(consent::Column::WithdrawnBy, Expr::value(caller.id))
        .col_expr(
            consent::Column::WithdrawalReason,
            Expr::value(reason.clone()),
        )
        .filter(consent::Column::Id.eq(id))
        .filter(consent::Column::WithdrawnAt.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the consent is already withdrawn".to_owned(),
        ));
    }
    decisions.wrote(
        Action::WithdrawConsent,
        Some(current.student_id),
        current.id,
    );
    Ok(consent::Model {
        withdrawn_at: Some(now),
        withdrawn_by: Some(caller.id),
        withdrawal_reason: Some(reason),
        ..current
    })
}

/// All consents of these students (given, expired and withdrawn), newest first.
pub async fn of_students(
    db: &impl ConnectionTrait,
    student_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<consent::Model>>> {
    let rows = consent::Entity::find()
        .filter(consent::Column::StudentId.is_in(student_ids.iter().copied()))
        .order_by_desc(consent::Column::GivenAt)
        .all(db)
        .await?;
    let mut map: HashMap<Uuid, Vec<consent::Model>> = HashMap::new();
    for row in rows {
        map.entry(row.student_id).or_default().push(row);
    }
    Ok(map)
}
