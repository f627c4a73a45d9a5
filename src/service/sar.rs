//! Subject access requests (issue 10, item 2). The DPO opens a request for a
//! student (or the student makes one from the API); it is due one calendar
//! month from receipt and may be extended once, by up to two further months,
//! with a reason, until the original due date. The DPO flags cases and notes
//! for a health professional's serious-harm judgement, records the judgements
//! and third-party disclosure justifications, and finalises: the export
//! (`confide-sar/1`, see [`super::sar_export`]) is then fixed (its JSON text and
//! SHA-256 stored) and audited as an export.

use super::sar_export;
use super::students::find_required;
use crate::domain::text_enum;
use crate::error::{AppError, AppResult};
use crate::policy::{facts, Action, Decisions, FieldClass, Relation};
use crate::service::audit::{self, Event};
use chrono::{Months, NaiveDate};
use entity::{note, serious_harm_review, student, subject_access_request, support_case};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

text_enum!(
    /// Where a subject access request stands.
    SubjectAccessRequestStatus {
        /// Not finalised (overdue ones included).
        Open => "open",
        /// Not finalised, and past its (extended) due date.
        Overdue => "overdue",
        Finalised => "finalised",
    }
);

text_enum!(
    /// The kind of item flagged for a serious-harm review.
    SubjectAccessItemKind {
        /// A whole support case (its summary, adjustments, notes and third-party entries).
        Case => "case",
        Note => "note",
    }
);

text_enum!(
    /// A health professional's judgement of an item.
    SeriousHarmOutcome {
        /// Likely to cause serious harm to the physical or mental health of the
        /// student or another person: withheld from the export.
        Withhold => "withhold",
        /// To be shown to the student only with staff present: listed as such
        /// in the export, its content not in the document.
        StaffPresent => "staff_present",
        /// Not likely to cause serious harm: released.
        Release => "release",
    }
);

/// How long a serious-harm judgement counts: a judgement made more than six
/// months before finalisation is stale and must be made again.
pub const JUDGEMENT_VALID_MONTHS: u32 = 6;

/// The most a request may be extended by, in months.
pub const MAX_EXTENSION_MONTHS: u32 = 2;

/// What the student's own request records as the identity check.
pub const IDP_IDENTITY_CHECK: &str = "authenticated by the university's identity provider";

/// The due date of a request received on `received_on`: one calendar month
/// later, on the same day of the month; where that month is shorter, its last
/// day (31 January → 28 or 29 February; 31 March → 30 April).
pub fn due_on(received_on: NaiveDate) -> AppResult<NaiveDate> {
    after_months(received_on, 1)
}

/// The due date once extended by `months` (1 or 2) further months: counted,
/// like the original, from the day of receipt (received 31 January, extended
/// by two months: 30 April), so that the month-end rule applies once.
pub fn extended_due_on(received_on: NaiveDate, months: u32) -> AppResult<NaiveDate> {
    after_months(received_on, 1 + months)
}

fn after_months(date: NaiveDate, months: u32) -> AppResult<NaiveDate> {
    date.checked_add_months(Months::new(months))
        .ok_or_else(|| AppError::bad_input("receivedOn", "out of range"))
}

/// The date a request is due by now (extended or original).
pub fn effective_due_on(request: &subject_access_request::Model) -> NaiveDate {
    request.extended_due_on.unwrap_or(request.due_on)
}

/// Whether a request is overdue on `today`: not finalised, and past its due date.
pub fn is_overdue(request: &subject_access_request::Model, today: NaiveDate) -> bool {
    request.finalised_at.is_none() && today > effective_due_on(request)
}

/// Whether a judgement made on `judged_on` still counts on `today`.
pub fn judgement_current(judged_on: NaiveDate, today: NaiveDate) -> bool {
    match today.checked_sub_months(Months::new(JUDGEMENT_VALID_MONTHS)) {
        Some(oldest) => judged_on >= oldest,
        None => true,
    }
}

