//! Statistics that cannot identify a student: counts of students and cases,
//! grouped and filtered by the caller, under disclosure control before they
//! leave the server, remembered per caller so that two queries cannot be
//! differenced, and audited. The method and its limits: `docs/statistics.md`.

pub mod ledger;
pub mod population;
pub mod protect;
pub mod region;
pub mod table;

use crate::domain::{text_enum, CaseStatus, RiskLevel, Role, SensitivityLabel};
use crate::error::{AppError, AppResult};
use crate::policy::{Action, Decisions, Relation};
use crate::service::audit::{self, Event};
use population::PopulationCache;
use protect::{Method, Rules};
use region::{intersect_intervals, merge_intervals, Region};
use sea_orm::ConnectionTrait;
use std::collections::BTreeSet;
use table::Key;
use uuid::Uuid;

text_enum!(
    /// What a statistic can be grouped or filtered by.
    StatisticDimension {
        Service => "SERVICE",
        Status => "STATUS",
        Department => "DEPARTMENT",
        /// The calendar month a case was opened in ("2025-10").
        MonthOpened => "MONTH_OPENED",
        /// The academic year (1 August to 31 July) a case was opened in ("2025/26").
        AcademicYearOpened => "ACADEMIC_YEAR_OPENED",
        /// How long a case has been (or was) open.
        DurationBand => "DURATION_BAND",
        RiskLevel => "RISK_LEVEL",
        /// A sensitivity label on one of the case's notes (`NONE`: no label). A
        /// case with two labels counts under both.
        Label => "LABEL",
    }
);

pub use StatisticDimension as Dimension;

text_enum!(
    /// What a statistic counts.
    StatisticMeasure {
        /// Distinct students with at least one case in the cell.
        Students => "STUDENTS",
        /// Cases.
        Cases => "CASES",
    }
);

pub use StatisticMeasure as Measure;

text_enum!(
    /// How long a case has been open (to its closing, or to now).
    DurationBand {
        UnderOneMonth => "UNDER_1_MONTH",
        OneToThreeMonths => "1_TO_3_MONTHS",
        ThreeToSixMonths => "3_TO_6_MONTHS",
        SixToTwelveMonths => "6_TO_12_MONTHS",
        OverTwelveMonths => "OVER_12_MONTHS",
    }
);

text_enum!(
    /// How figures are protected before they leave the server.
    DisclosureMethod {
        /// Small figures, and the figures they could be recovered from, are
        /// suppressed (the default).
        Suppression => "suppress",
        /// Every figure is rounded to a base (as HESA publishes).
        Rounding => "round",
    }
);

/// Disclosure control settings.
#[derive(Clone, Debug)]
pub struct StatisticsLimits {
    /// Figures about fewer distinct students than this are never released.
    pub threshold: i64,
    pub method: DisclosureMethod,
    pub rounding_base: i64,
    /// How far back the release ledger is compared (days).
    pub ledger_days: i64,
    /// Most cells one table may have.
    pub max_cells: usize,
}

impl Default for StatisticsLimits {
    fn default() -> Self {
        StatisticsLimits {
            threshold: 5,
            method: DisclosureMethod::Suppression,
            rounding_base: 5,
            ledger_days: 365,
            max_cells: 2_000,
        }
    }
}

impl StatisticsLimits {
    /// The protection rules these settings configure.
    pub fn rules(&self) -> Rules {
        Rules {
            threshold: self.threshold,
            method: match self.method {
                DisclosureMethod::Suppression => Method::Suppress,
                DisclosureMethod::Rounding => Method::Round {
                    base: self.rounding_base,
                },
            },
        }
    }
}

/// Filters of a statistics query; each list allows any of its values, and a
/// filter left out allows every value. A service lead's figures are always
/// their own service's.
#[derive(Clone, Debug, Default, async_graphql::InputObject)]
#[graphql(name = "StatisticsFilter")]
pub struct Filter {
    pub services: Option<Vec<String>>,
    pub statuses: Option<Vec<CaseStatus>>,
    pub departments: Option<Vec<String>>,
    /// First month opened ("2025-09").
    pub opened_from: Option<String>,
    /// Last month opened ("2026-06").
    pub opened_to: Option<String>,
    /// Academic years opened ("2025/26").
    pub academic_years: Option<Vec<String>>,
    pub duration_bands: Option<Vec<DurationBand>>,
    pub risk_levels: Option<Vec<RiskLevel>>,
    /// Sensitivity labels (`MENTAL_HEALTH`, ...), or `NONE` for cases without any.
    pub labels: Option<Vec<String>>,
}

