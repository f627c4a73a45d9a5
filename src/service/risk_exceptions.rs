//! Risk exceptions: sharing without consent, proposed by one registered mental
//! health professional and active only once a different one confirms it.

use super::consents::Recipient;
use super::students::{find_required, write_relation};
use crate::auth::Caller;
use crate::domain::{
    enum_list_from_json, enum_list_to_json, DataCategory, RiskGround, StudentPosition,
};
use crate::error::{AppError, AppResult};
use crate::policy::access::{consent_basis, consent_in_force, exception_active, exception_basis};
use crate::policy::{facts, Action, Decisions, FieldClass, Relation};
use crate::service::audit::{self, Event};
use chrono::{DateTime, Duration, Utc};
use entity::{audit_event, consent, risk_exception, risk_exception_recipient, student};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

pub const DEFAULT_HOURS: i64 = 72;

/// How far ahead of the server's clock a caller's "now" may be.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// The caller's relation to a risk exception action.
pub(crate) fn professional(caller: &Caller, proposer: Option<Uuid>) -> Relation {
    if !caller.registered_mhp {
        Relation::Unregistered
    } else if proposer == Some(caller.id) {
        Relation::Proposer
    } else {
        Relation::Registered
    }
}

#[derive(Clone, Debug)]
pub struct NewRiskException {
    pub student_id: Uuid,
    pub ground: RiskGround,
    pub student_position: StudentPosition,
    pub recipients: Vec<Recipient>,
    pub categories: Vec<DataCategory>,
    pub justification: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// What a department or university service named is told: required when
    /// one is named.
    pub concern_notice: Option<String>,
}

pub async fn propose(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    new: NewRiskException,
    max_hours: i64,
) -> AppResult<risk_exception::Model> {
    let caller = decisions.caller();
    let student = find_required(db, decisions, new.student_id).await?;
    decisions.authorize(Action::ProposeRiskException, professional(caller, None))?;
    if new.categories.is_empty() {
        return Err(AppError::bad_input(
            "input.categories",
            "must name at least one category",
        ));
    }
    if new
        .categories
        .iter()
        .any(|c| matches!(c, DataCategory::CaseNotes | DataCategory::ThirdParty))
    {
        return Err(AppError::bad_input(
            "input.categories",
            "a risk exception never shares CASE_NOTES or THIRD_PARTY",
        ));
    }
    if new.recipients.is_empty() {
        return Err(AppError::bad_input(
            "input.recipients",
            "must name at least one recipient",
        ));
    }
    // Each recipient that calls the API gets, under an exception, only what the
    // policy opens to its audience (a department or university service: identity
    // and academic details, and the concern notice; a partner: the categories
    // named, from IDENTITY, CONTACT, TRUSTED_CONTACTS and SUPPORT_SUMMARY). An
    // exception asking for more is refused, naming the category, rather than
    // accepted and partly ignored.
    for recipient in &new.recipients {
        let Some(role) = recipient.kind.caller_role() else {
            continue;
        };
        let allowed = decisions.allowed_for(role, Relation::Exception);
        if let Some(category) = new
            .categories
            .iter()
            .find(|c| !allowed.is_superset(FieldClass::of_category(**c)))
        {
            return Err(AppError::bad_input(
                "input.categories",
                format!(
                    "{category} is not shared with a {} under a risk exception",
                    recipient.kind
                ),
            ));
        }
    }
    let needs_notice = new.recipients.iter().any(|r| {
        r.kind.caller_role().is_some_and(|role| {
            decisions
                .allowed_for(role, Relation::Exception)
                .contains(FieldClass::ConcernNotice)
        })
    });
    if needs_notice && new.concern_notice.is_none() {
        return Err(AppError::bad_input(
            "input.concernNotice",
            "is required when a department or university service is named: \
             say that there is a concern, what they should do and whom to contact",
        ));
    }
    let now = decisions.now();
    let expires_at = new
        .expires_at
        .unwrap_or(now + Duration::hours(DEFAULT_HOURS));
    if expires_at <= now || expires_at > now + Duration::hours(max_hours) {
        return Err(AppError::bad_input(
            "input.expiresAt",
            format!("must be in the future and at most {max_hours} hours ahead"),
        ));
    }
    let id = Uuid::new_v4();
    let recipients_json = serde_json::json!(new
        .recipients
        .iter()
        .map(|r| serde_json::json!({ "kind": r.kind.as_str(), "ref": r.reference }))
        .collect::<Vec<_>>());
    let model = risk_exception::ActiveModel {
        id: Set(id),
        student_id: Set(student.id),
        ground: Set(new.ground.as_str().to_owned()),
        student_position: Set(new.student_position.as_str().to_owned()),
        recipients: Set(recipients_json),
        categories: Set(enum_list_to_json(new.categories.iter().map(|c| c.as_str()))),
        justification: Set(new.justification),
        proposed_by: Set(caller.id),
        proposed_at: Set(now),
        confirmed_by: Set(None),
        confirmed_at: Set(None),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        revoked_by: Set(None),
        student_informed_at: Set(None),
        not_informed_reason: Set(None),
        created_at: Set(now),
        concern_notice: Set(new.concern_notice),
    }
    .insert(db)
    .await?;
    let rows = new
        .recipients
        .into_iter()
        .map(|r| risk_exception_recipient::ActiveModel {
            id: Set(Uuid::new_v4()),
            risk_exception_id: Set(id),
            student_id: Set(student.id),
            recipient_kind: Set(r.kind.as_str().to_owned()),
            recipient_ref: Set(r.reference),
        });
    risk_exception_recipient::Entity::insert_many(rows)
        .exec(db)
        .await?;
    decisions.wrote(
        Action::ProposeRiskException,
        Some(model.student_id),
        model.id,
    );
    Ok(model)
}