/// A request to open, parsed at the edge.
pub struct NewRequest {
    pub student_id: Uuid,
    pub received_on: NaiveDate,
    /// How the requester's identity was checked.
    pub identity_check: String,
}

/// A judgement to record, parsed at the edge.
pub struct Judgement {
    pub professional_name: String,
    pub opinion: String,
    pub judged_on: NaiveDate,
    pub outcome: SeriousHarmOutcome,
}

pub fn basis(request_id: Uuid) -> String {
    format!("subject_access_request:{request_id}")
}

async fn write_event(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    request: &subject_access_request::Model,
    action: &'static str,
    detail: serde_json::Value,
) -> AppResult<()> {
    audit::write(
        db,
        decisions.caller(),
        decisions.origin(),
        vec![Event {
            student_id: Some(request.student_id),
            action,
            fields: vec![FieldClass::SubjectAccess.as_str().to_owned()],
            outcome: "allow",
            basis: Some(basis(request.id)),
            detail: Some(detail.to_string()),
        }],
    )
    .await
}

/// Opens a request (the DPO for any student under `open`; a student for
/// themself under `request_subject_access`, which the caller's resolver names).
pub async fn open(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    action: Action,
    new: NewRequest,
) -> AppResult<subject_access_request::Model> {
    let student = find_required(db, decisions, new.student_id).await?;
    let relation = facts::service_relation(
        decisions.caller(),
        student.id,
        None,
        student.processing_restricted,
    );
    decisions.authorize(action, relation)?;
    let today = decisions.now().date_naive();
    if new.received_on > today {
        return Err(AppError::bad_input(
            "receivedOn",
            "must not be in the future",
        ));
    }
    let model = subject_access_request::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student.id),
        received_on: Set(new.received_on),
        identity_checked: Set(true),
        identity_check: Set(new.identity_check),
        due_on: Set(due_on(new.received_on)?),
        extended_due_on: Set(None),
        extension_reason: Set(None),
        extended_by: Set(None),
        extended_at: Set(None),
        opened_by: Set(decisions.caller().id),
        opened_by_role: Set(decisions.caller().role.as_str().to_owned()),
        opened_at: Set(decisions.now()),
        finalised_at: Set(None),
        finalised_by: Set(None),
        export_sha256: Set(None),
        export_document: Set(None),
    }
    .insert(db)
    .await?;
    write_event(
        db,
        decisions,
        &model,
        "subject_access_request_opened",
        serde_json::json!({ "receivedOn": model.received_on, "dueOn": model.due_on }),
    )
    .await?;
    Ok(model)
}

async fn visible(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
) -> AppResult<subject_access_request::Model> {
    super::students::about_visible::<subject_access_request::Entity>(
        db,
        decisions,
        id,
        "subject access request",
        |m| m.student_id,
    )
    .await
}

fn not_finalised(request: &subject_access_request::Model) -> AppResult<()> {
    match request.finalised_at {
        Some(at) => Err(AppError::Conflict(format!(
            "the subject access request was finalised at {}",
            at.to_rfc3339()
        ))),
        None => Ok(()),
    }
}

/// Checks that the request is not finalised and takes its row for the rest of
/// the transaction (PostgreSQL: the row lock, by a conditional update that
/// changes nothing; SQLite: writers are already serialised). Flagging,
/// judging and finalising all take it before reading the reviews, so a flag
/// or judgement racing a finalisation either commits first (and the
/// finalisation, having waited for the row, reads it) or waits and finds the
/// request finalised (`CONFLICT`): never a document finalised without it.
async fn lock_open(
    db: &impl ConnectionTrait,
    request: &subject_access_request::Model,
) -> AppResult<()> {
    not_finalised(request)?;
    let locked = subject_access_request::Entity::update_many()
        .col_expr(
            subject_access_request::Column::FinalisedAt,
            Expr::col(subject_access_request::Column::FinalisedAt),
        )
        .filter(subject_access_request::Column::Id.eq(request.id))
        .filter(subject_access_request::Column::FinalisedAt.is_null())
        .exec(db)
        .await?;
    if locked.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the subject access request was finalised meanwhile".to_owned(),
        ));
    }
    Ok(())
}

