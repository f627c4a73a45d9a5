//! The staff directory as other records show it (a note's author, a case's assignee).

use super::pagination::id;
use super::reveal;
use crate::domain::Role;
use crate::policy::{FieldClass, Guarded};
use async_graphql::{Context, Object, ID};
use entity::staff;

/// A member of staff as part of another record: a case's assignee (its fields
/// are SUPPORT_SUMMARY of the case) or a note's author (CASE_NOTES of the note).
pub struct StaffMemberNode {
    record: Guarded<staff::Model>,
    class: FieldClass,
}

impl StaffMemberNode {
    pub fn new(record: Guarded<staff::Model>, class: FieldClass) -> Self {
        StaffMemberNode { record, class }
    }
}

/// A member of staff, as part of the record that names them: every field but
/// the id is in the category of the field that reached it (SUPPORT_SUMMARY for
/// `SupportCase.assignedTo`, CASE_NOTES for `Note.author`).
#[Object(name = "StaffMember")]
impl StaffMemberNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }

    /// Category of the field that reached it (SUPPORT_SUMMARY or CASE_NOTES).
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, self.class, |m| Some(m.name.as_str()))
    }

    /// Category of the field that reached it (SUPPORT_SUMMARY or CASE_NOTES).
    async fn role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Role>> {
        reveal(ctx, &self.record, self.class, |m| Role::parse(&m.role))
    }

    /// Category of the field that reached it (SUPPORT_SUMMARY or CASE_NOTES). Their service.
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, self.class, |m| m.service.as_deref())
    }
}
