//! Facts: how a record relates to the caller. They are derived from the data here,
//! in one place, both as values (for output masks) and as SQL conditions (for
//! row scopes and for filters and sorts, which must see exactly what the output
//! would show). The decision itself is always the policy's.

use super::access::{self, StudentAccess};
use super::{Decisions, FieldClass};
use crate::auth::Caller;
use crate::domain::{RecipientKind, Role};
use chrono::{DateTime, Utc};
use entity::{consent, risk_exception, risk_exception_recipient, student, support_case};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition};
use uuid::Uuid;

/// The relation column of the policy.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Relation {
    SelfRecord,
    Own,
    Other,
    Any,
    Restricted,
    None,
    Consented,
    Exception,
    ExcludedLabel,
    /// For risk exception actions: a registered mental health professional who
    /// did not propose the exception.
    Registered,
    /// For risk exception actions: the professional who proposed it.
    Proposer,
    /// For risk exception actions: not a registered mental health professional.
    Unregistered,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::SelfRecord => "self",
            Relation::Own => "own",
            Relation::Other => "other",
            Relation::Any => "any",
            Relation::Restricted => "restricted",
            Relation::None => "none",
            Relation::Consented => "consented",
            Relation::Exception => "exception",
            Relation::ExcludedLabel => "excluded_label",
            Relation::Registered => "registered",
            Relation::Proposer => "proposer",
            Relation::Unregistered => "unregistered",
        }
    }
}

/// Everything about a record that can change a decision. It is the cache key of
/// a [`super::Mask`]: consent and exception state are part of it, per field class.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Facts {
    pub base: Relation,
    /// Field classes (bits of [`FieldClass::bit`]) covered by a consent in force.
    pub consented: u16,
    /// Field classes opened by an active risk exception.
    pub exception: u16,
    /// A note whose labels every consent covering its case's notes excludes.
    pub label_excluded: bool,
}

impl Facts {
    pub fn base(base: Relation) -> Self {
        Facts {
            base,
            consented: 0,
            exception: 0,
            label_excluded: false,
        }
    }

    /// The relation the policy is asked about for one field class.
    pub fn relation_for(self, class: FieldClass) -> Relation {
        if self.base == Relation::Restricted {
            Relation::Restricted
        } else if class == FieldClass::CaseNotes && self.label_excluded {
            Relation::ExcludedLabel
        } else if self.consented & class.bit() != 0 {
            Relation::Consented
        } else if self.exception & class.bit() != 0 {
            Relation::Exception
        } else {
            self.base
        }
    }
}

fn outside(access: Option<&StudentAccess>, consented: impl Fn(&StudentAccess) -> u16) -> Facts {
    Facts {
        base: Relation::None,
        consented: access.map(consented).unwrap_or(0),
        exception: access.map(|a| a.exception).unwrap_or(0),
        label_excluded: false,
    }
}

/// Facts for a student record (fields not tied to one service). `access` is the
/// outside caller's consent and exception state for this student.
pub fn student_facts(
    caller: &Caller,
    student_id: Uuid,
    restricted: bool,
    access: Option<&StudentAccess>,
) -> Facts {
    if caller.role.is_outside() && !restricted {
        return outside(access, StudentAccess::student_consented);
    }
    Facts::base(match caller.role {
        Role::Student if caller.id == student_id => Relation::SelfRecord,
        Role::Student => Relation::None,
        Role::Dpo => Relation::Any,
        _ if restricted => Relation::Restricted,
        role if role.is_outside() => Relation::None,
        _ => Relation::Any,
    })
}

/// Facts for a support case (and its third-party entries).
pub fn case_facts(
    caller: &Caller,
    case: &support_case::Model,
    restricted: bool,
    access: Option<&StudentAccess>,
) -> Facts {
    if caller.role.is_outside() && !restricted {
        return outside(access, |a| a.case_consented(case.id));
    }
    Facts::base(service_relation(
        caller,
        case.student_id,
        &case.service,
        restricted,
    ))
}

/// The relation of a caller to a case of `service` for `student_id`: also the
/// relation a write to such a case (or opening one) is authorized under.
pub fn service_relation(
    caller: &Caller,
    student_id: Uuid,
    service: &str,
    restricted: bool,
) -> Relation {
    match caller.role {
        Role::Student if caller.id == student_id => Relation::SelfRecord,
        Role::Student => Relation::None,
        Role::Dpo => Relation::Any,
        _ if restricted => Relation::Restricted,
        Role::Practitioner | Role::ServiceLead => {
            if caller.service.as_deref() == Some(service) {
                Relation::Own
            } else {
                Relation::Other
            }
        }
        role if role.is_outside() => Relation::None,
        _ => Relation::Any,
    }
}

