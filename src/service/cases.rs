use super::rows::{CaseAt, NoteAt, StudentAfterCase};
use super::{contains_pattern, masked, scoped, Page};
use crate::auth::Caller;
use crate::domain::{CaseStatus, RiskLevel, Role};
use crate::error::{AppError, AppResult};
use crate::policy::facts::{self, readable_rows, RowKind, RowScope};
use crate::policy::{Action, Decisions, FieldClass};
use entity::{note, staff, student, support_case, third_party_entry};
use sea_orm::sea_query::{Expr, Func, LikeExpr, NullOrdering, Order, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, ExprTrait, JoinType,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait, Select, Set,
};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Clone, Debug, Default)]
pub struct CaseFilter {
    pub student_id: Option<Uuid>,
    pub service: Option<String>,
    pub status: Option<CaseStatus>,
    pub assigned_to_me: Option<bool>,
    pub opened_after: Option<chrono::DateTime<chrono::Utc>>,
    pub opened_before: Option<chrono::DateTime<chrono::Utc>>,
    pub risk_level: Option<RiskLevel>,
    pub note_contains: Option<String>,
}

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum CaseOrder {
    #[default]
    Created,
    OpenedAtDesc,
    OpenedAtAsc,
    RiskLevelDesc,
}

/// A case with the student it belongs to (always loaded together: the student's
/// processing restriction is part of the case's facts).
pub type CaseRow = (support_case::Model, student::Model);

fn base(decisions: &Decisions) -> Option<Select<support_case::Entity>> {
    scoped(
        support_case::Entity::find()
            .join(JoinType::InnerJoin, support_case::Relation::Student.def()),
        &facts::case_rows(decisions.caller(), decisions.now()),
    )
}

fn readable(decisions: &Decisions, class: FieldClass, arg: &str) -> AppResult<RowScope> {
    match readable_rows(decisions, class, RowKind::Case) {
        RowScope::Nothing => Err(AppError::Forbidden(format!(
            "{arg} is not permitted for this caller"
        ))),
        scope => Ok(scope),
    }
}

fn query(
    decisions: &Decisions,
    filter: &CaseFilter,
) -> AppResult<Option<Select<support_case::Entity>>> {
    let Some(mut q) = base(decisions) else {
        return Ok(None);
    };
    if let Some(id) = filter.student_id {
        q = q.filter(support_case::Column::StudentId.eq(id));
    }
    let summary = |cond: Condition, arg: &str, q: Select<support_case::Entity>| -> AppResult<_> {
        let r = readable(decisions, FieldClass::SupportSummary, arg)?;
        Ok(q.filter(masked(cond, &r)))
    };
    if let Some(service) = &filter.service {
        q = summary(
            Condition::all().add(support_case::Column::Service.eq(service.clone())),
            "filter service",
            q,
        )?;
    }
    if let Some(status) = filter.status {
        q = summary(
            Condition::all().add(support_case::Column::Status.eq(status.as_str())),
            "filter status",
            q,
        )?;
    }
    if filter.assigned_to_me == Some(true) {
        q = summary(
            Condition::all().add(support_case::Column::AssignedTo.eq(decisions.caller().id)),
            "filter assignedToMe",
            q,
        )?;
    }
    if let Some(after) = filter.opened_after {
        q = summary(
            Condition::all().add(support_case::Column::OpenedAt.gte(after)),
            "filter openedAfter",
            q,
        )?;
    }
    if let Some(before) = filter.opened_before {
        q = summary(
            Condition::all().add(support_case::Column::OpenedAt.lt(before)),
            "filter openedBefore",
            q,
        )?;
    }
    if let Some(level) = filter.risk_level {
        let r = readable(decisions, FieldClass::Risk, "filter riskLevel")?;
        q = q.filter(masked(
            Condition::all().add(support_case::Column::RiskLevel.eq(level.as_str())),
            &r,
        ));
    }
    if let Some(text) = &filter.note_contains {
        let r = readable(decisions, FieldClass::CaseNotes, "filter noteContains")?;
        let exists = Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(note::Entity)
                .and_where(
                    Expr::col((note::Entity, note::Column::CaseId))
                        .equals((support_case::Entity, support_case::Column::Id)),
                )
                .and_where(
                    Expr::expr(Func::lower(Expr::col((note::Entity, note::Column::Body))))
                        .like(LikeExpr::new(contains_pattern(text)).escape('\\')),
                )
                .to_owned(),
        );
        q = q.filter(masked(Condition::all().add(exists), &r));
    }
    Ok(Some(q))
}

fn risk_rank() -> Expr {
    let col = || Expr::col((support_case::Entity, support_case::Column::RiskLevel));
    Expr::Case(Box::new(
        Expr::case(col().eq(RiskLevel::High.as_str()), RiskLevel::High.rank())
            .case(
                col().eq(RiskLevel::Medium.as_str()),
                RiskLevel::Medium.rank(),
            )
            .case(col().eq(RiskLevel::Low.as_str()), RiskLevel::Low.rank())
            .finally(RiskLevel::None.rank()),
    ))
}

