//! The retention schedule (issue 10, item 5): when each record of a student is
//! due for destruction, and why.
//!
//! The rules (privacy model, "Accountability"):
//!
//! - **The student record** (details, enrolments, consents, exceptions,
//!   disclosures, restrictions, history, …) is due **six years after the
//!   student's last enrolment ends**: the latest `ends_on` (re-enrolment
//!   restarts the clock). A student with an open enrolment (`ends_on` null) is
//!   never due.
//! - **A case** is due with the student record, unless its service is
//!   configured with the rule `last_contact_seven_years` (`retention_rule`
//!   table, `confide retention rule`): then **seven years after the end of the
//!   academic year (1 August to 31 July) of the last contact** in that case
//!   (its latest note, third-party entry, opening, closing or update).
//! - **The student** is destroyed as a whole when everything of theirs is due:
//!   the latest of these dates. Never while a legal hold is active.
//!
//! Edge cases (chosen, documented in the README):
//!
//! - A student with **no enrolment at all** is due six years after the last
//!   activity on their record (its creation or last update, or the last
//!   contact in any case, whichever is latest): the six-year clock with the
//!   last sign of a relationship standing in for the end of enrolment.
//! - An **open case** is never due (a live case is not destroyed); nor is the
//!   student while it is open.
//! - Dates are calendar dates (UTC). A record is due **on** its date: a
//!   report as of that date includes it, as of the day before does not.
//!   Six years after 29 February is 28 February.
//!
//! [`schedule`] gives one student's schedule (the subject access export shows
//! each record's retention date from it: a case's from its [`CaseSchedule`],
//! every other record's from [`Schedule::record`], notes and third-party
//! entries from their case); [`report`] lists the students due as of a date.

use crate::error::AppResult;
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use entity::{
    enrolment, legal_hold, note, retention_rule, student, support_case, third_party_entry,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// A service's retention rule.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// The default: six years after the student's last enrolment ends.
    LastEnrolmentSixYears,
    /// Seven years after the end of the academic year of last contact.
    LastContactSevenYears,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::LastEnrolmentSixYears => "last_enrolment_six_years",
            Rule::LastContactSevenYears => "last_contact_seven_years",
        }
    }

    pub fn parse(text: &str) -> Option<Rule> {
        match text {
            "last_enrolment_six_years" => Some(Rule::LastEnrolmentSixYears),
            "last_contact_seven_years" => Some(Rule::LastContactSevenYears),
            _ => None,
        }
    }
}

/// Why a record is due on its date, or why it is not due at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Six years after the last enrolment ended on this date.
    LastEnrolmentEnded { ended_on: NaiveDate },
    /// No enrolment on record: six years after the last activity on this date.
    NoEnrolment { last_activity_on: NaiveDate },
    /// Seven years after the end of the academic year of the last contact (on
    /// this date) in a case of this service.
    LastContact {
        service: String,
        contact_on: NaiveDate,
    },
    /// Never due while an enrolment is open.
    OpenEnrolment,
    /// Never due while this case is open.
    OpenCase { case_id: Uuid },
}

impl Reason {
    /// The rule's code (no personal data: what the audit tombstone records).
    pub fn code(&self) -> &'static str {
        match self {
            Reason::LastEnrolmentEnded { .. } => "last_enrolment_six_years",
            Reason::NoEnrolment { .. } => "no_enrolment_last_activity_six_years",
            Reason::LastContact { .. } => "last_contact_seven_years",
            Reason::OpenEnrolment => "open_enrolment",
            Reason::OpenCase { .. } => "open_case",
        }
    }

    /// The reason in words, with its dates.
    pub fn describe(&self) -> String {
        match self {
            Reason::LastEnrolmentEnded { ended_on } => {
                format!("six years after the last enrolment ended on {ended_on}")
            }
            Reason::NoEnrolment { last_activity_on } => format!(
                "no enrolment: six years after the last activity on the record on {last_activity_on}"
            ),
            Reason::LastContact {
                service,
                contact_on,
            } => format!(
                "seven years after the end of the academic year of the last contact in {service} on {contact_on}"
            ),
            Reason::OpenEnrolment => "an enrolment is open: not due".to_owned(),
            Reason::OpenCase { case_id } => format!("case {case_id} is open: not due"),
        }
    }
}