/// Facts for a note: its case's, and whether its labels are excluded by every
/// consent covering the case's notes.
pub fn note_facts(
    case: Facts,
    case_id: Uuid,
    labels: u16,
    access: Option<&StudentAccess>,
) -> Facts {
    let excluded = case.consented & FieldClass::CaseNotes.bit() != 0
        && access.is_some_and(|a| a.label_excluded(case_id, labels));
    Facts {
        label_excluded: excluded,
        ..case
    }
}

/// Which rows of a list a caller may see at all.
#[derive(Clone, Debug)]
pub enum RowScope {
    All,
    Condition(Condition),
    Nothing,
}

/// Consents naming the recipient, in force at `now`, for the student in `student_id`
/// (a column of the outer query); `case` narrows to general or that case's consents.
/// Whether a JSON array of category names (stored as JSON text or json) holds `category`.
fn covers(column: Expr, category: &str) -> Expr {
    column
        .cast_as(Alias::new("text"))
        .like(format!("%\"{category}\"%"))
}

fn consent_exists(
    (kind, reference): &(RecipientKind, String),
    student_id: Expr,
    case: Option<Expr>,
    now: DateTime<Utc>,
) -> Expr {
    let mut q = Query::select();
    if case.is_some() {
        // Cases are visible only under a consent covering SUPPORT_SUMMARY
        // ("that a student is supported"), general or for that case.
        q.and_where(covers(
            Expr::col((consent::Entity, consent::Column::Categories)),
            "SUPPORT_SUMMARY",
        ));
    }
    q.expr(Expr::val(1))
        .from(consent::Entity)
        .and_where(Expr::col((consent::Entity, consent::Column::StudentId)).eq(student_id))
        .and_where(consent::Column::RecipientKind.eq(kind.as_str()))
        .and_where(consent::Column::RecipientRef.eq(reference.clone()))
        .and_where(consent::Column::GivenAt.lte(now))
        .and_where(consent::Column::WithdrawnAt.is_null())
        .cond_where(
            Condition::any()
                .add(consent::Column::ExpiresAt.is_null())
                .add(consent::Column::ExpiresAt.gt(now)),
        );
    if let Some(case_id) = case {
        q.cond_where(
            Condition::any()
                .add(consent::Column::CaseId.is_null())
                .add(Expr::col((consent::Entity, consent::Column::CaseId)).eq(case_id)),
        );
    }
    Expr::exists(q.to_owned())
}

/// Active risk exceptions naming the recipient for the student in `student_id`
/// (with `category`, only those opening that category).
fn exception_exists(
    (kind, reference): &(RecipientKind, String),
    student_id: Expr,
    category: Option<&str>,
    now: DateTime<Utc>,
) -> Expr {
    let mut q = Query::select();
    if let Some(category) = category {
        q.and_where(covers(
            Expr::col((risk_exception::Entity, risk_exception::Column::Categories)),
            category,
        ));
    }
    Expr::exists(
        q.expr(Expr::val(1))
            .from(risk_exception_recipient::Entity)
            .inner_join(
                risk_exception::Entity,
                Expr::col((risk_exception::Entity, risk_exception::Column::Id)).equals((
                    risk_exception_recipient::Entity,
                    risk_exception_recipient::Column::RiskExceptionId,
                )),
            )
            .and_where(
                Expr::col((
                    risk_exception_recipient::Entity,
                    risk_exception_recipient::Column::StudentId,
                ))
                .eq(student_id),
            )
            .and_where(risk_exception_recipient::Column::RecipientKind.eq(kind.as_str()))
            .and_where(risk_exception_recipient::Column::RecipientRef.eq(reference.clone()))
            .and_where(risk_exception::Column::ConfirmedAt.lte(now))
            .and_where(risk_exception::Column::RevokedAt.is_null())
            .and_where(risk_exception::Column::ExpiresAt.gt(now))
            .to_owned(),
    )
}

/// A department sees, under consent, only students of that department (an
/// exception may name any recipient). True for every other caller.
fn own_department(caller: &Caller, student_id: Expr) -> Condition {
    match (caller.role, &caller.department) {
        (Role::Department, Some(dept)) => {
            let s2 = Alias::new("dept_student");
            Condition::all().add(Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from_as(student::Entity, s2.clone())
                    .and_where(Expr::col((s2.clone(), student::Column::Id)).eq(student_id))
                    .and_where(Expr::col((s2, student::Column::Department)).eq(dept.clone()))
                    .to_owned(),
            ))
        }
        _ => Condition::all(),
    }
}