pub async fn confirm(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
) -> AppResult<risk_exception::Model> {
    let caller = decisions.caller();
    let current = super::students::about_visible::<risk_exception::Entity>(
        db,
        decisions,
        id,
        "risk exception",
        |m| m.student_id,
    )
    .await?;
    decisions.authorize(
        Action::ConfirmRiskException,
        professional(caller, Some(current.proposed_by)),
    )?;
    let now = decisions.now();
    if current.confirmed_at.is_some() {
        return Err(AppError::Conflict(
            "the risk exception is already confirmed".to_owned(),
        ));
    }
    if current.revoked_at.is_some() || current.expires_at <= now {
        return Err(AppError::Conflict(
            "the risk exception is revoked or expired".to_owned(),
        ));
    }
    // Conditional: of two professionals confirming at once, one succeeds.
    let updated = risk_exception::Entity::update_many()
        .col_expr(risk_exception::Column::ConfirmedBy, Expr::value(caller.id))
        .col_expr(risk_exception::Column::ConfirmedAt, Expr::value(now))
        .filter(risk_exception::Column::Id.eq(id))
        .filter(risk_exception::Column::ConfirmedAt.is_null())
        .filter(risk_exception::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the risk exception is already confirmed".to_owned(),
        ));
    }
    decisions.wrote(
        Action::ConfirmRiskException,
        Some(current.student_id),
        current.id,
    );
    Ok(risk_exception::Model {
        confirmed_by: Some(caller.id),
        confirmed_at: Some(now),
        ..current
    })
}

pub async fn revoke(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
) -> AppResult<risk_exception::Model> {
    let caller = decisions.caller();
    let current = super::students::about_visible::<risk_exception::Entity>(
        db,
        decisions,
        id,
        "risk exception",
        |m| m.student_id,
    )
    .await?;
    decisions.authorize(Action::RevokeRiskException, professional(caller, None))?;
    if current.revoked_at.is_some() {
        return Err(AppError::Conflict(
            "the risk exception is already revoked".to_owned(),
        ));
    }
    let now = decisions.now();
    let updated = risk_exception::Entity::update_many()
        .col_expr(risk_exception::Column::RevokedAt, Expr::value(now))
        .col_expr(risk_exception::Column::RevokedBy, Expr::value(caller.id))
        .filter(risk_exception::Column::Id.eq(id))
        .filter(risk_exception::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the risk exception is already revoked".to_owned(),
        ));
    }
    decisions.wrote(
        Action::RevokeRiskException,
        Some(current.student_id),
        current.id,
    );
    Ok(risk_exception::Model {
        revoked_at: Some(now),
        revoked_by: Some(caller.id),
        ..current
    })
}

/// Whether the student was informed: when (not in the future), or the reason
/// they were not; exactly one of the two.
pub(crate) fn informed_input(
    decisions: &Decisions,
    informed_at: Option<DateTime<Utc>>,
    not_informed_reason: Option<&str>,
) -> AppResult<()> {
    if informed_at.is_some() == not_informed_reason.is_some() {
        return Err(AppError::bad_input(
            "informedAt",
            "give either when the student was informed or the reason they were not",
        ));
    }
    if informed_at.is_some_and(|t| t > decisions.now() + CLOCK_SKEW) {
        return Err(AppError::bad_input(
            "informedAt",
            "must not be in the future",
        ));
    }
    Ok(())
}

