//! Computing a table from case rows: its cells, margins and total, their
//! regions, and the relations between them. No protection here: see
//! [`super::protect`].

use super::protect::{Entry, Kind, Relation};
use super::region::{intersect_intervals, merge_intervals, Region};
use super::{Dimension, DurationBand};
use crate::domain::SensitivityLabel;
use chrono::{DateTime, Datelike, Utc};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// One case, as statistics see it. Text values are shared (a population
/// holds each distinct one once); times are seconds since the epoch, so the
/// duration band is worked out at the time of each query.
#[derive(Clone, Debug)]
pub struct CaseRow {
    /// The student, as an index (distinct students are counted, never named).
    pub student: u32,
    pub service: Arc<str>,
    pub status: Arc<str>,
    pub department: Arc<str>,
    /// `year * 12 + month - 1`.
    pub month: i32,
    pub opened: i64,
    pub closed: Option<i64>,
    pub risk: Arc<str>,
    /// The labels on the case's notes, by [`SensitivityLabel::index`].
    pub labels: u32,
}

impl CaseRow {
    /// How long the case has run (to `now`, in seconds, if still open).
    pub fn duration(&self, now: i64) -> DurationBand {
        duration_band(self.opened, self.closed, now)
    }
}

/// The label value of a case without any label.
pub const NO_LABEL: &str = "NONE";

/// The month of a time in seconds since the epoch (an error out of range).
pub fn month_of_seconds(seconds: i64) -> crate::error::AppResult<i32> {
    DateTime::from_timestamp(seconds, 0)
        .map(month_number)
        .ok_or_else(|| crate::error::AppError::internal("statistics", "a time out of range"))
}

pub fn month_number(at: DateTime<Utc>) -> i32 {
    at.year() * 12 + at.month0() as i32
}

pub fn month_text(n: i32) -> String {
    format!("{:04}-{:02}", n.div_euclid(12), n.rem_euclid(12) + 1)
}

/// The months of academic year `year`/`year + 1` (1 August to 31 July).
pub fn academic_year_months(year: i32) -> (i32, i32) {
    (year * 12 + 7, year * 12 + 18)
}

/// The academic year a month falls in (its starting calendar year).
pub fn academic_year_of(month: i32) -> i32 {
    (month - 7).div_euclid(12)
}

pub fn academic_year_text(year: i32) -> String {
    format!("{}/{:02}", year, (year + 1).rem_euclid(100))
}

/// Parses "2025/26".
pub fn parse_academic_year(text: &str) -> Option<i32> {
    let (a, b) = text.split_once('/')?;
    let year: i32 = a.parse().ok()?;
    let next: i32 = b.parse().ok()?;
    (a.len() == 4 && b.len() == 2 && (year + 1).rem_euclid(100) == next).then_some(year)
}

/// Parses "2025-09".
pub fn parse_month(text: &str) -> Option<i32> {
    let (y, m) = text.split_once('-')?;
    let year: i32 = y.parse().ok()?;
    let month: i32 = m.parse().ok()?;
    (y.len() == 4 && m.len() == 2 && (1..=12).contains(&month)).then_some(year * 12 + month - 1)
}

/// The band of a case's duration; times in seconds since the epoch.
pub fn duration_band(opened: i64, closed: Option<i64>, now: i64) -> DurationBand {
    let days = (closed.unwrap_or(now) - opened) / 86_400;
    match days {
        d if d < 30 => DurationBand::UnderOneMonth,
        d if d < 91 => DurationBand::OneToThreeMonths,
        d if d < 182 => DurationBand::ThreeToSixMonths,
        d if d < 365 => DurationBand::SixToTwelveMonths,
        _ => DurationBand::OverTwelveMonths,
    }
}

/// Whether a case lies in the region.
pub fn contains(region: &Region, row: &CaseRow, now: i64) -> bool {
    let has = |set: &Option<BTreeSet<String>>, v: &str| set.as_ref().is_none_or(|s| s.contains(v));
    has(&region.service, &row.service)
        && has(&region.status, &row.status)
        && has(&region.department, &row.department)
        && has(&region.risk, &row.risk)
        && has(&region.duration, row.duration(now).as_str())
        && region
            .months
            .as_ref()
            .is_none_or(|m| m.iter().any(|(a, b)| *a <= row.month && row.month <= *b))
        && region
            .labels
            .as_ref()
            .is_none_or(|l| label_values(row.labels).iter().any(|v| l.contains(*v)))
}

