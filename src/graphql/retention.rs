//! Retention (issue 10, item 5): the DPO's report of what is due for
//! destruction, and legal holds.

use super::pagination::id;
use super::{request_context, reveal};
use crate::domain;
use crate::error::{AppError, AppResult};
use crate::policy::{Action, FieldClass, Guarded};
use crate::service;
use crate::service::retention::DueEntry;
use async_graphql::{Context, Object, ID};
use chrono::{DateTime, NaiveDate, Utc};
use entity::legal_hold;

pub struct RetentionDueNode {
    record: Guarded<DueEntry>,
}

/// A student due for destruction. Every field but the id (the student's id)
/// is category RETENTION (the DPO).
#[Object(name = "RetentionDue")]
impl RetentionDueNode {
    /// The student's id.
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category RETENTION. When the student is due for destruction.
    async fn due_on(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<NaiveDate>> {
        reveal(ctx, &self.record, FieldClass::Retention, |m| Some(m.due_on))
    }
    /// Category RETENTION. The rule that makes them due last:
    /// `last_enrolment_six_years`, `last_contact_seven_years` or
    /// `no_enrolment_last_activity_six_years`.
    async fn rule(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Retention, |m| Some(m.rule))
    }
    /// Category RETENTION. The reason in words, with its dates.
    async fn reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Retention, |m| {
            Some(m.reason.as_str())
        })
    }
    /// Category RETENTION. Under an active legal hold: never destroyed while it lasts.
    async fn held(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.record, FieldClass::Retention, |m| Some(m.held))
    }
}

pub struct LegalHoldNode {
    record: Guarded<legal_hold::Model>,
}

/// A legal hold on a student's records. Every field but the id is category
/// RETENTION (the DPO).
#[Object(name = "LegalHold")]
impl LegalHoldNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category RETENTION.
    async fn student_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::Retention, |m| {
            Some(id(m.student_id))
        })
    }
    /// Category RETENTION. Why the records are held.
    async fn reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Retention, |m| {
            Some(m.reason.as_str())
        })
    }
    /// Category RETENTION.
    async fn placed_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::Retention, |m| {
            Some(m.placed_at)
        })
    }
    /// Category RETENTION. Whether it is in force (not lifted).
    async fn active(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.record, FieldClass::Retention, |m| {
            Some(m.lifted_at.is_none())
        })
    }
    /// Category RETENTION.
    async fn lifted_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::Retention, |m| m.lifted_at)
    }
    /// Category RETENTION. Why it was lifted.
    async fn lift_reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Retention, |m| {
            m.lift_reason.as_deref()
        })
    }
}

#[derive(Default)]
pub struct RetentionQuery;

#[Object]
impl RetentionQuery {
    /// The students due for destruction as of a date (default: today, UTC),
    /// held ones included and marked held; in order of due date (the DPO).
    /// The same list as `confide retention report`.
    async fn retention_due(
        &self,
        ctx: &Context<'_>,
        as_of: Option<NaiveDate>,
    ) -> async_graphql::Result<Option<Vec<RetentionDueNode>>> {
        let rc = request_context(ctx)?;
        rc.route(Action::ReadRetention)?;
        let as_of = as_of.unwrap_or_else(|| rc.now().date_naive());
        Ok(Some(
            rc.retention_due(as_of)
                .await?
                .into_iter()
                .map(|record| RetentionDueNode { record })
                .collect(),
        ))
    }
}

#[derive(Default)]
pub struct RetentionMutation;

#[Object]
impl RetentionMutation {
    /// Places a legal hold on a student's records (the DPO), with a reason:
    /// nothing of the student is destroyed while it is active.
    async fn place_legal_hold(
        &self,
        ctx: &Context<'_>,
        student_id: ID,
        reason: String,
    ) -> async_graphql::Result<Option<LegalHoldNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::PlaceLegalHold)?;
        let student_id = domain::uuid("studentId", &student_id)?;
        let reason = domain::required_text("reason", &reason, 2000)?;
        let model: AppResult<legal_hold::Model> = in_transaction!(writer, |txn| {
            service::legal_holds::place(&txn, &rc.decisions, student_id, reason).await
        });
        let model = model?;
        Ok(Some(LegalHoldNode {
            record: rc.record_about(model.student_id, model).await?,
        }))
    }

    /// Lifts a legal hold (the DPO), with a reason. `CONFLICT` when already lifted.
    async fn lift_legal_hold(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> async_graphql::Result<Option<LegalHoldNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::PlaceLegalHold)?;
        let id = domain::uuid("id", &id)?;
        let reason = domain::required_text("reason", &reason, 2000)?;
        let model: AppResult<legal_hold::Model> = in_transaction!(writer, |txn| {
            service::legal_holds::lift(&txn, &rc.decisions, id, reason).await
        });
        let model = model?;
        Ok(Some(LegalHoldNode {
            record: rc.record_about(model.student_id, model).await?,
        }))
    }
}
