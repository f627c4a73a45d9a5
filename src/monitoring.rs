//! The monitoring view (issue 11, item 4): for service leads (their own
//! service) and the DPO (every service), waiting times from opening to the
//! first note, caseload per practitioner, open risk exceptions and overdue
//! reviews. Figures that describe students go through the statistics
//! disclosure control (`statistics::protect`); the month figures are
//! recorded in the statistics release ledger; every view is audited with the
//! figures it released. The choices are written down in the README
//! ("Monitoring").

use crate::domain::Role;
use crate::error::{AppError, AppResult};
use crate::policy::{Action, Decisions, FieldClass, Relation};
use crate::service::audit::{self, Event};
use crate::statistics::protect::{self, Entry, Kind};
use crate::statistics::region::Region;
use crate::statistics::{ledger, table, DisclosureMethod, Measure, StatisticsLimits};
use chrono::{DateTime, Utc};
use entity::{
    emergency_access, emergency_disclosure, note, risk_exception, staff, statistics_release,
    student, support_case,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter,
    QuerySelect, RelationTrait,
};
use serde_json::json;
use std::collections::{BTreeSet, HashMap, HashSet};
use uuid::Uuid;

/// Months the waiting times cover: this month and the eleven before it.
pub const MONTHS: i32 = 12;

/// One row of the waiting times: a month opened, or (month `None`) the
/// twelve months together. `None` figures are suppressed.
#[derive(Clone, Debug, Default)]
pub struct WaitingRow {
    pub month: Option<String>,
    /// Cases opened.
    pub cases: Option<i64>,
    /// Of them, cases with a first note.
    pub seen: Option<i64>,
    /// Of them, cases with no note yet (still waiting).
    pub waiting: Option<i64>,
    /// Days from opening to the first note, over the cases seen.
    pub median_days: Option<f64>,
    pub p90_days: Option<f64>,
}

/// Open cases held by one active practitioner (or service lead) of the service.
#[derive(Clone, Debug)]
pub struct Caseload {
    pub staff_id: Uuid,
    pub name: String,
    pub open_cases: i64,
}

/// A count about students; `None` when suppressed.
#[derive(Clone, Debug)]
pub struct Count {
    pub count: Option<i64>,
}

/// The monitoring figures of one service.
#[derive(Clone, Debug)]
pub struct ServiceView {
    pub service: String,
    pub waiting_months: Vec<WaitingRow>,
    pub waiting_total: WaitingRow,
    pub caseload: Vec<Caseload>,
    /// Open cases without an active assignee of the service.
    pub unassigned: Count,
    /// Risk exceptions in force (confirmed, not revoked, not expired),
    /// by the service of the professional who proposed them.
    pub open_risk_exceptions: Count,
    /// Emergency disclosures not reviewed by their due date, by the service
    /// of the practitioner who made them.
    pub overdue_emergency_reviews: Count,
    /// Break-glass reads of the service's cases not yet reviewed.
    pub pending_break_glass_reviews: Count,
}

/// What leaves the server.
#[derive(Clone, Debug)]
pub struct View {
    pub release_id: Uuid,
    pub generated_at: DateTime<Utc>,
    pub threshold: i64,
    pub method: DisclosureMethod,
    pub services: Vec<ServiceView>,
}

impl crate::policy::Record for View {
    fn record_id(&self) -> Uuid {
        self.release_id
    }
}

macro_rules! no_id {
    ($($t:ty),+) => {
        $(impl crate::policy::Record for $t {
            /// A part of the view has no id of its own.
            fn record_id(&self) -> Uuid {
                Uuid::nil()
            }
        })+
    };
}
no_id!(ServiceView, WaitingRow, Caseload, Count);

/// The median of sorted values (the mean of the two middle ones when even).
pub fn median(sorted: &[i64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    Some(if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0
    })
}

/// The `p`th percentile of sorted values by nearest rank: the smallest value
/// with at least `p`% of the values at or below it.
pub fn percentile(sorted: &[i64], p: u32) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = (p as usize * n).div_ceil(100).clamp(1, n);
    Some(sorted[rank - 1] as f64)
}

