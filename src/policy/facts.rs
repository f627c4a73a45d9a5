//! Facts: how a record relates to the caller. They are derived from the data here,
//! in one place, both as values (for output masks) and as SQL conditions (for
//! row scopes and for filters and sorts, which must see exactly what the output
//! would show). The decision itself is always the policy's.

use super::access::{self, StudentAccess};
use super::{ClassSet, Decisions, FieldClass};
use crate::auth::Caller;
use crate::domain::{text_enum, Audience, LabelSet, RecipientKind, Role, SensitivityLabel};
use chrono::{DateTime, Utc};
use entity::{
    change_event, consent, legal_authority, risk_exception, risk_exception_recipient, student,
    support_case,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition};
use uuid::Uuid;

text_enum!(
    /// The relation column of the policy: how a record relates to the caller.
    Relation {
        SelfRecord => "self",
        Own => "own",
        Other => "other",
        Any => "any",
        Restricted => "restricted",
        None => "none",
        Consented => "consented",
        Exception => "exception",
        ExcludedLabel => "excluded_label",
        /// For risk exception actions: a registered mental health professional
        /// who did not propose the exception.
        Registered => "registered",
        /// For risk exception actions: the professional who proposed it.
        Proposer => "proposer",
        /// For risk exception actions: not a registered mental health professional.
        Unregistered => "unregistered",
        /// A case of another service the caller holds an active break-glass
        /// (emergency) read of.
        BreakGlass => "break_glass",
        /// An outside audience, for a field class an active legal authority
        /// (court order, statutory duty) naming it puts in scope.
        Legal => "legal",
        /// The DPO reading a student's records for a subject access export:
        /// what is held about the student, compiled for the student.
        SubjectAccess => "subject_access",
    }
);

/// Everything about a record that can change a decision. It is the cache key of
/// a [`super::Mask`]: consent and exception state are part of it, per field class.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Facts {
    pub base: Relation,
    /// Field classes covered by a consent in force.
    pub consented: ClassSet,
    /// Field classes opened by an active risk exception.
    pub exception: ClassSet,
    /// Field classes in scope of an active legal authority.
    pub legal: ClassSet,
    /// A note whose labels every consent covering its case's notes excludes.
    pub label_excluded: bool,
    /// The caller is a registered mental health professional: risk exception
    /// records are decided under the relation `registered`.
    pub professional: bool,
}

impl Facts {
    pub fn base(base: Relation) -> Self {
        Facts {
            base,
            consented: ClassSet::empty(),
            exception: ClassSet::empty(),
            legal: ClassSet::empty(),
            label_excluded: false,
            professional: false,
        }
    }

    /// The relation the policy is asked about for one field class.
    pub fn relation_for(self, class: FieldClass) -> Relation {
        if self.base == Relation::Restricted {
            Relation::Restricted
        } else if class == FieldClass::CaseNotes && self.label_excluded {
            Relation::ExcludedLabel
        } else if self.consented.contains(class) {
            Relation::Consented
        } else if self.exception.contains(class) {
            Relation::Exception
        } else if self.legal.contains(class) {
            Relation::Legal
        } else if class == FieldClass::RiskExceptions && self.professional {
            Relation::Registered
        } else {
            self.base
        }
    }
}

