//! Relay's `Node` interface and `node(id:)` / `nodes(ids:)`, for front-end
//! caches that refetch any record by its id.
//!
//! Ids are the records' UUIDs (already unique across every type), so
//! `node(id: student.id)` is the same record as `student(id:)`. A node is
//! looked up through the same context functions, service queries and policy
//! decisions as the type's own root query (`student(id:)`, `supportCase(id:)`),
//! and its fields are the type's own resolvers, each deciding through the
//! record's mask: the answer does not depend on the path it was reached by
//! (no field relies on an async-graphql guard, which an interface would skip:
//! async-graphql issue 1826). An id of a record the caller cannot see answers
//! `null`, exactly as a missing one.

use super::request_context;
use super::student::StudentNode;
use super::support_case::CaseNode;
use crate::error::AppError;
use crate::policy::Action;
use async_graphql::{Context, Interface, Object, ID};

/// An object with an id that `node(id:)` refetches (Relay).
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    Student(StudentNode),
    SupportCase(CaseNode),
}

#[derive(Default)]
pub struct NodeQuery;

/// The types `node` resolves, in the order an id is tried, each with the
/// route of its own root query.
const TYPES: [Action; 2] = [Action::ListStudents, Action::ListCases];

async fn resolve(ctx: &Context<'_>, id: &ID) -> async_graphql::Result<Option<Node>> {
    let rc = request_context(ctx)?;
    // A caller whose role reaches no Node type is refused, as by the types'
    // own root queries; otherwise only the types the caller may route to
    // are tried, so an unreachable type answers like a missing record.
    let routes: Vec<Action> = TYPES.into_iter().filter(|a| rc.route(*a).is_ok()).collect();
    if routes.is_empty() {
        rc.route(Action::ListStudents)?;
    }
    let Ok(uuid) = uuid::Uuid::parse_str(id) else {
        return Ok(None);
    };
    for route in routes {
        let found = match route {
            Action::ListStudents => rc.student(uuid).await?.map(|r| Node::Student(r.into())),
            Action::ListCases => rc.case(uuid).await?.map(|r| Node::SupportCase(r.into())),
            _ => None,
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

#[Object]
impl NodeQuery {
    /// Relay: the record with this id (a Student or a SupportCase), or null if
    /// it does not exist or is not visible to you (the same answer). Decided as
    /// the type's own query (`student`, `supportCase`) decides it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        resolve(ctx, &id).await
    }

    /// Relay: the records with these ids, in order, each as `node` answers it
    /// (null where missing or not visible). At most 20 ids.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Option<Vec<Option<Node>>>> {
        let bound = request_context(ctx)?.limits.cost.list_bound;
        if ids.len() as u64 > bound {
            return Err(AppError::bad_input("ids", format!("at most {bound} ids")).into());
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            out.push(resolve(ctx, id).await?);
        }
        Ok(Some(out))
    }
}
