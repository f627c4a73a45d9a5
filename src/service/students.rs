use super::{contains_pattern, masked, scoped, Page};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::policy::facts::{self, readable_rows, RowKind, RowScope};
use crate::policy::{Action, ClassSet, Decisions, FieldClass, Relation};
use entity::{enrolment, student, student_change};
use sea_orm::sea_query::{Expr, Func, LikeExpr, NullOrdering, Order};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, ExprTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Clone, Debug, Default)]
pub struct StudentFilter {
    pub department: Option<String>,
    pub name_contains: Option<String>,
    pub student_number: Option<String>,
}

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum StudentOrder {
    #[default]
    Created,
    Name,
}

/// Builds the row-scoped, filter-masked query. A filter or sort on a class the
/// caller can read nowhere is refused with FORBIDDEN naming the argument.
pub(super) fn query(
    decisions: &Decisions,
    filter: &StudentFilter,
) -> AppResult<Option<sea_orm::Select<student::Entity>>> {
    let Some(mut q) = scoped(
        student::Entity::find(),
        &facts::student_rows(decisions.caller(), decisions.now()),
    ) else {
        return Ok(None);
    };
    let readable = |class: FieldClass, arg: &str| -> AppResult<RowScope> {
        match readable_rows(decisions, class, RowKind::Student) {
            RowScope::Nothing => Err(AppError::Forbidden(format!(
                "filter {arg} is not permitted for this caller"
            ))),
            scope => Ok(scope),
        }
    };
    if let Some(dept) = &filter.department {
        let r = readable(FieldClass::Academic, "department")?;
        q = q.filter(masked(
            Condition::all().add(student::Column::Department.eq(dept.clone())),
            &r,
        ));
    }
    if let Some(text) = &filter.name_contains {
        let r = readable(FieldClass::Identity, "nameContains")?;
        let like = Expr::expr(Func::lower(Expr::col((
            student::Entity,
            student::Column::Name,
        ))))
        .like(LikeExpr::new(contains_pattern(text)).escape('\\'));
        q = q.filter(masked(Condition::all().add(like), &r));
    }
    if let Some(number) = &filter.student_number {
        let r = readable(FieldClass::Identity, "studentNumber")?;
        q = q.filter(masked(
            Condition::all().add(student::Column::StudentNumber.eq(number.clone())),
            &r,
        ));
    }
    Ok(Some(q))
}

pub async fn list(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    filter: &StudentFilter,
    order: StudentOrder,
    page: Page,
) -> AppResult<Vec<student::Model>> {
    let Some(mut q) = query(decisions, filter)? else {
        return Ok(Vec::new());
    };
    if order == StudentOrder::Name {
        match readable_rows(decisions, FieldClass::Identity, RowKind::Student) {
            RowScope::Nothing => {
                return Err(AppError::Forbidden(
                    "orderBy NAME is not permitted for this caller".to_owned(),
                ))
            }
            RowScope::All => q = q.order_by(student::Column::Name, Order::Asc),
            RowScope::Condition(c) => {
                let key = Expr::case(c, Expr::col((student::Entity, student::Column::Name)))
                    .finally(Expr::null());
                q = q.order_by_with_nulls(
                    Expr::Case(Box::new(key)),
                    Order::Asc,
                    NullOrdering::Last,
                );
            }
        }
    }
    let selector = q
        .order_by(student::Column::Id, Order::Asc)
        .into_model::<student::Model>();
    super::page_rows(db, selector, page, super::PagePlan::Reused).await
}

pub async fn count(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    filter: &StudentFilter,
) -> AppResult<u64> {
    match query(decisions, filter)? {
        Some(q) => Ok(q.count(db).await?),
        None => Ok(0),
    }
}

/// One student, if it exists and is visible to the caller (otherwise `None`, the same).
pub async fn find(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
) -> AppResult<Option<student::Model>> {
    match scoped(
        student::Entity::find_by_id(id),
        &facts::student_rows(decisions.caller(), decisions.now()),
    ) {
        Some(q) => Ok(q.one(db).await?),
        None => Ok(None),
    }
}

/// The students among `ids` visible to the caller.
pub async fn find_many(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    ids: &[Uuid],
) -> AppResult<Vec<student::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    match scoped(
        student::Entity::find().filter(student::Column::Id.is_in(ids.iter().copied())),
        &facts::student_rows(decisions.caller(), decisions.now()),
    ) {
        Some(q) => Ok(q.all(db).await?),
        None => Ok(Vec::new()),
    }
}