pub async fn record_student_informed(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
    informed_at: Option<DateTime<Utc>>,
    not_informed_reason: Option<String>,
) -> AppResult<risk_exception::Model> {
    let caller = decisions.caller();
    let current = super::students::about_visible::<risk_exception::Entity>(
        db,
        decisions,
        id,
        "risk exception",
        |m| m.student_id,
    )
    .await?;
    decisions.authorize(Action::RecordStudentInformed, professional(caller, None))?;
    informed_input(decisions, informed_at, not_informed_reason.as_deref())?;
    // Recorded once: a second record (or a race) is a conflict, not an overwrite.
    let updated = risk_exception::Entity::update_many()
        .col_expr(
            risk_exception::Column::StudentInformedAt,
            Expr::value(informed_at),
        )
        .col_expr(
            risk_exception::Column::NotInformedReason,
            Expr::value(not_informed_reason.clone()),
        )
        .filter(risk_exception::Column::Id.eq(id))
        .filter(risk_exception::Column::StudentInformedAt.is_null())
        .filter(risk_exception::Column::NotInformedReason.is_null())
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
    Ok(risk_exception::Model {
        student_informed_at: informed_at,
        not_informed_reason,
        ..current
    })
}

/// Exceptions (newest first) of students visible to the caller, with their
/// student; with `uninformed_only`, those whose student has been neither
/// informed nor had a reason recorded.
pub async fn list(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    uninformed_only: bool,
) -> AppResult<Vec<(risk_exception::Model, student::Model)>> {
    decisions.authorize(
        Action::ListRiskExceptions,
        professional(decisions.caller(), None),
    )?;
    let caller = decisions.caller();
    let mut q = risk_exception::Entity::find()
        .find_also_related(student::Entity)
        .order_by_desc(risk_exception::Column::ProposedAt);
    for scope in [
        facts::risk_exception_rows(caller),
        facts::student_rows(caller, decisions.now()),
    ] {
        q = match super::scoped(q, &scope) {
            Some(q) => q,
            None => return Ok(Vec::new()),
        };
    }
    if uninformed_only {
        q = q
            .filter(risk_exception::Column::ConfirmedAt.is_not_null())
            .filter(risk_exception::Column::StudentInformedAt.is_null())
            .filter(risk_exception::Column::NotInformedReason.is_null());
    }
    Ok(q.all(db)
        .await?
        .into_iter()
        .filter_map(|(e, s)| s.map(|s| (e, s)))
        .collect())
}

/// All exceptions about these students, newest first.
pub async fn of_students(
    db: &impl ConnectionTrait,
    student_ids: &[Uuid],
) -> AppResult<Vec<risk_exception::Model>> {
    Ok(risk_exception::Entity::find()
        .filter(risk_exception::Column::StudentId.is_in(student_ids.iter().copied()))
        .order_by_desc(risk_exception::Column::ProposedAt)
        .all(db)
        .await?)
}

/// The basis of a disclosure made outside the API.
#[derive(Clone, Copy, Debug)]
pub enum DisclosureBasis {
    Consent(Uuid),
    RiskException(Uuid),
}

#[derive(Clone, Debug)]
pub struct NewDisclosure {
    pub student_id: Uuid,
    pub basis: DisclosureBasis,
    pub recipient: String,
    pub method: String,
    pub categories: Vec<DataCategory>,
    pub occurred_at: DateTime<Utc>,
}