/// Whose figures: a service lead their own service (`own`), the DPO every
/// configured service (`any`). Decided by the policy (`read_monitoring`).
fn scope(decisions: &Decisions, services: &[String]) -> AppResult<(Relation, Vec<String>)> {
    let caller = decisions.caller();
    let (relation, scoped) = match (caller.role, caller.service.as_deref()) {
        (Role::ServiceLead, Some(own)) => (Relation::Own, vec![own.to_owned()]),
        (Role::ServiceLead, None) => (Relation::Other, Vec::new()),
        _ => (Relation::Any, services.to_vec()),
    };
    decisions.authorize(Action::ReadMonitoring, relation)?;
    Ok((relation, scoped))
}

fn region(service: &str, from: i32, to: i32) -> Region {
    Region {
        service: Some(BTreeSet::from([service.to_owned()])),
        months: Some(vec![(from, to)]),
        ..Region::default()
    }
}

/// A case opened in the window: its student, month, and the days to its
/// first note (`None`: still waiting).
#[derive(Clone, Copy)]
struct Opened {
    student: Uuid,
    month: i32,
    days: Option<i64>,
}

fn entry(kind: Kind, region: Region, cases: &[&Opened], within: Vec<usize>) -> Entry {
    let students: HashSet<Uuid> = cases.iter().map(|c| c.student).collect();
    Entry {
        kind,
        region,
        students: students.len() as i64,
        cases: cases.len() as i64,
        within,
    }
}

/// The waiting-time table of one service, protected; returns the rows, the
/// overall row, and the released month figures (index into `entries`) for the
/// ledger, with the entries.
struct Waiting {
    months: Vec<WaitingRow>,
    total: WaitingRow,
    /// The entries recorded in the ledger when released: the total and the
    /// month rows (the figures a statistics query could also produce).
    ledger: Vec<(Entry, i64)>,
    released: usize,
    suppressed: usize,
}

fn waiting_table(
    service: &str,
    cases: &[Opened],
    first: i32,
    last: i32,
    priors: &[protect::Prior],
    limits: &StatisticsLimits,
) -> Waiting {
    let all: Vec<&Opened> = cases.iter().collect();
    let seen: Vec<&Opened> = all.iter().copied().filter(|c| c.days.is_some()).collect();
    let waiting: Vec<&Opened> = all.iter().copied().filter(|c| c.days.is_none()).collect();
    let whole = region(service, first, last);
    // 0 total, 1 seen (all months), 2 waiting (all months), then per month:
    // the month's cases, seen, waiting.
    let mut entries = vec![
        entry(Kind::Total, whole.clone(), &all, vec![]),
        entry(Kind::Margin, whole.clone(), &seen, vec![0]),
        entry(Kind::Margin, whole, &waiting, vec![0]),
    ];
    let mut relations = vec![protect::Relation {
        total: 0,
        members: vec![1, 2],
    }];
    let (mut rows, mut seen_cells, mut waiting_cells) = (Vec::new(), Vec::new(), Vec::new());
    for month in first..=last {
        let r = region(service, month, month);
        fn of<'a>(v: &[&'a Opened], month: i32) -> Vec<&'a Opened> {
            v.iter().copied().filter(|c| c.month == month).collect()
        }
        let row = entries.len();
        entries.push(entry(Kind::Margin, r.clone(), &of(&all, month), vec![0]));
        entries.push(entry(
            Kind::Cell,
            r.clone(),
            &of(&seen, month),
            vec![row, 1, 0],
        ));
        entries.push(entry(Kind::Cell, r, &of(&waiting, month), vec![row, 2, 0]));
        relations.push(protect::Relation {
            total: row,
            members: vec![row + 1, row + 2],
        });
        rows.push(row);
        seen_cells.push(row + 1);
        waiting_cells.push(row + 2);
    }
    relations.push(protect::Relation {
        total: 0,
        members: rows.clone(),
    });
    relations.push(protect::Relation {
        total: 1,
        members: seen_cells,
    });
    relations.push(protect::Relation {
        total: 2,
        members: waiting_cells,
    });
    let rules = limits.rules();
    let mut shown = protect::protect(&entries, &relations, Measure::Cases, priors, rules);
    // A row whose case count is withheld shows none of its parts either, not
    // even a zero ("none of them seen yet" is itself about that small group).
    // Withholding more never helps recover anything.
    for &at in std::iter::once(&0).chain(&rows) {
        if shown[at].is_none() {
            shown[at + 1] = None;
            shown[at + 2] = None;
        }
    }
    let released = shown.iter().filter(|s| s.is_some()).count();
    // Times only over a released group of cases seen about enough students
    // (with rounding, the seen figure is always shown, so check it here).
    let times = |seen_at: usize, days: Vec<i64>| -> (Option<f64>, Option<f64>) {
        if shown[seen_at].is_none() || entries[seen_at].students < limits.threshold {
            return (None, None);
        }
        let mut days = days;
        days.sort_unstable();
        // The 90th percentile by nearest rank of fewer than ten values is the
        // longest single wait: one student's. Shown from ten seen cases about
        // at least twice the threshold of students.
        let p90 = (days.len() >= 10 && entries[seen_at].students >= 2 * limits.threshold)
            .then(|| percentile(&days, 90))
            .flatten();
        (median(&days), p90)
    };
    let row_at = |at: usize, month: Option<i32>| -> WaitingRow {
        let days = cases
            .iter()
            .filter(|c| month.is_none_or(|m| c.month == m))
            .filter_map(|c| c.days)
            .collect();
        let (median_days, p90_days) = times(at + 1, days);
        WaitingRow {
            month: month.map(table::month_text),
            cases: shown[at],
            seen: shown[at + 1],
            waiting: shown[at + 2],
            median_days,
            p90_days,
        }
    };
    // The total's seen and waiting are entries 1 and 2: the same layout.
    let total = row_at(0, None);
    let months = (first..=last)
        .zip(&rows)
        .map(|(m, &at)| row_at(at, Some(m)))
        .collect();
    let ledger = std::iter::once(0)
        .chain(rows)
        .filter_map(|i| shown[i].map(|v| (entries[i].clone(), v)))
        .collect();
    Waiting {
        months,
        total,
        ledger,
        released,
        suppressed: shown.len() - released,
    }
}

