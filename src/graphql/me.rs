//! `me`: the caller's own account.

use super::pagination::id;
use super::{request_context, reveal};
use crate::auth::Caller;
use crate::domain::Role;
use crate::policy::{FieldClass, Guarded};
use async_graphql::{Context, Object, ID};

pub struct MeNode {
    record: Guarded<Caller>,
}

/// The authenticated caller. Every field but the id is category CALLER.
#[Object(name = "Me")]
impl MeNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }

    /// Category CALLER.
    async fn role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Role>> {
        reveal(ctx, &self.record, FieldClass::Caller, |m| Some(m.role))
    }

    /// Category CALLER.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Caller, |m| {
            Some(m.name.as_str())
        })
    }

    /// Category CALLER.
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Caller, |m| {
            m.service.as_deref()
        })
    }

    /// Category CALLER.
    async fn department(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Caller, |m| {
            m.department.as_deref()
        })
    }

    /// Category CALLER.
    async fn university_unit(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Caller, |m| m.unit.as_deref())
    }

    /// Category CALLER.
    async fn registered_mental_health_professional(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.record, FieldClass::Caller, |m| {
            Some(m.registered_mhp)
        })
    }
}

#[derive(Default)]
pub struct MeQuery;

#[Object]
impl MeQuery {
    /// Who the API thinks you are.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<MeNode>> {
        let rc = request_context(ctx)?;
        Ok(Some(MeNode { record: rc.me() }))
    }
}