/// A record about one student (an exception, an emergency disclosure, a legal
/// authority, a restriction), by id, when the caller can see that student;
/// otherwise `NOT_FOUND` naming `what`, the same as for no record at all.
pub async fn about_visible<E>(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
    what: &'static str,
    student_of: fn(&E::Model) -> Uuid,
) -> AppResult<E::Model>
where
    E: EntityTrait,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    let found = E::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound(what))?;
    find(db, decisions, student_of(&found))
        .await?
        .ok_or(AppError::NotFound(what))?;
    Ok(found)
}

pub async fn find_required(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
) -> AppResult<student::Model> {
    find(db, decisions, id)
        .await?
        .ok_or(AppError::NotFound("student"))
}

pub async fn enrolments_of(
    db: &impl ConnectionTrait,
    student_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<enrolment::Model>>> {
    let rows = enrolment::Entity::find()
        .filter(enrolment::Column::StudentId.is_in(student_ids.iter().copied()))
        .order_by(enrolment::Column::StartsOn, Order::Asc)
        .all(db)
        .await?;
    let mut map: HashMap<Uuid, Vec<enrolment::Model>> = HashMap::new();
    for row in rows {
        map.entry(row.student_id).or_default().push(row);
    }
    Ok(map)
}

/// Validated details of a new student.
#[derive(Clone, Debug)]
pub struct NewStudent {
    pub student_number: String,
    pub name: String,
    pub preferred_name: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    pub term_address: Option<String>,
    pub home_address: Option<String>,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub department: String,
    pub course: String,
    pub emergency_contact: Option<String>,
    pub gp_practice: Option<String>,
}

pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    decisions: &Decisions,
    new: NewStudent,
) -> AppResult<student::Model> {
    decisions.authorize(Action::CreateStudent, Relation::Any)?;
    let existing = student::Entity::find()
        .filter(student::Column::StudentNumber.eq(new.student_number.clone()))
        .count(db)
        .await?;
    if existing > 0 {
        return Err(AppError::Conflict(
            "a student with this student number already exists".to_owned(),
        ));
    }
    let now = chrono::Utc::now();
    let model = student::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_number: Set(new.student_number),
        name: Set(new.name),
        preferred_name: Set(new.preferred_name),
        email: Set(new.email),
        phone: Set(new.phone),
        term_address: Set(new.term_address),
        home_address: Set(new.home_address),
        date_of_birth: Set(new.date_of_birth),
        department: Set(new.department),
        course: Set(new.course),
        emergency_contact: Set(new.emergency_contact),
        gp_practice: Set(new.gp_practice),
        processing_restricted: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let model = model.insert(db).await?;
    let classes = FieldClass::Identity
        | FieldClass::Contact
        | FieldClass::Demographic
        | FieldClass::Academic
        | FieldClass::TrustedContacts;
    super::changes::record(db, model.id, None, classes, &[]).await?;
    decisions.wrote(Action::CreateStudent, Some(model.id), model.id);
    Ok(model)
}

/// Validated changes to a student's details; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct StudentChanges {
    pub name: Option<String>,
    pub preferred_name: Option<Option<String>>,
    pub email: Option<String>,
    pub phone: Option<Option<String>>,
    pub term_address: Option<Option<String>>,
    pub home_address: Option<Option<String>>,
    pub department: Option<String>,
    pub course: Option<String>,
    pub emergency_contact: Option<Option<String>>,
    pub gp_practice: Option<Option<String>>,
    /// Why the details are changed (kept in the rectification history).
    pub reason: Option<String>,
}

/// One field whose value an update changes: its GraphQL name, category, and
/// the previous and the new value.
struct FieldChange {
    field: &'static str,
    class: FieldClass,
    old: Option<String>,
    new: Option<String>,
}

/// The fields whose value `changes` actually changes (a value set to what it
/// already is is no change).
fn field_changes(current: &student::Model, changes: &StudentChanges) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut diff = |field: &'static str,
                    class: FieldClass,
                    old: Option<&String>,
                    new: Option<Option<&String>>| {
        if let Some(new) = new {
            if new != old {
                out.push(FieldChange {
                    field,
                    class,
                    old: old.cloned(),
                    new: new.cloned(),
                });
            }
        }
    };
    diff(
        "name",
        FieldClass::Identity,
        Some(&current.name),
        changes.name.as_ref().map(Some),
    );
    diff(
        "preferredName",
        FieldClass::Identity,
        current.preferred_name.as_ref(),
        changes.preferred_name.as_ref().map(Option::as_ref),
    );
    diff(
        "email",
        FieldClass::Contact,
        Some(&current.email),
        changes.email.as_ref().map(Some),
    );
    diff(
        "phone",
        FieldClass::Contact,
        current.phone.as_ref(),
        changes.phone.as_ref().map(Option::as_ref),
    );
    diff(
        "termAddress",
        FieldClass::Contact,
        current.term_address.as_ref(),
        changes.term_address.as_ref().map(Option::as_ref),
    );
    diff(
        "homeAddress",
        FieldClass::Contact,
        current.home_address.as_ref(),
        changes.home_address.as_ref().map(Option::as_ref),
    );
    diff(
        "department",
        FieldClass::Academic,
        Some(&current.department),
        changes.department.as_ref().map(Some),
    );
    diff(
        "course",
        FieldClass::Academic,
        Some(&current.course),
        changes.course.as_ref().map(Some),
    );
    diff(
        "emergencyContact",
        FieldClass::TrustedContacts,
        current.emergency_contact.as_ref(),
        changes.emergency_contact.as_ref().map(Option::as_ref),
    );
    diff(
        "gpPractice",
        FieldClass::TrustedContacts,
        current.gp_practice.as_ref(),
        changes.gp_practice.as_ref().map(Option::as_ref),
    );
    out
}

