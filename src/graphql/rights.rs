//! Data subject rights (issue 10): restriction of processing (item 4) and the
//! rectification history of a student's details (item 3).

use super::pagination::id;
use super::{request_context, reveal};
use crate::domain;
use crate::error::{AppError, AppResult};
use crate::policy::{Action, FieldClass, Guarded};
use crate::service;
use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{restriction, student_change};

pub struct RestrictionNode {
    record: Guarded<restriction::Model>,
}

impl From<Guarded<restriction::Model>> for RestrictionNode {
    fn from(record: Guarded<restriction::Model>) -> Self {
        RestrictionNode { record }
    }
}

/// A restriction of processing of a student's records. Every field but the id
/// is category RESTRICTIONS (the DPO; the student themself).
#[Object(name = "Restriction")]
impl RestrictionNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category RESTRICTIONS.
    async fn student_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::Restrictions, |m| {
            Some(id(m.student_id))
        })
    }
    /// Category RESTRICTIONS. Why processing is restricted.
    async fn reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Restrictions, |m| {
            Some(m.reason.as_str())
        })
    }
    /// Category RESTRICTIONS.
    async fn restricted_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::Restrictions, |m| {
            Some(m.restricted_at)
        })
    }
    /// Category RESTRICTIONS. When the student was notified.
    async fn student_notified_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::Restrictions, |m| {
            m.student_notified_at
        })
    }
    /// Category RESTRICTIONS. Whether it is in force (not lifted).
    async fn active(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.record, FieldClass::Restrictions, |m| {
            Some(m.lifted_at.is_none())
        })
    }
    /// Category RESTRICTIONS.
    async fn lifted_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::Restrictions, |m| m.lifted_at)
    }
    /// Category RESTRICTIONS. Why it was lifted.
    async fn lift_reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Restrictions, |m| {
            m.lift_reason.as_deref()
        })
    }
}

/// A recipient who received a field's previous value under a consent (from
/// the audit trail), to be notified of its rectification.
#[derive(SimpleObject)]
pub struct NotifyRecipient {
    /// The recipient's account id (a department, university service or partner).
    pub id: ID,
    /// The recipient's role (`department`, `university_service`, `partner`).
    pub role: String,
}

pub struct StudentChangeNode {
    record: Guarded<student_change::Model>,
    notify: Vec<NotifyRecipient>,
}

impl StudentChangeNode {
    pub fn new(record: Guarded<student_change::Model>, notify: Vec<NotifyRecipient>) -> Self {
        StudentChangeNode { record, notify }
    }
}

/// One field of a student's details changed by an update (rectification
/// history). Every field but the id is category CHANGE_HISTORY (the DPO; the
/// student themself).
#[Object(name = "StudentChange")]
impl StudentChangeNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category CHANGE_HISTORY. The field's name (e.g. `email`).
    async fn field(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ChangeHistory, |m| {
            Some(m.field.as_str())
        })
    }
    /// Category CHANGE_HISTORY. The field's data category (e.g. `CONTACT`).
    async fn category(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ChangeHistory, |m| {
            Some(m.category.as_str())
        })
    }
    /// Category CHANGE_HISTORY. The previous value (null: it was empty).
    async fn old_value(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ChangeHistory, |m| {
            m.old_value.as_deref()
        })
    }
    /// Category CHANGE_HISTORY. The new value (null: cleared).
    async fn new_value(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ChangeHistory, |m| {
            m.new_value.as_deref()
        })
    }
    /// Category CHANGE_HISTORY. Who changed it.
    async fn changed_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::ChangeHistory, |m| {
            Some(id(m.changed_by))
        })
    }
    /// Category CHANGE_HISTORY. The role they changed it in.
    async fn changed_by_role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ChangeHistory, |m| {
            Some(m.changed_by_role.as_str())
        })
    }
    /// Category CHANGE_HISTORY.
    async fn changed_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::ChangeHistory, |m| {
            Some(m.changed_at)
        })
    }
    /// Category CHANGE_HISTORY. Why it was changed.
    async fn reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ChangeHistory, |m| {
            m.reason.as_deref()
        })
    }
    /// Category CHANGE_HISTORY. The recipients who received the field's
    /// category under a consent before the change, to be notified of it.
    async fn notify(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&[NotifyRecipient]>> {
        let notify = self.notify.as_slice();
        reveal(ctx, &self.record, FieldClass::ChangeHistory, |_| {
            Some(notify)
        })
    }
}

#[derive(Default)]
pub struct RightsMutation;

#[Object]
impl RightsMutation {
    /// Restricts processing of a student's records (the DPO), with a reason.
    /// While restricted every role but the DPO gets `PROCESSING_RESTRICTED` for
    /// the student's data. `CONFLICT` when already restricted.
    async fn restrict_processing(
        &self,
        ctx: &Context<'_>,
        student_id: ID,
        reason: String,
    ) -> async_graphql::Result<Option<RestrictionNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::RestrictProcessing)?;
        let student_id = domain::uuid("studentId", &student_id)?;
        let reason = domain::required_text("reason", &reason, 2000)?;
        let model: AppResult<restriction::Model> = in_transaction!(writer, |txn| {
            service::restrictions::restrict(&txn, &rc.decisions, student_id, reason).await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }

    /// Records when the student was notified of a restriction (the DPO; once).
    async fn record_restriction_notified(
        &self,
        ctx: &Context<'_>,
        id: ID,
        notified_at: DateTime<Utc>,
    ) -> async_graphql::Result<Option<RestrictionNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::RestrictProcessing)?;
        let id = domain::uuid("id", &id)?;
        let model: AppResult<restriction::Model> = in_transaction!(writer, |txn| {
            service::restrictions::record_notified(&txn, &rc.decisions, id, notified_at).await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }

    /// Lifts a restriction (the DPO), with a reason. `CONFLICT` until the
    /// student's notification is recorded, and when already lifted.
    async fn lift_restriction(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> async_graphql::Result<Option<RestrictionNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::RestrictProcessing)?;
        let id = domain::uuid("id", &id)?;
        let reason = domain::required_text("reason", &reason, 2000)?;
        let model: AppResult<restriction::Model> = in_transaction!(writer, |txn| {
            service::restrictions::lift(&txn, &rc.decisions, id, reason).await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }
}
