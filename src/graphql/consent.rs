//! The `Consent` type and the consent workflow's mutations.

use super::pagination::id;
use super::{request_context, reveal};
use crate::domain::{
    self, enum_list_from_json, DataCategory, RecipientKind, Role, SensitivityLabel,
};
use crate::error::{AppError, AppResult};
use crate::policy::access::consent_in_force;
use crate::policy::{Action, FieldClass, Guarded};
use crate::service;
use crate::service::consents::{parse_recipient, NewConsent};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::consent;

/// Who a consent or risk exception names.
#[derive(SimpleObject, Clone, Debug)]
pub struct RecipientRef {
    pub kind: Option<RecipientKind>,
    /// The department, unit or partner organisation id, where the kind names one.
    pub reference: Option<String>,
}

#[derive(InputObject, Clone, Debug)]
pub struct RecipientInput {
    pub kind: RecipientKind,
    /// A department or unit name (slug), a partner organisation id, or a free-text
    /// name for the GP, emergency contact or research recipient.
    pub reference: Option<String>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ConsentStatus {
    /// In force now.
    Active,
    /// Given with a start in the future (not used by the API today).
    Pending,
    Expired,
    Withdrawn,
}

pub struct ConsentNode {
    record: Guarded<consent::Model>,
}

impl From<Guarded<consent::Model>> for ConsentNode {
    fn from(record: Guarded<consent::Model>) -> Self {
        ConsentNode { record }
    }
}

fn status_of(m: &consent::Model, now: DateTime<Utc>) -> ConsentStatus {
    if m.withdrawn_at.is_some() {
        ConsentStatus::Withdrawn
    } else if consent_in_force(m, now) {
        ConsentStatus::Active
    } else if m.given_at > now {
        ConsentStatus::Pending
    } else {
        ConsentStatus::Expired
    }
}

/// A plain-language receipt for the student.
fn receipt_of(m: &consent::Model) -> String {
    let recipient = match &m.recipient_ref {
        Some(r) => format!("{} {}", m.recipient_kind, r),
        None => m.recipient_kind.clone(),
    };
    let categories: Vec<&str> = enum_list_from_json(&m.categories, DataCategory::parse)
        .iter()
        .map(|c| c.as_str())
        .collect();
    let excluded: Vec<&str> = enum_list_from_json(&m.excluded_labels, SensitivityLabel::parse)
        .iter()
        .map(|l| l.as_str())
        .collect();
    let mut text = format!(
        "On {} you agreed that Student Support may share {} with {} for this purpose: {}.",
        m.given_at.format("%-d %B %Y %H:%M UTC"),
        categories.join(", "),
        recipient,
        m.purpose
    );
    if !excluded.is_empty() {
        text.push_str(&format!(
            " Never shared: anything labelled {}.",
            excluded.join(", ")
        ));
    }
    if m.case_id.is_some() {
        text.push_str(" It covers one support case only.");
    }
    match m.expires_at {
        Some(e) => text.push_str(&format!(" It ends on {}.", e.format("%-d %B %Y %H:%M UTC"))),
        None => text.push_str(" It has no end date."),
    }
    text.push_str(" You can withdraw it at any time; withdrawal stops sharing from that moment.");
    if let Some(w) = m.withdrawn_at {
        text.push_str(&format!(
            " It was withdrawn on {}.",
            w.format("%-d %B %Y %H:%M UTC")
        ));
    }
    text
}

/// A consent to share: with whom, what, for what purpose, until when. A consent
/// is never changed: a correction is a withdrawal and a new consent. Every field
/// but the id is category CONSENTS.
#[Object(name = "Consent")]
impl ConsentNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category CONSENTS.
    async fn student_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| {
            Some(id(m.student_id))
        })
    }
    /// Category CONSENTS.
    async fn recipient(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<RecipientRef>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| {
            Some(RecipientRef {
                kind: RecipientKind::parse(&m.recipient_kind),
                reference: m.recipient_ref.clone(),
            })
        })
    }
    /// Category CONSENTS.
    async fn categories(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<DataCategory>>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| {
            Some(enum_list_from_json(&m.categories, DataCategory::parse))
        })
    }
    /// Category CONSENTS.
    async fn excluded_labels(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<SensitivityLabel>>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| {
            Some(enum_list_from_json(
                &m.excluded_labels,
                SensitivityLabel::parse,
            ))
        })
    }
    /// Category CONSENTS. Set when the consent covers one case only.
    async fn case_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| {
            m.case_id.map(id)
        })
    }
    /// Category CONSENTS.
    async fn purpose(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| {
            Some(m.purpose.as_str())
        })
    }
    /// Category CONSENTS.
    async fn given_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| {
            Some(m.given_at)
        })
    }
    /// Category CONSENTS.
    async fn expires_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| m.expires_at)
    }
    /// Category CONSENTS.
    async fn form_reference(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| {
            m.form_reference.as_deref()
        })
    }
    /// Category CONSENTS.
    async fn recorded_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| {
            Some(id(m.recorded_by))
        })
    }
    /// Category CONSENTS.
    async fn recorded_by_role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Role>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| {
            Role::parse(&m.recorded_by_role)
        })
    }
    /// Category CONSENTS.
    async fn withdrawn_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| m.withdrawn_at)
    }
    /// Category CONSENTS.
    async fn withdrawn_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| {
            m.withdrawn_by.map(id)
        })
    }
    /// Category CONSENTS.
    async fn withdrawal_reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| {
            m.withdrawal_reason.as_deref()
        })
    }
    /// Category CONSENTS.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ConsentStatus>> {
        let now = request_context(ctx)?.now();
        reveal(ctx, &self.record, FieldClass::Consents, |m| {
            Some(status_of(m, now))
        })
    }
    /// Category CONSENTS. A plain-language receipt for the student: what was
    /// agreed, with whom, for what, until when.
    async fn receipt(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        reveal(ctx, &self.record, FieldClass::Consents, |m| {
            Some(receipt_of(m))
        })
    }
}

