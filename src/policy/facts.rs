//! Facts: how a record relates to the caller. They are derived from the data here,
//! in one place, both as values (for output masks) and as SQL conditions (for
//! row scopes and for filters and sorts, which must see exactly what the output
//! would show). The decision itself is always the policy's.

use super::{Decisions, FieldClass};
use crate::auth::Caller;
use crate::domain::Role;
use entity::{student, support_case};
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

fn is_outside(role: Role) -> bool {
    matches!(
        role,
        Role::Department | Role::UniversityService | Role::Partner
    )
}

/// Facts for a student record (fields not tied to one service).
pub fn student_facts(caller: &Caller, student_id: Uuid, restricted: bool) -> Facts {
    Facts::base(match caller.role {
        Role::Student if caller.id == student_id => Relation::SelfRecord,
        Role::Student => Relation::None,
        Role::Dpo => Relation::Any,
        _ if restricted => Relation::Restricted,
        role if is_outside(role) => Relation::None,
        _ => Relation::Any,
    })
}

/// Facts for a support case (and its notes and third-party entries).
pub fn case_facts(caller: &Caller, student_id: Uuid, service: &str, restricted: bool) -> Facts {
    Facts::base(match caller.role {
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
        role if is_outside(role) => Relation::None,
        _ => Relation::Any,
    })
}

/// Which rows of a list a caller may see at all.
#[derive(Clone, Debug)]
pub enum RowScope {
    All,
    Condition(Condition),
    Nothing,
}

/// Students visible to the caller. Outside audiences see no rows yet (consent
/// and risk exceptions open them).
pub fn student_rows(caller: &Caller) -> RowScope {
    match caller.role {
        Role::Student => {
            RowScope::Condition(Condition::all().add(student::Column::Id.eq(caller.id)))
        }
        Role::Analyst => RowScope::Nothing,
        role if is_outside(role) => RowScope::Nothing,
        _ => RowScope::All,
    }
}

/// Cases visible to the caller (queries join the case's student).
pub fn case_rows(caller: &Caller) -> RowScope {
    match caller.role {
        Role::Student => {
            RowScope::Condition(Condition::all().add(support_case::Column::StudentId.eq(caller.id)))
        }
        Role::Analyst => RowScope::Nothing,
        role if is_outside(role) => RowScope::Nothing,
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
        role if is_outside(role) => vec![
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
        role if is_outside(role) => vec![
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
