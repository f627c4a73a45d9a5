//! The `RiskException` type: sharing without consent, its root list and its
//! workflow's mutations.

use super::consent::{recipients, RecipientInput, RecipientRef};
use super::pagination::id;
use super::{request_context, reveal};
use crate::domain::{
    self, enum_list_from_json, DataCategory, RecipientKind, RiskGround, StudentPosition,
};
use crate::error::{AppError, AppResult};
use crate::policy::access::exception_active;
use crate::policy::{Action, FieldClass, Guarded};
use crate::service;
use crate::service::risk_exceptions::NewRiskException;
use async_graphql::{Context, Enum, InputObject, Object, ID};
use chrono::{DateTime, Utc};
use entity::risk_exception;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum RiskExceptionStatus {
    /// Proposed, awaiting confirmation by a different registered professional.
    Proposed,
    Active,
    Expired,
    Revoked,
}

pub struct RiskExceptionNode {
    record: Guarded<risk_exception::Model>,
}

impl From<Guarded<risk_exception::Model>> for RiskExceptionNode {
    fn from(record: Guarded<risk_exception::Model>) -> Self {
        RiskExceptionNode { record }
    }
}

fn status_of(m: &risk_exception::Model, now: DateTime<Utc>) -> RiskExceptionStatus {
    if m.revoked_at.is_some() {
        RiskExceptionStatus::Revoked
    } else if m.expires_at <= now {
        RiskExceptionStatus::Expired
    } else if exception_active(m, now) {
        RiskExceptionStatus::Active
    } else {
        RiskExceptionStatus::Proposed
    }
}

/// Sharing without consent for a serious risk, confirmed by two registered mental
/// health professionals. Every field but the id is category RISK_EXCEPTIONS.
#[Object(name = "RiskException")]
impl RiskExceptionNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category RISK_EXCEPTIONS.
    async fn student_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            Some(id(m.student_id))
        })
    }
    /// Category RISK_EXCEPTIONS.
    async fn ground(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<RiskGround>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            RiskGround::parse(&m.ground)
        })
    }
    /// Category RISK_EXCEPTIONS.
    async fn student_position(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<StudentPosition>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            StudentPosition::parse(&m.student_position)
        })
    }
    /// Category RISK_EXCEPTIONS.
    async fn recipients(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<RecipientRef>>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            Some(
                m.recipients
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .map(|r| RecipientRef {
                                kind: r["kind"].as_str().and_then(RecipientKind::parse),
                                reference: r["ref"].as_str().map(str::to_owned),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
    }
    /// Category RISK_EXCEPTIONS.
    async fn categories(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<DataCategory>>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            Some(enum_list_from_json(&m.categories, DataCategory::parse))
        })
    }
    /// Category RISK_EXCEPTIONS.
    async fn justification(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            Some(m.justification.as_str())
        })
    }
    /// Category RISK_EXCEPTIONS. What a department or university service named is told.
    async fn concern_notice(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            m.concern_notice.as_deref()
        })
    }
    /// Category RISK_EXCEPTIONS.
    async fn proposed_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            Some(id(m.proposed_by))
        })
    }
    /// Category RISK_EXCEPTIONS.
    async fn proposed_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            Some(m.proposed_at)
        })
    }
    /// Category RISK_EXCEPTIONS.
    async fn confirmed_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            m.confirmed_by.map(id)
        })
    }
    /// Category RISK_EXCEPTIONS.
    async fn confirmed_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            m.confirmed_at
        })
    }
    /// Category RISK_EXCEPTIONS.
    async fn expires_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            Some(m.expires_at)
        })
    }
    /// Category RISK_EXCEPTIONS.
    async fn revoked_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            m.revoked_at
        })
    }
    /// Category RISK_EXCEPTIONS.
    async fn student_informed_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            m.student_informed_at
        })
    }
    /// Category RISK_EXCEPTIONS.
    async fn not_informed_reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            m.not_informed_reason.as_deref()
        })
    }
    /// Category RISK_EXCEPTIONS.
    async fn status(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<RiskExceptionStatus>> {
        let now = request_context(ctx)?.now();
        reveal(ctx, &self.record, FieldClass::RiskExceptions, |m| {
            Some(status_of(m, now))
        })
    }
}

#[derive(InputObject)]
pub struct ProposeRiskExceptionInput {
    pub student_id: ID,
    pub ground: RiskGround,
    pub student_position: StudentPosition,
    pub recipients: Vec<RecipientInput>,
    /// Limited, factual categories: never CASE_NOTES or THIRD_PARTY.
    pub categories: Vec<DataCategory>,
    pub justification: String,
    /// Defaults to 72 hours from now; at most the configured maximum.
    pub expires_at: Option<DateTime<Utc>>,
    /// What a department or university service named is told instead of the
    /// student's details: that there is a concern, what they should do, whom to
    /// contact in Student Support. Required when one is named.
    pub concern_notice: Option<String>,
}