fn outside(
    access: Option<&StudentAccess>,
    consented: impl Fn(&StudentAccess) -> ClassSet,
    legal: impl Fn(&StudentAccess) -> ClassSet,
) -> Facts {
    Facts {
        base: Relation::None,
        consented: access.map(consented).unwrap_or_default(),
        exception: access.map(|a| a.exception).unwrap_or_default(),
        legal: access.map(legal).unwrap_or_default(),
        label_excluded: false,
        professional: false,
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
    match service_relation(caller, student_id, None, restricted) {
        Relation::None if caller.role.is_outside() => outside(
            access,
            StudentAccess::student_consented,
            StudentAccess::student_legal,
        ),
        relation => Facts::base(relation),
    }
}

/// Facts for a support case (and its third-party entries).
/// `break_glass`: the caller holds an active emergency read of this case.
pub fn case_facts(
    caller: &Caller,
    case: &support_case::Model,
    restricted: bool,
    access: Option<&StudentAccess>,
    break_glass: bool,
) -> Facts {
    match service_relation(caller, case.student_id, Some(&case.service), restricted) {
        Relation::None if caller.role.is_outside() => outside(
            access,
            |a| a.case_consented(case.id),
            |a| a.case_legal(case.id),
        ),
        Relation::Other if break_glass => Facts::base(Relation::BreakGlass),
        relation => Facts::base(relation),
    }
}

/// The relation of a caller to a record about `student_id`: a case of
/// `service`, or (with `None`) the student record itself. Also the relation a
/// write to such a record (or opening a case) is authorized under.
pub fn service_relation(
    caller: &Caller,
    student_id: Uuid,
    service: Option<&str>,
    restricted: bool,
) -> Relation {
    match caller.role {
        Role::Student if caller.id == student_id => Relation::SelfRecord,
        Role::Student => Relation::None,
        Role::Dpo => Relation::Any,
        Role::Practitioner
        | Role::ServiceLead
        | Role::Reception
        | Role::Analyst
        | Role::ItSupport
        | Role::Admin
        | Role::Department
        | Role::UniversityService
        | Role::Partner
            if restricted =>
        {
            Relation::Restricted
        }
        Role::Practitioner | Role::ServiceLead => match service {
            None => Relation::Any,
            Some(s) if caller.service.as_deref() == Some(s) => Relation::Own,
            Some(_) => Relation::Other,
        },
        Role::Department | Role::UniversityService | Role::Partner => Relation::None,
        Role::Reception | Role::Analyst | Role::ItSupport | Role::Admin => Relation::Any,
    }
}

/// The relation of a caller to a member of staff they write about (create,
/// deactivate, record a registration of): `own` / `other` when the member is
/// one the caller's service manages (`service_staff`) of the caller's / another
/// service; `any` otherwise (any other member of staff, or a caller with no
/// service, such as an administrator or the DPO). The policy decides.
pub fn staff_relation(
    caller: &Caller,
    target_service: Option<&str>,
    service_staff: bool,
) -> Relation {
    match caller.role {
        Role::Practitioner | Role::ServiceLead | Role::Reception => {
            match (caller.service.as_deref(), target_service) {
                (Some(mine), Some(theirs)) if service_staff && mine == theirs => Relation::Own,
                (Some(_), Some(_)) if service_staff => Relation::Other,
                _ => Relation::Any,
            }
        }
        Role::Student
        | Role::Analyst
        | Role::ItSupport
        | Role::Dpo
        | Role::Admin
        | Role::Department
        | Role::UniversityService
        | Role::Partner => Relation::Any,
    }
}

/// Facts for a note: its case's, and whether its labels are excluded by every
/// consent covering the case's notes.
pub fn note_facts(
    case: Facts,
    case_id: Uuid,
    labels: LabelSet,
    access: Option<&StudentAccess>,
) -> Facts {
    // A legal authority whose scope holds the notes releases them as ordered.
    let excluded = case.consented.contains(FieldClass::CaseNotes)
        && !case.legal.contains(FieldClass::CaseNotes)
        && access.is_some_and(|a| a.label_excluded(case_id, labels));
    Facts {
        label_excluded: excluded,
        ..case
    }
}

/// Whether a note exists for the caller at all. For departments, university
/// services and partners a note carrying a label their consent excludes does
/// not exist: it is not listed, not counted and not signalled by the feed (its
/// existence would tell them the student has exactly the kind of note they
/// asked to keep private). Staff keep the redaction marker.
pub fn note_listed(caller: &Caller, facts: Facts) -> bool {
    match caller.role.audience() {
        Audience::Outside => !facts.label_excluded,
        Audience::Student | Audience::Staff => true,
    }
}

/// Whether a record of sharing without consent (a risk exception, an emergency
/// disclosure) about a student is listed to the caller at all: a student sees
/// one only once informed of it. Mirrors [`risk_exception_rows`].
pub fn listed_once_informed(caller: &Caller, informed_at: Option<DateTime<Utc>>) -> bool {
    match caller.role.audience() {
        Audience::Student => informed_at.is_some(),
        Audience::Staff | Audience::Outside => true,
    }
}

/// Whether a legal authority is listed to the caller at all: the student once
/// informed (never when the order forbids it), the recipient it names, staff
/// the policy lets read them.
pub fn legal_listed(caller: &Caller, l: &legal_authority::Model) -> bool {
    match caller.role.audience() {
        Audience::Student => l.student_informed_at.is_some() && !l.inform_forbidden,
        Audience::Outside => access::caller_recipient(caller)
            .is_some_and(|(kind, r)| l.recipient_kind == kind.as_str() && l.recipient_ref == r),
        Audience::Staff => true,
    }
}

/// The SQL form of [`listed_once_informed`].
pub fn risk_exception_rows(caller: &Caller) -> RowScope {
    match caller.role.audience() {
        Audience::Student => RowScope::Condition(
            Condition::all()
                .add(risk_exception::Column::StudentId.eq(caller.id))
                .add(risk_exception::Column::StudentInformedAt.is_not_null()),
        ),
        Audience::Staff | Audience::Outside => RowScope::All,
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
    recipient: &(RecipientKind, String),
    student_id: Expr,
    case: Option<Expr>,
    now: DateTime<Utc>,
) -> Expr {
    // Cases are visible only under a consent covering SUPPORT_SUMMARY ("that a
    // student is supported"), general or for that case.
    let category = case.is_some().then_some("SUPPORT_SUMMARY");
    consent_covering(recipient, student_id, case, category, now, None)
}

/// Consents naming the recipient, in force at `now`, for the student in
/// `student_id`; with `case`, general or for that case; with `category`, only
/// those covering it; with `excluding`, only those that also exclude one of the
/// labels held by that JSON column.
fn consent_covering(
    (kind, reference): &(RecipientKind, String),
    student_id: Expr,
    case: Option<Expr>,
    category: Option<&str>,
    now: DateTime<Utc>,
    excluding: Option<Expr>,
) -> Expr {
    let mut q = Query::select();
    if let Some(category) = category {
        q.and_where(covers(
            Expr::col((consent::Entity, consent::Column::Categories)),
            category,
        ));
    }
    if let Some(labels) = excluding {
        let mut any = Condition::any();
        for label in SensitivityLabel::ALL {
            any = any.add(
                Condition::all()
                    .add(covers(labels.clone(), label.as_str()))
                    .add(covers(
                        Expr::col((consent::Entity, consent::Column::ExcludedLabels)),
                        label.as_str(),
                    )),
            );
        }
        q.cond_where(any);
    }
    q.expr(Expr::val(1))
        .from(consent::Entity)
        .and_where(Expr::col((consent::Entity, consent::Column::StudentId)).eq(student_id))
        .and_where(consent::Column::RecipientKind.eq(kind.as_str()))
        .and_where(consent::Column::RecipientRef.eq(reference.clone()))
        .cond_where(consent_in_force_sql(now));
    if let Some(case_id) = case {
        q.cond_where(
            Condition::any()
                .add(consent::Column::CaseId.is_null())
                .add(Expr::col((consent::Entity, consent::Column::CaseId)).eq(case_id)),
        );
    }
    Expr::exists(q.to_owned())
}

/// The SQL form of [`access::consent_in_force`] at `now` (pinned to it by a test
/// at the edge instants): `given_at <= now < expires_at`, not withdrawn by `now`.
pub fn consent_in_force_sql(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(consent::Column::GivenAt.lte(now))
        .add(
            Condition::any()
                .add(consent::Column::WithdrawnAt.is_null())
                .add(consent::Column::WithdrawnAt.gt(now)),
        )
        .add(
            Condition::any()
                .add(consent::Column::ExpiresAt.is_null())
                .add(consent::Column::ExpiresAt.gt(now)),
        )
}

/// The SQL form of [`access::exception_active`] at `now`: confirmed by `now`,
/// not revoked by `now`, `now < expires_at`.
pub fn exception_active_sql(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(risk_exception::Column::ConfirmedAt.lte(now))
        .add(
            Condition::any()
                .add(risk_exception::Column::RevokedAt.is_null())
                .add(risk_exception::Column::RevokedAt.gt(now)),
        )
        .add(risk_exception::Column::ExpiresAt.gt(now))
}

/// The SQL form of [`access::legal_active`] at `now`: recorded by `now`, not
/// revoked by `now`, `now < expires_at`.
pub fn legal_active_sql(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(legal_authority::Column::RecordedAt.lte(now))
        .add(
            Condition::any()
                .add(legal_authority::Column::RevokedAt.is_null())
                .add(legal_authority::Column::RevokedAt.gt(now)),
        )
        .add(legal_authority::Column::ExpiresAt.gt(now))
}

/// Active legal authorities naming the recipient for the student in
/// `student_id`; with `case`, general or for that case; with `category`, only
/// those whose scope holds it.
fn legal_exists(
    (kind, reference): &(RecipientKind, String),
    student_id: Expr,
    case: Option<Expr>,
    category: Option<&str>,
    now: DateTime<Utc>,
) -> Expr {
    let mut q = Query::select();
    q.expr(Expr::val(1))
        .from(legal_authority::Entity)
        .and_where(
            Expr::col((legal_authority::Entity, legal_authority::Column::StudentId)).eq(student_id),
        )
        .and_where(legal_authority::Column::RecipientKind.eq(kind.as_str()))
        .and_where(legal_authority::Column::RecipientRef.eq(reference.clone()))
        .cond_where(legal_active_sql(now));
    if let Some(category) = category {
        q.and_where(covers(
            Expr::col((legal_authority::Entity, legal_authority::Column::Categories)),
            category,
        ));
    }
    if let Some(case_id) = case {
        q.cond_where(
            Condition::any()
                .add(legal_authority::Column::CaseId.is_null())
                .add(
                    Expr::col((legal_authority::Entity, legal_authority::Column::CaseId))
                        .eq(case_id),
                ),
        );
    }
    Expr::exists(q.to_owned())
}

/// Risk exceptions naming the recipient for the student in `student_id` (a
/// column of the outer query), joined to their exception row; `state` narrows
/// them (active at an instant, confirmed since, ...). The one place this
/// subquery is written.
pub fn exception_naming(
    (kind, reference): &(RecipientKind, String),
    student_id: Expr,
    state: Condition,
) -> Expr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
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
            .cond_where(state)
            .to_owned(),
    )
}

