//! The cost of a request, computed before anything is executed (and before
//! async-graphql's own validation, which expands fragment spreads without
//! memoising them): a linear walk of the parsed document in which each
//! fragment is costed once, a list or connection field multiplies the cost of
//! everything under it by its page size or list bound, and nested lists
//! multiply. A request over the limits is refused with `QUERY_TOO_COSTLY`,
//! naming the computed cost and the limit, having cost the server a parse.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Value, Variables};
use std::collections::HashMap;

/// The limits (settings; see the README).
#[derive(Copy, Clone, Debug)]
pub struct CostLimits {
    /// Longest query text, in bytes (checked before it is parsed).
    pub max_query_bytes: usize,
    /// Largest estimated number of fields resolved (nodes) for one request.
    pub max_cost: u64,
    /// Most fragment definitions in one document.
    pub max_fragments: usize,
    /// Most fragment spreads (`...F`) written in one document.
    pub max_spreads: usize,
    /// Most aliased fields in one document.
    pub max_aliases: usize,
    /// Most substring searches over notes (`noteContains`) in one request.
    pub max_note_searches: usize,
    /// The list bound assumed for a nested list without a page size (a
    /// student's cases, a case's third-party entries, ...).
    pub list_bound: u64,
    /// Largest `first` of a connection (its default is 20).
    pub max_page_size: u64,
}

