//! Disclosure control: what of a computed table may leave the server.
//!
//! Pure functions over the table's figures, the linear relations between them
//! and the figures this caller has already been given (the release ledger).
//! The method, and what it does not protect against, is written down in
//! `docs/statistics.md`.
//!
//! Suppression (the default):
//! 1. **Primary**: a figure about 1 to `threshold - 1` distinct students is
//!    suppressed (whatever the measure: six cases of one student are one student).
//! 2. **Differences**: a figure whose region lies strictly inside, or strictly
//!    contains, the region of another figure released to the same caller, in
//!    this response or earlier, is suppressed when the two differ by 1 to
//!    `threshold - 1` (as counts of the measure, or as distinct students): the
//!    difference would be a figure about a small group ("the same table with one
//!    more month"). In this response, the smaller figure of the pair is the one
//!    suppressed; against the ledger, the new one.
//! 3. **Secondary**: in every relation `total = sum of members` (a row or column
//!    and its total, the margins and the grand total), a released total may not
//!    leave exactly one suppressed member, nor suppressed members about fewer than
//!    `threshold` students together; a suppressed total may not have every member
//!    released. The smallest released member (then the total) is suppressed next.
//!
//! Steps 2 and 3 repeat until nothing changes. The result is deterministic: the
//! same figures and the same ledger give the same pattern.
//!
//! Rounding (configurable instead): every figure is rounded to the nearest
//! multiple of the base (halves up; totals are rounded from the unrounded sum),
//! as HESA publishes; nothing is suppressed unless the whole population is below
//! the threshold.

use super::region::Region;
use super::Measure;

/// What a figure is in its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Cell,
    Margin,
    Total,
}

/// One computed figure, before protection.
#[derive(Clone, Debug)]
pub struct Entry {
    pub kind: Kind,
    pub region: Region,
    /// Distinct students counted.
    pub students: i64,
    pub cases: i64,
    /// The entries of the same table whose region strictly contains this one
    /// (a cell's margins and the total; a margin's total).
    pub within: Vec<usize>,
}

impl Entry {
    pub fn value(&self, measure: Measure) -> i64 {
        match measure {
            Measure::Students => self.students,
            Measure::Cases => self.cases,
        }
    }
}

/// `entries[total]` is the sum of `entries[members]` (exactly for counts of
/// cases over a dimension with one value per case; an upper bound otherwise).
#[derive(Clone, Debug)]
pub struct Relation {
    pub total: usize,
    pub members: Vec<usize>,
}

/// A figure released to this caller before (from the release ledger).
#[derive(Clone, Debug)]
pub struct Prior {
    pub region: Region,
    pub measure: Measure,
    pub value: i64,
    pub students: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Suppress,
    Round { base: i64 },
}

#[derive(Clone, Copy, Debug)]
pub struct Rules {
    pub threshold: i64,
    pub method: Method,
}

/// The released value of each entry: `None` is suppressed.
pub fn protect(
    entries: &[Entry],
    relations: &[Relation],
    measure: Measure,
    priors: &[Prior],
    rules: Rules,
) -> Vec<Option<i64>> {
    let k = rules.threshold;
    let small = |d: i64| d > 0 && d < k;
    let population = entries
        .iter()
        .filter(|e| e.kind == Kind::Total)
        .map(|e| e.students)
        .max()
        .unwrap_or(0);
    // No statistic narrowed to a group below the threshold: a population of 1
    // to k - 1 students releases nothing (a population of 0 is an empty table).
    if small(population) {
        return vec![None; entries.len()];
    }
    if let Method::Round { base } = rules.method {
        return entries
            .iter()
            .map(|e| Some(round_to(e.value(measure), base)))
            .collect();
    }

    let mut suppressed: Vec<bool> = entries.iter().map(|e| small(e.students)).collect();
    // Figures of this table the caller already holds: the same region and
    // measure released before. Suppressing them now hides nothing, so the
    // relations count them as released.
    let held: std::collections::HashSet<String> = priors
        .iter()
        .filter(|p| p.measure == measure)
        .map(|p| p.region.to_text())
        .collect();
    let known: Vec<bool> = entries
        .iter()
        .map(|e| !held.is_empty() && held.contains(&e.region.to_text()))
        .collect();
    loop {
        let mut changed = false;

        // Differences with the figures already released to this caller.
        for (i, e) in entries.iter().enumerate() {
            if suppressed[i] {
                continue;
            }
            let value = e.value(measure);
            let disclosive = priors.iter().any(|p| {
                // The values of the same measure; and, whatever the measures,
                // the students behind them (a table of cases with one case a
                // student shows its students too).
                (small((p.students - e.students).abs())
                    || (p.measure == measure && small((p.value - value).abs())))
                    && p.region.nested_with(&e.region)
            });
            if disclosive {
                suppressed[i] = true;
                changed = true;
            }
        }

        // Differences within this response: the smaller figure goes.
        for (i, e) in entries.iter().enumerate() {
            if suppressed[i] {
                continue;
            }
            let value = e.value(measure);
            let disclosive = e.within.iter().any(|&j| {
                let outer = &entries[j];
                !suppressed[j]
                    && (small(outer.value(measure) - value) || small(outer.students - e.students))
            });
            if disclosive {
                suppressed[i] = true;
                changed = true;
            }
        }

        // Secondary suppression along every relation.
        for r in relations {
            let hidden: Vec<usize> = r
                .members
                .iter()
                .copied()
                .filter(|&m| suppressed[m] && !known[m])
                .collect();
            let needs_more = if suppressed[r.total] && !known[r.total] {
                hidden.is_empty() && r.members.iter().any(|&m| entries[m].students > 0)
            } else {
                let hidden_students: i64 = hidden.iter().map(|&m| entries[m].students).sum();
                hidden.len() == 1 || (hidden.len() > 1 && small(hidden_students))
            };
            if !needs_more {
                continue;
            }
            let next = r
                .members
                .iter()
                .copied()
                .filter(|&m| !suppressed[m] && entries[m].students > 0)
                .min_by_key(|&m| (entries[m].students, entries[m].value(measure), m));
            match next {
                Some(m) => suppressed[m] = true,
                None if !suppressed[r.total] => suppressed[r.total] = true,
                None => continue,
            }
            changed = true;
        }

        if !changed {
            break;
        }
    }
    entries
        .iter()
        .zip(suppressed)
        .map(|(e, s)| if s { None } else { Some(e.value(measure)) })
        .collect()
}

