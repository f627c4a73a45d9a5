//! Building a research extract: who is in it (research consents in force,
//! processing not restricted), one row per covered case, pseudonyms, the
//! k-anonymity plan, and the extract's own record and audit record.

use super::anonymity::{self, Levels, Quasi};
use super::pseudonym::pseudonym;
use super::Config;
use crate::domain::{DataCategory, RecipientKind, SensitivityLabel};
use crate::error::{AppError, AppResult};
use crate::policy::access::consent_in_force;
use crate::policy::{Action, Decisions, FieldClass, Relation};
use crate::service::audit::{self, Event};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use entity::{consent, enrolment, note, research_extract, student, support_case};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use uuid::Uuid;

/// Largest k an extract may ask for.
pub const MAX_K: u32 = 1000;

/// The columns of a row, in order (CSV header, JSON keys).
pub const COLUMNS: [&str; 10] = [
    "pseudonym",
    "department",
    "yearOfStudy",
    "service",
    "labels",
    "status",
    "monthOpened",
    "monthClosed",
    "durationBand",
    "riskLevel",
];

/// One released row: one support case of a research-consented student.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub pseudonym: String,
    pub department: String,
    pub year_of_study: String,
    pub service: String,
    pub labels: String,
    pub status: String,
    pub month_opened: String,
    pub month_closed: Option<String>,
    pub duration_band: Option<String>,
    pub risk_level: Option<String>,
}

impl crate::policy::Record for Row {
    /// A row has no id: its pseudonym is not one.
    fn record_id(&self) -> Uuid {
        Uuid::nil()
    }
}

/// The generalisation level of each quasi-identifier (0 = as recorded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Generalisation {
    pub department: u8,
    pub year_of_study: u8,
    pub service: u8,
    pub labels: u8,
}

impl From<Levels> for Generalisation {
    fn from(l: Levels) -> Self {
        Generalisation {
            department: l[0],
            year_of_study: l[1],
            service: l[2],
            labels: l[3],
        }
    }
}

/// A research extract.
#[derive(Clone, Debug)]
pub struct Extract {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub k: u32,
    /// Distinct students in the released rows.
    pub students: usize,
    pub suppressed_rows: usize,
    pub generalisation: Generalisation,
    pub rows: Vec<Arc<Row>>,
}

impl crate::policy::Record for Extract {
    fn record_id(&self) -> Uuid {
        self.id
    }
}

/// The k of an extract: the setting, or a larger one asked for (never smaller).
pub fn effective_k(setting: u32, asked: Option<i64>) -> AppResult<u32> {
    match asked {
        None => Ok(setting),
        Some(k) if k < i64::from(setting) => Err(AppError::bad_input(
            "k",
            format!("must be at least the configured k ({setting})"),
        )),
        Some(k) if k > i64::from(MAX_K) => {
            Err(AppError::bad_input("k", format!("must be at most {MAX_K}")))
        }
        Some(k) => u32::try_from(k).map_err(|_| AppError::bad_input("k", "is out of range")),
    }
}

/// What one research consent in force gives the extract.
#[derive(Clone, Debug)]
struct Cover {
    case: Option<Uuid>,
    academic: bool,
    notes: bool,
    risk: bool,
    excluded: HashSet<String>,
}

impl Cover {
    /// A consent naming SUPPORT_SUMMARY (every research consent recorded now
    /// does; an older one that does not is not used).
    fn of(c: &consent::Model) -> Option<Cover> {
        let categories: Vec<DataCategory> =
            crate::domain::enum_list_from_json(&c.categories, DataCategory::parse);
        if !categories.contains(&DataCategory::SupportSummary) {
            return None;
        }
        Some(Cover {
            case: c.case_id,
            academic: c.case_id.is_none() && categories.contains(&DataCategory::Academic),
            notes: categories.contains(&DataCategory::CaseNotes),
            risk: categories.contains(&DataCategory::Risk),
            excluded: crate::domain::labels_from_json(&c.excluded_labels)
                .into_iter()
                .map(|l| l.as_str().to_owned())
                .collect(),
        })
    }
}

const CHUNK: usize = 1000;

/// The academic year (starting 1 August) a date falls in, by its first year.
fn academic_year(d: NaiveDate) -> i32 {
    if d.month() >= 8 {
        d.year()
    } else {
        d.year() - 1
    }
}

/// The year of study when the case was opened: academic years since the
/// start of the first enrolment, plus one (at least 1).
fn year_of_study(first_enrolment: Option<NaiveDate>, opened: DateTime<Utc>) -> Option<u32> {
    let first = first_enrolment?;
    let years = academic_year(opened.date_naive()) - academic_year(first) + 1;
    u32::try_from(years.max(1)).ok()
}

fn month(t: DateTime<Utc>) -> String {
    t.format("%Y-%m").to_string()
}

/// How long a closed case was open: under a month, 1-3, 3-6, 6-12 months, longer.
pub fn duration_band(opened: DateTime<Utc>, closed: DateTime<Utc>) -> &'static str {
    match (closed - opened).num_days() {
        d if d < 30 => "UNDER_1_MONTH",
        d if d < 91 => "MONTHS_1_TO_3",
        d if d < 182 => "MONTHS_3_TO_6",
        d if d < 365 => "MONTHS_6_TO_12",
        _ => "OVER_12_MONTHS",
    }
}