impl Default for CostLimits {
    fn default() -> Self {
        CostLimits {
            max_query_bytes: 32 * 1024,
            max_cost: 50_000,
            max_fragments: 50,
            max_spreads: 200,
            max_aliases: 100,
            max_note_searches: 2,
            list_bound: 20,
            max_page_size: 100,
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooCostly {
    pub what: &'static str,
    pub cost: u64,
    pub limit: u64,
}

/// Connections: their page size (`first`, default 20) multiplies their subtree.
const CONNECTIONS: &[&str] = &["students", "supportCases", "partnerFeed"];

/// Lists with a `limit` argument (default 100).
const LIMITED_LISTS: &[(&str, u64)] = &[("notes", 100)];

/// Root fields that scan the whole population (statistics, the research
/// extract, the monitoring view): each costs this much by itself, so that one request cannot
/// ask for many of them under aliases.
const POPULATION_SCANS: &[(&str, u64)] = &[
    ("statistics", 10_000),
    ("caseStatistics", 10_000),
    ("researchExtract", 10_000),
    ("monitoring", 10_000),
];

/// Lists of records without a page size: bounded by `list_bound`.
const LISTS: &[&str] = &[
    "cases",
    "enrolments",
    "consents",
    "riskExceptions",
    "thirdPartyEntries",
    "myDisclosures",
    "myAccessLog",
    "auditEvents",
    "lawfulBases",
    "legalAuthorities",
    "restrictions",
    "changeHistory",
    "emergencyDisclosures",
    "concernNotices",
    "emergencyReviews",
    "emergencyAccessReviews",
    "caseStatistics",
    "cells",
    "margins",
    "recipients",
    "retentionDue",
    "registeredOperations",
    "myErasureRequests",
    "erasureRequests",
    "subjectAccessRequests",
    "mySubjectAccessRequests",
    "seriousHarmReviews",
    "rows",
    "waitingTimes",
    "services",
    "caseload",
    "edges",
    // Relay: at most `list_bound` ids.
    "nodes",
];

struct Walk<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    limits: CostLimits,
    /// Cost of each fragment's selection set, computed once.
    fragments: HashMap<Name, u64>,
    /// Fragments being costed (a cycle is refused, as the spec forbids it).
    visiting: Vec<Name>,
}

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

impl Walk<'_> {
    fn argument(&self, field: &async_graphql::parser::types::Field, name: &str) -> Option<u64> {
        let (_, value) = field.arguments.iter().find(|(n, _)| n.node == name)?;
        match &value.node {
            async_graphql_value::Value::Variable(var) => self.variables.get(var).and_then(number),
            async_graphql_value::Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// How many times a field's subtree is resolved per resolution of the field.
    fn multiplier(&self, field: &async_graphql::parser::types::Field) -> u64 {
        let name = field.name.node.as_str();
        if CONNECTIONS.contains(&name) {
            // `edges` is then one list of `first` nodes.
            return 1;
        }
        if let Some((_, default)) = LIMITED_LISTS.iter().find(|(n, _)| *n == name) {
            return self.argument(field, "limit").unwrap_or(*default).max(1);
        }
        if LISTS.contains(&name) {
            return self.limits.list_bound;
        }
        1
    }

    /// `edges` of a connection: its page size.
    fn edges_bound(&self, connection: &async_graphql::parser::types::Field) -> u64 {
        self.argument(connection, "first")
            .unwrap_or(20)
            .clamp(1, self.limits.max_page_size)
    }

    fn selection_set(&mut self, set: &SelectionSet, page: Option<u64>) -> Result<u64, TooCostly> {
        let mut total: u64 = 0;
        for item in &set.items {
            let cost = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let inner_page = CONNECTIONS
                        .contains(&field.name.node.as_str())
                        .then(|| self.edges_bound(field));
                    let mut multiplier = self.multiplier(field);
                    if field.name.node == "edges" {
                        multiplier = page.unwrap_or(self.limits.list_bound);
                    }
                    let children = self.selection_set(&field.selection_set.node, inner_page)?;
                    let own = POPULATION_SCANS
                        .iter()
                        .find(|(n, _)| *n == field.name.node.as_str())
                        .map_or(1, |(_, weight)| *weight);
                    own.saturating_add(multiplier.saturating_mul(children))
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    self.fragment(name)?
                }
                Selection::InlineFragment(inline) => {
                    self.selection_set(&inline.node.selection_set.node, page)?
                }
            };
            total = total.saturating_add(cost);
            if total > self.limits.max_cost {
                return Err(TooCostly {
                    what: "cost",
                    cost: total,
                    limit: self.limits.max_cost,
                });
            }
        }
        Ok(total)
    }

    /// A fragment's cost, computed once. An enclosing connection's page matters
    /// only to `edges` written directly in the fragment; costing those with the
    /// largest page keeps the memo an upper bound for every use.
    fn fragment(&mut self, name: &Name) -> Result<u64, TooCostly> {
        if let Some(cost) = self.fragments.get(name) {
            return Ok(*cost);
        }
        if self.visiting.contains(name) {
            return Err(TooCostly {
                what: "fragment cycle",
                cost: 0,
                limit: 0,
            });
        }
        let Some(definition) = self.doc.fragments.get(name) else {
            // Unknown fragment: validation reports it.
            return Ok(0);
        };
        self.visiting.push(name.clone());
        let cost = self.selection_set(
            &definition.node.selection_set.node,
            Some(self.limits.max_page_size),
        );
        self.visiting.pop();
        let cost = cost?;
        self.fragments.insert(name.clone(), cost);
        Ok(cost)
    }
}

/// Counts written spreads and aliases and `noteContains` arguments.
fn count(set: &SelectionSet, spreads: &mut usize, aliases: &mut usize) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                if field.node.alias.is_some() {
                    *aliases += 1;
                }
                count(&field.node.selection_set.node, spreads, aliases);
            }
            Selection::FragmentSpread(_) => *spreads += 1,
            Selection::InlineFragment(inline) => {
                count(&inline.node.selection_set.node, spreads, aliases)
            }
        }
    }
}

fn operation<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Refuses a query text over the size limit, before it is parsed.
pub fn check_size(query: &str, limits: CostLimits) -> Result<(), TooCostly> {
    if query.len() > limits.max_query_bytes {
        return Err(TooCostly {
            what: "query bytes",
            cost: query.len() as u64,
            limit: limits.max_query_bytes as u64,
        });
    }
    Ok(())
}