/// Extends a request once, by 1 or 2 further months, with a reason, not after
/// its original due date (the DPO). `CONFLICT` when already extended,
/// finalised, or past the original due date.
pub async fn extend(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
    months: u32,
    reason: String,
) -> AppResult<subject_access_request::Model> {
    let current = visible(db, decisions, id).await?;
    decisions.authorize(Action::ManageSubjectAccessRequest, Relation::Any)?;
    if !(1..=MAX_EXTENSION_MONTHS).contains(&months) {
        return Err(AppError::bad_input(
            "months",
            "a request may be extended by one or two further months",
        ));
    }
    not_finalised(&current)?;
    if current.extended_due_on.is_some() {
        return Err(AppError::Conflict(
            "the subject access request was already extended: it can be extended once".to_owned(),
        ));
    }
    let today = decisions.now().date_naive();
    if today > current.due_on {
        return Err(AppError::Conflict(format!(
            "the subject access request can only be extended until its original due date ({}), which has passed",
            current.due_on
        )));
    }
    let extended = extended_due_on(current.received_on, months)?;
    let now = decisions.now();
    let caller = decisions.caller().id;
    // A conditional update: of two concurrent extensions exactly one wins.
    let updated = subject_access_request::Entity::update_many()
        .col_expr(
            subject_access_request::Column::ExtendedDueOn,
            Expr::value(extended),
        )
        .col_expr(
            subject_access_request::Column::ExtensionReason,
            Expr::value(reason.clone()),
        )
        .col_expr(
            subject_access_request::Column::ExtendedBy,
            Expr::value(caller),
        )
        .col_expr(subject_access_request::Column::ExtendedAt, Expr::value(now))
        .filter(subject_access_request::Column::Id.eq(id))
        .filter(subject_access_request::Column::ExtendedDueOn.is_null())
        .filter(subject_access_request::Column::FinalisedAt.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the subject access request was extended or finalised by someone else".to_owned(),
        ));
    }
    let model = subject_access_request::Model {
        extended_due_on: Some(extended),
        extension_reason: Some(reason),
        extended_by: Some(caller),
        extended_at: Some(now),
        ..current
    };
    write_event(
        db,
        decisions,
        &model,
        "subject_access_request_extended",
        serde_json::json!({ "months": months, "dueOn": extended }),
    )
    .await?;
    Ok(model)
}

/// Flags a case or note of the request's student for a health professional's
/// serious-harm judgement (the DPO): the request cannot be finalised until it
/// is recorded. `CONFLICT` when already flagged or finalised.
pub async fn mark_for_review(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    request_id: Uuid,
    kind: SubjectAccessItemKind,
    item_id: Uuid,
) -> AppResult<serious_harm_review::Model> {
    let request = visible(db, decisions, request_id).await?;
    decisions.authorize(Action::ManageSubjectAccessRequest, Relation::Any)?;
    lock_open(db, &request).await?;
    let case_id = match kind {
        SubjectAccessItemKind::Case => item_id,
        SubjectAccessItemKind::Note => {
            note::Entity::find_by_id(item_id)
                .one(db)
                .await?
                .ok_or(AppError::NotFound("note"))?
                .case_id
        }
    };
    let case = support_case::Entity::find_by_id(case_id)
        .one(db)
        .await?
        .filter(|c| c.student_id == request.student_id)
        .ok_or(AppError::NotFound(match kind {
            SubjectAccessItemKind::Case => "support case",
            SubjectAccessItemKind::Note => "note",
        }))?;
    let flagged = serious_harm_review::Entity::find()
        .filter(serious_harm_review::Column::RequestId.eq(request.id))
        .filter(serious_harm_review::Column::ItemKind.eq(kind.as_str()))
        .filter(serious_harm_review::Column::ItemId.eq(item_id))
        .one(db)
        .await?;
    if flagged.is_some() {
        return Err(AppError::Conflict(format!(
            "{} {item_id} is already flagged for a serious-harm review of this request",
            kind.as_str()
        )));
    }
    let model = serious_harm_review::ActiveModel {
        id: Set(Uuid::new_v4()),
        request_id: Set(request.id),
        student_id: Set(case.student_id),
        item_kind: Set(kind.as_str().to_owned()),
        item_id: Set(item_id),
        flagged_by: Set(decisions.caller().id),
        flagged_at: Set(decisions.now()),
        professional_name: Set(None),
        opinion: Set(None),
        judged_on: Set(None),
        outcome: Set(None),
        recorded_by: Set(None),
        recorded_at: Set(None),
    }
    .insert(db)
    .await?;
    write_event(
        db,
        decisions,
        &request,
        "serious_harm_review_flagged",
        serde_json::json!({ "review": model.id, "itemKind": kind.as_str(), "item": item_id }),
    )
    .await?;
    Ok(model)
}