/// A due date (`None`: not due at all while the reason holds) and its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub on: Option<NaiveDate>,
    pub reason: Reason,
}

/// One case's due date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseSchedule {
    pub case_id: Uuid,
    pub service: String,
    pub due: Due,
}

/// One student's retention schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub student_id: Uuid,
    /// The student record itself and every record that is not part of a case
    /// (details, enrolments, consents, exceptions, disclosures, restrictions,
    /// correction history, requests): the six-year rule.
    pub record: Due,
    /// Each case (its notes and third-party entries with it).
    pub cases: Vec<CaseSchedule>,
    /// When the student is destroyed: the latest of the above (`None` if any
    /// is not due at all), with the reason of the latest.
    pub due: Due,
    /// An active legal hold: never destroyed while it lasts.
    pub held: bool,
}

impl Schedule {
    /// Due for destruction as of this date (and not held).
    pub fn is_due(&self, as_of: NaiveDate) -> bool {
        !self.held && self.due.on.is_some_and(|on| on <= as_of)
    }
}

/// What the schedule of one student is computed from.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub student_id: Uuid,
    /// The record's last activity of its own (creation, last update).
    pub record_activity_on: Option<NaiveDate>,
    /// The `ends_on` of each enrolment (`None`: open).
    pub enrolments: Vec<Option<NaiveDate>>,
    pub cases: Vec<CaseFacts>,
    pub held: bool,
}

/// What a case's due date is computed from.
#[derive(Clone, Debug)]
pub struct CaseFacts {
    pub case_id: Uuid,
    pub service: String,
    pub open: bool,
    /// The last contact: latest note, third-party entry, opening, closing or update.
    pub last_contact_on: NaiveDate,
}

/// The services configured with a rule other than the default.
pub type Rules = HashMap<String, Rule>;

/// `on` plus whole years (29 February becomes 28 February).
fn years_after(on: NaiveDate, years: u32) -> NaiveDate {
    on.checked_add_months(Months::new(years * 12))
        .unwrap_or(NaiveDate::MAX)
}

/// The last day (31 July) of the academic year (1 August to 31 July) `on` is in.
pub fn end_of_academic_year(on: NaiveDate) -> NaiveDate {
    let year = if on.month() >= 8 {
        on.year() + 1
    } else {
        on.year()
    };
    NaiveDate::from_ymd_opt(year, 7, 31).unwrap_or(NaiveDate::MAX)
}

/// Six years after the student's last enrolment ends.
pub fn six_years_after(ended_on: NaiveDate) -> NaiveDate {
    years_after(ended_on, 6)
}

/// Seven years after the end of the academic year of `contact_on`.
pub fn seven_years_after_academic_year(contact_on: NaiveDate) -> NaiveDate {
    years_after(end_of_academic_year(contact_on), 7)
}

/// The schedule, from its facts (pure).
pub fn compute(facts: &Facts, rules: &Rules) -> Schedule {
    let record = if facts.enrolments.iter().any(Option::is_none) {
        Due {
            on: None,
            reason: Reason::OpenEnrolment,
        }
    } else if let Some(ended_on) = facts.enrolments.iter().flatten().max().copied() {
        Due {
            on: Some(six_years_after(ended_on)),
            reason: Reason::LastEnrolmentEnded { ended_on },
        }
    } else {
        let last_activity_on = facts
            .cases
            .iter()
            .map(|c| c.last_contact_on)
            .chain(facts.record_activity_on)
            .max()
            .unwrap_or(NaiveDate::MIN);
        Due {
            on: Some(six_years_after(last_activity_on)),
            reason: Reason::NoEnrolment { last_activity_on },
        }
    };
    let cases: Vec<CaseSchedule> = facts
        .cases
        .iter()
        .map(|c| {
            let due = if c.open {
                Due {
                    on: None,
                    reason: Reason::OpenCase { case_id: c.case_id },
                }
            } else if rules.get(&c.service) == Some(&Rule::LastContactSevenYears) {
                Due {
                    on: Some(seven_years_after_academic_year(c.last_contact_on)),
                    reason: Reason::LastContact {
                        service: c.service.clone(),
                        contact_on: c.last_contact_on,
                    },
                }
            } else {
                record.clone()
            };
            CaseSchedule {
                case_id: c.case_id,
                service: c.service.clone(),
                due,
            }
        })
        .collect();
    // The latest of everything; a record not due at all keeps the student.
    let mut due = record.clone();
    for case in &cases {
        due = match (due.on, case.due.on) {
            (None, _) => due,
            (Some(_), None) => case.due.clone(),
            (Some(a), Some(b)) if b > a => case.due.clone(),
            (Some(_), Some(_)) => due,
        };
    }
    Schedule {
        student_id: facts.student_id,
        record,
        cases,
        due,
        held: facts.held,
    }
}