/// A count about students under primary suppression (or rounding): about
/// fewer than `threshold` distinct students, it is withheld. Each count
/// stands alone (no total of it is released), and is compared with no
/// earlier release (its rows are not cases, which the ledger's regions are).
fn protected_count(items: &[Uuid], limits: &StatisticsLimits) -> Count {
    let students: HashSet<&Uuid> = items.iter().collect();
    let entries = [Entry {
        kind: Kind::Cell,
        region: Region::default(),
        students: students.len() as i64,
        cases: items.len() as i64,
        within: vec![],
    }];
    let shown = protect::protect(&entries, &[], Measure::Cases, &[], limits.rules());
    Count { count: shown[0] }
}

/// Builds the monitoring view for the caller: authorises it, computes and
/// protects the figures, records the month figures in the release ledger and
/// writes one audit record. Must run in a write transaction.
pub async fn run(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    limits: &StatisticsLimits,
    configured: &[String],
) -> AppResult<(View, Relation)> {
    let (relation, services) = scope(decisions, configured)?;
    let caller = decisions.caller();
    let now = decisions.now();
    // As statistics: the caller's releases are read and extended one query
    // at a time.
    ledger::lock(db, caller.id).await?;
    let priors = ledger::load(
        db,
        caller.id,
        now - chrono::Duration::days(limits.ledger_days),
    )
    .await?;
    let last = table::month_number(now);
    let first = last - (MONTHS - 1);
    let opened = opened_cases(db, &services, first).await?;
    let open = open_cases(db, &services).await?;
    let staff_rows: Vec<staff::Model> = staff::Entity::find()
        .filter(staff::Column::Service.is_not_null())
        .all(db)
        .await?;
    let service_of: HashMap<Uuid, String> = staff_rows
        .iter()
        .filter_map(|s| s.service.clone().map(|v| (s.id, v)))
        .collect();
    let exceptions: Vec<(Uuid, Uuid)> = risk_exception::Entity::find()
        .select_only()
        .column(risk_exception::Column::StudentId)
        .column(risk_exception::Column::ProposedBy)
        .filter(risk_exception::Column::ConfirmedAt.is_not_null())
        .filter(risk_exception::Column::RevokedAt.is_null())
        .filter(risk_exception::Column::ExpiresAt.gt(now))
        .into_tuple()
        .all(db)
        .await?;
    let overdue: Vec<(Uuid, Uuid)> = emergency_disclosure::Entity::find()
        .select_only()
        .column(emergency_disclosure::Column::StudentId)
        .column(emergency_disclosure::Column::DisclosedBy)
        .filter(emergency_disclosure::Column::ReviewedAt.is_null())
        .filter(emergency_disclosure::Column::ReviewDueAt.lt(now))
        .into_tuple()
        .all(db)
        .await?;
    let break_glass: Vec<(Uuid, String)> = emergency_access::Entity::find()
        .select_only()
        .column(emergency_access::Column::StudentId)
        .column(emergency_access::Column::Service)
        .filter(emergency_access::Column::ReviewedAt.is_null())
        .filter(emergency_access::Column::Service.is_in(services.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    let students_of = |rows: &[(Uuid, Uuid)], service: &str| -> Vec<Uuid> {
        rows.iter()
            .filter(|(_, by)| service_of.get(by).map(String::as_str) == Some(service))
            .map(|(s, _)| *s)
            .collect()
    };

    let release_id = Uuid::now_v7();
    let (mut released, mut suppressed) = (0usize, 0usize);
    let mut ledger_rows = Vec::new();
    let mut views = Vec::new();
    let mut figures = Vec::new();
    for service in &services {
        let cases: Vec<Opened> = opened
            .iter()
            .filter(|(s, _)| s == service)
            .map(|(_, o)| *o)
            .collect();
        let w = waiting_table(service, &cases, first, last, &priors, limits);
        released += w.released;
        suppressed += w.suppressed;
        ledger_rows.extend(w.ledger);

        let holders: HashMap<Uuid, &staff::Model> = staff_rows
            .iter()
            .filter(|s| {
                s.active
                    && s.service.as_deref() == Some(service.as_str())
                    && Role::parse(&s.role).is_some_and(Role::holds_cases)
            })
            .map(|s| (s.id, s))
            .collect();
        let mut held: HashMap<Uuid, i64> = HashMap::new();
        let mut unassigned = Vec::new();
        for (s, student, assignee) in &open {
            if s != service {
                continue;
            }
            match assignee.filter(|a| holders.contains_key(a)) {
                Some(a) => *held.entry(a).or_insert(0) += 1,
                None => unassigned.push(*student),
            }
        }
        let mut caseload: Vec<Caseload> = holders
            .values()
            .map(|s| Caseload {
                staff_id: s.id,
                name: s.name.clone(),
                open_cases: held.get(&s.id).copied().unwrap_or(0),
            })
            .collect();
        caseload.sort_by(|a, b| a.name.cmp(&b.name).then(a.staff_id.cmp(&b.staff_id)));
        let view = ServiceView {
            service: service.clone(),
            unassigned: protected_count(&unassigned, limits),
            open_risk_exceptions: protected_count(&students_of(&exceptions, service), limits),
            overdue_emergency_reviews: protected_count(&students_of(&overdue, service), limits),
            pending_break_glass_reviews: protected_count(
                &break_glass
                    .iter()
                    .filter(|(_, s)| s == service)
                    .map(|(st, _)| *st)
                    .collect::<Vec<_>>(),
                limits,
            ),
            waiting_months: w.months,
            waiting_total: w.total,
            caseload,
        };
        for c in [
            &view.unassigned,
            &view.open_risk_exceptions,
            &view.overdue_emergency_reviews,
            &view.pending_break_glass_reviews,
        ] {
            if c.count.is_some() {
                released += 1;
            } else {
                suppressed += 1;
            }
        }
        released += view.caseload.len();
        figures.push(figures_of(&view));
        views.push(view);
    }

    record_in_ledger(db, caller.id, release_id, &ledger_rows, now).await?;
    audit::write(
        db,
        caller,
        decisions.origin(),
        vec![Event {
            student_id: None,
            action: "monitoring",
            fields: vec![FieldClass::Monitoring.as_str().to_owned()],
            outcome: "allow",
            basis: Some(format!("role:{}", caller.role.as_str())),
            detail: Some(
                json!({
                    "release": release_id,
                    "scope": relation.as_str(),
                    "services": services,
                    "months": [table::month_text(first), table::month_text(last)],
                    "released": released,
                    "suppressed": suppressed,
                    "method": limits.method.as_str(),
                    "threshold": limits.threshold,
                    "figures": figures,
                })
                .to_string(),
            ),
        }],
    )
    .await?;
    Ok((
        View {
            release_id,
            generated_at: now,
            threshold: limits.threshold,
            method: limits.method,
            services: views,
        },
        relation,
    ))
}

/// The figures released for one service, as the audit record keeps them
/// (aggregates and staff ids only; `null` is suppressed).
fn figures_of(v: &ServiceView) -> serde_json::Value {
    let row = |r: &WaitingRow| {
        json!({
            "month": r.month,
            "cases": r.cases,
            "seen": r.seen,
            "waiting": r.waiting,
            "medianDays": r.median_days,
            "p90Days": r.p90_days,
        })
    };
    json!({
        "service": v.service,
        "waiting": v.waiting_months.iter().map(row).collect::<Vec<_>>(),
        "waitingTotal": row(&v.waiting_total),
        "caseload": v.caseload.iter().map(|c| json!({ "staffId": c.staff_id, "openCases": c.open_cases })).collect::<Vec<_>>(),
        "unassignedOpenCases": v.unassigned.count,
        "openRiskExceptions": v.open_risk_exceptions.count,
        "overdueEmergencyReviews": v.overdue_emergency_reviews.count,
        "pendingBreakGlassReviews": v.pending_break_glass_reviews.count,
    })
}

/// The month figures released (cases opened in a service and month, and in
/// the twelve months), as a statistics query of case counts would record
/// them: later statistics queries of this caller are protected against them.
async fn record_in_ledger(
    db: &impl ConnectionTrait,
    caller: Uuid,
    release_id: Uuid,
    rows: &[(Entry, i64)],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let models: Vec<statistics_release::ActiveModel> = rows
        .iter()
        .map(|(e, value)| statistics_release::ActiveModel {
            id: Set(Uuid::now_v7()),
            release_id: Set(release_id),
            caller_id: Set(caller),
            released_at: Set(now),
            measure: Set(Measure::Cases.as_str().to_owned()),
            region: Set(e.region.to_text()),
            value: Set(*value),
            students: Set(e.students),
            cases: Set(e.cases),
        })
        .collect();
    for chunk in models.chunks(500) {
        statistics_release::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Cases opened in the services since the first month of the window, of
/// students whose processing is not restricted (the population statistics
/// count), with the days to their first note.
async fn opened_cases(
    db: &impl ConnectionTrait,
    services: &[String],
    first_month: i32,
) -> AppResult<Vec<(String, Opened)>> {
    let since = month_start(first_month)?;
    let rows: Vec<(Uuid, Uuid, String, DateTime<Utc>)> = support_case::Entity::find()
        .join(JoinType::InnerJoin, support_case::Relation::Student.def())
        .filter(student::Column::ProcessingRestricted.eq(false))
        .filter(support_case::Column::Service.is_in(services.iter().cloned()))
        .filter(support_case::Column::OpenedAt.gte(since))
        .select_only()
        .column(support_case::Column::Id)
        .column(support_case::Column::StudentId)
        .column(support_case::Column::Service)
        .column(support_case::Column::OpenedAt)
        .into_tuple()
        .all(db)
        .await?;
    let notes: Vec<(Uuid, DateTime<Utc>)> = note::Entity::find()
        .join(JoinType::InnerJoin, note::Relation::SupportCase.def())
        .filter(support_case::Column::Service.is_in(services.iter().cloned()))
        .filter(support_case::Column::OpenedAt.gte(since))
        .select_only()
        .column(note::Column::CaseId)
        .column(note::Column::OccurredAt)
        .into_tuple()
        .all(db)
        .await?;
    let mut first_note: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
    for (case, at) in notes {
        let e = first_note.entry(case).or_insert(at);
        if at < *e {
            *e = at;
        }
    }
    Ok(rows
        .into_iter()
        .map(|(id, student, service, opened_at)| {
            let days = first_note
                .get(&id)
                .map(|at| (*at - opened_at).num_days().max(0));
            (
                service,
                Opened {
                    student,
                    month: table::month_number(opened_at),
                    days,
                },
            )
        })
        .collect())
}

/// Open cases of the services: (service, student, assignee). Every open case
/// counts, whatever its student's restriction: this is workload.
async fn open_cases(
    db: &impl ConnectionTrait,
    services: &[String],
) -> AppResult<Vec<(String, Uuid, Option<Uuid>)>> {
    Ok(support_case::Entity::find()
        .filter(support_case::Column::Status.eq("open"))
        .filter(support_case::Column::Service.is_in(services.iter().cloned()))
        .select_only()
        .column(support_case::Column::Service)
        .column(support_case::Column::StudentId)
        .column(support_case::Column::AssignedTo)
        .into_tuple()
        .all(db)
        .await?)
}

/// The first instant of a month number (`year * 12 + month - 1`).
fn month_start(month: i32) -> AppResult<DateTime<Utc>> {
    let (year, m) = (month.div_euclid(12), month.rem_euclid(12) as u32 + 1);
    chrono::NaiveDate::from_ymd_opt(year, m, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| AppError::internal("monitoring", "a month out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[7]), Some(7.0));
        assert_eq!(median(&[1, 3, 9]), Some(3.0));
        assert_eq!(median(&[1, 2, 4, 10]), Some(3.0));
        assert_eq!(median(&[1, 2]), Some(1.5));
    }

    #[test]
    fn the_90th_percentile_is_the_nearest_rank() {
        assert_eq!(percentile(&[], 90), None);
        assert_eq!(percentile(&[5], 90), Some(5.0));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&ten, 90), Some(9.0));
        let eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(percentile(&eleven, 90), Some(10.0));
        let hundred: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 90), Some(90.0));
        assert_eq!(percentile(&hundred, 50), Some(50.0));
        assert_eq!(percentile(&hundred, 100), Some(100.0));
    }

    #[test]
    fn month_start_is_the_first_of_the_month() {
        let m = table::month_number(
            chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, 9, 12, 0, 0).unwrap(),
        );
        assert_eq!(
            month_start(m).unwrap().to_rfc3339(),
            "2026-03-01T00:00:00+00:00"
        );
        assert_eq!(
            month_start(m - 3).unwrap().to_rfc3339(),
            "2025-12-01T00:00:00+00:00"
        );
    }

    fn opened(student: u128, month: i32, days: Option<i64>) -> Opened {
        Opened {
            student: Uuid::from_u128(student),
            month,
            days,
        }
    }

    #[test]
    fn a_month_of_three_students_is_suppressed_and_not_recoverable_from_the_total() {
        let limits = StatisticsLimits::default();
        let mut cases = Vec::new();
        // Month 0: 3 students, seen after 2 days; months 1 and 2: 10 each.
        for s in 0..3 {
            cases.push(opened(s, 100, Some(2)));
        }
        for s in 10..20 {
            cases.push(opened(s, 101, Some(4)));
        }
        for s in 20..30 {
            cases.push(opened(s, 102, Some(6)));
        }
        let w = waiting_table("counselling", &cases, 100, 102, &[], &limits);
        assert_eq!(w.months[0].cases, None);
        assert_eq!(w.months[0].median_days, None);
        // Not even its zero still waiting is shown.
        assert_eq!(w.months[0].waiting, None);
        // Its complement in the total went too.
        let hidden = w.months.iter().filter(|r| r.cases.is_none()).count();
        assert!(hidden >= 2, "one suppressed month under a released total");
        assert_eq!(w.months[1].cases, None, "the smallest other month goes");
        assert_eq!(w.months[2].cases, Some(10));
        assert_eq!(w.months[2].median_days, Some(6.0));
        assert_eq!(w.total.cases, Some(23));
    }
}