/// Rounds to the nearest multiple of `base`, halves up (HESA: 0, 1 and 2 show
/// as 0 with base 5).
pub fn round_to(value: i64, base: i64) -> i64 {
    if base <= 1 {
        return value;
    }
    ((value + base / 2) / base) * base
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const RULES: Rules = Rules {
        threshold: 5,
        method: Method::Suppress,
    };

    fn region(dept: Option<&str>, status: Option<&str>) -> Region {
        let one = |v: &str| Some(BTreeSet::from([v.to_owned()]));
        Region {
            department: dept.and_then(one),
            status: status.and_then(one),
            ..Region::default()
        }
    }

    /// A department x status table of case counts with one case per student,
    /// its row and column totals and the grand total.
    fn table(cells: &[(&str, &str, i64)]) -> (Vec<Entry>, Vec<Relation>) {
        let mut entries = vec![Entry {
            kind: Kind::Total,
            region: Region::default(),
            students: cells.iter().map(|c| c.2).sum(),
            cases: cells.iter().map(|c| c.2).sum(),
            within: vec![],
        }];
        let mut relations = Vec::new();
        let depts: BTreeSet<&str> = cells.iter().map(|c| c.0).collect();
        let statuses: BTreeSet<&str> = cells.iter().map(|c| c.1).collect();
        let mut margin_of = std::collections::HashMap::new();
        for (dim, values) in [(0, &depts), (1, &statuses)] {
            let mut members = Vec::new();
            for v in values.iter() {
                let n: i64 = cells
                    .iter()
                    .filter(|c| if dim == 0 { c.0 == *v } else { c.1 == *v })
                    .map(|c| c.2)
                    .sum();
                let r = if dim == 0 {
                    region(Some(v), None)
                } else {
                    region(None, Some(v))
                };
                entries.push(Entry {
                    kind: Kind::Margin,
                    region: r,
                    students: n,
                    cases: n,
                    within: vec![0],
                });
                margin_of.insert((dim, *v), entries.len() - 1);
                members.push(entries.len() - 1);
            }
            relations.push(Relation { total: 0, members });
        }
        let mut rows: std::collections::HashMap<usize, Vec<usize>> = Default::default();
        let mut all = Vec::new();
        for (d, s, n) in cells {
            let md = margin_of[&(0, *d)];
            let ms = margin_of[&(1, *s)];
            entries.push(Entry {
                kind: Kind::Cell,
                region: region(Some(d), Some(s)),
                students: *n,
                cases: *n,
                within: vec![md, ms, 0],
            });
            let i = entries.len() - 1;
            rows.entry(md).or_default().push(i);
            rows.entry(ms).or_default().push(i);
            all.push(i);
        }
        for (total, members) in rows {
            relations.push(Relation { total, members });
        }
        relations.push(Relation {
            total: 0,
            members: all,
        });
        (entries, relations)
    }

    fn shown(
        entries: &[Entry],
        out: &[Option<i64>],
        d: Option<&str>,
        s: Option<&str>,
    ) -> Option<i64> {
        let r = region(d, s);
        let i = entries.iter().position(|e| e.region == r).expect("entry");
        out[i]
    }

    /// No relation leaves exactly one suppressed member under a released
    /// total, nor suppressed members worth fewer than k students.
    fn assert_no_recovery(entries: &[Entry], relations: &[Relation], out: &[Option<i64>]) {
        for r in relations {
            let hidden: Vec<usize> = r
                .members
                .iter()
                .copied()
                .filter(|&m| out[m].is_none())
                .collect();
            if out[r.total].is_some() {
                assert_ne!(
                    hidden.len(),
                    1,
                    "one suppressed member under a released total"
                );
                let sum: i64 = hidden.iter().map(|&m| entries[m].students).sum();
                assert!(sum == 0 || sum >= 5, "suppressed members sum to {sum}");
            } else {
                assert!(
                    !hidden.is_empty() || r.members.iter().all(|&m| entries[m].students == 0),
                    "a suppressed total with every member released"
                );
            }
        }
    }

    #[test]
    fn a_cell_of_three_is_suppressed_and_a_cell_of_twelve_released() {
        let (entries, relations) = table(&[
            ("History", "open", 3),
            ("History", "closed", 12),
            ("Physics", "open", 20),
            ("Physics", "closed", 30),
            ("Law", "open", 25),
            ("Law", "closed", 40),
        ]);
        let out = protect(&entries, &relations, Measure::Cases, &[], RULES);
        assert_eq!(shown(&entries, &out, Some("History"), Some("open")), None);
        assert_no_recovery(&entries, &relations, &out);
        // Its complements in its row and column went too (History/closed,
        // Physics/open), then Physics/closed for the closed column; Law stands.
        assert_eq!(shown(&entries, &out, Some("History"), Some("closed")), None);
        assert_eq!(shown(&entries, &out, Some("Physics"), Some("open")), None);
        assert_eq!(shown(&entries, &out, Some("Physics"), Some("closed")), None);
        assert_eq!(shown(&entries, &out, Some("Law"), Some("closed")), Some(40));
        assert_eq!(shown(&entries, &out, Some("History"), None), Some(15));
        assert_eq!(shown(&entries, &out, None, None), Some(130));
    }

    #[test]
    fn a_released_cell_of_twelve_is_its_number() {
        let (entries, relations) = table(&[
            ("History", "open", 12),
            ("History", "closed", 15),
            ("Physics", "open", 20),
            ("Physics", "closed", 30),
        ]);
        let out = protect(&entries, &relations, Measure::Cases, &[], RULES);
        assert_eq!(
            shown(&entries, &out, Some("History"), Some("open")),
            Some(12)
        );
        assert!(out.iter().all(Option::is_some));
    }

    #[test]
    fn suppressed_cells_cannot_be_recovered_from_any_total() {
        // Every small pattern of a 3 x 3 table.
        let depts = ["A", "B", "C"];
        let statuses = ["x", "y", "z"];
        for seed in 0..200u64 {
            let mut cells = Vec::new();
            let mut state = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for d in depts {
                for s in statuses {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let n = ((state >> 33) % 14) as i64 + 1;
                    cells.push((d, s, n));
                }
            }
            let (entries, relations) = table(&cells);
            let out = protect(&entries, &relations, Measure::Cases, &[], RULES);
            assert_no_recovery(&entries, &relations, &out);
            for (i, e) in entries.iter().enumerate() {
                if e.students > 0 && e.students < 5 {
                    assert_eq!(out[i], None, "seed {seed}: a small figure released");
                }
            }
        }
    }

    #[test]
    fn one_more_filter_value_than_before_is_suppressed_when_the_difference_is_small() {
        // Earlier: History, every status: 40. Now History and open only: 37.
        let prior = Prior {
            region: region(Some("History"), None),
            measure: Measure::Cases,
            value: 40,
            students: 40,
        };
        let entries = vec![Entry {
            kind: Kind::Total,
            region: region(Some("History"), Some("open")),
            students: 37,
            cases: 37,
            within: vec![],
        }];
        let relations = vec![];
        let out = protect(
            &entries,
            &relations,
            Measure::Cases,
            std::slice::from_ref(&prior),
            RULES,
        );
        assert_eq!(out, vec![None]);
        // A difference of 10 is a group of 10: released.
        let mut wide = entries.clone();
        wide[0].students = 30;
        wide[0].cases = 30;
        let out = protect(
            &wide,
            &relations,
            Measure::Cases,
            std::slice::from_ref(&prior),
            RULES,
        );
        assert_eq!(out, vec![Some(30)]);
        // The same region again is not a difference (growth over time is not
        // protected: see the docs).
        let same = vec![Entry {
            region: region(Some("History"), None),
            ..entries[0].clone()
        }];
        let out = protect(&same, &relations, Measure::Cases, &[prior], RULES);
        assert_eq!(out, vec![Some(37)]);
    }

    #[test]
    fn a_figure_the_caller_already_holds_does_not_count_as_hidden() {
        // Earlier: History at medium risk, 12. Now History by risk: high 3,
        // medium 12, low 30 (row total 45). Suppressing medium as the
        // complement of high would hide nothing (45 - 30 - 12 = 3): low goes.
        let one = |v: &str| Some(BTreeSet::from([v.to_owned()]));
        let r = |risk: Option<&str>| Region {
            department: one("History"),
            risk: risk.and_then(one),
            ..Region::default()
        };
        let cell = |risk: &str, n: i64| Entry {
            kind: Kind::Cell,
            region: r(Some(risk)),
            students: n,
            cases: n,
            within: vec![0],
        };
        let entries = vec![
            Entry {
                kind: Kind::Total,
                region: r(None),
                students: 45,
                cases: 45,
                within: vec![],
            },
            cell("high", 3),
            cell("low", 30),
            cell("medium", 12),
        ];
        let relations = vec![Relation {
            total: 0,
            members: vec![1, 2, 3],
        }];
        let prior = Prior {
            region: r(Some("medium")),
            measure: Measure::Cases,
            value: 12,
            students: 12,
        };
        let out = protect(
            &entries,
            &relations,
            Measure::Cases,
            std::slice::from_ref(&prior),
            RULES,
        );
        assert_eq!(out[1], None);
        assert_eq!(out[2], None, "low is suppressed: medium is known");
        // Without the earlier release, medium is the complement.
        let out = protect(&entries, &relations, Measure::Cases, &[], RULES);
        assert_eq!((out[1], out[2], out[3]), (None, Some(30), None));
    }

    #[test]
    fn a_difference_in_students_counts_whatever_the_measures() {
        let prior = Prior {
            region: region(Some("History"), None),
            measure: Measure::Students,
            value: 35,
            students: 35,
        };
        let entries = vec![Entry {
            kind: Kind::Total,
            region: region(Some("History"), Some("open")),
            students: 33,
            cases: 50,
            within: vec![],
        }];
        let out = protect(&entries, &[], Measure::Cases, &[prior], RULES);
        assert_eq!(out, vec![None]);
    }

    #[test]
    fn a_margin_that_differs_from_its_total_by_a_small_group_is_suppressed() {
        // Distinct students: 40 in all, 38 in History (two elsewhere).
        let entries = vec![
            Entry {
                kind: Kind::Total,
                region: Region::default(),
                students: 40,
                cases: 60,
                within: vec![],
            },
            Entry {
                kind: Kind::Margin,
                region: region(Some("History"), None),
                students: 38,
                cases: 50,
                within: vec![0],
            },
        ];
        let out = protect(&entries, &[], Measure::Cases, &[], RULES);
        assert_eq!(out, vec![Some(60), None]);
    }

    #[test]
    fn a_population_below_the_threshold_releases_nothing() {
        let (entries, relations) = table(&[("History", "open", 2), ("History", "closed", 2)]);
        let out = protect(&entries, &relations, Measure::Cases, &[], RULES);
        assert!(out.iter().all(Option::is_none));
        let rounding = Rules {
            threshold: 5,
            method: Method::Round { base: 5 },
        };
        let out = protect(&entries, &relations, Measure::Cases, &[], rounding);
        assert!(out.iter().all(Option::is_none));
    }

    #[test]
    fn rounding_shows_every_figure_to_the_nearest_five() {
        let (entries, relations) = table(&[
            ("History", "open", 3),
            ("History", "closed", 12),
            ("Physics", "open", 2),
            ("Physics", "closed", 30),
        ]);
        let rules = Rules {
            threshold: 5,
            method: Method::Round { base: 5 },
        };
        let out = protect(&entries, &relations, Measure::Cases, &[], rules);
        assert_eq!(
            shown(&entries, &out, Some("History"), Some("open")),
            Some(5)
        );
        assert_eq!(
            shown(&entries, &out, Some("History"), Some("closed")),
            Some(10)
        );
        assert_eq!(
            shown(&entries, &out, Some("Physics"), Some("open")),
            Some(0)
        );
        assert_eq!(shown(&entries, &out, None, None), Some(45));
        assert_eq!(
            [0, 1, 2, 3, 7, 8, 12, 13].map(|v| round_to(v, 5)),
            [0, 0, 0, 5, 5, 10, 10, 15]
        );
    }
}
