//! Plain async service functions over a connection. Reads take the row scope and
//! readable-row conditions the policy computed; writes ask the policy before any
//! side effect and run in one transaction.

pub mod access;
pub mod audit;
pub mod cases;
pub mod changes;
pub mod consents;
pub mod destruction;
pub mod directory;
pub mod emergency;
pub mod emergency_access;
pub mod erasure;
pub mod lawful_bases;
pub mod legal;
pub mod legal_holds;
pub mod notes;
pub mod operations;
pub mod partner_feed;
pub mod restrictions;
pub mod retention;
pub mod risk_exceptions;
pub mod rows;
pub mod sar;
pub mod sar_export;
pub mod staff;
pub mod students;

use crate::policy::facts::RowScope;
use sea_orm::{Condition, QueryFilter};

/// Applies a row scope to a query; `None` when the scope admits no rows.
pub fn scoped<Q: QueryFilter>(query: Q, scope: &RowScope) -> Option<Q> {
    match scope {
        RowScope::All => Some(query),
        RowScope::Condition(c) => Some(query.filter(c.clone())),
        RowScope::Nothing => None,
    }
}

/// `predicate`, evaluated only on rows where the underlying value is readable.
pub fn masked(predicate: Condition, readable: &RowScope) -> Condition {
    match readable {
        RowScope::All => predicate,
        RowScope::Condition(c) => Condition::all().add(predicate).add(c.clone()),
        RowScope::Nothing => Condition::any(),
    }
}

/// Escapes LIKE wildcards in user text and wraps it for a substring match.
pub fn contains_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Offset and limit of one page.
#[derive(Copy, Clone, Debug)]
pub struct Page {
    pub offset: u64,
    pub limit: u64,
}

/// How a page's limit goes into its statement.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PagePlan {
    /// Written into the text as a number, so PostgreSQL can keep one generic
    /// plan for the statement (a first page has one statement per page size).
    Reused,
    /// Bound, so PostgreSQL plans each execution for the values bound: for a
    /// filter whose best plan depends on a value's selectivity (a range of
    /// dates), where a generic plan would assume a third of the rows.
    PerRequest,
}

/// The rows of one page of a list query, in the selector's order.
///
/// sea-query binds both limit and offset; with the limit a bound value
/// PostgreSQL cannot cost a plan made for any limit (it assumes a tenth of
/// the rows), so it planned the dashboard's page of cases again on every
/// request: a quarter of a millisecond of its CPU, against a third of a
/// millisecond to run it (BENCHMARKS.md run 25). With [`PagePlan::Reused`] the
/// limit is a number in the text and the offset is added (bound) only past
/// the first page, so PostgreSQL keeps a generic plan once its first few
/// executions show it costs no more than planning each one.
pub async fn page_rows<S: sea_orm::SelectorTrait>(
    db: &impl sea_orm::ConnectionTrait,
    selector: sea_orm::Selector<S>,
    page: Page,
    plan: PagePlan,
) -> crate::error::AppResult<Vec<S::Item>> {
    use std::fmt::Write;
    let backend = db.get_database_backend();
    let mut statement = selector.into_statement(backend);
    // sqlx prepares (and keeps) only a statement with bound values; one with
    // none would be parsed and planned on every execution: bound, as before.
    let plan = match &statement.values {
        Some(values) if !values.0.is_empty() => plan,
        _ => PagePlan::PerRequest,
    };
    let values = &mut statement
        .values
        .get_or_insert_with(|| sea_orm::Values(Vec::new()))
        .0;
    let mut bind = |sql: &mut String, keyword: &str, value: u64| {
        values.push(value.into());
        let _ = match backend {
            sea_orm::DbBackend::Postgres => write!(sql, " {keyword} ${}", values.len()),
            _ => write!(sql, " {keyword} ?"),
        };
    };
    match plan {
        // A number only: nothing from the request is written into the text.
        PagePlan::Reused => {
            let _ = write!(statement.sql, " LIMIT {}", page.limit);
        }
        PagePlan::PerRequest => bind(&mut statement.sql, "LIMIT", page.limit),
    }
    if page.offset > 0 || plan == PagePlan::PerRequest {
        bind(&mut statement.sql, "OFFSET", page.offset);
    }
    let rows = db.query_all_raw(statement).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(S::from_raw_query_result(row)?);
    }
    Ok(items)
}