/// Logs a disclosure made outside the API (by phone to an emergency contact, to a
/// GP) against the consent or exception in force when it was made.
pub async fn record_disclosure(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    new: NewDisclosure,
) -> AppResult<()> {
    let caller = decisions.caller();
    let student = find_required(db, decisions, new.student_id).await?;
    decisions.authorize(Action::RecordDisclosure, write_relation(caller, &student))?;
    if new.occurred_at > decisions.now() + CLOCK_SKEW {
        return Err(AppError::bad_input(
            "input.occurredAt",
            "must not be in the future",
        ));
    }
    if new.categories.is_empty() {
        return Err(AppError::bad_input(
            "input.categories",
            "must name at least one category",
        ));
    }
    // The basis must be the student's, in force when the disclosure was made
    // (a later withdrawal does not undo it), and cover every category disclosed.
    let within = |allowed: &serde_json::Value| {
        let allowed: Vec<DataCategory> = enum_list_from_json(allowed, DataCategory::parse);
        new.categories.iter().all(|c| allowed.contains(c))
    };
    let basis = match new.basis {
        DisclosureBasis::Consent(id) => {
            let c = consent::Entity::find_by_id(id).one(db).await?;
            if !c.is_some_and(|c| {
                c.student_id == student.id
                    && consent_in_force(&c, new.occurred_at)
                    && within(&c.categories)
            }) {
                return Err(AppError::bad_input(
                    "input.consentId",
                    "is not a consent of this student, in force at that time, covering every category disclosed",
                ));
            }
            consent_basis(id)
        }
        DisclosureBasis::RiskException(id) => {
            let e = risk_exception::Entity::find_by_id(id).one(db).await?;
            let never = new
                .categories
                .iter()
                .any(|c| matches!(c, DataCategory::CaseNotes | DataCategory::ThirdParty));
            if never
                || !e.is_some_and(|e| {
                    e.student_id == student.id
                        && exception_active(&e, new.occurred_at)
                        && within(&e.categories)
                })
            {
                return Err(AppError::bad_input(
                    "input.riskExceptionId",
                    "is not a risk exception of this student, active at that time, opening every category disclosed",
                ));
            }
            exception_basis(id)
        }
    };
    // To whom and how stay in the disclosure's own row; the audit record
    // names it by id (and `myDisclosures` shows them from it).
    let record = entity::disclosure_record::ActiveModel {
        id: sea_orm::Set(Uuid::new_v4()),
        student_id: sea_orm::Set(student.id),
        recipient: sea_orm::Set(new.recipient),
        method: sea_orm::Set(new.method),
        occurred_at: sea_orm::Set(new.occurred_at),
        recorded_by: sea_orm::Set(caller.id),
        recorded_at: sea_orm::Set(decisions.now()),
    };
    let record = sea_orm::ActiveModelTrait::insert(record, db).await?;
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
            basis: Some(basis),
            detail: Some(
                serde_json::json!({
                    "disclosure": record.id,
                    "occurredAt": record.occurred_at,
                })
                .to_string(),
            ),
        }],
    )
    .await
}

/// The bases a student may not yet see (exceptions and emergency disclosures
/// they have not been informed of; legal authorities they have not been told
/// of, or may never be): releases under them are left out of their logs.
async fn hidden_bases(db: &impl ConnectionTrait, caller: &Caller) -> AppResult<Vec<String>> {
    let student = caller.id;
    // A student sees a risk exception only once informed of it: until then,
    // disclosures under it are left out (or, when a consent also covered them,
    // shown with the consent alone).
    let mut hidden: Vec<String> = of_students(db, &[student])
        .await?
        .into_iter()
        .filter(|e| !facts::listed_once_informed(caller, e.student_informed_at))
        .map(|e| exception_basis(e.id))
        .collect();
    // Emergency disclosures likewise, once the student is informed of them.
    hidden.extend(
        super::emergency::of_students(db, &[student])
            .await?
            .into_iter()
            .filter(|e| !facts::listed_once_informed(caller, e.student_informed_at))
            .map(|e| super::emergency::emergency_basis(e.id)),
    );
    // Legal authorities likewise, once informed, and never when the order
    // forbids telling the student.
    hidden.extend(
        super::legal::of_students(db, &[student])
            .await?
            .into_iter()
            .filter(|l| !facts::legal_listed(caller, l))
            .map(|l| crate::policy::access::legal_basis(l.id)),
    );
    Ok(hidden)
}

/// Disclosures of the caller's own data (a student): who received what, when.
pub async fn my_disclosures(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
) -> AppResult<Vec<audit_event::Model>> {
    decisions.authorize(Action::ReadOwnDisclosures, Relation::SelfRecord)?;
    disclosures_as_shown_to(db, decisions.caller()).await
}

/// The disclosure log of the student `student` (a caller of role student) as
/// [`my_disclosures`] shows it to them. The caller of this function decides
/// access (the student themself; the subject access export).
pub async fn disclosures_as_shown_to(
    db: &impl ConnectionTrait,
    student: &Caller,
) -> AppResult<Vec<audit_event::Model>> {
    let hidden = hidden_bases(db, student).await?;
    let student = student.id;
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::StudentId.eq(student))
        .filter(audit_event::Column::Action.eq("disclosure"))
        .order_by_desc(audit_event::Column::OccurredAt)
        .all(db)
        .await?;
    with_disclosure_records(db, student, without_hidden(rows, &hidden)).await
}

