//! k-anonymity by global recoding, then suppression (Datafly).
//!
//! The quasi-identifiers are department, year of study, service and labels.
//! Each has a generalisation hierarchy (level 0 = as recorded, the top level
//! = `*`). While the rows in combinations shared by fewer than k distinct
//! students are more than the suppression budget (the larger of 5% of the
//! rows, rounded down, and k rows: Sweeney's Datafly suppresses up to k
//! outliers, so that one rare student does not generalise everyone), the
//! quasi-identifier with the most distinct released values (ties:
//! the first in the order above) is generalised one level, for every row.
//! Then the rows still in a combination of fewer than k students are
//! suppressed (left out). Every released combination is therefore shared by
//! at least k distinct students (a student with three cases in one
//! combination counts once).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use uuid::Uuid;

/// The quasi-identifiers, in tie-break order.
pub const QUASI_IDENTIFIERS: [&str; 4] = ["department", "yearOfStudy", "service", "labels"];

/// The top level of each quasi-identifier's hierarchy (where every value is `*`).
pub const TOP: [u8; 4] = [1, 2, 1, 2];

/// Of the rows, at most this share (rounded down), or k rows if more, may be
/// suppressed before generalising further stops.
pub const SUPPRESSION_BUDGET_PERCENT: usize = 5;

/// How many rows may be suppressed rather than generalising further.
pub fn budget(rows: usize, k: usize) -> usize {
    (rows * SUPPRESSION_BUDGET_PERCENT / 100).max(k)
}

/// What is withheld, or fully generalised.
pub const ANY: &str = "*";

/// One row's quasi-identifiers as recorded. `None`: withheld for this row (no
/// consent covers it, or nothing is recorded), released as `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quasi {
    pub department: Option<String>,
    pub year_of_study: Option<u32>,
    pub service: String,
    /// The labels on the case's notes (sorted, distinct).
    pub labels: Option<Vec<String>>,
}

/// The generalisation level of each quasi-identifier, in [`QUASI_IDENTIFIERS`] order.
pub type Levels = [u8; 4];

impl Quasi {
    /// The released values at these levels.
    pub fn released(&self, levels: Levels) -> [String; 4] {
        [
            department(self.department.as_deref(), levels[0]),
            year_of_study(self.year_of_study, levels[1]),
            service(&self.service, levels[2]),
            labels(self.labels.as_deref(), levels[3]),
        ]
    }
}

/// Department: the department, then `*`.
pub fn department(value: Option<&str>, level: u8) -> String {
    match (value, level) {
        (Some(d), 0) => d.to_owned(),
        _ => ANY.to_owned(),
    }
}

/// Year of study: `1`, `2`, `3`, `4+`; then `1-2`, `3+`; then `*`.
pub fn year_of_study(value: Option<u32>, level: u8) -> String {
    match (value, level) {
        (Some(y), 0) if y >= 4 => "4+".to_owned(),
        (Some(y), 0) => y.max(1).to_string(),
        (Some(y), 1) if y >= 3 => "3+".to_owned(),
        (Some(_), 1) => "1-2".to_owned(),
        _ => ANY.to_owned(),
    }
}

/// Service: the service, then `*`.
pub fn service(value: &str, level: u8) -> String {
    match level {
        0 => value.to_owned(),
        _ => ANY.to_owned(),
    }
}

/// Labels: the exact set (`;`-joined, sorted) or `NONE`; then `ANY` or
/// `NONE`; then `*`.
pub fn labels(value: Option<&[String]>, level: u8) -> String {
    match (value, level) {
        (Some([]), 0 | 1) => "NONE".to_owned(),
        (Some(set), 0) => set.join(";"),
        (Some(_), 1) => "ANY".to_owned(),
        _ => ANY.to_owned(),
    }
}

/// What the recoding decided: the levels, and which rows are released.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub levels: Levels,
    /// For each input row, whether it is released (else suppressed).
    pub released: Vec<bool>,
    pub suppressed: usize,
}

type Groups = BTreeMap<[String; 4], HashSet<Uuid>>;

