//! A typed client example for front-end teams: the operations in
//! `queries/dashboard.graphql` are checked against Confide's generated
//! `schema.graphql` when this crate compiles, and their request and response
//! types are generated from them (graphql_client, a standard generator). A
//! schema change that breaks a dashboard's operations fails the build, and so
//! CI. The integration tests send these operations to a real server and decode
//! its answers with these types (`tests/api/relay.rs`).
//!
//! Fields the policy may withhold are nullable in the schema, so they are
//! `Option`s here: a client must handle a redaction (`null`, with the reason in
//! `extensions.redactions`) and a denial (`null`, with a FORBIDDEN error).

pub use graphql_client::{GraphQLQuery, QueryBody, Response};

/// Scalar `DateTime`: RFC 3339 text.
pub type DateTime = String;

/// The staff dashboard: who I am, and my latest cases.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "queries/dashboard.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct Dashboard;

/// Refetch any record by its id through Relay's `node`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "queries/dashboard.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct Refetch;

/// The request body of the dashboard query, ready to POST to `/graphql`.
pub fn dashboard_request(first: i64) -> QueryBody<dashboard::Variables> {
    Dashboard::build_query(dashboard::Variables { first })
}

/// The request body of a refetch by id.
pub fn refetch_request(id: &str) -> QueryBody<refetch::Variables> {
    Refetch::build_query(refetch::Variables { id: id.to_owned() })
}
