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