#[derive(Default)]
pub struct RiskExceptionQuery;

#[Object]
impl RiskExceptionQuery {
    /// Risk exceptions (registered professionals, service leads, the DPO), each
    /// decided under its student's rules as on every other route;
    /// `uninformedOnly` lists confirmed exceptions whose student has not been
    /// informed and has no reason recorded.
    async fn risk_exceptions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] uninformed_only: bool,
    ) -> async_graphql::Result<Option<Vec<RiskExceptionNode>>> {
        let rc = request_context(ctx)?;
        Ok(Some(
            rc.risk_exceptions(uninformed_only)
                .await?
                .into_iter()
                .map(RiskExceptionNode::from)
                .collect(),
        ))
    }
}

#[derive(Default)]
pub struct RiskExceptionMutation;

/// Runs one state change of an existing exception and returns it guarded.
async fn change(
    ctx: &Context<'_>,
    action: Action,
    id: ID,
    run: impl AsyncFnOnce(
        &sea_orm::DatabaseTransaction,
        &crate::policy::Decisions,
        uuid::Uuid,
    ) -> AppResult<risk_exception::Model>,
) -> async_graphql::Result<Option<RiskExceptionNode>> {
    let rc = request_context(ctx)?;
    let writer = rc.writer(action)?;
    let id = domain::uuid("id", &id)?;
    let model = in_transaction!(writer, |txn| run(&txn, &rc.decisions, id).await)?;
    Ok(Some(rc.record_about(model.student_id, model).await?.into()))
}

#[Object]
impl RiskExceptionMutation {
    /// Proposes a risk exception (registered mental health professionals only).
    async fn propose_risk_exception(
        &self,
        ctx: &Context<'_>,
        input: ProposeRiskExceptionInput,
    ) -> async_graphql::Result<Option<RiskExceptionNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::ProposeRiskException)?;
        let student_id = domain::uuid("input.studentId", &input.student_id)?;
        let justification =
            domain::required_text("input.justification", &input.justification, 5000)?;
        let concern_notice =
            domain::optional_text("input.concernNotice", input.concern_notice.as_deref(), 2000)?;
        let max_hours = rc.limits.risk_exception_max_hours;
        let model = in_transaction!(writer, |txn| {
            let recipients = recipients(&txn, "input.recipients", input.recipients).await?;
            let new = NewRiskException {
                student_id,
                ground: input.ground,
                student_position: input.student_position,
                recipients,
                categories: input.categories,
                justification,
                expires_at: input.expires_at,
                concern_notice,
            };
            service::risk_exceptions::propose(&txn, &rc.decisions, new, max_hours).await
        })?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }

    /// Confirms a risk exception: a different registered mental health professional.
    async fn confirm_risk_exception(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<RiskExceptionNode>> {
        change(ctx, Action::ConfirmRiskException, id, async |txn, d, id| {
            service::risk_exceptions::confirm(txn, d, id).await
        })
        .await
    }

    /// Revokes a risk exception from now on.
    async fn revoke_risk_exception(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<RiskExceptionNode>> {
        change(ctx, Action::RevokeRiskException, id, async |txn, d, id| {
            service::risk_exceptions::revoke(txn, d, id).await
        })
        .await
    }

    /// Records when the student was told what was shared and why, or why they were not.
    async fn record_student_informed(
        &self,
        ctx: &Context<'_>,
        id: ID,
        informed_at: Option<DateTime<Utc>>,
        not_informed_reason: Option<String>,
    ) -> async_graphql::Result<Option<RiskExceptionNode>> {
        let reason =
            domain::optional_text("notInformedReason", not_informed_reason.as_deref(), 2000)?;
        change(
            ctx,
            Action::RecordStudentInformed,
            id,
            async |txn, d, id| {
                service::risk_exceptions::record_student_informed(txn, d, id, informed_at, reason)
                    .await
            },
        )
        .await
    }
}

/// A concern notice, as the department or university service it names reads it.
pub struct ConcernNoticeNode {
    record: Guarded<risk_exception::Model>,
}

impl From<Guarded<risk_exception::Model>> for ConcernNoticeNode {
    fn from(record: Guarded<risk_exception::Model>) -> Self {
        ConcernNoticeNode { record }
    }
}

/// That Student Support has a concern about the student, what to do and whom to
/// contact: what a department or university service named in an active risk
/// exception is told, instead of the student's details. Every field but the id
/// is category CONCERN_NOTICE.
#[Object(name = "ConcernNotice")]
impl ConcernNoticeNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category CONCERN_NOTICE. The notice, as written by the proposer.
    async fn notice(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::ConcernNotice, |m| {
            m.concern_notice.as_deref()
        })
    }
    /// Category CONCERN_NOTICE. When the notice stops applying.
    async fn expires_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::ConcernNotice, |m| {
            Some(m.expires_at)
        })
    }
}
