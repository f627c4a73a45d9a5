//! The lawful basis configuration (issue 10, item 1): the DPO sets which UK
//! GDPR conditions each kind of basis rests on; the audit records name them.

use super::pagination::id;
use super::{request_context, reveal};
use crate::error::{AppError, AppResult};
use crate::policy::{Action, FieldClass, Guarded};
use crate::service::{self, audit::BasisKind};
use async_graphql::{Context, Enum, Object, ID};
use chrono::{DateTime, Utc};
use entity::lawful_basis;

/// A kind of basis a disclosure or read rests on (its audit records' `basis`
/// prefix).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "BasisKind")]
pub enum BasisKindInput {
    /// `role:<role>` and `cli`: staff acting in their role.
    Role,
    /// `consent:<id>`.
    Consent,
    /// `risk_exception:<id>`.
    RiskException,
    /// `emergency:<id>`, `emergency_access:<id>`.
    Emergency,
    /// `legal_authority:<id>`.
    LegalAuthority,
    /// `subject_access_request:<id>`: an export released to the student.
    SubjectAccessRequest,
}

impl From<BasisKindInput> for BasisKind {
    fn from(kind: BasisKindInput) -> Self {
        match kind {
            BasisKindInput::Role => BasisKind::Role,
            BasisKindInput::Consent => BasisKind::Consent,
            BasisKindInput::RiskException => BasisKind::RiskException,
            BasisKindInput::Emergency => BasisKind::Emergency,
            BasisKindInput::LegalAuthority => BasisKind::LegalAuthority,
            BasisKindInput::SubjectAccessRequest => BasisKind::SubjectAccess,
        }
    }
}

/// The UK GDPR conditions one kind of basis rests on. Every field is category
/// AUDIT_TRAIL.
pub struct LawfulBasisNode(Guarded<lawful_basis::Model>);

#[Object(name = "LawfulBasis")]
impl LawfulBasisNode {
    /// Category AUDIT_TRAIL. `role`, `consent`, `risk_exception`, `emergency`,
    /// `legal_authority` or `subject_access_request`.
    async fn kind(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.0, FieldClass::AuditTrail, |m| {
            Some(m.kind.as_str())
        })
    }
    /// Category AUDIT_TRAIL. e.g. `Art. 6(1)(e) public task`.
    async fn article6(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.0, FieldClass::AuditTrail, |m| {
            Some(m.article6.as_str())
        })
    }
    /// Category AUDIT_TRAIL. e.g. `Art. 9(2)(h) health or social care`.
    async fn article9(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.0, FieldClass::AuditTrail, |m| {
            Some(m.article9.as_str())
        })
    }
    /// Category AUDIT_TRAIL. Who last set it (`null`: the shipped default).
    async fn updated_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.0, FieldClass::AuditTrail, |m| {
            m.updated_by.map(id)
        })
    }
    /// Category AUDIT_TRAIL.
    async fn updated_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.0, FieldClass::AuditTrail, |m| m.updated_at)
    }
}

#[derive(Default)]
pub struct LawfulBasisQuery;

#[Object]
impl LawfulBasisQuery {
    /// The UK GDPR conditions each kind of basis rests on, as recorded with
    /// every audit record from now on: whoever may query the audit trail.
    async fn lawful_bases(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<LawfulBasisNode>>> {
        let rc = request_context(ctx)?;
        Ok(Some(
            rc.lawful_bases()
                .await?
                .into_iter()
                .map(LawfulBasisNode)
                .collect(),
        ))
    }
}

#[derive(Default)]
pub struct LawfulBasisMutation;

#[Object]
impl LawfulBasisMutation {
    /// Sets the conditions one kind of basis rests on (the DPO): `article6`
    /// as `Art. 6(1)(a)`–`(f)` and a name, `article9` as `Art. 9(2)(a)`–`(j)`
    /// and a name. Audit records written from then on carry it; those already
    /// written keep theirs. Audited.
    async fn set_lawful_basis(
        &self,
        ctx: &Context<'_>,
        kind: BasisKindInput,
        article6: String,
        article9: String,
    ) -> async_graphql::Result<Option<LawfulBasisNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::ConfigureLawfulBasis)?;
        let model: AppResult<lawful_basis::Model> = in_transaction!(writer, |txn| {
            service::lawful_bases::set(&txn, &rc.decisions, kind.into(), &article6, &article9).await
        });
        Ok(Some(LawfulBasisNode(rc.directory_record(model?))))
    }
}