/// Records (or renews) a health professional's judgement of a flagged item
/// (the DPO): their name, opinion, the date they judged, the outcome. A
/// judgement may be recorded after the fact; one older than six months does not
/// count at finalisation. `CONFLICT` when the request is finalised.
pub async fn record_judgement(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    review_id: Uuid,
    judgement: Judgement,
) -> AppResult<serious_harm_review::Model> {
    let current = super::students::about_visible::<serious_harm_review::Entity>(
        db,
        decisions,
        review_id,
        "serious-harm review",
        |m| m.student_id,
    )
    .await?;
    decisions.authorize(Action::ManageSubjectAccessRequest, Relation::Any)?;
    if judgement.judged_on > decisions.now().date_naive() {
        return Err(AppError::bad_input("judgedOn", "must not be in the future"));
    }
    let request = subject_access_request::Entity::find_by_id(current.request_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("subject access request"))?;
    lock_open(db, &request).await?;
    let now = decisions.now();
    let caller = decisions.caller().id;
    let model = serious_harm_review::ActiveModel {
        id: Set(current.id),
        professional_name: Set(Some(judgement.professional_name)),
        opinion: Set(Some(judgement.opinion)),
        judged_on: Set(Some(judgement.judged_on)),
        outcome: Set(Some(judgement.outcome.as_str().to_owned())),
        recorded_by: Set(Some(caller)),
        recorded_at: Set(Some(now)),
        ..Default::default()
    }
    .update(db)
    .await?;
    write_event(
        db,
        decisions,
        &request,
        "serious_harm_judgement_recorded",
        serde_json::json!({
            "review": model.id,
            "judgedOn": judgement.judged_on,
            "outcome": judgement.outcome.as_str(),
        }),
    )
    .await?;
    Ok(model)
}

/// Records the justification for disclosing a third-party entry to the
/// student in a subject access export (the DPO; once). Without it (or the third
/// party's consent, recorded with the entry) the entry is withheld.
pub async fn record_third_party_justification(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    entry_id: Uuid,
    justification: String,
) -> AppResult<(entity::third_party_entry::Model, super::cases::CaseRow)> {
    use entity::third_party_entry;
    let entry = third_party_entry::Entity::find_by_id(entry_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("third-party entry"))?;
    let case = super::students::about_visible::<support_case::Entity>(
        db,
        decisions,
        entry.case_id,
        "third-party entry",
        |m| m.student_id,
    )
    .await?;
    decisions.authorize(Action::ManageSubjectAccessRequest, Relation::Any)?;
    let student = find_required(db, decisions, case.student_id).await?;
    let updated = third_party_entry::Entity::update_many()
        .col_expr(
            third_party_entry::Column::DisclosureJustification,
            Expr::value(justification.clone()),
        )
        .filter(third_party_entry::Column::Id.eq(entry.id))
        .filter(third_party_entry::Column::DisclosureJustification.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "a disclosure justification is already recorded for this third-party entry".to_owned(),
        ));
    }
    audit::write(
        db,
        decisions.caller(),
        decisions.origin(),
        vec![Event {
            student_id: Some(case.student_id),
            action: "third_party_disclosure_justified",
            fields: vec![FieldClass::ThirdParty.as_str().to_owned()],
            outcome: "allow",
            basis: Some(format!("third_party_entry:{}", entry.id)),
            detail: Some(serde_json::json!({ "entry": entry.id }).to_string()),
        }],
    )
    .await?;
    Ok((
        third_party_entry::Model {
            disclosure_justification: Some(justification),
            ..entry
        },
        (case, student),
    ))
}