/// Shows, in the detail of each disclosure made outside the API, to whom and
/// how (kept in its own row, not in the audit record).
async fn with_disclosure_records(
    db: &impl ConnectionTrait,
    student: Uuid,
    mut rows: Vec<audit_event::Model>,
) -> AppResult<Vec<audit_event::Model>> {
    let records: std::collections::HashMap<String, entity::disclosure_record::Model> =
        entity::disclosure_record::Entity::find()
            .filter(entity::disclosure_record::Column::StudentId.eq(student))
            .all(db)
            .await?
            .into_iter()
            .map(|r| (r.id.to_string(), r))
            .collect();
    for row in &mut rows {
        let Some(detail) = row.detail.as_deref() else {
            continue;
        };
        let Ok(mut value) = serde_json::from_str::<serde_json::Value>(detail) else {
            continue;
        };
        let Some(record) = value
            .get("disclosure")
            .and_then(|d| d.as_str())
            .and_then(|d| records.get(d))
        else {
            continue;
        };
        value["recipient"] = serde_json::json!(record.recipient);
        value["method"] = serde_json::json!(record.method);
        row.detail = Some(value.to_string());
    }
    Ok(rows)
}

/// The caller's own access log (a student): every read of their data by staff
/// and every disclosure to an outside audience, newest first, releases under a
/// basis they may not yet see left out (as in [`my_disclosures`]). Their own
/// reads are not listed.
pub async fn my_access_log(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
) -> AppResult<Vec<AccessLogEntry>> {
    decisions.authorize(Action::ReadOwnAccessLog, Relation::SelfRecord)?;
    access_log_as_shown_to(db, decisions.caller()).await
}

/// The access log of the student `student` (a caller of role student) as
/// [`my_access_log`] shows it to them. The caller of this function decides
/// access (the student themself; the subject access export).
pub async fn access_log_as_shown_to(
    db: &impl ConnectionTrait,
    student: &Caller,
) -> AppResult<Vec<AccessLogEntry>> {
    let hidden = hidden_bases(db, student).await?;
    let student = student.id;
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::StudentId.eq(student))
        .filter(audit_event::Column::Action.is_in(["read", "disclosure"]))
        .filter(audit_event::Column::Outcome.eq("allow"))
        .filter(audit_event::Column::ActorId.ne(student))
        // Newest first in the order the records were written (the chain's),
        // which `idx_audit_student_seq` serves without reading the rest.
        .order_by_desc(audit_event::Column::Seq)
        .limit(1000)
        .all(db)
        .await?;
    let rows = without_hidden(rows, &hidden);
    // Staff are shown by role and service, outside audiences by organisation,
    // department or unit: never by name.
    let actors: Vec<Uuid> = rows.iter().map(|r| r.actor_id).collect();
    let staff: std::collections::HashMap<Uuid, entity::staff::Model> =
        entity::staff::Entity::find()
            .filter(entity::staff::Column::Id.is_in(actors))
            .all(db)
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect();
    Ok(rows
        .into_iter()
        .map(|event| {
            let member = staff.get(&event.actor_id);
            let (service, organisation) = match crate::domain::Role::parse(&event.actor_role) {
                Some(crate::domain::Role::Partner) => (None, Some(event.actor_id.to_string())),
                Some(crate::domain::Role::Department) => {
                    (None, member.and_then(|m| m.department.clone()))
                }
                Some(crate::domain::Role::UniversityService) => {
                    (None, member.and_then(|m| m.university_unit.clone()))
                }
                _ => (member.and_then(|m| m.service.clone()), None),
            };
            AccessLogEntry {
                event,
                service,
                organisation,
            }
        })
        .collect())
}

/// One line of a student's access log.
#[derive(Clone, Debug)]
pub struct AccessLogEntry {
    pub event: audit_event::Model,
    /// The Student Support service of a member of staff.
    pub service: Option<String>,
    /// The partner organisation's id, or the department or unit code, of an
    /// outside audience.
    pub organisation: Option<String>,
}

impl crate::policy::Record for AccessLogEntry {
    fn record_id(&self) -> Uuid {
        self.event.id
    }
}

/// Leaves out the bases in `hidden` (a record resting only on them, entirely).
fn without_hidden(rows: Vec<audit_event::Model>, hidden: &[String]) -> Vec<audit_event::Model> {
    rows.into_iter()
        .filter_map(|mut row| {
            let Some(basis) = &row.basis else {
                return Some(row);
            };
            let parts: Vec<&str> = basis.split(',').collect();
            let kept: Vec<&str> = parts
                .iter()
                .copied()
                .filter(|b| !hidden.iter().any(|h| h == b))
                .collect();
            if kept.len() == parts.len() {
                return Some(row);
            }
            if kept.is_empty() {
                return None;
            }
            row.basis = Some(kept.join(","));
            Some(row)
        })
        .collect()
}