/// The label values of a case: its labels, or `NONE`.
pub fn label_values(bits: u32) -> Vec<&'static str> {
    if bits == 0 {
        return vec![NO_LABEL];
    }
    SensitivityLabel::ALL
        .iter()
        .filter(|l| bits & (1 << l.index()) != 0)
        .map(|l| l.as_str())
        .collect()
}

/// Dimension values as small codes while grouping (strings interned,
/// months and academic years as numbers, labels as bit indexes), and back.
#[derive(Default)]
struct Codes {
    strings: Vec<HashMap<String, u32>>,
    names: Vec<Vec<String>>,
}

/// The code of "no label".
const NONE_CODE: u32 = 31;

impl Codes {
    fn new(dims: usize) -> Self {
        Codes {
            strings: (0..dims).map(|_| HashMap::new()).collect(),
            names: (0..dims).map(|_| Vec::new()).collect(),
        }
    }

    fn intern(&mut self, d: usize, value: &str) -> u32 {
        if let Some(c) = self.strings[d].get(value) {
            return *c;
        }
        let c = self.names[d].len() as u32;
        self.names[d].push(value.to_owned());
        self.strings[d].insert(value.to_owned(), c);
        c
    }

    /// A case's codes on dimension `d` (several for labels, within the
    /// region's labels), into `out`.
    fn of(
        &mut self,
        d: usize,
        dim: Dimension,
        row: &CaseRow,
        region: &Region,
        now: i64,
        out: &mut Vec<u32>,
    ) {
        out.clear();
        match dim {
            Dimension::Service => out.push(self.intern(d, &row.service)),
            Dimension::Status => out.push(self.intern(d, &row.status)),
            Dimension::Department => out.push(self.intern(d, &row.department)),
            Dimension::RiskLevel => out.push(self.intern(d, &row.risk)),
            Dimension::MonthOpened => out.push(row.month as u32),
            Dimension::AcademicYearOpened => out.push(academic_year_of(row.month) as u32),
            Dimension::DurationBand => out.push(row.duration(now).index() as u32),
            Dimension::Label => {
                let allowed = |v: &str| region.labels.as_ref().is_none_or(|l| l.contains(v));
                if row.labels == 0 {
                    if allowed(NO_LABEL) {
                        out.push(NONE_CODE);
                    }
                } else {
                    for l in SensitivityLabel::ALL {
                        if row.labels & (1 << l.index()) != 0 && allowed(l.as_str()) {
                            out.push(l.index() as u32);
                        }
                    }
                }
            }
        }
    }

    fn text(&self, d: usize, dim: Dimension, code: u32) -> String {
        match dim {
            Dimension::Service
            | Dimension::Status
            | Dimension::Department
            | Dimension::RiskLevel => self.names[d]
                .get(code as usize)
                .cloned()
                .unwrap_or_default(),
            Dimension::MonthOpened => month_text(code as i32),
            Dimension::AcademicYearOpened => academic_year_text(code as i32),
            Dimension::DurationBand => DurationBand::ALL
                .get(code as usize)
                .map(|b| b.as_str().to_owned())
                .unwrap_or_default(),
            Dimension::Label => SensitivityLabel::ALL
                .get(code as usize)
                .map_or(NO_LABEL, |l| l.as_str())
                .to_owned(),
        }
    }
}

/// The region narrowed to one value of a dimension.
fn narrowed(region: &Region, dim: Dimension, value: &str) -> Region {
    let one = || Some(BTreeSet::from([value.to_owned()]));
    let mut r = region.clone();
    let months = |range: (i32, i32)| match &region.months {
        Some(m) => Some(intersect_intervals(m, &[range])),
        None => Some(vec![range]),
    };
    match dim {
        Dimension::Service => r.service = one(),
        Dimension::Status => r.status = one(),
        Dimension::Department => r.department = one(),
        Dimension::DurationBand => r.duration = one(),
        Dimension::RiskLevel => r.risk = one(),
        // A case with labels A and B lies in the cells of both; the cell's
        // region is "carries A" (value A is one the filter allows).
        Dimension::Label => r.labels = one(),
        Dimension::MonthOpened => {
            if let Some(m) = parse_month(value) {
                r.months = months((m, m));
            }
        }
        Dimension::AcademicYearOpened => {
            if let Some(y) = parse_academic_year(value) {
                r.months = months(academic_year_months(y));
            }
        }
    }
    r.months = r.months.map(merge_intervals);
    r
}