/// A statistics query, as the caller asked it.
#[derive(Clone, Debug)]
pub struct Query {
    pub measure: Measure,
    pub group_by: Vec<Dimension>,
    pub filter: Filter,
}

/// Most dimensions one table is grouped by.
pub const MAX_DIMENSIONS: usize = 4;

/// One figure of a released table.
#[derive(Clone, Debug)]
pub struct Figure {
    pub key: Key,
    /// `None`: suppressed.
    pub count: Option<i64>,
}

/// A protected table: what leaves the server.
#[derive(Clone, Debug)]
pub struct Table {
    pub release_id: Uuid,
    pub measure: Measure,
    pub group_by: Vec<Dimension>,
    pub method: DisclosureMethod,
    pub threshold: i64,
    pub rounding_base: Option<i64>,
    pub cells: Vec<Figure>,
    pub margins: Vec<Figure>,
    pub total: Figure,
}

impl crate::policy::Record for Table {
    fn record_id(&self) -> Uuid {
        self.release_id
    }
}

impl crate::policy::Record for Figure {
    /// A figure has no id of its own.
    fn record_id(&self) -> Uuid {
        Uuid::nil()
    }
}

fn set<T>(
    field: &str,
    values: &Option<Vec<T>>,
    text: impl Fn(&T) -> AppResult<String>,
) -> AppResult<Option<BTreeSet<String>>> {
    match values {
        None => Ok(None),
        Some(v) if v.is_empty() => Err(AppError::bad_input(
            field,
            "is empty (leave it out to allow every value)",
        )),
        Some(v) if v.len() > 200 => Err(AppError::bad_input(field, "names more than 200 values")),
        Some(v) => Ok(Some(v.iter().map(text).collect::<AppResult<_>>()?)),
    }
}

/// The region a filter allows (input parsed into the domain at the edge).
pub fn base_region(filter: &Filter) -> AppResult<Region> {
    let plain = |s: &String| Ok(s.trim().to_owned());
    let label = |s: &String| {
        let s = s.trim();
        if s == table::NO_LABEL || SensitivityLabel::parse(s).is_some() {
            Ok(s.to_owned())
        } else {
            Err(AppError::bad_input(
                "filter.labels",
                "names an unknown sensitivity label",
            ))
        }
    };
    let month = |field: &str, v: &Option<String>| {
        v.as_deref()
            .map(|t| {
                table::parse_month(t.trim())
                    .ok_or_else(|| AppError::bad_input(field, "is not a month (YYYY-MM)"))
            })
            .transpose()
    };
    let from = month("filter.openedFrom", &filter.opened_from)?;
    let to = month("filter.openedTo", &filter.opened_to)?;
    let mut months: Option<Vec<(i32, i32)>> = match (from, to) {
        (None, None) => None,
        (f, t) => Some(vec![(f.unwrap_or(0), t.unwrap_or(i32::MAX / 2))]),
    };
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(AppError::bad_input(
                "filter.openedFrom",
                "is after openedTo",
            ));
        }
    }
    if let Some(years) = &filter.academic_years {
        if years.is_empty() {
            return Err(AppError::bad_input(
                "filter.academicYears",
                "is empty (leave it out to allow every value)",
            ));
        }
        let ranges = years
            .iter()
            .map(|y| {
                table::parse_academic_year(y.trim())
                    .map(table::academic_year_months)
                    .ok_or_else(|| {
                        AppError::bad_input(
                            "filter.academicYears",
                            "is not an academic year (2025/26)",
                        )
                    })
            })
            .collect::<AppResult<Vec<_>>>()?;
        let ranges = merge_intervals(ranges);
        months = Some(match months {
            Some(m) => intersect_intervals(&m, &ranges),
            None => ranges,
        });
    }
    Ok(Region {
        service: set("filter.services", &filter.services, plain)?,
        status: set("filter.statuses", &filter.statuses, |s| {
            Ok(s.as_str().to_owned())
        })?,
        department: set("filter.departments", &filter.departments, plain)?,
        months,
        duration: set("filter.durationBands", &filter.duration_bands, |s| {
            Ok(s.as_str().to_owned())
        })?,
        risk: set("filter.riskLevels", &filter.risk_levels, |s| {
            Ok(s.as_str().to_owned())
        })?,
        labels: set("filter.labels", &filter.labels, label)?,
    })
}