/// Active risk exceptions naming the recipient for the student in `student_id`
/// (with `category`, only those opening that category).
fn exception_exists(
    recipient: &(RecipientKind, String),
    student_id: Expr,
    category: Option<&str>,
    now: DateTime<Utc>,
) -> Expr {
    let mut state = exception_active_sql(now);
    if let Some(category) = category {
        state = state.add(covers(
            Expr::col((risk_exception::Entity, risk_exception::Column::Categories)),
            category,
        ));
    }
    exception_naming(recipient, student_id, state)
}

/// A department sees, under consent, only students of that department (an
/// exception may name any recipient). True for every other caller.
pub fn own_department(caller: &Caller, student_id: Expr) -> Condition {
    match (caller.role, &caller.department) {
        (Role::Department, None) => Condition::any(),
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
        (
            Role::Student
            | Role::Practitioner
            | Role::ServiceLead
            | Role::Reception
            | Role::Analyst
            | Role::ItSupport
            | Role::Dpo
            | Role::Admin
            | Role::UniversityService
            | Role::Partner,
            _,
        ) => Condition::all(),
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
        // Analysts: aggregate statistics only; administrators: the directory only.
        Role::Analyst | Role::Admin => RowScope::Nothing,
        Role::Practitioner | Role::ServiceLead | Role::Reception | Role::ItSupport | Role::Dpo => {
            RowScope::All
        }
        Role::Department | Role::UniversityService | Role::Partner => {
            match access::caller_recipient(caller) {
                Some(recipient) => {
                    let id = || Expr::col((student::Entity, student::Column::Id));
                    RowScope::Condition(
                        Condition::any()
                            .add(
                                Condition::all()
                                    .add(consent_exists(&recipient, id(), None, now))
                                    .add(own_department(caller, id())),
                            )
                            .add(exception_exists(&recipient, id(), None, now))
                            .add(legal_exists(&recipient, id(), None, None, now)),
                    )
                }
                None => RowScope::Nothing,
            }
        }
    }
}

