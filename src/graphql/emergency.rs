//! Emergency disclosures: recorded at once by the practitioner who made them,
//! reviewed by a different registered professional, listed when overdue.

use super::pagination::id;
use super::{request_context, reveal};
use crate::domain::{self, enum_list_from_json, DataCategory};
use crate::error::{AppError, AppResult};
use crate::policy::{Action, FieldClass, Guarded};
use crate::service;
use crate::service::emergency::NewEmergencyDisclosure;
use async_graphql::{Context, InputObject, Object, ID};
use chrono::{DateTime, Utc};
use entity::emergency_disclosure;

pub struct EmergencyDisclosureNode {
    record: Guarded<emergency_disclosure::Model>,
}

impl From<Guarded<emergency_disclosure::Model>> for EmergencyDisclosureNode {
    fn from(record: Guarded<emergency_disclosure::Model>) -> Self {
        EmergencyDisclosureNode { record }
    }
}

/// A disclosure made at once in a life-threatening emergency, and its review.
/// Every field but the id is category EMERGENCY_DISCLOSURES.
#[Object(name = "EmergencyDisclosure")]
impl EmergencyDisclosureNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category EMERGENCY_DISCLOSURES.
    async fn student_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            Some(id(m.student_id))
        })
    }
    /// Category EMERGENCY_DISCLOSURES. Who made and recorded it.
    async fn disclosed_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            Some(id(m.disclosed_by))
        })
    }
    /// Category EMERGENCY_DISCLOSURES. To whom.
    async fn recipient(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            Some(m.recipient.as_str())
        })
    }
    /// Category EMERGENCY_DISCLOSURES. How.
    async fn method(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            Some(m.method.as_str())
        })
    }
    /// Category EMERGENCY_DISCLOSURES. What.
    async fn categories(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<DataCategory>>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            Some(enum_list_from_json(&m.categories, DataCategory::parse))
        })
    }
    /// Category EMERGENCY_DISCLOSURES. Why.
    async fn reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            Some(m.reason.as_str())
        })
    }
    /// Category EMERGENCY_DISCLOSURES. When.
    async fn occurred_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            Some(m.occurred_at)
        })
    }
    /// Category EMERGENCY_DISCLOSURES. The review is due by then.
    async fn review_due_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            Some(m.review_due_at)
        })
    }
    /// Category EMERGENCY_DISCLOSURES.
    async fn reviewed_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            m.reviewed_by.map(id)
        })
    }
    /// Category EMERGENCY_DISCLOSURES.
    async fn reviewed_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            m.reviewed_at
        })
    }
    /// Category EMERGENCY_DISCLOSURES.
    async fn review_outcome(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            m.review_outcome.as_deref()
        })
    }
    /// Category EMERGENCY_DISCLOSURES. Whether the review is past due and not done.
    async fn overdue(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        let now = request_context(ctx)?.now();
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            Some(m.reviewed_at.is_none() && m.review_due_at < now)
        })
    }
    /// Category EMERGENCY_DISCLOSURES.
    async fn student_informed_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            m.student_informed_at
        })
    }
}

#[derive(InputObject)]
pub struct RecordEmergencyDisclosureInput {
    pub student_id: ID,
    /// To whom (e.g. "Ambulance service").
    pub recipient: String,
    /// How (e.g. "telephone").
    pub method: String,
    pub categories: Vec<DataCategory>,
    /// The life-threatening situation.
    pub reason: String,
    /// Defaults to now; at most seven days ago.
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct EmergencyQuery;

#[Object]
impl EmergencyQuery {
    /// Emergency disclosures awaiting review, oldest due first (service leads,
    /// the DPO); `overdueOnly` lists those past their due date.
    async fn emergency_reviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] overdue_only: bool,
    ) -> async_graphql::Result<Option<Vec<EmergencyDisclosureNode>>> {
        let rc = request_context(ctx)?;
        Ok(Some(
            rc.emergency_reviews(overdue_only)
                .await?
                .into_iter()
                .map(EmergencyDisclosureNode::from)
                .collect(),
        ))
    }
}

#[derive(Default)]
pub struct EmergencyMutation;