// ----- Loading the facts ----------------------------------------------------

fn day(at: DateTime<Utc>) -> NaiveDate {
    at.date_naive()
}

/// The services configured with a rule other than the default.
pub async fn rules(db: &impl ConnectionTrait) -> AppResult<Rules> {
    Ok(retention_rule::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .filter_map(|r| Rule::parse(&r.rule).map(|rule| (r.service, rule)))
        .collect())
}

/// Sets a service's rule (`confide retention rule`): the default rule removes
/// the service's row.
pub async fn set_rule(db: &impl ConnectionTrait, service: &str, rule: Rule) -> AppResult<()> {
    retention_rule::Entity::delete_by_id(service.to_owned())
        .exec(db)
        .await?;
    if rule != Rule::LastEnrolmentSixYears {
        retention_rule::Entity::insert(retention_rule::ActiveModel {
            service: sea_orm::Set(service.to_owned()),
            rule: sea_orm::Set(rule.as_str().to_owned()),
            updated_at: sea_orm::Set(Utc::now()),
        })
        .exec(db)
        .await?;
    }
    Ok(())
}

/// A case's id, student, service, status, opening, closing and last update.
type CaseRow = (
    Uuid,
    Uuid,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
);

/// Loads the facts of these students (`None`: every student).
async fn facts_of(
    db: &impl ConnectionTrait,
    students: Option<&[Uuid]>,
) -> AppResult<BTreeMap<Uuid, Facts>> {
    let mut q = student::Entity::find()
        .select_only()
        .column(student::Column::Id)
        .column(student::Column::CreatedAt)
        .column(student::Column::UpdatedAt);
    if let Some(ids) = students {
        q = q.filter(student::Column::Id.is_in(ids.iter().copied()));
    }
    let rows: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)> = q.into_tuple().all(db).await?;
    let mut out: BTreeMap<Uuid, Facts> = rows
        .into_iter()
        .map(|(id, created, updated)| {
            (
                id,
                Facts {
                    student_id: id,
                    record_activity_on: Some(day(created.max(updated))),
                    ..Facts::default()
                },
            )
        })
        .collect();
    let ids: Vec<Uuid> = out.keys().copied().collect();
    let filter_students = students.is_some();

    let mut q = enrolment::Entity::find()
        .select_only()
        .column(enrolment::Column::StudentId)
        .column(enrolment::Column::EndsOn);
    if filter_students {
        q = q.filter(enrolment::Column::StudentId.is_in(ids.iter().copied()));
    }
    let rows: Vec<(Uuid, Option<NaiveDate>)> = q.into_tuple().all(db).await?;
    for (student_id, ends_on) in rows {
        if let Some(f) = out.get_mut(&student_id) {
            f.enrolments.push(ends_on);
        }
    }

    let mut q = support_case::Entity::find()
        .select_only()
        .column(support_case::Column::Id)
        .column(support_case::Column::StudentId)
        .column(support_case::Column::Service)
        .column(support_case::Column::Status)
        .column(support_case::Column::OpenedAt)
        .column(support_case::Column::ClosedAt)
        .column(support_case::Column::UpdatedAt);
    if filter_students {
        q = q.filter(support_case::Column::StudentId.is_in(ids.iter().copied()));
    }
    let cases: Vec<CaseRow> = q.into_tuple().all(db).await?;
    let case_ids: Vec<Uuid> = cases.iter().map(|c| c.0).collect();
    let mut contact: HashMap<Uuid, DateTime<Utc>> = cases
        .iter()
        .map(|(id, _, _, _, opened_at, closed_at, updated_at)| {
            let last = [Some(*opened_at), *closed_at, Some(*updated_at)]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(*opened_at);
            (*id, last)
        })
        .collect();
    let mut note_q = note::Entity::find()
        .select_only()
        .column(note::Column::CaseId)
        .column(note::Column::OccurredAt)
        .column(note::Column::CreatedAt);
    let mut entry_q = third_party_entry::Entity::find()
        .select_only()
        .column(third_party_entry::Column::CaseId)
        .column(third_party_entry::Column::CreatedAt);
    if filter_students {
        note_q = note_q.filter(note::Column::CaseId.is_in(case_ids.iter().copied()));
        entry_q = entry_q.filter(third_party_entry::Column::CaseId.is_in(case_ids.iter().copied()));
    }
    let notes: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)> = note_q.into_tuple().all(db).await?;
    // A note records a contact when it occurred; a note written later about
    // an earlier contact does not move the contact forward.
    for (case_id, occurred_at, _created_at) in notes {
        if let Some(last) = contact.get_mut(&case_id) {
            *last = (*last).max(occurred_at);
        }
    }
    let entries: Vec<(Uuid, DateTime<Utc>)> = entry_q.into_tuple().all(db).await?;
    for (case_id, created_at) in entries {
        if let Some(last) = contact.get_mut(&case_id) {
            *last = (*last).max(created_at);
        }
    }
    for (id, student_id, service, status, opened_at, _, _) in cases {
        if let Some(f) = out.get_mut(&student_id) {
            f.cases.push(CaseFacts {
                case_id: id,
                open: status != "closed",
                last_contact_on: contact.get(&id).map(|d| day(*d)).unwrap_or(day(opened_at)),
                service,
            });
        }
    }

    let mut q = legal_hold::Entity::find()
        .select_only()
        .column(legal_hold::Column::StudentId)
        .filter(legal_hold::Column::LiftedAt.is_null());
    if filter_students {
        q = q.filter(legal_hold::Column::StudentId.is_in(ids.iter().copied()));
    }
    let held: HashSet<Uuid> = q.into_tuple::<Uuid>().all(db).await?.into_iter().collect();
    for (id, f) in out.iter_mut() {
        f.held = held.contains(id);
        f.cases.sort_by_key(|c| c.case_id);
    }
    Ok(out)
}