/// Cases visible to the caller. Outside audiences: the cases a general consent
/// or an exception opens, or the one case a case-scoped consent names.
pub fn case_rows(caller: &Caller, now: DateTime<Utc>) -> RowScope {
    match caller.role {
        Role::Student => {
            RowScope::Condition(Condition::all().add(support_case::Column::StudentId.eq(caller.id)))
        }
        // Analysts: aggregate statistics only; administrators: the directory only.
        Role::Analyst | Role::Admin => RowScope::Nothing,
        Role::Practitioner | Role::ServiceLead | Role::Reception | Role::ItSupport | Role::Dpo => {
            RowScope::All
        }
        Role::Department | Role::UniversityService | Role::Partner => {
            match access::caller_recipient(caller) {
                Some(recipient) => {
                    let student =
                        || Expr::col((support_case::Entity, support_case::Column::StudentId));
                    let case = || Expr::col((support_case::Entity, support_case::Column::Id));
                    RowScope::Condition(
                        Condition::any()
                            .add(
                                Condition::all()
                                    .add(consent_exists(&recipient, student(), Some(case()), now))
                                    .add(own_department(caller, student())),
                            )
                            .add(exception_exists(
                                &recipient,
                                student(),
                                Some("SUPPORT_SUMMARY"),
                                now,
                            ))
                            .add(legal_exists(
                                &recipient,
                                student(),
                                Some(case()),
                                Some("SUPPORT_SUMMARY"),
                                now,
                            )),
                    )
                }
                None => RowScope::Nothing,
            }
        }
    }
}

