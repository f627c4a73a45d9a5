//! The region a released figure counts: for each dimension, the values it
//! allows. Regions are what the release ledger remembers, and what decides
//! whether one figure lies inside another (so that their difference is itself
//! a figure about a group).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A set of cases: those whose value on every dimension is allowed.
/// `None` allows every value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Region {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<BTreeSet<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<BTreeSet<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<BTreeSet<String>>,
    /// Months opened, as sorted, merged, closed intervals of month numbers
    /// (`year * 12 + month - 1`). The academic year is a range of months too,
    /// so a figure for "2025/26" and one for "August 2025 to June 2026" are
    /// seen to nest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<Vec<(i32, i32)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<BTreeSet<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<BTreeSet<String>>,
    /// Cases carrying at least one of these labels (`NONE`: no label at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeSet<String>>,
}

impl Region {
    /// Whether every case this region allows, `other` allows too.
    pub fn within(&self, other: &Region) -> bool {
        sets_within(&self.service, &other.service)
            && sets_within(&self.status, &other.status)
            && sets_within(&self.department, &other.department)
            && months_within(&self.months, &other.months)
            && sets_within(&self.duration, &other.duration)
            && sets_within(&self.risk, &other.risk)
            && sets_within(&self.labels, &other.labels)
    }

    /// Whether one of the two lies strictly inside the other (the same region
    /// twice is not a difference).
    pub fn nested_with(&self, other: &Region) -> bool {
        self != other && (self.within(other) || other.within(self))
    }

    /// The canonical text form stored in the release ledger.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn sets_within(inner: &Option<BTreeSet<String>>, outer: &Option<BTreeSet<String>>) -> bool {
    match (inner, outer) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(i), Some(o)) => i.is_subset(o),
    }
}

fn months_within(inner: &Option<Vec<(i32, i32)>>, outer: &Option<Vec<(i32, i32)>>) -> bool {
    match (inner, outer) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(i), Some(o)) => i
            .iter()
            .all(|(a, b)| o.iter().any(|(c, d)| c <= a && b <= d)),
    }
}

/// Sorted, merged intervals (adjacent months join).
pub fn merge_intervals(mut v: Vec<(i32, i32)>) -> Vec<(i32, i32)> {
    v.retain(|(a, b)| a <= b);
    v.sort_unstable();
    let mut out: Vec<(i32, i32)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 + 1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The intersection of two interval lists.
pub fn intersect_intervals(x: &[(i32, i32)], y: &[(i32, i32)]) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    for (a, b) in x {
        for (c, d) in y {
            let lo = *a.max(c);
            let hi = *b.min(d);
            if lo <= hi {
                out.push((lo, hi));
            }
        }
    }
    merge_intervals(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> Option<BTreeSet<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_cell_lies_within_its_margin_and_the_total() {
        let total = Region {
            service: set(&["counselling"]),
            ..Region::default()
        };
        let margin = Region {
            service: set(&["counselling"]),
            department: set(&["History"]),
            ..Region::default()
        };
        let cell = Region {
            months: Some(vec![(24300, 24300)]),
            ..margin.clone()
        };
        assert!(cell.within(&margin) && margin.within(&total) && cell.within(&total));
        assert!(!total.within(&margin));
        assert!(cell.nested_with(&total) && total.nested_with(&cell));
        assert!(!total.nested_with(&total.clone()));
    }

    #[test]
    fn one_more_month_nests_and_an_academic_year_is_a_month_range() {
        let three = Region {
            months: Some(vec![(100, 102)]),
            ..Region::default()
        };
        let four = Region {
            months: Some(vec![(100, 103)]),
            ..Region::default()
        };
        assert!(three.within(&four) && three.nested_with(&four));
        let split = Region {
            months: Some(vec![(100, 100), (102, 102)]),
            ..Region::default()
        };
        assert!(split.within(&four) && !four.within(&split));
        assert_eq!(
            merge_intervals(vec![(5, 6), (1, 2), (3, 3), (9, 9)]),
            vec![(1, 3), (5, 6), (9, 9)]
        );
        assert_eq!(
            intersect_intervals(&[(1, 10)], &[(0, 3), (8, 12)]),
            vec![(1, 3), (8, 10)]
        );
    }

    #[test]
    fn disjoint_and_overlapping_regions_do_not_nest() {
        let a = Region {
            department: set(&["History"]),
            ..Region::default()
        };
        let b = Region {
            department: set(&["Physics"]),
            ..Region::default()
        };
        let c = Region {
            months: Some(vec![(1, 3)]),
            ..Region::default()
        };
        assert!(!a.nested_with(&b));
        assert!(!a.nested_with(&c));
    }
}
