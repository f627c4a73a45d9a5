//! Disclosures: the student's disclosure log, and logging a disclosure made
//! outside the API.

use super::pagination::id;
use super::{request_context, reveal};
use crate::domain::{self, DataCategory, Role};
use crate::error::{AppError, AppResult};
use crate::policy::{Action, FieldClass, Guarded};
use crate::service;
use crate::service::risk_exceptions::{DisclosureBasis, NewDisclosure};
use async_graphql::{Context, InputObject, Object, ID};
use chrono::{DateTime, Utc};
use entity::audit_event;

pub struct DisclosureNode {
    record: Guarded<audit_event::Model>,
}

/// A disclosure of the student's data: to an outside audience through the API, or
/// recorded by staff when made outside it. Every field is category DISCLOSURES.
#[Object(name = "Disclosure")]
impl DisclosureNode {
    /// Category DISCLOSURES.
    async fn occurred_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::Disclosures, |m| {
            Some(m.occurred_at)
        })
    }
    /// Category DISCLOSURES.
    async fn recipient_role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Role>> {
        reveal(ctx, &self.record, FieldClass::Disclosures, |m| {
            Role::parse(&m.actor_role)
        })
    }
    /// Category DISCLOSURES. The organisation or member of staff who received or recorded it.
    async fn recipient_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::Disclosures, |m| {
            Some(id(m.actor_id))
        })
    }
    /// Category DISCLOSURES.
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<String>>> {
        reveal(ctx, &self.record, FieldClass::Disclosures, |m| {
            Some(
                m.fields
                    .as_array()
                    .map(|f| {
                        f.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
    }
    /// Category DISCLOSURES. consent:<id> or risk_exception:<id>.
    async fn basis(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Disclosures, |m| {
            m.basis.as_deref()
        })
    }
    /// Category DISCLOSURES. JSON. For disclosures made outside the API: to whom
    /// and how. For disclosures through the API: `{"records": {"student":
    /// [classes], "case:<id>": [classes]}}`, which classes of which record were
    /// released.
    async fn detail(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Disclosures, |m| {
            m.detail.as_deref()
        })
    }
}

pub struct AccessLogNode {
    record: Guarded<service::risk_exceptions::AccessLogEntry>,
}

/// A read of the student's data by staff, or a release to an outside audience:
/// who (by role and service, or organisation; never by name), when, what.
/// Every field is category DISCLOSURES.
#[Object(name = "AccessLogEntry")]
impl AccessLogNode {
    /// Category DISCLOSURES.
    async fn occurred_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::Disclosures, |m| {
            Some(m.event.occurred_at)
        })
    }
    /// Category DISCLOSURES. The role of who read or received it.
    async fn role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Role>> {
        reveal(ctx, &self.record, FieldClass::Disclosures, |m| {
            Role::parse(&m.event.actor_role)
        })
    }
    /// Category DISCLOSURES. Their Student Support service (staff).
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Disclosures, |m| {
            m.service.as_deref()
        })
    }
    /// Category DISCLOSURES. The partner organisation's id, or the department
    /// or unit (outside audiences).
    async fn organisation(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Disclosures, |m| {
            m.organisation.as_deref()
        })
    }
    /// Category DISCLOSURES. READ (staff) or DISCLOSURE (an outside audience).
    async fn kind(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Disclosures, |m| {
            Some(match m.event.action.as_str() {
                "disclosure" => "DISCLOSURE",
                _ => "READ",
            })
        })
    }
    /// Category DISCLOSURES. The data categories.
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<String>>> {
        reveal(ctx, &self.record, FieldClass::Disclosures, |m| {
            Some(
                m.event
                    .fields
                    .as_array()
                    .map(|f| {
                        f.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
    }
    /// Category DISCLOSURES. What it rested on: role:<role>, consent:<id>, ...
    async fn basis(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Disclosures, |m| {
            m.event.basis.as_deref()
        })
    }
}

#[derive(InputObject)]
pub struct RecordDisclosureInput {
    pub student_id: ID,
    /// The consent it was made under (give this or riskExceptionId).
    pub consent_id: Option<ID>,
    /// The risk exception it was made under.
    pub risk_exception_id: Option<ID>,
    /// Who received it (e.g. "Emergency contact: mother").
    pub recipient: String,
    /// How (e.g. "telephone").
    pub method: String,
    pub categories: Vec<DataCategory>,
    /// Defaults to now.
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct DisclosureQuery;

#[Object]
impl DisclosureQuery {
    /// For a student: who received their data, when, and on which basis.
    async fn my_disclosures(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<DisclosureNode>>> {
        let rc = request_context(ctx)?;
        Ok(Some(
            rc.my_disclosures()
                .await?
                .into_iter()
                .map(|record| DisclosureNode { record })
                .collect(),
        ))
    }
}

#[derive(Default)]
pub struct AccessLogQuery;

#[Object]
impl AccessLogQuery {
    /// For a student: who accessed or received their data, and when (the
    /// latest 1,000): staff by role and service, outside audiences by
    /// organisation; releases under a basis they have not been told of are left out.
    async fn my_access_log(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<AccessLogNode>>> {
        let rc = request_context(ctx)?;
        Ok(Some(
            rc.my_access_log()
                .await?
                .into_iter()
                .map(|record| AccessLogNode { record })
                .collect(),
        ))
    }
}

#[derive(Default)]
pub struct DisclosureMutation;

#[Object]
impl DisclosureMutation {
    /// Logs a disclosure made outside the API against its consent or exception.
    /// Answers `true` once the disclosure and its audit record are stored.
    async fn record_disclosure(
        &self,
        ctx: &Context<'_>,
        input: RecordDisclosureInput,
    ) -> async_graphql::Result<Option<bool>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::RecordDisclosure)?;
        let basis = match (&input.consent_id, &input.risk_exception_id) {
            (Some(c), None) => DisclosureBasis::Consent(domain::uuid("input.consentId", c)?),
            (None, Some(e)) => {
                DisclosureBasis::RiskException(domain::uuid("input.riskExceptionId", e)?)
            }
            _ => {
                return Err(AppError::bad_input(
                    "input.consentId",
                    "give exactly one of consentId and riskExceptionId",
                )
                .into())
            }
        };
        let new = NewDisclosure {
            student_id: domain::uuid("input.studentId", &input.student_id)?,
            basis,
            recipient: domain::required_text("input.recipient", &input.recipient, 500)?,
            method: domain::required_text("input.method", &input.method, 200)?,
            categories: input.categories,
            occurred_at: input.occurred_at.unwrap_or_else(|| rc.now()),
        };
        let stored: AppResult<()> = in_transaction!(writer, |txn| {
            service::risk_exceptions::record_disclosure(&txn, &rc.decisions, new).await
        });
        stored?;
        Ok(Some(true))
    }
}