/// A case row before pseudonyms and recoding.
struct Candidate {
    student: Uuid,
    quasi: Quasi,
    case: support_case::Model,
    risk: bool,
}

/// Builds, records and audits a new extract for the caller (an analyst; the
/// CLI acting as one). Runs in the caller's write transaction: the extract's
/// record and its audit record are stored with it or not at all.
pub async fn create(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    config: &Config,
    asked_k: Option<i64>,
) -> AppResult<Extract> {
    decisions.authorize(Action::ReadResearchExtract, Relation::Any)?;
    let k = effective_k(config.k, asked_k)?;
    let now = decisions.now();
    let id = Uuid::new_v4();

    // Research consents in force now, by student.
    let consents = consent::Entity::find()
        .filter(consent::Column::RecipientKind.eq(RecipientKind::Research.as_str()))
        .filter(consent::Column::WithdrawnAt.is_null())
        .all(db)
        .await?;
    let mut covers: HashMap<Uuid, Vec<Cover>> = HashMap::new();
    for c in consents.iter().filter(|c| consent_in_force(c, now)) {
        if let Some(cover) = Cover::of(c) {
            covers.entry(c.student_id).or_default().push(cover);
        }
    }
    // Students whose processing is restricted are left out.
    let ids: Vec<Uuid> = covers.keys().copied().collect();
    let mut students: HashMap<Uuid, student::Model> = HashMap::new();
    let mut cases: Vec<support_case::Model> = Vec::new();
    let mut first_enrolment: HashMap<Uuid, NaiveDate> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for s in student::Entity::find()
            .filter(student::Column::Id.is_in(chunk.iter().copied()))
            .filter(student::Column::ProcessingRestricted.eq(false))
            .all(db)
            .await?
        {
            students.insert(s.id, s);
        }
        cases.extend(
            support_case::Entity::find()
                .filter(support_case::Column::StudentId.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
        for e in enrolment::Entity::find()
            .filter(enrolment::Column::StudentId.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            let first = first_enrolment.entry(e.student_id).or_insert(e.starts_on);
            *first = (*first).min(e.starts_on);
        }
    }
    // Which cases are covered, and what each cover opens.
    struct Opened {
        academic: bool,
        notes: Vec<HashSet<String>>,
        risk: bool,
    }
    let mut covered: Vec<(support_case::Model, Opened)> = Vec::new();
    for case in cases {
        if !students.contains_key(&case.student_id) {
            continue;
        }
        let all = covers
            .get(&case.student_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let on_case: Vec<&Cover> = all
            .iter()
            .filter(|c| c.case.is_none_or(|id| id == case.id))
            .collect();
        if on_case.is_empty() {
            continue;
        }
        let opened = Opened {
            // Department and year of study are the student record's: a
            // general consent naming ACADEMIC opens them.
            academic: all.iter().any(|c| c.academic),
            notes: on_case
                .iter()
                .filter(|c| c.notes)
                .map(|c| c.excluded.clone())
                .collect(),
            risk: on_case.iter().any(|c| c.risk),
        };
        covered.push((case, opened));
    }
    // The labels of the covered cases' notes (only where CASE_NOTES is named).
    let with_labels: Vec<Uuid> = covered
        .iter()
        .filter(|(_, o)| !o.notes.is_empty())
        .map(|(c, _)| c.id)
        .collect();
    let mut labels: HashMap<Uuid, BTreeSet<String>> = HashMap::new();
    for chunk in with_labels.chunks(CHUNK) {
        let rows: Vec<(Uuid, serde_json::Value)> = note::Entity::find()
            .select_only()
            .column(note::Column::CaseId)
            .column(note::Column::Labels)
            .filter(note::Column::CaseId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (case, json) in rows {
            let set = labels.entry(case).or_default();
            for l in crate::domain::labels_from_json(&json) {
                set.insert(l.as_str().to_owned());
            }
        }
    }
    let candidates: Vec<Candidate> = covered
        .into_iter()
        .map(|(case, opened)| {
            let student = &students[&case.student_id];
            let case_labels = (!opened.notes.is_empty()).then(|| {
                labels
                    .get(&case.id)
                    .map(|set| {
                        set.iter()
                            // A label is left out when every consent opening the
                            // notes excludes it.
                            .filter(|l| opened.notes.iter().any(|ex| !ex.contains(*l)))
                            .filter(|l| SensitivityLabel::parse(l).is_some())
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default()
            });
            Candidate {
                student: case.student_id,
                quasi: Quasi {
                    department: opened.academic.then(|| student.department.clone()),
                    year_of_study: if opened.academic {
                        year_of_study(
                            first_enrolment.get(&case.student_id).copied(),
                            case.opened_at,
                        )
                    } else {
                        None
                    },
                    service: case.service.clone(),
                    labels: case_labels,
                },
                risk: opened.risk,
                case,
            }
        })
        .collect();

    let quasi: Vec<(Uuid, Quasi)> = candidates
        .iter()
        .map(|c| (c.student, c.quasi.clone()))
        .collect();
    let plan = anonymity::anonymise(&quasi, usize::try_from(k).unwrap_or(usize::MAX));
    let mut rows: Vec<Row> = Vec::new();
    let mut released_students: HashSet<Uuid> = HashSet::new();
    for (c, released) in candidates.iter().zip(&plan.released) {
        if !released {
            continue;
        }
        released_students.insert(c.student);
        let [department, year_of_study, service, labels] = c.quasi.released(plan.levels);
        rows.push(Row {
            pseudonym: pseudonym(config.key(), id, c.student)?,
            department,
            year_of_study,
            service,
            labels,
            status: c.case.status.clone(),
            month_opened: month(c.case.opened_at),
            month_closed: c.case.closed_at.map(month),
            duration_band: c
                .case
                .closed_at
                .map(|closed| duration_band(c.case.opened_at, closed).to_owned()),
            risk_level: c.risk.then(|| c.case.risk_level.clone()),
        });
    }
    // An order that says nothing about when a student or case was recorded.
    rows.sort_by(|a, b| {
        (
            &a.department,
            &a.year_of_study,
            &a.service,
            &a.labels,
            &a.month_opened,
            &a.pseudonym,
        )
            .cmp(&(
                &b.department,
                &b.year_of_study,
                &b.service,
                &b.labels,
                &b.month_opened,
                &b.pseudonym,
            ))
    });
    let extract = Extract {
        id,
        created_at: now,
        k,
        students: released_students.len(),
        suppressed_rows: plan.suppressed,
        generalisation: plan.levels.into(),
        rows: rows.into_iter().map(Arc::new).collect(),
    };
    record(db, decisions, &extract).await?;
    Ok(extract)
}

fn count(n: usize) -> AppResult<i32> {
    i32::try_from(n).map_err(|e| AppError::internal("research extract", e))
}

/// Stores the extract's record (no student data) and its audit record: who,
/// what, when, and the cells released.
async fn record(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    extract: &Extract,
) -> AppResult<()> {
    let caller = decisions.caller();
    let generalisation = serde_json::to_value(extract.generalisation)
        .map_err(|e| AppError::internal("research extract", e))?;
    research_extract::ActiveModel {
        id: Set(extract.id),
        created_by: Set(caller.id),
        created_by_role: Set(caller.role.as_str().to_owned()),
        created_at: Set(extract.created_at),
        k: Set(count(extract.k as usize)?),
        rows: Set(count(extract.rows.len())?),
        students: Set(count(extract.students)?),
        suppressed_rows: Set(count(extract.suppressed_rows)?),
        generalisation: Set(generalisation.clone()),
    }
    .insert(db)
    .await?;
    let detail = serde_json::json!({
        "extract": extract.id,
        "k": extract.k,
        "rows": extract.rows.len(),
        "students": extract.students,
        "suppressedRows": extract.suppressed_rows,
        "generalisation": generalisation,
        "columns": COLUMNS,
        "cells": extract.rows.len() * COLUMNS.len(),
    });
    audit::write(
        db,
        caller,
        decisions.origin(),
        vec![Event {
            student_id: None,
            action: "research_extract",
            fields: vec![FieldClass::ResearchExtract.as_str().to_owned()],
            outcome: "allow",
            basis: Some(format!("role:{}", caller.role.as_str())),
            detail: Some(detail.to_string()),
        }],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_of_study_counts_academic_years_from_the_first_enrolment() {
        let start = NaiveDate::from_ymd_opt(2023, 9, 25).unwrap();
        let at = |y, m, d| {
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc()
        };
        assert_eq!(year_of_study(Some(start), at(2023, 10, 1)), Some(1));
        assert_eq!(year_of_study(Some(start), at(2024, 7, 31)), Some(1));
        assert_eq!(year_of_study(Some(start), at(2024, 8, 1)), Some(2));
        assert_eq!(year_of_study(Some(start), at(2026, 11, 26)), Some(4));
        assert_eq!(year_of_study(Some(start), at(2022, 1, 1)), Some(1));
        assert_eq!(year_of_study(None, at(2024, 1, 1)), None);
    }

    #[test]
    fn k_may_be_raised_never_lowered() {
        assert_eq!(effective_k(5, None).unwrap(), 5);
        assert_eq!(effective_k(5, Some(8)).unwrap(), 8);
        assert!(effective_k(5, Some(4)).is_err());
        assert!(effective_k(5, Some(i64::from(MAX_K) + 1)).is_err());
    }

    #[test]
    fn durations_are_banded() {
        let t = Utc::now();
        assert_eq!(
            duration_band(t, t + chrono::Duration::days(3)),
            "UNDER_1_MONTH"
        );
        assert_eq!(
            duration_band(t, t + chrono::Duration::days(60)),
            "MONTHS_1_TO_3"
        );
        assert_eq!(
            duration_band(t, t + chrono::Duration::days(400)),
            "OVER_12_MONTHS"
        );
    }
}