/// One student's retention schedule (`None`: no such student). Call it from
/// anywhere with a connection or a transaction: it reads only.
pub async fn schedule(db: &impl ConnectionTrait, student_id: Uuid) -> AppResult<Option<Schedule>> {
    let rules = rules(db).await?;
    Ok(facts_of(db, Some(&[student_id]))
        .await?
        .remove(&student_id)
        .map(|f| compute(&f, &rules)))
}

/// One line of the retention report: a student due for destruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueEntry {
    pub student_id: Uuid,
    pub due_on: NaiveDate,
    /// The rule's code ([`Reason::code`]).
    pub rule: &'static str,
    /// The reason in words ([`Reason::describe`]).
    pub reason: String,
    /// Under an active legal hold: reported, never destroyed.
    pub held: bool,
}

/// Every student due as of `as_of` (held ones included, marked held), in
/// order of due date.
pub async fn report(db: &impl ConnectionTrait, as_of: NaiveDate) -> AppResult<Vec<DueEntry>> {
    let rules = rules(db).await?;
    let mut out: Vec<DueEntry> = facts_of(db, None)
        .await?
        .values()
        .map(|f| compute(f, &rules))
        .filter_map(|s| {
            let due_on = s.due.on.filter(|on| *on <= as_of)?;
            Some(DueEntry {
                student_id: s.student_id,
                due_on,
                rule: s.due.reason.code(),
                reason: s.due.reason.describe(),
                held: s.held,
            })
        })
        .collect();
    out.sort_by_key(|e| (e.due_on, e.student_id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn student(enrolments: Vec<Option<NaiveDate>>, cases: Vec<CaseFacts>) -> Facts {
        Facts {
            student_id: Uuid::nil(),
            record_activity_on: Some(d(2014, 9, 1)),
            enrolments,
            cases,
            held: false,
        }
    }

    fn case(service: &str, open: bool, last_contact_on: NaiveDate) -> CaseFacts {
        CaseFacts {
            case_id: Uuid::new_v4(),
            service: service.to_owned(),
            open,
            last_contact_on,
        }
    }

    fn seven_year(service: &str) -> Rules {
        [(service.to_owned(), Rule::LastContactSevenYears)]
            .into_iter()
            .collect()
    }

    #[test]
    fn a_student_who_left_on_31_july_2019_is_due_on_31_july_2025() {
        let s = compute(&student(vec![Some(d(2019, 7, 31))], vec![]), &Rules::new());
        assert_eq!(s.due.on, Some(d(2025, 7, 31)));
        assert!(!s.is_due(d(2025, 7, 30)));
        assert!(s.is_due(d(2025, 7, 31)));
        assert_eq!(s.due.reason.code(), "last_enrolment_six_years");
    }

    #[test]
    fn re_enrolment_restarts_the_clock() {
        let s = compute(
            &student(vec![Some(d(2019, 7, 31)), Some(d(2022, 7, 31))], vec![]),
            &Rules::new(),
        );
        assert_eq!(s.due.on, Some(d(2028, 7, 31)));
    }

    #[test]
    fn an_open_enrolment_is_never_due() {
        let s = compute(
            &student(vec![Some(d(2010, 7, 31)), None], vec![]),
            &Rules::new(),
        );
        assert_eq!(s.due.on, None);
        assert_eq!(s.due.reason, Reason::OpenEnrolment);
        assert!(!s.is_due(d(2100, 1, 1)));
    }

    #[test]
    fn the_academic_year_runs_from_august_to_july() {
        assert_eq!(end_of_academic_year(d(2018, 8, 1)), d(2019, 7, 31));
        assert_eq!(end_of_academic_year(d(2019, 7, 31)), d(2019, 7, 31));
        assert_eq!(end_of_academic_year(d(2019, 1, 15)), d(2019, 7, 31));
        assert_eq!(
            seven_years_after_academic_year(d(2018, 10, 1)),
            d(2026, 7, 31)
        );
    }

    #[test]
    fn a_case_of_a_seven_year_service_keeps_the_student_until_it_is_due() {
        let s = compute(
            &student(
                vec![Some(d(2015, 7, 31))],
                vec![case("counselling", false, d(2019, 3, 10))],
            ),
            &seven_year("counselling"),
        );
        assert_eq!(s.record.on, Some(d(2021, 7, 31)));
        assert_eq!(s.cases[0].due.on, Some(d(2026, 7, 31)));
        assert_eq!(s.due.on, Some(d(2026, 7, 31)));
        assert_eq!(s.due.reason.code(), "last_contact_seven_years");
        // Without the configuration the case follows the student record.
        let s = compute(
            &student(
                vec![Some(d(2015, 7, 31))],
                vec![case("counselling", false, d(2019, 3, 10))],
            ),
            &Rules::new(),
        );
        assert_eq!(s.due.on, Some(d(2021, 7, 31)));
    }

    #[test]
    fn an_open_case_is_never_due() {
        let s = compute(
            &student(
                vec![Some(d(2015, 7, 31))],
                vec![case("disability", true, d(2016, 1, 1))],
            ),
            &Rules::new(),
        );
        assert_eq!(s.due.on, None);
        assert_eq!(s.due.reason.code(), "open_case");
    }

    #[test]
    fn a_student_with_no_enrolment_is_due_six_years_after_the_last_activity() {
        let s = compute(
            &student(vec![], vec![case("wellbeing", false, d(2016, 5, 1))]),
            &Rules::new(),
        );
        assert_eq!(s.due.on, Some(d(2022, 5, 1)));
        assert_eq!(
            s.due.reason,
            Reason::NoEnrolment {
                last_activity_on: d(2016, 5, 1)
            }
        );
    }

    #[test]
    fn a_held_student_is_never_due() {
        let mut f = student(vec![Some(d(2010, 7, 31))], vec![]);
        f.held = true;
        let s = compute(&f, &Rules::new());
        assert_eq!(s.due.on, Some(d(2016, 7, 31)));
        assert!(!s.is_due(d(2100, 1, 1)));
    }

    #[test]
    fn six_years_after_29_february_is_28_february() {
        assert_eq!(six_years_after(d(2020, 2, 29)), d(2026, 2, 28));
    }
}