/// The serious-harm reviews of a request, oldest first.
pub async fn reviews_of(
    db: &impl ConnectionTrait,
    request_id: Uuid,
) -> AppResult<Vec<serious_harm_review::Model>> {
    Ok(serious_harm_review::Entity::find()
        .filter(serious_harm_review::Column::RequestId.eq(request_id))
        .order_by_asc(serious_harm_review::Column::FlaggedAt)
        .order_by_asc(serious_harm_review::Column::Id)
        .all(db)
        .await?)
}

/// Refuses (CONFLICT, naming the item) while a flagged item has no judgement,
/// or only one older than six months.
fn judgements_complete(reviews: &[serious_harm_review::Model], today: NaiveDate) -> AppResult<()> {
    for r in reviews {
        match (r.outcome.as_deref(), r.judged_on) {
            (Some(_), Some(judged)) if judgement_current(judged, today) => {}
            (Some(_), Some(judged)) => {
                return Err(AppError::Conflict(format!(
                    "the serious-harm judgement of {} {} was made on {judged}, more than six months ago: record a new one before finalising",
                    r.item_kind, r.item_id
                )))
            }
            _ => {
                return Err(AppError::Conflict(format!(
                    "a serious-harm judgement is pending for {} {}: record it before finalising",
                    r.item_kind, r.item_id
                )))
            }
        }
    }
    Ok(())
}

/// Finalises a request (the DPO): refused while a serious-harm judgement is
/// pending or stale; produces the export, stores its JSON text and SHA-256,
/// records the time, and writes one audit record of the export.
pub async fn finalise(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
) -> AppResult<subject_access_request::Model> {
    let current = visible(db, decisions, id).await?;
    decisions.authorize(Action::ManageSubjectAccessRequest, Relation::Any)?;
    decisions.authorize(Action::ExportSubjectAccess, Relation::Any)?;
    lock_open(db, &current).await?;
    let reviews = reviews_of(db, current.id).await?;
    judgements_complete(&reviews, decisions.now().date_naive())?;
    let now = decisions.now();
    let finalised = subject_access_request::Model {
        finalised_at: Some(now),
        finalised_by: Some(decisions.caller().id),
        ..current.clone()
    };
    let export = sar_export::build(db, decisions, &finalised, &reviews).await?;
    let text = export.document.to_string();
    let sha = sar_export::sha256(&text);
    let updated = subject_access_request::Entity::update_many()
        .col_expr(
            subject_access_request::Column::FinalisedAt,
            Expr::value(now),
        )
        .col_expr(
            subject_access_request::Column::FinalisedBy,
            Expr::value(decisions.caller().id),
        )
        .col_expr(
            subject_access_request::Column::ExportDocument,
            Expr::value(text),
        )
        .col_expr(
            subject_access_request::Column::ExportSha256,
            Expr::value(sha.clone()),
        )
        .filter(subject_access_request::Column::Id.eq(id))
        .filter(subject_access_request::Column::FinalisedAt.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the subject access request was finalised by someone else".to_owned(),
        ));
    }
    sar_export::audit_export(db, decisions, &finalised, &export, &sha, true).await?;
    Ok(subject_access_request::Model {
        export_sha256: Some(sha),
        ..finalised
    })
}