/// Writes the rectification history of an update (one row per changed field)
/// and its audit record (naming the fields and categories, never the values).
async fn record_history(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    student_id: Uuid,
    changed: Vec<FieldChange>,
    reason: Option<String>,
) -> AppResult<()> {
    if changed.is_empty() {
        return Ok(());
    }
    let caller = decisions.caller();
    let now = decisions.now();
    let mut classes = ClassSet::empty();
    let fields: Vec<&str> = changed.iter().map(|c| c.field).collect();
    let rows: Vec<student_change::ActiveModel> = changed
        .iter()
        .map(|c| {
            classes |= c.class;
            student_change::ActiveModel {
                id: Set(Uuid::now_v7()),
                student_id: Set(student_id),
                field: Set(c.field.to_owned()),
                category: Set(c.class.as_str().to_owned()),
                old_value: Set(c.old.clone()),
                new_value: Set(c.new.clone()),
                changed_by: Set(caller.id),
                changed_by_role: Set(caller.role.as_str().to_owned()),
                changed_at: Set(now),
                reason: Set(reason.clone()),
            }
        })
        .collect();
    student_change::Entity::insert_many(rows).exec(db).await?;
    super::audit::write(
        db,
        caller,
        decisions.origin(),
        vec![super::audit::Event {
            student_id: Some(student_id),
            action: "rectification",
            fields: super::audit::class_names(classes),
            outcome: "allow",
            basis: None,
            detail: Some(
                serde_json::json!({ "fields": fields, "reasonGiven": reason.is_some() })
                    .to_string(),
            ),
        }],
    )
    .await
}

/// The rectification history of a student, newest first.
pub async fn history_of(
    db: &impl ConnectionTrait,
    student_id: Uuid,
) -> AppResult<Vec<student_change::Model>> {
    Ok(student_change::Entity::find()
        .filter(student_change::Column::StudentId.eq(student_id))
        .order_by_desc(student_change::Column::ChangedAt)
        .order_by_asc(student_change::Column::Field)
        .all(db)
        .await?)
}

/// A recipient to notify of a rectification: who received the previous value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyRecipient {
    pub id: Uuid,
    pub role: String,
}

/// For each history entry, the recipients who received the field's category
/// under a consent before the change (from the audit trail: disclosures
/// allowed with a consent basis), distinct, in the order first disclosed.
pub async fn recipients_to_notify(
    db: &impl ConnectionTrait,
    student_id: Uuid,
    entries: &[student_change::Model],
) -> AppResult<HashMap<Uuid, Vec<NotifyRecipient>>> {
    let Some(latest) = entries.iter().map(|e| e.changed_at).max() else {
        return Ok(HashMap::new());
    };
    let disclosures = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::StudentId.eq(student_id))
        .filter(entity::audit_event::Column::Action.eq("disclosure"))
        .filter(entity::audit_event::Column::Outcome.eq("allow"))
        .filter(entity::audit_event::Column::OccurredAt.lte(latest))
        .order_by_asc(entity::audit_event::Column::OccurredAt)
        .all(db)
        .await?;
    let mut out = HashMap::new();
    for entry in entries {
        let mut recipients: Vec<NotifyRecipient> = Vec::new();
        for d in &disclosures {
            let under_consent = d
                .basis
                .as_deref()
                .is_some_and(|b| b.split(',').any(|part| part.starts_with("consent:")));
            let names_category = d.fields.as_array().is_some_and(|f| {
                f.iter()
                    .any(|v| v.as_str() == Some(entry.category.as_str()))
            });
            let recipient = NotifyRecipient {
                id: d.actor_id,
                role: d.actor_role.clone(),
            };
            if d.occurred_at <= entry.changed_at
                && under_consent
                && names_category
                && !recipients.contains(&recipient)
            {
                recipients.push(recipient);
            }
        }
        out.insert(entry.id, recipients);
    }
    Ok(out)
}

/// The relation a write to a student record is authorized under.
pub fn write_relation(caller: &Caller, current: &student::Model) -> Relation {
    facts::student_facts(caller, current.id, current.processing_restricted, None).base
}

pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    decisions: &Decisions,
    id: Uuid,
    changes: StudentChanges,
) -> AppResult<student::Model> {
    let current = find_required(db, decisions, id).await?;
    decisions.authorize(
        Action::UpdateStudent,
        write_relation(decisions.caller(), &current),
    )?;
    let mut changed = ClassSet::empty();
    let mut touch = |set: bool, class: FieldClass| {
        if set {
            changed |= class;
        }
    };
    touch(
        changes.name.is_some() || changes.preferred_name.is_some(),
        FieldClass::Identity,
    );
    touch(
        changes.email.is_some()
            || changes.phone.is_some()
            || changes.term_address.is_some()
            || changes.home_address.is_some(),
        FieldClass::Contact,
    );
    touch(
        changes.department.is_some() || changes.course.is_some(),
        FieldClass::Academic,
    );
    touch(
        changes.emergency_contact.is_some() || changes.gp_practice.is_some(),
        FieldClass::TrustedContacts,
    );
    let student_id = current.id;
    let history = field_changes(&current, &changes);
    let reason = changes.reason.clone();
    let left_department = changes
        .department
        .as_ref()
        .filter(|d| **d != current.department)
        .map(|_| current.department.clone());
    let mut model: student::ActiveModel = current.into();
    if let Some(v) = changes.name {
        model.name = Set(v);
    }
    if let Some(v) = changes.preferred_name {
        model.preferred_name = Set(v);
    }
    if let Some(v) = changes.email {
        model.email = Set(v);
    }
    if let Some(v) = changes.phone {
        model.phone = Set(v);
    }
    if let Some(v) = changes.term_address {
        model.term_address = Set(v);
    }
    if let Some(v) = changes.home_address {
        model.home_address = Set(v);
    }
    if let Some(v) = changes.department {
        model.department = Set(v);
    }
    if let Some(v) = changes.course {
        model.course = Set(v);
    }
    if let Some(v) = changes.emergency_contact {
        model.emergency_contact = Set(v);
    }
    if let Some(v) = changes.gp_practice {
        model.gp_practice = Set(v);
    }
    model.updated_at = Set(chrono::Utc::now());
    let model = model.update(db).await?;
    super::changes::record(db, student_id, None, changed, &[]).await?;
    record_history(db, decisions, student_id, history, reason).await?;
    if let Some(old) = left_department {
        // A consent to share with a department covers a student of that
        // department only: it ends when the student leaves (recorded as a
        // withdrawal, so the department's feed says its access ended, and a
        // move back does not silently revive it).
        let now = decisions.now();
        entity::consent::Entity::update_many()
            .col_expr(entity::consent::Column::WithdrawnAt, Expr::value(now))
            .col_expr(
                entity::consent::Column::WithdrawnBy,
                Expr::value(decisions.caller().id),
            )
            .col_expr(
                entity::consent::Column::WithdrawalReason,
                Expr::value("The student left the department."),
            )
            .filter(entity::consent::Column::StudentId.eq(student_id))
            .filter(entity::consent::Column::RecipientKind.eq("department"))
            .filter(entity::consent::Column::RecipientRef.eq(old))
            .filter(entity::consent::Column::WithdrawnAt.is_null())
            .exec(db)
            .await?;
    }
    decisions.wrote(Action::UpdateStudent, Some(model.id), model.id);
    Ok(model)
}

pub async fn record_enrolment<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    decisions: &Decisions,
    student_id: Uuid,
    starts_on: chrono::NaiveDate,
    ends_on: Option<chrono::NaiveDate>,
) -> AppResult<(student::Model, enrolment::Model)> {
    let current = find_required(db, decisions, student_id).await?;
    decisions.authorize(
        Action::RecordEnrolment,
        write_relation(decisions.caller(), &current),
    )?;
    let today = chrono::Utc::now().date_naive();
    let latest_start = today + chrono::Duration::days(2 * 366);
    crate::domain::plausible_date(
        "startsOn",
        starts_on,
        crate::domain::earliest_date(),
        latest_start,
    )?;
    if let Some(end) = ends_on {
        if end < starts_on {
            return Err(AppError::bad_input("endsOn", "must not be before startsOn"));
        }
        let latest_end = starts_on + chrono::Duration::days(15 * 366);
        crate::domain::plausible_date("endsOn", end, starts_on, latest_end)?;
    }
    let row = enrolment::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student_id),
        starts_on: Set(starts_on),
        ends_on: Set(ends_on),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(db)
    .await?;
    super::changes::record(db, student_id, None, FieldClass::Academic.into(), &[]).await?;
    decisions.wrote(Action::RecordEnrolment, Some(student_id), row.id);
    Ok((current, row))
}