#[derive(InputObject)]
pub struct RecordConsentInput {
    pub student_id: ID,
    pub recipient: RecipientInput,
    pub categories: Vec<DataCategory>,
    #[graphql(default)]
    pub excluded_labels: Vec<SensitivityLabel>,
    /// Limit the consent to one case of the student.
    pub case_id: Option<ID>,
    pub purpose: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// The signed form's reference: required when staff record on the student's behalf.
    pub form_reference: Option<String>,
}

#[derive(Default)]
pub struct ConsentMutation;

#[Object]
impl ConsentMutation {
    /// Records a consent to share: by the student, or by support staff on their
    /// behalf with the form reference. A consent the policy would not honour in
    /// full is refused (BAD_USER_INPUT naming the missing or unreachable category).
    async fn record_consent(
        &self,
        ctx: &Context<'_>,
        input: RecordConsentInput,
    ) -> async_graphql::Result<Option<ConsentNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::RecordConsent)?;
        let student_id = domain::uuid("input.studentId", &input.student_id)?;
        let case_id = input
            .case_id
            .map(|c| domain::uuid("input.caseId", &c))
            .transpose()?;
        let purpose = domain::required_text("input.purpose", &input.purpose, 2000)?;
        let form_reference =
            domain::optional_text("input.formReference", input.form_reference.as_deref(), 200)?;
        let model = in_transaction!(writer, |txn| {
            let recipient = parse_recipient(
                &txn,
                "input.recipient.reference",
                input.recipient.kind,
                input.recipient.reference.as_deref(),
            )
            .await?;
            let new = NewConsent {
                student_id,
                recipient,
                categories: input.categories,
                excluded_labels: input.excluded_labels,
                case_id,
                purpose,
                expires_at: input.expires_at,
                form_reference,
            };
            service::consents::record(&txn, &rc.decisions, new).await
        })?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }

    /// Withdraws a consent from now on (never retroactively); the consent and its
    /// withdrawal both stay on file.
    async fn withdraw_consent(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> async_graphql::Result<Option<ConsentNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::WithdrawConsent)?;
        let id = domain::uuid("id", &id)?;
        let reason = domain::required_text("reason", &reason, 2000)?;
        let model: AppResult<consent::Model> = in_transaction!(writer, |txn| {
            service::consents::withdraw(&txn, &rc.decisions, id, reason).await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }
}

/// Parses recipients of a risk exception.
pub(super) async fn recipients(
    db: &impl sea_orm::ConnectionTrait,
    field: &str,
    inputs: Vec<RecipientInput>,
) -> AppResult<Vec<service::consents::Recipient>> {
    let mut out = Vec::with_capacity(inputs.len());
    for (i, r) in inputs.into_iter().enumerate() {
        out.push(
            parse_recipient(
                db,
                &format!("{field}.{i}.reference"),
                r.kind,
                r.reference.as_deref(),
            )
            .await?,
        );
    }
    Ok(out)
}