pub async fn list(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    filter: &CaseFilter,
    order: CaseOrder,
    page: Page,
) -> AppResult<Vec<CaseRow>> {
    let Some(mut q) = query(decisions, filter)? else {
        return Ok(Vec::new());
    };
    let sort = match order {
        CaseOrder::Created => None,
        CaseOrder::OpenedAtDesc => Some((
            FieldClass::SupportSummary,
            Expr::col((support_case::Entity, support_case::Column::OpenedAt)),
            Order::Desc,
        )),
        CaseOrder::OpenedAtAsc => Some((
            FieldClass::SupportSummary,
            Expr::col((support_case::Entity, support_case::Column::OpenedAt)),
            Order::Asc,
        )),
        CaseOrder::RiskLevelDesc => Some((FieldClass::Risk, risk_rank(), Order::Desc)),
    };
    if let Some((class, key, dir)) = sort {
        let key = match readable(decisions, class, "orderBy")? {
            RowScope::Condition(c) => {
                Expr::Case(Box::new(Expr::case(c, key).finally(Expr::null())))
            }
            _ => key,
        };
        q = q.order_by_with_nulls(key, dir, NullOrdering::Last);
    }
    let selector = q
        .select_also(student::Entity)
        .order_by(support_case::Column::Id, Order::Asc)
        .into_model::<CaseAt, StudentAfterCase>();
    // A range of opening dates keeps its plan per request: a generic plan
    // assumed a third of the cases and walked the service's cases in id
    // order, twice as slow for a recent date (run 25).
    let plan = if filter.opened_after.is_some() || filter.opened_before.is_some() {
        super::PagePlan::PerRequest
    } else {
        super::PagePlan::Reused
    };
    let rows = super::page_rows(db, selector, page, plan).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(c, s)| s.map(|s| (c.0, s.0)))
        .collect())
}

pub async fn count(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    filter: &CaseFilter,
) -> AppResult<u64> {
    match query(decisions, filter)? {
        Some(q) => Ok(q.count(db).await?),
        None => Ok(0),
    }
}

/// One case with its student, if it exists and is visible to the caller.
pub async fn find(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
) -> AppResult<Option<CaseRow>> {
    let Some(q) = base(decisions) else {
        return Ok(None);
    };
    Ok(q.filter(support_case::Column::Id.eq(id))
        .select_also(student::Entity)
        .into_model::<CaseAt, StudentAfterCase>()
        .one(db)
        .await?
        .and_then(|(c, s)| s.map(|s| (c.0, s.0))))
}

pub async fn find_required(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
) -> AppResult<CaseRow> {
    find(db, decisions, id)
        .await?
        .ok_or(AppError::NotFound("support case"))
}

/// The visible cases of these students, in creation order.
pub async fn cases_of_students(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    student_ids: &[Uuid],
) -> AppResult<Vec<support_case::Model>> {
    let scope = facts::case_rows(decisions.caller(), decisions.now());
    let Some(q) = scoped(support_case::Entity::find(), &scope) else {
        return Ok(Vec::new());
    };
    Ok(q.filter(crate::db::any_of(
        db.get_database_backend(),
        support_case::Column::StudentId,
        student_ids,
    ))
    .order_by(support_case::Column::Id, Order::Asc)
    .all(db)
    .await?)
}

