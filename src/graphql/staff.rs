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

impl super::inline::InlineFields for StaffMemberNode {
    const INLINE: &'static [&'static str] = &["id", "name", "role", "service"];
}

#[derive(Default)]
pub struct StaffMutation;

#[async_graphql::Object]
impl StaffMutation {
    /// Records (or renews) a member of staff's professional registration: body,
    /// number, expiry (their service lead, or the DPO). A registered mental
    /// health professional is one whose registration has not lapsed; a lapsed
    /// one counts as none for proposing, confirming and reviewing. Answers
    /// `true` once stored with its audit record.
    async fn record_registration(
        &self,
        ctx: &Context<'_>,
        staff_id: ID,
        body: String,
        number: String,
        expires_on: chrono::NaiveDate,
    ) -> async_graphql::Result<Option<bool>> {
        use crate::domain;
        use crate::error::{AppError, AppResult};
        let rc = super::request_context(ctx)?;
        let writer = rc.writer(crate::policy::Action::RecordRegistration)?;
        let staff_id = domain::uuid("staffId", &staff_id)?;
        let registration = crate::service::staff::Registration {
            body: domain::required_text("body", &body, 100)?,
            number: domain::required_text("number", &number, 50)?,
            expires_on,
        };
        let stored: AppResult<()> = in_transaction!(writer, |txn| {
            crate::service::staff::record_registration(&txn, &rc.decisions, staff_id, registration)
                .await
        });
        stored?;
        Ok(Some(true))
    }
}