/// Students visible to the caller. Analysts see no individual rows (aggregate
/// statistics only); outside audiences see a student only while a consent in
/// force or an active risk exception names them.
pub fn student_rows(caller: &Caller, now: DateTime<Utc>) -> RowScope {
    match caller.role {
        Role::Student => {
            RowScope::Condition(Condition::all().add(student::Column::Id.eq(caller.id)))
        }
        Role::Analyst => RowScope::Nothing,
        role if role.is_outside() => match access::caller_recipient(caller) {
            Some(recipient) => {
                let id = || Expr::col((student::Entity, student::Column::Id));
                RowScope::Condition(
                    Condition::any()
                        .add(
                            Condition::all()
                                .add(consent_exists(&recipient, id(), None, now))
                                .add(own_department(caller, id())),
                        )
                        .add(exception_exists(&recipient, id(), None, now)),
                )
            }
            None => RowScope::Nothing,
        },
        _ => RowScope::All,
    }
}

/// Cases visible to the caller. Outside audiences: the cases a general consent
/// or an exception opens, or the one case a case-scoped consent names.
pub fn case_rows(caller: &Caller, now: DateTime<Utc>) -> RowScope {
    match caller.role {
        Role::Student => {
            RowScope::Condition(Condition::all().add(support_case::Column::StudentId.eq(caller.id)))
        }
        Role::Analyst => RowScope::Nothing,
        role if role.is_outside() => match access::caller_recipient(caller) {
            Some(recipient) => {
                let student = || Expr::col((support_case::Entity, support_case::Column::StudentId));
                let case = Expr::col((support_case::Entity, support_case::Column::Id));
                RowScope::Condition(
                    Condition::any()
                        .add(
                            Condition::all()
                                .add(consent_exists(&recipient, student(), Some(case), now))
                                .add(own_department(caller, student())),
                        )
                        .add(exception_exists(
                            &recipient,
                            student(),
                            Some("SUPPORT_SUMMARY"),
                            now,
                        )),
                )
            }
            None => RowScope::Nothing,
        },
        _ => RowScope::All,
    }
}

fn restricted(flag: bool) -> Condition {
    Condition::all().add(student::Column::ProcessingRestricted.eq(flag))
}

/// Each relation the caller can have with a student row, with the SQL condition
/// selecting exactly those rows. Mirrors [`student_facts`].
fn student_relations(caller: &Caller) -> Vec<(Relation, Condition)> {
    match caller.role {
        Role::Student => vec![(Relation::SelfRecord, Condition::all())],
        Role::Dpo => vec![(Relation::Any, Condition::all())],
        role if role.is_outside() => vec![
            (Relation::None, restricted(false)),
            (Relation::Restricted, restricted(true)),
        ],
        _ => vec![
            (Relation::Any, restricted(false)),
            (Relation::Restricted, restricted(true)),
        ],
    }
}

/// Each relation the caller can have with a case row. Mirrors [`case_facts`].
fn case_relations(caller: &Caller) -> Vec<(Relation, Condition)> {
    match caller.role {
        Role::Student => vec![(Relation::SelfRecord, Condition::all())],
        Role::Dpo => vec![(Relation::Any, Condition::all())],
        Role::Practitioner | Role::ServiceLead => {
            let mut out = Vec::new();
            match &caller.service {
                Some(own) => {
                    out.push((
                        Relation::Own,
                        restricted(false).add(support_case::Column::Service.eq(own.clone())),
                    ));
                    out.push((
                        Relation::Other,
                        restricted(false).add(support_case::Column::Service.ne(own.clone())),
                    ));
                }
                None => out.push((Relation::Other, restricted(false))),
            }
            out.push((Relation::Restricted, restricted(true)));
            out
        }
        role if role.is_outside() => vec![
            (Relation::None, restricted(false)),
            (Relation::Restricted, restricted(true)),
        ],
        _ => vec![
            (Relation::Any, restricted(false)),
            (Relation::Restricted, restricted(true)),
        ],
    }
}

/// The rows on which a field class may be *read* by this caller: a filter or
/// sort on that class may only look at these rows (elsewhere the value is hidden
/// and behaves as null). `Nothing` means the caller can read it nowhere: the
/// filter or sort is refused with FORBIDDEN.
pub fn readable_rows(decisions: &Decisions, class: FieldClass, kind: RowKind) -> RowScope {
    let caller = decisions.caller();
    let relations = match kind {
        RowKind::Student => student_relations(caller),
        RowKind::Case => case_relations(caller),
    };
    let total = relations.len();
    let allowed: Vec<Condition> = relations
        .into_iter()
        .filter(|(rel, _)| decisions.mask(Facts::base(*rel)).outcome(class).is_allow())
        .map(|(_, cond)| cond)
        .collect();
    if allowed.is_empty() {
        RowScope::Nothing
    } else if allowed.len() == total {
        RowScope::All
    } else {
        RowScope::Condition(allowed.into_iter().fold(Condition::any(), Condition::add))
    }
}

#[derive(Copy, Clone, Debug)]
pub enum RowKind {
    Student,
    Case,
}