/// Whose figures the caller may have: the university's, or (a service lead)
/// their own service's. Decided by the policy (`read_statistics` under `any`
/// or `own`); a service lead naming another service is refused (FORBIDDEN).
fn scope(decisions: &Decisions, region: &mut Region) -> AppResult<Relation> {
    let caller = decisions.caller();
    let relation = match (caller.role, caller.service.as_deref()) {
        (Role::ServiceLead, Some(own)) => {
            let other = region
                .service
                .as_ref()
                .is_some_and(|s| s.iter().any(|v| v != own));
            region.service = Some(BTreeSet::from([own.to_owned()]));
            if other {
                Relation::Other
            } else {
                Relation::Own
            }
        }
        (Role::ServiceLead, None) => Relation::Other,
        _ => Relation::Any,
    };
    decisions.authorize(Action::ReadStatistics, relation)?;
    Ok(relation)
}

/// Runs a statistics query: authorises it, computes the table, protects it
/// against this caller's earlier releases, records what was released in the
/// ledger and the audit trail. Must run in a write transaction (the ledger is
/// read and extended under the caller's row lock).
pub async fn run(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    limits: &StatisticsLimits,
    population: &PopulationCache,
    query: Query,
) -> AppResult<(Table, Relation)> {
    let mut base = base_region(&query.filter)?;
    let relation = scope(decisions, &mut base)?;
    let mut dims: Vec<Dimension> = Vec::new();
    for d in &query.group_by {
        if dims.contains(d) {
            return Err(AppError::bad_input("groupBy", "names a dimension twice"));
        }
        dims.push(*d);
    }
    if dims.len() > MAX_DIMENSIONS {
        return Err(AppError::bad_input(
            "groupBy",
            "names more than 4 dimensions",
        ));
    }
    let caller = decisions.caller();
    let now = decisions.now();
    // The caller's releases are read and extended one query at a time.
    let started = std::time::Instant::now();
    ledger::lock(db, caller.id).await?;
    let since = now - chrono::Duration::days(limits.ledger_days);
    let priors = ledger::load(db, caller.id, since).await?;
    let loaded = started.elapsed();
    let (rows, source) = population.rows(db).await?;
    let fetched = started.elapsed();
    let computed = table::compute(&rows, &base, &dims, now.timestamp());
    if computed.entries.len() > limits.max_cells {
        return Err(AppError::bad_input(
            "groupBy",
            "makes a table of more cells than allowed: add filters or group by fewer dimensions",
        ));
    }
    let shown = protect::protect(
        &computed.entries,
        &computed.relations,
        query.measure,
        &priors,
        limits.rules(),
    );
    let protected = started.elapsed();
    let release_id = Uuid::now_v7();
    ledger::record(
        db,
        decisions,
        release_id,
        query.measure,
        &computed,
        &shown,
        now,
    )
    .await?;
    tracing::debug!(
        priors = priors.len(),
        rows = rows.len(),
        population = ?source,
        ledger_ms = loaded.as_secs_f64() * 1e3,
        fetch_ms = (fetched - loaded).as_secs_f64() * 1e3,
        compute_ms = (protected - fetched).as_secs_f64() * 1e3,
        record_ms = (started.elapsed() - protected).as_secs_f64() * 1e3,
        "statistics query"
    );
    let released = shown.iter().filter(|s| s.is_some()).count();
    let suppressed = shown.len() - released;
    audit::write(
        db,
        caller,
        decisions.origin(),
        vec![Event {
            student_id: None,
            action: "statistics",
            fields: vec![crate::policy::FieldClass::Statistics.as_str().to_owned()],
            outcome: "allow",
            basis: Some(format!("role:{}", caller.role.as_str())),
            detail: Some(
                serde_json::json!({
                    "release": release_id,
                    "measure": query.measure.as_str(),
                    "groupBy": dims.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
                    "region": base,
                    "released": released,
                    "suppressed": suppressed,
                    "method": limits.method.as_str(),
                    "threshold": limits.threshold,
                })
                .to_string(),
            ),
        }],
    )
    .await?;

    let mut figures = computed
        .keys
        .into_iter()
        .zip(shown)
        .zip(computed.entries.iter().map(|e| e.kind));
    let total = match figures.next() {
        Some(((key, count), _)) => Figure { key, count },
        None => return Err(AppError::internal("statistics", "a table without a total")),
    };
    let (mut cells, mut margins) = (Vec::new(), Vec::new());
    for ((key, count), kind) in figures {
        match kind {
            protect::Kind::Margin => margins.push(Figure { key, count }),
            _ => cells.push(Figure { key, count }),
        }
    }
    Ok((
        Table {
            release_id,
            measure: query.measure,
            group_by: dims,
            method: limits.method,
            threshold: limits.threshold,
            rounding_base: (limits.method == DisclosureMethod::Rounding)
                .then_some(limits.rounding_base),
            cells,
            margins,
            total,
        },
        relation,
    ))
}