/// The SQL form, over a `change_event` row, of "this change is something the
/// outside caller can read now": its field class is allowed by the policy under
/// the caller's relation to it (none, consented, exception), the case it
/// belongs to is visible, the student's processing is not restricted, and a
/// note is not one their consent excludes (such a note does not exist for
/// them). The same decisions as the output's; `None` for callers with no feed.
pub fn readable_changes(decisions: &Decisions, now: DateTime<Utc>) -> Option<Condition> {
    let caller = decisions.caller();
    let recipient = access::caller_recipient(caller)?;
    let student = || Expr::col((change_event::Entity, change_event::Column::StudentId));
    let case = || Expr::col((change_event::Entity, change_event::Column::CaseId));
    let allowed = |relation: Relation, class: FieldClass| {
        decisions.allowed_for(caller.role, relation).contains(class)
    };
    let mut classes = Condition::any();
    for class in FieldClass::ALL {
        let Some(category) = class.category() else {
            continue;
        };
        let category = category.as_str();
        // A case-level class may be opened by a consent for that case; a class
        // of the student record only by a general consent (as in the output:
        // `StudentAccess::student_consented`).
        let scope = if class.is_case_level() {
            Some(case())
        } else {
            Some(Expr::value(Option::<Uuid>::None))
        };
        let mut routes = Condition::any();
        if allowed(Relation::None, *class) {
            routes = routes.add(Condition::all());
        }
        if allowed(Relation::Consented, *class) {
            routes = routes.add(
                Condition::all()
                    .add(consent_covering(
                        &recipient,
                        student(),
                        scope.clone(),
                        Some(category),
                        now,
                        None,
                    ))
                    .add(own_department(caller, student())),
            );
        }
        if !access::never_by_exception().contains(*class) && allowed(Relation::Exception, *class) {
            routes = routes.add(exception_exists(&recipient, student(), Some(category), now));
        }
        let legal = allowed(Relation::Legal, *class)
            .then(|| legal_exists(&recipient, student(), scope.clone(), Some(category), now));
        if let Some(legal) = legal.clone() {
            routes = routes.add(legal);
        }
        let mut this = Condition::all()
            .add(change_event::Column::Class.eq(class.as_str()))
            .add(routes);
        if *class == FieldClass::CaseNotes {
            // A note a consent excludes does not exist for the recipient, unless
            // a legal authority releases the notes as ordered.
            let labels = Expr::col((change_event::Entity, change_event::Column::Labels));
            let mut shown = Condition::any().add(
                consent_covering(
                    &recipient,
                    student(),
                    scope,
                    Some(category),
                    now,
                    Some(labels),
                )
                .not(),
            );
            if let Some(legal) = legal {
                shown = shown.add(legal);
            }
            this = this.add(shown);
        }
        classes = classes.add(this);
    }
    let mut case_visible = Query::select();
    case_visible
        .expr(Expr::val(1))
        .from(support_case::Entity)
        .and_where(Expr::col((support_case::Entity, support_case::Column::Id)).eq(case()));
    match case_rows(caller, now) {
        RowScope::All => {}
        RowScope::Condition(c) => {
            case_visible.cond_where(c);
        }
        RowScope::Nothing => {
            case_visible.and_where(Expr::val(1).eq(0));
        }
    }
    let not_restricted = Query::select()
        .expr(Expr::val(1))
        .from(student::Entity)
        .and_where(Expr::col((student::Entity, student::Column::Id)).eq(student()))
        .and_where(student::Column::ProcessingRestricted.eq(false))
        .to_owned();
    Some(
        Condition::all()
            .add(classes)
            .add(
                Condition::any()
                    .add(change_event::Column::CaseId.is_null())
                    .add(Expr::exists(case_visible.to_owned())),
            )
            .add(Expr::exists(not_restricted)),
    )
}