fn groups(rows: &[(Uuid, Quasi)], levels: Levels) -> (Vec<[String; 4]>, Groups) {
    let keys: Vec<[String; 4]> = rows.iter().map(|(_, q)| q.released(levels)).collect();
    let mut groups: Groups = BTreeMap::new();
    for (key, (student, _)) in keys.iter().zip(rows) {
        groups.entry(key.clone()).or_default().insert(*student);
    }
    (keys, groups)
}

/// Generalises and suppresses `rows` (each the student it is about and its
/// quasi-identifiers) so that every released combination has at least `k`
/// distinct students.
pub fn anonymise(rows: &[(Uuid, Quasi)], k: usize) -> Plan {
    let budget = budget(rows.len(), k);
    let mut levels: Levels = [0; 4];
    loop {
        let (keys, groups) = groups(rows, levels);
        let small = |key: &[String; 4]| groups.get(key).map_or(0, HashSet::len) < k;
        let violating = keys.iter().filter(|key| small(key)).count();
        let next = (0..4)
            .filter(|q| levels[*q] < TOP[*q])
            .map(|q| {
                let distinct: BTreeSet<&String> = keys.iter().map(|key| &key[q]).collect();
                (distinct.len(), std::cmp::Reverse(q))
            })
            .max();
        match next {
            Some((_, std::cmp::Reverse(q))) if violating > budget => levels[q] += 1,
            _ => {
                let released: Vec<bool> = keys.iter().map(|key| !small(key)).collect();
                return Plan {
                    levels,
                    suppressed: violating,
                    released,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn quasi(department: &str, year: u32, service: &str, labels: &[&str]) -> Quasi {
        Quasi {
            department: Some(department.to_owned()),
            year_of_study: Some(year),
            service: service.to_owned(),
            labels: Some(labels.iter().map(|l| (*l).to_owned()).collect()),
        }
    }

    fn check(rows: &[(Uuid, Quasi)], k: usize, plan: &Plan) {
        let mut groups: Groups = BTreeMap::new();
        for ((student, q), released) in rows.iter().zip(&plan.released) {
            if *released {
                groups
                    .entry(q.released(plan.levels))
                    .or_default()
                    .insert(*student);
            }
        }
        for (key, students) in &groups {
            assert!(students.len() >= k, "{key:?} has {} < {k}", students.len());
        }
        assert_eq!(
            plan.suppressed,
            plan.released.iter().filter(|r| !**r).count()
        );
    }

    #[test]
    fn hierarchies_generalise_to_star() {
        assert_eq!(year_of_study(Some(1), 0), "1");
        assert_eq!(year_of_study(Some(5), 0), "4+");
        assert_eq!(year_of_study(Some(2), 1), "1-2");
        assert_eq!(year_of_study(Some(3), 1), "3+");
        assert_eq!(year_of_study(Some(3), 2), "*");
        assert_eq!(year_of_study(None, 0), "*");
        let set = ["MENTAL_HEALTH".to_owned(), "SELF_HARM".to_owned()];
        assert_eq!(labels(Some(&set), 0), "MENTAL_HEALTH;SELF_HARM");
        assert_eq!(labels(Some(&set), 1), "ANY");
        assert_eq!(labels(Some(&[]), 1), "NONE");
        assert_eq!(labels(Some(&set), 2), "*");
        assert_eq!(labels(None, 0), "*");
        assert_eq!(department(Some("history"), 1), "*");
        assert_eq!(service("counselling", 0), "counselling");
    }

    #[test]
    fn a_common_combination_is_released_as_recorded() {
        let rows: Vec<(Uuid, Quasi)> = (0..6)
            .map(|_| (Uuid::new_v4(), quasi("history", 1, "counselling", &[])))
            .collect();
        let plan = anonymise(&rows, 5);
        assert_eq!(plan.levels, [0; 4]);
        assert_eq!(plan.suppressed, 0);
        check(&rows, 5, &plan);
    }

    #[test]
    fn a_student_with_several_cases_counts_once() {
        let one = Uuid::new_v4();
        let rows: Vec<(Uuid, Quasi)> = (0..10)
            .map(|_| (one, quasi("history", 1, "counselling", &[])))
            .collect();
        let plan = anonymise(&rows, 2);
        assert!(
            plan.released.iter().all(|r| !r),
            "one student is never k = 2"
        );
        check(&rows, 2, &plan);
    }

    #[test]
    fn rare_departments_are_generalised_before_rows_are_dropped() {
        // 20 students in 20 departments, all in counselling, year 1.
        let rows: Vec<(Uuid, Quasi)> = (0..20)
            .map(|i| {
                (
                    Uuid::new_v4(),
                    quasi(&format!("dept{i}"), 1, "counselling", &[]),
                )
            })
            .collect();
        let plan = anonymise(&rows, 5);
        assert_eq!(plan.levels[0], 1, "department generalised");
        assert_eq!(plan.suppressed, 0);
        check(&rows, 5, &plan);
    }

    #[test]
    fn an_outlier_within_the_budget_is_suppressed_not_generalised() {
        let mut rows: Vec<(Uuid, Quasi)> = (0..40)
            .map(|_| (Uuid::new_v4(), quasi("history", 1, "counselling", &[])))
            .collect();
        rows.push((
            Uuid::new_v4(),
            quasi("physics", 4, "disability", &["CRIMINAL"]),
        ));
        let plan = anonymise(&rows, 5);
        assert_eq!(plan.levels, [0; 4]);
        assert_eq!(plan.suppressed, 1);
        assert!(!plan.released[40]);
        check(&rows, 5, &plan);
    }

    #[test]
    fn many_rare_combinations_beyond_the_budget_are_generalised() {
        // 100 rows: 90 common, 10 students each alone in a department (> 5%).
        let mut rows: Vec<(Uuid, Quasi)> = (0..90)
            .map(|_| (Uuid::new_v4(), quasi("history", 1, "counselling", &[])))
            .collect();
        for i in 0..10 {
            rows.push((
                Uuid::new_v4(),
                quasi(&format!("rare{i}"), 1, "counselling", &[]),
            ));
        }
        let plan = anonymise(&rows, 5);
        assert_eq!(plan.levels, [1, 0, 0, 0]);
        assert_eq!(plan.suppressed, 0);
        check(&rows, 5, &plan);
    }

    #[test]
    fn fewer_than_k_students_release_nothing() {
        let rows: Vec<(Uuid, Quasi)> = (0..4)
            .map(|_| (Uuid::new_v4(), quasi("history", 1, "counselling", &[])))
            .collect();
        let plan = anonymise(&rows, 5);
        assert_eq!(plan.suppressed, 4);
        check(&rows, 5, &plan);
    }

    fn arb_row() -> impl Strategy<Value = (u8, Quasi)> {
        (
            0u8..40,
            prop::option::of(0usize..5),
            prop::option::of(1u32..7),
            0usize..4,
            prop::option::of(prop::collection::btree_set(0usize..4, 0..3)),
        )
            .prop_map(|(student, dept, year, service, labels)| {
                let names = ["MENTAL_HEALTH", "SELF_HARM", "FINANCES", "FAMILY"];
                (
                    student,
                    Quasi {
                        department: dept.map(|d| format!("dept{d}")),
                        year_of_study: year,
                        service: ["counselling", "mental_health", "disability", "wellbeing"]
                            [service]
                            .to_owned(),
                        labels: labels
                            .map(|set| set.into_iter().map(|l| names[l].to_owned()).collect()),
                    },
                )
            })
    }

    proptest! {
        #[test]
        fn every_released_combination_has_at_least_k_distinct_students(
            rows in prop::collection::vec(arb_row(), 0..200),
            k in 1usize..8,
        ) {
            let students: Vec<Uuid> = (0..40).map(|_| Uuid::new_v4()).collect();
            let rows: Vec<(Uuid, Quasi)> = rows
                .into_iter()
                .map(|(s, q)| (students[usize::from(s)], q))
                .collect();
            let plan = anonymise(&rows, k);
            check(&rows, k, &plan);
            // Suppression beyond the budget only once nothing can be generalised.
            if plan.suppressed > budget(rows.len(), k) {
                prop_assert_eq!(plan.levels, TOP);
            }
        }
    }
}