#[Object]
impl EmergencyMutation {
    /// Records a disclosure made at once in a life-threatening emergency (any
    /// practitioner, registered or not). Its review falls due after the
    /// configured working days (default 2); the student is informed as for risk
    /// exceptions.
    async fn record_emergency_disclosure(
        &self,
        ctx: &Context<'_>,
        input: RecordEmergencyDisclosureInput,
    ) -> async_graphql::Result<Option<EmergencyDisclosureNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::RecordEmergencyDisclosure)?;
        let new = NewEmergencyDisclosure {
            student_id: domain::uuid("input.studentId", &input.student_id)?,
            recipient: domain::required_text("input.recipient", &input.recipient, 500)?,
            method: domain::required_text("input.method", &input.method, 200)?,
            categories: input.categories,
            reason: domain::required_text("input.reason", &input.reason, 5000)?,
            occurred_at: input.occurred_at.unwrap_or_else(|| rc.now()),
        };
        let days = rc.limits.emergency_review_working_days;
        let model: AppResult<emergency_disclosure::Model> = in_transaction!(writer, |txn| {
            service::emergency::record(&txn, &rc.decisions, new, days).await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }

    /// Completes the review of an emergency disclosure: a registered mental
    /// health professional other than the discloser.
    async fn review_emergency_disclosure(
        &self,
        ctx: &Context<'_>,
        id: ID,
        outcome: String,
    ) -> async_graphql::Result<Option<EmergencyDisclosureNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::ReviewEmergencyDisclosure)?;
        let id = domain::uuid("id", &id)?;
        let outcome = domain::required_text("outcome", &outcome, 5000)?;
        let model: AppResult<emergency_disclosure::Model> = in_transaction!(writer, |txn| {
            service::emergency::review(&txn, &rc.decisions, id, outcome).await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }

    /// Records when the student was told of an emergency disclosure, or why not.
    async fn record_emergency_student_informed(
        &self,
        ctx: &Context<'_>,
        id: ID,
        informed_at: Option<DateTime<Utc>>,
        not_informed_reason: Option<String>,
    ) -> async_graphql::Result<Option<EmergencyDisclosureNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::RecordStudentInformed)?;
        let id = domain::uuid("id", &id)?;
        let reason =
            domain::optional_text("notInformedReason", not_informed_reason.as_deref(), 2000)?;
        let model: AppResult<emergency_disclosure::Model> = in_transaction!(writer, |txn| {
            service::emergency::record_student_informed(
                &txn,
                &rc.decisions,
                id,
                informed_at,
                reason,
            )
            .await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }
}

pub struct EmergencyAccessNode {
    record: Guarded<entity::emergency_access::Model>,
}

impl From<Guarded<entity::emergency_access::Model>> for EmergencyAccessNode {
    fn from(record: Guarded<entity::emergency_access::Model>) -> Self {
        EmergencyAccessNode { record }
    }
}

/// A break-glass read: one practitioner's time-boxed emergency read of one case
/// outside their service. Every field but the id is category EMERGENCY_DISCLOSURES.
#[Object(name = "EmergencyAccess")]
impl EmergencyAccessNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category EMERGENCY_DISCLOSURES.
    async fn case_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            Some(id(m.case_id))
        })
    }
    /// Category EMERGENCY_DISCLOSURES. Who opened it.
    async fn opened_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            Some(id(m.staff_id))
        })
    }
    /// Category EMERGENCY_DISCLOSURES. Why.
    async fn reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            Some(m.reason.as_str())
        })
    }
    /// Category EMERGENCY_DISCLOSURES.
    async fn opened_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            Some(m.opened_at)
        })
    }
    /// Category EMERGENCY_DISCLOSURES. Reads under it stop at this instant.
    async fn expires_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            Some(m.expires_at)
        })
    }
    /// Category EMERGENCY_DISCLOSURES.
    async fn reviewed_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::EmergencyDisclosures, |m| {
            m.reviewed_at
        })
    }
}

#[derive(Default)]
pub struct EmergencyAccessQuery;

#[Object]
impl EmergencyAccessQuery {
    /// Break-glass reads awaiting review: a service lead's own service's, or
    /// all of them (the DPO), oldest first.
    async fn emergency_access_reviews(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<EmergencyAccessNode>>> {
        let rc = request_context(ctx)?;
        Ok(Some(
            rc.emergency_access_reviews()
                .await?
                .into_iter()
                .map(EmergencyAccessNode::from)
                .collect(),
        ))
    }
}

#[derive(Default)]
pub struct EmergencyAccessMutation;

#[Object]
impl EmergencyAccessMutation {
    /// Opens a break-glass (emergency) read of one case outside your service:
    /// a reason is required; it lasts `minutes` (default 60, at most the
    /// configured maximum) and ends by itself; every read under it is audited
    /// with it as the basis (and shown in `extensions.emergencyAccess`); the
    /// case's service lead gets a review item.
    async fn open_emergency_access(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        reason: String,
        #[graphql(default = 60)] minutes: i32,
    ) -> async_graphql::Result<Option<EmergencyAccessNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::OpenEmergencyAccess)?;
        let case_id = domain::uuid("caseId", &case_id)?;
        let reason = domain::required_text("reason", &reason, 2000)?;
        let max = rc.limits.break_glass_max_minutes;
        let model: AppResult<entity::emergency_access::Model> = in_transaction!(writer, |txn| {
            service::emergency_access::open(
                &txn,
                &rc.decisions,
                case_id,
                reason,
                i64::from(minutes),
                max,
            )
            .await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }

    /// Completes the review of a break-glass read (the case's service lead, the DPO).
    async fn review_emergency_access(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<EmergencyAccessNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::ReviewEmergencyAccess)?;
        let id = domain::uuid("id", &id)?;
        let model: AppResult<entity::emergency_access::Model> = in_transaction!(writer, |txn| {
            service::emergency_access::review(&txn, &rc.decisions, id).await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }
}