/// Notes of these cases, newest first per case.
pub async fn notes_of(
    db: &impl ConnectionTrait,
    case_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<note::Model>>> {
    let rows = note::Entity::find()
        .filter(crate::db::any_of(
            db.get_database_backend(),
            note::Column::CaseId,
            case_ids,
        ))
        .order_by(note::Column::OccurredAt, Order::Desc)
        .order_by(note::Column::Id, Order::Desc)
        .into_model::<NoteAt>()
        .all(db)
        .await?;
    let mut map: HashMap<Uuid, Vec<note::Model>> = HashMap::new();
    for NoteAt(row) in rows {
        map.entry(row.case_id).or_default().push(row);
    }
    Ok(map)
}

pub async fn third_party_of(
    db: &impl ConnectionTrait,
    case_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<third_party_entry::Model>>> {
    let rows = third_party_entry::Entity::find()
        .filter(crate::db::any_of(
            db.get_database_backend(),
            third_party_entry::Column::CaseId,
            case_ids,
        ))
        .order_by(third_party_entry::Column::Id, Order::Asc)
        .all(db)
        .await?;
    let mut map: HashMap<Uuid, Vec<third_party_entry::Model>> = HashMap::new();
    for row in rows {
        map.entry(row.case_id).or_default().push(row);
    }
    Ok(map)
}

pub async fn staff_by_ids(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> AppResult<HashMap<Uuid, staff::Model>> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(staff::Entity::find()
        .filter(crate::db::any_of(
            db.get_database_backend(),
            staff::Column::Id,
            &ids,
        ))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect())
}

fn relation_of(caller: &Caller, row: &CaseRow) -> crate::policy::Relation {
    facts::service_relation(
        caller,
        row.1.id,
        Some(&row.0.service),
        row.1.processing_restricted,
    )
}

/// Validated details of a new case.
#[derive(Clone, Debug)]
pub struct NewCase {
    pub student_id: Uuid,
    pub service: String,
    pub summary: Option<String>,
    pub adjustments: Option<String>,
    pub risk_level: RiskLevel,
}

pub async fn open(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    new: NewCase,
) -> AppResult<CaseRow> {
    let caller = decisions.caller();
    let student = super::students::find_required(db, decisions, new.student_id).await?;
    let relation = facts::service_relation(
        caller,
        student.id,
        Some(&new.service),
        student.processing_restricted,
    );
    decisions.authorize(Action::OpenCase, relation)?;
    let now = chrono::Utc::now();
    let case = support_case::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student.id),
        service: Set(new.service),
        status: Set(CaseStatus::Open.as_str().to_owned()),
        opened_at: Set(now),
        closed_at: Set(None),
        assigned_to: Set(None),
        summary: Set(new.summary),
        adjustments: Set(new.adjustments),
        risk_level: Set(new.risk_level.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let mut classes = FieldClass::SupportSummary | FieldClass::Risk;
    if case.summary.is_some() {
        classes |= FieldClass::SummaryText;
    }
    if case.adjustments.is_some() {
        classes |= FieldClass::Adjustments;
    }
    super::changes::record(db, student.id, Some(case.id), classes, &[]).await?;
    decisions.wrote(Action::OpenCase, Some(student.id), case.id);
    Ok((case, student))
}

pub async fn assign(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    case_id: Uuid,
    staff_id: Uuid,
) -> AppResult<CaseRow> {
    let row = find_required(db, decisions, case_id).await?;
    decisions.authorize(Action::AssignCase, relation_of(decisions.caller(), &row))?;
    let assignee = staff::Entity::find_by_id(staff_id).one(db).await?;
    let eligible = assignee.is_some_and(|s| {
        s.active
            && s.service.as_deref() == Some(row.0.service.as_str())
            && Role::parse(&s.role).is_some_and(Role::holds_cases)
    });
    if !eligible {
        return Err(AppError::bad_input(
            "staffId",
            "must be an active practitioner or service lead of the case's service",
        ));
    }
    let (case, student) = row;
    // Conditional on the case being as read and unchanged since this request
    // began: of two assignments at once, one succeeds and the other is told the
    // case changed meanwhile; a later reassignment is an ordinary write.
    let now = chrono::Utc::now();
    let unchanged = match case.assigned_to {
        Some(current) => Condition::all().add(support_case::Column::AssignedTo.eq(current)),
        None => Condition::all().add(support_case::Column::AssignedTo.is_null()),
    };
    let updated = support_case::Entity::update_many()
        .col_expr(support_case::Column::AssignedTo, Expr::value(staff_id))
        .col_expr(support_case::Column::UpdatedAt, Expr::value(now))
        .filter(support_case::Column::Id.eq(case.id))
        .filter(unchanged)
        .filter(support_case::Column::UpdatedAt.lte(decisions.now()))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::changed_meanwhile("case's assignment"));
    }
    let case = support_case::Model {
        assigned_to: Some(staff_id),
        updated_at: now,
        ..case
    };
    let summary = FieldClass::SupportSummary.into();
    super::changes::record(db, student.id, Some(case.id), summary, &[]).await?;
    decisions.wrote(Action::AssignCase, Some(student.id), case.id);
    Ok((case, student))
}

pub async fn close(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    case_id: Uuid,
) -> AppResult<CaseRow> {
    let row = find_required(db, decisions, case_id).await?;
    decisions.authorize(Action::CloseCase, relation_of(decisions.caller(), &row))?;
    let (case, student) = row;
    if case.status == CaseStatus::Closed.as_str() {
        return Err(AppError::Conflict("the case is already closed".to_owned()));
    }
    let now = chrono::Utc::now();
    // Conditional: of two closes at once, one succeeds.
    let updated = support_case::Entity::update_many()
        .col_expr(
            support_case::Column::Status,
            Expr::value(CaseStatus::Closed.as_str()),
        )
        .col_expr(support_case::Column::ClosedAt, Expr::value(now))
        .col_expr(support_case::Column::UpdatedAt, Expr::value(now))
        .filter(support_case::Column::Id.eq(case.id))
        .filter(support_case::Column::Status.eq(CaseStatus::Open.as_str()))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict("the case is already closed".to_owned()));
    }
    let case = support_case::Model {
        status: CaseStatus::Closed.as_str().to_owned(),
        closed_at: Some(now),
        updated_at: now,
        ..case
    };
    let summary = FieldClass::SupportSummary.into();
    super::changes::record(db, student.id, Some(case.id), summary, &[]).await?;
    decisions.wrote(Action::CloseCase, Some(student.id), case.id);
    Ok((case, student))
}

/// The case a note or entry is written to, authorized for `action`.
pub async fn authorized_case(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    case_id: Uuid,
    action: Action,
) -> AppResult<CaseRow> {
    let row = find_required(db, decisions, case_id).await?;
    decisions.authorize(action, relation_of(decisions.caller(), &row))?;
    Ok(row)
}