/// Students whose processing is (or is not) restricted. The flag is written
/// into the statement, not bound: with it bound, PostgreSQL could not cost a
/// plan made for either value (it assumes half the students), so it planned
/// every page that carries this condition again on each request (run 25).
fn restricted(flag: bool) -> Condition {
    let column = Expr::col((student::Entity, student::Column::ProcessingRestricted));
    Condition::all().add(if flag { column } else { column.not() })
}

/// Each relation the caller can have with a student row, with the SQL condition
/// selecting exactly those rows. Mirrors [`student_facts`].
fn student_relations(caller: &Caller) -> Vec<(Relation, Condition)> {
    match caller.role {
        Role::Student => vec![(Relation::SelfRecord, Condition::all())],
        Role::Dpo => vec![(Relation::Any, Condition::all())],
        Role::Department | Role::UniversityService | Role::Partner => vec![
            (Relation::None, restricted(false)),
            (Relation::Restricted, restricted(true)),
        ],
        Role::Practitioner
        | Role::ServiceLead
        | Role::Reception
        | Role::Analyst
        | Role::ItSupport
        | Role::Admin => {
            vec![
                (Relation::Any, restricted(false)),
                (Relation::Restricted, restricted(true)),
            ]
        }
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
        Role::Department | Role::UniversityService | Role::Partner => vec![
            (Relation::None, restricted(false)),
            (Relation::Restricted, restricted(true)),
        ],
        Role::Reception | Role::Analyst | Role::ItSupport | Role::Admin => vec![
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
    let mut allowed: Vec<(Relation, Condition)> = relations
        .into_iter()
        .filter(|(rel, _)| decisions.mask(Facts::base(*rel)).outcome(class).is_allow())
        .collect();
    // Own and other service together are every unrestricted case (a case's
    // service is never null): one plain condition the planner can use, not a
    // disjunction it plans on every execution (issue 13: a third of the case
    // page's time on PostgreSQL).
    let is = |r: Relation| move |(rel, _): &(Relation, Condition)| *rel == r;
    if matches!(kind, RowKind::Case)
        && allowed.iter().any(is(Relation::Own))
        && allowed.iter().any(is(Relation::Other))
    {
        allowed.retain(|(rel, _)| !matches!(rel, Relation::Own | Relation::Other));
        allowed.push((Relation::Other, restricted(false)));
        if allowed.len() + 1 == total {
            return RowScope::All;
        }
    }
    let allowed: Vec<Condition> = allowed.into_iter().map(|(_, cond)| cond).collect();
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