/// The export of a request (the DPO; the CLI as the DPO): once finalised, the
/// document fixed then; before, a draft built now (`"final": false`). Every
/// export produced is audited.
pub async fn export(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
) -> AppResult<(subject_access_request::Model, serde_json::Value)> {
    let request = visible(db, decisions, id).await?;
    decisions.authorize(Action::ExportSubjectAccess, Relation::Any)?;
    if let (Some(text), Some(sha)) = (&request.export_document, &request.export_sha256) {
        let document: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| AppError::internal("subject access export", e))?;
        let categories = sar_export::categories_of(&document);
        sar_export::audit_fixed(db, decisions, &request, &categories, sha).await?;
        return Ok((request, document));
    }
    let reviews = reviews_of(db, request.id).await?;
    let export = sar_export::build(db, decisions, &request, &reviews).await?;
    let sha = sar_export::sha256(&export.document.to_string());
    sar_export::audit_export(db, decisions, &request, &export, &sha, false).await?;
    Ok((request, export.document))
}

/// Requests with their students, newest first (the DPO): all, or by status.
pub async fn list(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    status: Option<SubjectAccessRequestStatus>,
) -> AppResult<Vec<(subject_access_request::Model, student::Model)>> {
    decisions.authorize(Action::ListSubjectAccessRequests, Relation::Any)?;
    let mut q = subject_access_request::Entity::find().find_also_related(student::Entity);
    q = match status {
        None => q,
        Some(SubjectAccessRequestStatus::Finalised) => {
            q.filter(subject_access_request::Column::FinalisedAt.is_not_null())
        }
        Some(SubjectAccessRequestStatus::Open | SubjectAccessRequestStatus::Overdue) => {
            q.filter(subject_access_request::Column::FinalisedAt.is_null())
        }
    };
    let rows = q
        .order_by_desc(subject_access_request::Column::OpenedAt)
        .order_by_desc(subject_access_request::Column::Id)
        .all(db)
        .await?;
    let today = decisions.now().date_naive();
    Ok(rows
        .into_iter()
        .filter_map(|(r, s)| s.map(|s| (r, s)))
        .filter(|(r, _)| match status {
            Some(SubjectAccessRequestStatus::Overdue) => is_overdue(r, today),
            _ => true,
        })
        .collect())
}

/// The caller's own requests (a student), newest first.
pub async fn mine(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
) -> AppResult<Vec<subject_access_request::Model>> {
    decisions.authorize(Action::ReadOwnSubjectAccessRequests, Relation::SelfRecord)?;
    Ok(subject_access_request::Entity::find()
        .filter(subject_access_request::Column::StudentId.eq(decisions.caller().id))
        .order_by_desc(subject_access_request::Column::OpenedAt)
        .order_by_desc(subject_access_request::Column::Id)
        .all(db)
        .await?)
}

/// The status of a request on `today`.
pub fn status(
    request: &subject_access_request::Model,
    today: NaiveDate,
) -> SubjectAccessRequestStatus {
    if request.finalised_at.is_some() {
        SubjectAccessRequestStatus::Finalised
    } else if is_overdue(request, today) {
        SubjectAccessRequestStatus::Overdue
    } else {
        SubjectAccessRequestStatus::Open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn due_one_calendar_month_later_clamped_to_the_month_end() {
        assert_eq!(due_on(d(2026, 3, 14)).expect("due"), d(2026, 4, 14));
        assert_eq!(due_on(d(2026, 1, 31)).expect("due"), d(2026, 2, 28));
        assert_eq!(due_on(d(2028, 1, 31)).expect("due"), d(2028, 2, 29));
        assert_eq!(due_on(d(2026, 3, 31)).expect("due"), d(2026, 4, 30));
        assert_eq!(due_on(d(2026, 12, 15)).expect("due"), d(2027, 1, 15));
    }

    #[test]
    fn an_extension_counts_from_receipt() {
        assert_eq!(
            extended_due_on(d(2026, 1, 31), 2).expect("due"),
            d(2026, 4, 30)
        );
        assert_eq!(
            extended_due_on(d(2026, 1, 31), 1).expect("due"),
            d(2026, 3, 31)
        );
    }

    #[test]
    fn a_judgement_counts_for_six_months() {
        let today = d(2026, 11, 26);
        assert!(judgement_current(d(2026, 5, 26), today));
        assert!(!judgement_current(d(2026, 5, 25), today));
    }
}
