//! Erasure requests (issue 10, items 5 and 6): the student requests erasure of
//! their own record and lists their requests; the DPO lists and decides them.

use super::pagination::id;
use super::{request_context, reveal};
use crate::domain;
use crate::error::{AppError, AppResult};
use crate::policy::{Action, FieldClass, Guarded};
use crate::service;
use async_graphql::{Context, Enum, Object, ID};
use chrono::{DateTime, Utc};
use entity::erasure_request;

/// Where an erasure request stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ErasureStatus {
    Open,
    /// Granted: the student's records are destroyed.
    Granted,
    /// Refused, with a recorded reason.
    Refused,
}

impl ErasureStatus {
    fn of(status: &str) -> Option<Self> {
        match status {
            service::erasure::OPEN => Some(ErasureStatus::Open),
            service::erasure::GRANTED => Some(ErasureStatus::Granted),
            service::erasure::REFUSED => Some(ErasureStatus::Refused),
            _ => None,
        }
    }
}

pub struct ErasureRequestNode {
    record: Guarded<erasure_request::Model>,
}

/// A request to erase a student's records. Every field but the id is
/// category ERASURE_REQUESTS (the student themself; the DPO).
#[Object(name = "ErasureRequest")]
impl ErasureRequestNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category ERASURE_REQUESTS.
    async fn student_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::ErasureRequests, |m| {
            Some(id(m.student_id))
        })
    }
    /// Category ERASURE_REQUESTS. The student's grounds, if given.
    async fn grounds(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ErasureRequests, |m| {
            m.grounds.as_deref()
        })
    }
    /// Category ERASURE_REQUESTS.
    async fn requested_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::ErasureRequests, |m| {
            Some(m.requested_at)
        })
    }
    /// Category ERASURE_REQUESTS. `student`, or `dpo` on the student's behalf.
    async fn requested_by_role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ErasureRequests, |m| {
            Some(m.requested_by_role.as_str())
        })
    }
    /// Category ERASURE_REQUESTS.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ErasureStatus>> {
        reveal(ctx, &self.record, FieldClass::ErasureRequests, |m| {
            ErasureStatus::of(&m.status)
        })
    }
    /// Category ERASURE_REQUESTS.
    async fn decided_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::ErasureRequests, |m| {
            m.decided_at
        })
    }
    /// Category ERASURE_REQUESTS. Why the request was refused.
    async fn refusal_reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ErasureRequests, |m| {
            m.refusal_reason.as_deref()
        })
    }
}

fn nodes(records: Vec<Guarded<erasure_request::Model>>) -> Vec<ErasureRequestNode> {
    records
        .into_iter()
        .map(|record| ErasureRequestNode { record })
        .collect()
}

#[derive(Default)]
pub struct ErasureQuery;

#[Object]
impl ErasureQuery {
    /// Your own erasure requests (a student), newest first.
    async fn my_erasure_requests(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<ErasureRequestNode>>> {
        let rc = request_context(ctx)?;
        rc.route(Action::RequestErasure)?;
        Ok(Some(nodes(rc.my_erasure_requests().await?)))
    }

    /// Erasure requests (the DPO), oldest first: the open ones (default), or all.
    async fn erasure_requests(
        &self,
        ctx: &Context<'_>,
        open_only: Option<bool>,
    ) -> async_graphql::Result<Option<Vec<ErasureRequestNode>>> {
        let rc = request_context(ctx)?;
        rc.route(Action::DecideErasure)?;
        Ok(Some(nodes(
            rc.erasure_requests(open_only.unwrap_or(true)).await?,
        )))
    }
}

#[derive(Default)]
pub struct ErasureMutation;

#[Object]
impl ErasureMutation {
    /// Requests erasure of a student's records: a student for themself, or
    /// the DPO on a student's behalf. The DPO decides. `CONFLICT` while
    /// another request of theirs is open.
    async fn request_erasure(
        &self,
        ctx: &Context<'_>,
        student_id: ID,
        grounds: Option<String>,
    ) -> async_graphql::Result<Option<ErasureRequestNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::RequestErasure)?;
        let student_id = domain::uuid("studentId", &student_id)?;
        let grounds = domain::optional_text("grounds", grounds.as_deref(), 2000)?;
        let model: AppResult<erasure_request::Model> = in_transaction!(writer, |txn| {
            service::erasure::request(&txn, &rc.decisions, student_id, grounds).await
        });
        let model = model?;
        Ok(Some(ErasureRequestNode {
            record: rc.record_about(model.student_id, model).await?,
        }))
    }

    /// Grants an open erasure request (the DPO): the student's records are
    /// destroyed at once, leaving an audit tombstone naming the request.
    /// `CONFLICT` while a legal hold is active, or when already decided.
    async fn grant_erasure_request(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<ErasureRequestNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::DecideErasure)?;
        let id = domain::uuid("id", &id)?;
        let model: AppResult<erasure_request::Model> = in_transaction!(writer, |txn| {
            service::erasure::grant(&txn, &rc.decisions, id).await
        });
        let model = model?;
        Ok(Some(ErasureRequestNode {
            record: rc.record_about(model.student_id, model).await?,
        }))
    }

    /// Refuses an open erasure request (the DPO), with the reason.
    async fn refuse_erasure_request(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> async_graphql::Result<Option<ErasureRequestNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::DecideErasure)?;
        let id = domain::uuid("id", &id)?;
        let reason = domain::required_text("reason", &reason, 2000)?;
        let model: AppResult<erasure_request::Model> = in_transaction!(writer, |txn| {
            service::erasure::refuse(&txn, &rc.decisions, id, reason).await
        });
        let model = model?;
        Ok(Some(ErasureRequestNode {
            record: rc.record_about(model.student_id, model).await?,
        }))
    }
}
