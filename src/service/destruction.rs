//! Destruction of a student (issue 10, item 5): every row of theirs, in every
//! table, in the caller's transaction, and an audit tombstone that says what
//! was destroyed under which rule, without personal data. The retention purge
//! (`confide retention purge`) and a granted erasure request both come here.
//!
//! The audit trail is append-only and hash-chained: its records about the
//! student stay (they carry ids, class names, outcomes and bases, never
//! personal data), and the tombstone is chained after them.

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::service::audit::{self, Event};
use chrono::NaiveDate;
use entity::{
    change_event, consent, disclosure_record, emergency_access, emergency_disclosure, enrolment,
    erasure_request, legal_authority, legal_hold, note, restriction, risk_exception,
    risk_exception_recipient, serious_harm_review, student, student_change, subject_access_request,
    support_case, third_party_entry,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Every table [`destroy`] clears of the student's rows. A table with a
/// `student_id` or `case_id` column must be here (or be the audit trail):
/// `tests/api/retention.rs` checks it against the database's own catalogue,
/// so a new table about students is not forgotten by the purge.
pub const TABLES: &[&str] = &[
    "note",
    "third_party_entry",
    "emergency_access",
    "legal_authority",
    "consent",
    "risk_exception_recipient",
    "risk_exception",
    "disclosure_record",
    "emergency_disclosure",
    "restriction",
    "student_change",
    "change_event",
    "enrolment",
    "erasure_request",
    "legal_hold",
    "serious_harm_review",
    "subject_access_request",
    "support_case",
    "student",
    // Cleared by the database: the triggers of migration 000110 delete a
    // case's and a student's change rows when the case or student is deleted.
    "statistics_change",
];

/// Why a student is destroyed: recorded in the tombstone.
#[derive(Clone, Debug)]
pub struct Grounds {
    /// The tombstone's basis: `retention:<rule>` or `erasure_request:<id>`.
    pub basis: String,
    /// The retention rule's code (`last_enrolment_six_years`, …, or `erasure_request`).
    pub rule: String,
    /// The due date, for a destruction by the retention schedule.
    pub due_on: Option<NaiveDate>,
}

/// What was destroyed: rows per table.
pub type Counts = BTreeMap<&'static str, u64>;

/// Locks the student's row for the rest of the transaction (PostgreSQL: the
/// row lock; SQLite: writers are serialised by `BEGIN IMMEDIATE`), so that a
/// legal hold placed concurrently either commits first (and is seen) or waits
/// and then finds no student. `false`: no such student (already destroyed).
pub async fn lock_student(db: &impl ConnectionTrait, student_id: Uuid) -> AppResult<bool> {
    let res = student::Entity::update_many()
        .col_expr(
            student::Column::UpdatedAt,
            Expr::col(student::Column::UpdatedAt),
        )
        .filter(student::Column::Id.eq(student_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Whether the student is under an active legal hold.
pub async fn held(db: &impl ConnectionTrait, student_id: Uuid) -> AppResult<bool> {
    Ok(legal_hold::Entity::find()
        .filter(legal_hold::Column::StudentId.eq(student_id))
        .filter(legal_hold::Column::LiftedAt.is_null())
        .one(db)
        .await?
        .is_some())
}

/// Destroys every row of the student (the caller has locked the student and
/// checked the hold in this transaction: [`lock_student`], [`held`]) and
/// appends the tombstone. Refuses (`CONFLICT`) if a hold is active.
pub async fn destroy(
    db: &impl ConnectionTrait,
    caller: &Caller,
    origin: super::audit::Origin<'_>,
    student_id: Uuid,
    grounds: &Grounds,
) -> AppResult<Counts> {
    if held(db, student_id).await? {
        return Err(AppError::Conflict(
            "the student's records are under a legal hold".to_owned(),
        ));
    }
    let cases: Vec<Uuid> = support_case::Entity::find()
        .select_only()
        .column(support_case::Column::Id)
        .filter(support_case::Column::StudentId.eq(student_id))
        .into_tuple()
        .all(db)
        .await?;
    let mut counts = Counts::new();
    macro_rules! delete {
        ($name:literal, $entity:ident, $filter:expr) => {{
            let res = $entity::Entity::delete_many()
                .filter($filter)
                .exec(db)
                .await?;
            if res.rows_affected > 0 {
                *counts.entry($name).or_default() += res.rows_affected;
            }
        }};
    }
    if !cases.is_empty() {
        delete!(
            "note",
            note,
            note::Column::CaseId.is_in(cases.iter().copied())
        );
        delete!(
            "third_party_entry",
            third_party_entry,
            third_party_entry::Column::CaseId.is_in(cases.iter().copied())
        );
    }
    // Children of the student (and of their cases) before the cases and the
    // student themself.
    delete!(
        "emergency_access",
        emergency_access,
        emergency_access::Column::StudentId.eq(student_id)
    );
    delete!(
        "legal_authority",
        legal_authority,
        legal_authority::Column::StudentId.eq(student_id)
    );
    delete!(
        "consent",
        consent,
        consent::Column::StudentId.eq(student_id)
    );
    delete!(
        "risk_exception_recipient",
        risk_exception_recipient,
        risk_exception_recipient::Column::StudentId.eq(student_id)
    );
    delete!(
        "risk_exception",
        risk_exception,
        risk_exception::Column::StudentId.eq(student_id)
    );
    delete!(
        "disclosure_record",
        disclosure_record,
        disclosure_record::Column::StudentId.eq(student_id)
    );
    delete!(
        "emergency_disclosure",
        emergency_disclosure,
        emergency_disclosure::Column::StudentId.eq(student_id)
    );
    delete!(
        "restriction",
        restriction,
        restriction::Column::StudentId.eq(student_id)
    );
    delete!(
        "student_change",
        student_change,
        student_change::Column::StudentId.eq(student_id)
    );
    delete!(
        "change_event",
        change_event,
        change_event::Column::StudentId.eq(student_id)
    );
    delete!(
        "enrolment",
        enrolment,
        enrolment::Column::StudentId.eq(student_id)
    );
    delete!(
        "erasure_request",
        erasure_request,
        erasure_request::Column::StudentId.eq(student_id)
    );
    delete!(
        "legal_hold",
        legal_hold,
        legal_hold::Column::StudentId.eq(student_id)
    );
    // Subject access requests hold the fixed export: everything about the
    // student, so they go with the student.
    delete!(
        "serious_harm_review",
        serious_harm_review,
        serious_harm_review::Column::StudentId.eq(student_id)
    );
    delete!(
        "subject_access_request",
        subject_access_request,
        subject_access_request::Column::StudentId.eq(student_id)
    );
    delete!(
        "support_case",
        support_case,
        support_case::Column::StudentId.eq(student_id)
    );
    delete!("student", student, student::Column::Id.eq(student_id));
    if counts.get("student") != Some(&1) {
        return Err(AppError::NotFound("student"));
    }
    audit::write(
        db,
        caller,
        origin,
        vec![Event {
            student_id: Some(student_id),
            action: "destroyed",
            fields: Vec::new(),
            outcome: "allow",
            basis: Some(grounds.basis.clone()),
            detail: Some(
                serde_json::json!({
                    "rule": grounds.rule,
                    "dueOn": grounds.due_on,
                    "destroyed": counts,
                })
                .to_string(),
            ),
        }],
    )
    .await?;
    Ok(counts)
}

/// The caller of the command line's writes (audited with basis `cli`).
pub fn cli_caller() -> Caller {
    Caller {
        id: Uuid::nil(),
        role: crate::domain::Role::Admin,
        name: "cli".to_owned(),
        service: None,
        department: None,
        unit: None,
        registered_mhp: false,
    }
}

/// What the purge did with one student.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purged {
    Destroyed(Counts),
    /// Held, no longer due, or already gone (another run destroyed it).
    Skipped(&'static str),
}

/// Destroys one student if, in this transaction, they are still due as of
/// `as_of` and not held: the purge's unit of work (all or nothing).
pub async fn purge_one(
    db: &impl ConnectionTrait,
    caller: &Caller,
    student_id: Uuid,
    as_of: NaiveDate,
) -> AppResult<Purged> {
    if !lock_student(db, student_id).await? {
        return Ok(Purged::Skipped("gone"));
    }
    let Some(schedule) = super::retention::schedule(db, student_id).await? else {
        return Ok(Purged::Skipped("gone"));
    };
    if schedule.held {
        return Ok(Purged::Skipped("held"));
    }
    if !schedule.is_due(as_of) {
        return Ok(Purged::Skipped("not due"));
    }
    let rule = schedule.due.reason.code();
    let counts = destroy(
        db,
        caller,
        super::audit::Origin::default(),
        student_id,
        &Grounds {
            basis: format!("retention:{rule}"),
            rule: rule.to_owned(),
            due_on: schedule.due.on,
        },
    )
    .await?;
    Ok(Purged::Destroyed(counts))
}