/// A key of a cell or margin: one value per dimension of the table.
pub type Key = Vec<(Dimension, String)>;

/// A computed table before protection: entry 0 is the total, then the
/// margins (only with two or more dimensions), then the cells.
pub struct Computed {
    pub entries: Vec<Entry>,
    pub keys: Vec<Key>,
    pub relations: Vec<Relation>,
}

#[derive(Default)]
struct Acc {
    cases: i64,
    students: Vec<u32>,
}

impl Acc {
    fn add(&mut self, student: u32) {
        self.cases += 1;
        self.students.push(student);
    }

    fn distinct(&mut self) -> i64 {
        self.students.sort_unstable();
        self.students.dedup();
        self.students.len() as i64
    }
}

/// Groups the cases of the base region by the dimensions, at `now` (seconds
/// since the epoch: the duration of open cases runs to it).
pub fn compute(rows: &[CaseRow], base: &Region, dims: &[Dimension], now: i64) -> Computed {
    // A query names at most MAX_KEY dimensions (checked with its input).
    let dims = &dims[..dims.len().min(MAX_KEY)];
    let mut codes = Codes::new(dims.len());
    let mut total = Acc::default();
    let mut margins: Vec<HashMap<u32, Acc>> = dims.iter().map(|_| HashMap::new()).collect();
    let mut cells: HashMap<[u32; MAX_KEY], Acc> = HashMap::new();
    let mut per_dim: Vec<Vec<u32>> = dims.iter().map(|_| Vec::new()).collect();
    let mut keys: Vec<[u32; MAX_KEY]> = Vec::new();
    for row in rows.iter().filter(|r| contains(base, r, now)) {
        for (d, dim) in dims.iter().enumerate() {
            codes.of(d, *dim, row, base, now, &mut per_dim[d]);
        }
        if per_dim.iter().any(Vec::is_empty) {
            continue;
        }
        total.add(row.student);
        for (d, vs) in per_dim.iter().enumerate() {
            for v in vs {
                margins[d].entry(*v).or_default().add(row.student);
            }
        }
        if dims.is_empty() {
            continue;
        }
        // Every combination of the case's values (several only for labels).
        keys.clear();
        keys.push([0; MAX_KEY]);
        for (d, vs) in per_dim.iter().enumerate() {
            if vs.len() == 1 {
                for k in keys.iter_mut() {
                    k[d] = vs[0];
                }
            } else {
                let mut next = Vec::with_capacity(keys.len() * vs.len());
                for k in &keys {
                    for v in vs {
                        let mut k = *k;
                        k[d] = *v;
                        next.push(k);
                    }
                }
                keys = next;
            }
        }
        for k in &keys {
            cells.entry(*k).or_default().add(row.student);
        }
    }

    let mut entries = vec![Entry {
        kind: Kind::Total,
        region: base.clone(),
        students: total.distinct(),
        cases: total.cases,
        within: Vec::new(),
    }];
    let mut out_keys: Vec<Key> = vec![Vec::new()];
    let mut relations = Vec::new();
    // Margins: with one dimension they are the cells themselves.
    let mut margin_index: HashMap<(usize, u32), usize> = HashMap::new();
    if dims.len() >= 2 {
        for (d, dim) in dims.iter().enumerate() {
            let mut members = Vec::new();
            let mut values: Vec<(String, u32, Acc)> = std::mem::take(&mut margins[d])
                .into_iter()
                .map(|(c, acc)| (codes.text(d, *dim, c), c, acc))
                .collect();
            values.sort_by(|a, b| a.0.cmp(&b.0));
            for (v, c, mut acc) in values {
                entries.push(Entry {
                    kind: Kind::Margin,
                    region: narrowed(base, *dim, &v),
                    students: acc.distinct(),
                    cases: acc.cases,
                    within: vec![0],
                });
                out_keys.push(vec![(*dim, v)]);
                margin_index.insert((d, c), entries.len() - 1);
                members.push(entries.len() - 1);
            }
            relations.push(Relation { total: 0, members });
        }
    }
    let mut sorted: Vec<(Vec<String>, [u32; MAX_KEY], Acc)> = cells
        .into_iter()
        .map(|(k, acc)| {
            let texts = dims
                .iter()
                .enumerate()
                .map(|(d, dim)| codes.text(d, *dim, k[d]))
                .collect();
            (texts, k, acc)
        })
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut all = Vec::new();
    let mut lines: HashMap<usize, Vec<usize>> = HashMap::new();
    for (values, k, mut acc) in sorted {
        let mut region = base.clone();
        let mut within = Vec::new();
        for (d, v) in values.iter().enumerate() {
            region = narrowed(&region, dims[d], v);
            if let Some(&m) = margin_index.get(&(d, k[d])) {
                within.push(m);
            }
        }
        within.push(0);
        let index = entries.len();
        for m in &within {
            if *m != 0 {
                lines.entry(*m).or_default().push(index);
            }
        }
        entries.push(Entry {
            kind: Kind::Cell,
            region,
            students: acc.distinct(),
            cases: acc.cases,
            within,
        });
        out_keys.push(dims.iter().copied().zip(values).collect());
        all.push(index);
    }
    let mut lines: Vec<(usize, Vec<usize>)> = lines.into_iter().collect();
    lines.sort_by_key(|l| l.0);
    relations.extend(
        lines
            .into_iter()
            .map(|(total, members)| Relation { total, members }),
    );
    if !all.is_empty() {
        relations.push(Relation {
            total: 0,
            members: all,
        });
    }
    Computed {
        entries,
        keys: out_keys,
        relations,
    }
}

