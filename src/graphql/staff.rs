//! The staff directory as other records show it (a note's author, a case's assignee).

use super::pagination::id;
use super::reveal;
use crate::domain::Role;
use crate::policy::{FieldClass, Guarded};
use async_graphql::{Context, Object, ID};
use entity::staff;

pub struct StaffMemberNode {
    record: Guarded<staff::Model>,
}

impl From<Guarded<staff::Model>> for StaffMemberNode {
    fn from(record: Guarded<staff::Model>) -> Self {
        StaffMemberNode { record }
    }
}

/// A member of staff, as the staff directory shows them. Every field but the id
/// is category STAFF.
#[Object(name = "StaffMember")]
impl StaffMemberNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }

    /// Category STAFF.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Staff, |m| {
            Some(m.name.as_str())
        })
    }

    /// Category STAFF.
    async fn role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Role>> {
        reveal(ctx, &self.record, FieldClass::Staff, |m| {
            Role::parse(&m.role)
        })
    }

    /// Category STAFF. The Student Support service they work in.
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Staff, |m| {
            m.service.as_deref()
        })
    }
}
