//! Legal authorities for a disclosure: court orders and statutory duties,
//! recorded by the DPO.

use super::consent::RecipientInput;
use super::pagination::id;
use super::{request_context, reveal};
use crate::domain::{self, enum_list_from_json, DataCategory};
use crate::error::{AppError, AppResult};
use crate::policy::{Action, FieldClass, Guarded};
use crate::service;
use crate::service::legal::{LegalAuthorityKind, NewLegalAuthority};
use async_graphql::{Context, InputObject, Object, ID};
use chrono::{DateTime, Utc};
use entity::legal_authority;

pub struct LegalAuthorityNode {
    record: Guarded<legal_authority::Model>,
}

impl From<Guarded<legal_authority::Model>> for LegalAuthorityNode {
    fn from(record: Guarded<legal_authority::Model>) -> Self {
        LegalAuthorityNode { record }
    }
}

/// A court order or statutory duty for disclosing a student's records. Every
/// field but the id is category LEGAL_AUTHORITIES.
#[Object(name = "LegalAuthority")]
impl LegalAuthorityNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category LEGAL_AUTHORITIES.
    async fn student_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::LegalAuthorities, |m| {
            Some(id(m.student_id))
        })
    }
    /// Category LEGAL_AUTHORITIES.
    async fn kind(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<LegalAuthorityKind>> {
        reveal(ctx, &self.record, FieldClass::LegalAuthorities, |m| {
            LegalAuthorityKind::parse(&m.kind)
        })
    }
    /// Category LEGAL_AUTHORITIES. The order's or duty's reference.
    async fn reference(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::LegalAuthorities, |m| {
            Some(m.reference.as_str())
        })
    }
    /// Category LEGAL_AUTHORITIES. The court or body that made it.
    async fn issuer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::LegalAuthorities, |m| {
            Some(m.issuer.as_str())
        })
    }
    /// Category LEGAL_AUTHORITIES. The partner organisation it names.
    async fn recipient(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::LegalAuthorities, |m| {
            Some(m.recipient_ref.as_str())
        })
    }
    /// Category LEGAL_AUTHORITIES. The categories in scope.
    async fn categories(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<DataCategory>>> {
        reveal(ctx, &self.record, FieldClass::LegalAuthorities, |m| {
            Some(enum_list_from_json(&m.categories, DataCategory::parse))
        })
    }
    /// Category LEGAL_AUTHORITIES. The one case in scope (every case when null).
    async fn case_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::LegalAuthorities, |m| {
            m.case_id.map(id)
        })
    }
    /// Category LEGAL_AUTHORITIES.
    async fn recorded_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::LegalAuthorities, |m| {
            Some(m.recorded_at)
        })
    }
    /// Category LEGAL_AUTHORITIES.
    async fn expires_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::LegalAuthorities, |m| {
            Some(m.expires_at)
        })
    }
    /// Category LEGAL_AUTHORITIES.
    async fn revoked_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::LegalAuthorities, |m| {
            m.revoked_at
        })
    }
    /// Category LEGAL_AUTHORITIES. Whether it is in force now.
    async fn active(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        let now = request_context(ctx)?.now();
        reveal(ctx, &self.record, FieldClass::LegalAuthorities, |m| {
            Some(crate::policy::access::legal_active(m, now))
        })
    }
    /// Category LEGAL_AUTHORITIES. The order forbids telling the student.
    async fn inform_forbidden(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.record, FieldClass::LegalAuthorities, |m| {
            Some(m.inform_forbidden)
        })
    }
    /// Category LEGAL_AUTHORITIES.
    async fn student_informed_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::LegalAuthorities, |m| {
            m.student_informed_at
        })
    }
    /// Category LEGAL_AUTHORITIES. Why the student was not told (or where the
    /// order forbids it).
    async fn not_informed_reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::LegalAuthorities, |m| {
            m.not_informed_reason.as_deref()
        })
    }
}

#[derive(InputObject)]
pub struct RecordLegalAuthorityInput {
    pub student_id: ID,
    pub kind: LegalAuthorityKind,
    /// The order's or duty's reference (e.g. the court's case number).
    pub reference: String,
    /// The court or body that made it.
    pub issuer: String,
    /// The partner organisation the order directs disclosure to (kind PARTNER).
    pub recipient: RecipientInput,
    /// The exact scope: may include CASE_NOTES and THIRD_PARTY when the order says so.
    pub categories: Vec<DataCategory>,
    /// Limit the scope to one case.
    pub case_id: Option<ID>,
    /// When the authority ends (at most a year away).
    pub expires_at: DateTime<Utc>,
    /// The order forbids telling the student (say where in `notInformedReason`).
    #[graphql(default = false)]
    pub inform_forbidden: bool,
    pub not_informed_reason: Option<String>,
}

#[derive(Default)]
pub struct LegalAuthorityMutation;

#[Object]
impl LegalAuthorityMutation {
    /// Records a court order or statutory duty (the DPO). While active, the
    /// partner it names reads exactly its scope, each release audited against it.
    async fn record_legal_authority(
        &self,
        ctx: &Context<'_>,
        input: RecordLegalAuthorityInput,
    ) -> async_graphql::Result<Option<LegalAuthorityNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::RecordLegalAuthority)?;
        let new = NewLegalAuthority {
            student_id: domain::uuid("input.studentId", &input.student_id)?,
            kind: input.kind,
            reference: domain::required_text("input.reference", &input.reference, 200)?,
            issuer: domain::required_text("input.issuer", &input.issuer, 200)?,
            recipient_kind: input.recipient.kind,
            recipient_ref: input.recipient.reference,
            categories: input.categories,
            case_id: input
                .case_id
                .as_ref()
                .map(|c| domain::uuid("input.caseId", c))
                .transpose()?,
            expires_at: input.expires_at,
            inform_forbidden: input.inform_forbidden,
            not_informed_reason: domain::optional_text(
                "input.notInformedReason",
                input.not_informed_reason.as_deref(),
                2000,
            )?,
        };
        let model: AppResult<legal_authority::Model> = in_transaction!(writer, |txn| {
            service::legal::record(&txn, &rc.decisions, new).await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }

    /// Revokes a legal authority from now on (the DPO).
    async fn revoke_legal_authority(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<LegalAuthorityNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::RecordLegalAuthority)?;
        let id = domain::uuid("id", &id)?;
        let model: AppResult<legal_authority::Model> = in_transaction!(writer, |txn| {
            service::legal::revoke(&txn, &rc.decisions, id).await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }

    /// Records when the student was told of a legal authority, or why not (the
    /// DPO; refused when the order forbids telling them).
    async fn record_legal_authority_student_informed(
        &self,
        ctx: &Context<'_>,
        id: ID,
        informed_at: Option<DateTime<Utc>>,
        not_informed_reason: Option<String>,
    ) -> async_graphql::Result<Option<LegalAuthorityNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::RecordLegalAuthority)?;
        let id = domain::uuid("id", &id)?;
        let reason =
            domain::optional_text("notInformedReason", not_informed_reason.as_deref(), 2000)?;
        let model: AppResult<legal_authority::Model> = in_transaction!(writer, |txn| {
            service::legal::record_student_informed(&txn, &rc.decisions, id, informed_at, reason)
                .await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }
}