/// Most dimensions of a key.
const MAX_KEY: usize = super::MAX_DIMENSIONS;

#[cfg(test)]
mod tests {
    use super::*;

    fn row(student: u32, dept: &str, status: &str, labels: u32) -> CaseRow {
        CaseRow {
            student,
            service: "counselling".into(),
            status: status.into(),
            department: dept.into(),
            month: 2025 * 12 + 9,
            opened: 0,
            closed: Some(86_400),
            risk: "low".into(),
            labels,
        }
    }

    #[test]
    fn months_and_academic_years_read_and_print() {
        assert_eq!(parse_month("2025-10"), Some(2025 * 12 + 9));
        assert_eq!(month_text(2025 * 12 + 9), "2025-10");
        assert_eq!(parse_month("2025-13"), None);
        assert_eq!(parse_academic_year("2025/26"), Some(2025));
        assert_eq!(parse_academic_year("2025/27"), None);
        assert_eq!(academic_year_text(1999), "1999/00");
        assert_eq!(academic_year_of(2025 * 12 + 7), 2025); // August 2025
        assert_eq!(academic_year_of(2026 * 12 + 6), 2025); // July 2026
        assert_eq!(academic_year_of(2025 * 12 + 6), 2024); // July 2025
    }

    #[test]
    fn students_are_counted_once_and_cases_each_time() {
        let rows = vec![
            row(1, "History", "open", 0),
            row(1, "History", "closed", 0),
            row(2, "History", "open", 0),
            row(3, "Physics", "open", 1),
        ];
        let t = compute(
            &rows,
            &Region::default(),
            &[Dimension::Department, Dimension::Status],
            0,
        );
        assert_eq!((t.entries[0].students, t.entries[0].cases), (3, 4));
        let history = t
            .keys
            .iter()
            .position(|k| k == &vec![(Dimension::Department, "History".to_owned())])
            .expect("History margin");
        assert_eq!(
            (t.entries[history].students, t.entries[history].cases),
            (2, 3)
        );
        // Two margins of department, two of status, three cells.
        assert_eq!(t.entries.len(), 1 + 4 + 3);
        assert!(t.entries[1..]
            .iter()
            .all(|e| e.region.within(&t.entries[0].region)));
    }

    #[test]
    fn a_case_with_two_labels_is_in_both_label_cells() {
        let rows = vec![
            row(1, "History", "open", 0b11),
            row(2, "History", "open", 0),
        ];
        let t = compute(&rows, &Region::default(), &[Dimension::Label], 0);
        let labels: Vec<&str> = t.keys[1..].iter().map(|k| k[0].1.as_str()).collect();
        assert_eq!(labels, vec!["MENTAL_HEALTH", "NONE", "PHYSICAL_HEALTH"]);
        let filtered = Region {
            labels: Some(BTreeSet::from(["MENTAL_HEALTH".to_owned()])),
            ..Region::default()
        };
        let t = compute(&rows, &filtered, &[Dimension::Label], 0);
        assert_eq!(t.entries.len(), 2, "only the filtered label's cell");
        assert_eq!(t.entries[0].students, 1);
    }
}