/// The cost of the operation `operation_name` of `doc`, or why it is refused.
/// `text` is the request's query and variables as sent (for counting
/// substring searches wherever they are written).
pub fn check(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    searches: usize,
    limits: CostLimits,
) -> Result<u64, TooCostly> {
    let refuse = |what, cost: usize, limit: usize| TooCostly {
        what,
        cost: cost as u64,
        limit: limit as u64,
    };
    if doc.fragments.len() > limits.max_fragments {
        return Err(refuse(
            "fragments",
            doc.fragments.len(),
            limits.max_fragments,
        ));
    }
    let (mut spreads, mut aliases) = (0, 0);
    for op in doc.operations.iter() {
        count(&op.1.node.selection_set.node, &mut spreads, &mut aliases);
    }
    for fragment in doc.fragments.values() {
        count(
            &fragment.node.selection_set.node,
            &mut spreads,
            &mut aliases,
        );
    }
    if spreads > limits.max_spreads {
        return Err(refuse("fragment spreads", spreads, limits.max_spreads));
    }
    if aliases > limits.max_aliases {
        return Err(refuse("aliases", aliases, limits.max_aliases));
    }
    if searches > limits.max_note_searches {
        return Err(refuse(
            "noteContains searches",
            searches,
            limits.max_note_searches,
        ));
    }
    let Some(op) = operation(doc, operation_name) else {
        // No such operation: execution reports it.
        return Ok(0);
    };
    let mut walk = Walk {
        doc,
        variables,
        limits,
        fragments: HashMap::new(),
        visiting: Vec::new(),
    };
    walk.selection_set(&op.selection_set.node, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost_of(query: &str) -> Result<u64, TooCostly> {
        cost_with(query, CostLimits::default())
    }

    fn cost_with(query: &str, limits: CostLimits) -> Result<u64, TooCostly> {
        let doc = async_graphql::parser::parse_query(query).expect("parses");
        let searches = query.matches("noteContains").count();
        check(&doc, None, &Variables::default(), searches, limits)
    }

    #[test]
    fn a_page_multiplies_its_subtree_and_nested_lists_multiply() {
        let one = cost_of("{ supportCases(first: 1) { edges { node { id service } } } }").unwrap();
        let fifty =
            cost_of("{ supportCases(first: 50) { edges { node { id service } } } }").unwrap();
        assert!(fifty > 40 * one / 2, "{one} {fifty}");
        // student.cases.student.cases...: each level multiplies.
        let nested = cost_of(
            "{ supportCases(first: 100) { edges { node { student { cases { student { cases { student { cases { id } } } } } } } } } }",
        );
        assert_eq!(nested.map_err(|e| e.what), Err("cost"));
    }

    #[test]
    fn a_fragment_spread_bomb_is_refused_by_its_cost_in_linear_time() {
        // Each level spreads the previous one twice: 2^30 fields when expanded.
        let mut query = String::from("query { me { ...F30 } }\nfragment F0 on Me { id }\n");
        for i in 1..=30 {
            query.push_str(&format!(
                "fragment F{i} on Me {{ ...F{p} ...F{p} }}\n",
                p = i - 1
            ));
        }
        let limits = CostLimits {
            max_fragments: 100,
            ..CostLimits::default()
        };
        let refused = cost_with(&query, limits).unwrap_err();
        assert_eq!(refused.what, "cost");
        assert!(refused.cost > refused.limit);
        assert!(cost_of(&query).is_err());
        // Sixty fragments are refused for their number alone.
        let many: String = (0..60)
            .map(|i| format!("fragment G{i} on Me {{ id }}\n"))
            .collect();
        assert_eq!(
            cost_of(&format!("{{ me {{ id }} }}\n{many}"))
                .unwrap_err()
                .what,
            "fragments"
        );
    }

    #[test]
    fn aliases_and_note_searches_are_capped() {
        let aliases: String = (0..101).map(|i| format!("a{i}: me {{ id }} ")).collect();
        assert_eq!(
            cost_of(&format!("{{ {aliases} }}")).unwrap_err().what,
            "aliases"
        );
        let searches: String = (0..3)
            .map(|i| {
                format!(
                    "s{i}: supportCases(filter: {{ noteContains: \"x{i}\" }}) {{ totalCount }} "
                )
            })
            .collect();
        assert_eq!(
            cost_of(&format!("{{ {searches} }}")).unwrap_err().what,
            "noteContains searches"
        );
    }

    #[test]
    fn the_dashboard_fits_well_within_the_default_limit() {
        let dashboard = r#"{ supportCases(first: 100, filter: { service: "counselling" }) { edges { node {
            id service status openedAt summary adjustments riskLevel
            student { id name studentNumber email department enrolments { startsOn endsOn } }
            assignedTo { name }
            notes(limit: 3) { occurredAt body labels author { name } }
            thirdPartyEntries { source body }
        } } } }"#;
        let cost = cost_of(dashboard).unwrap();
        assert!(cost < CostLimits::default().max_cost / 2, "{cost}");
    }
}
