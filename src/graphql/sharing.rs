//! Consents, risk exceptions, disclosures and the partner feed.

use super::pagination::{self, id};
use super::query::student_connection;
use super::request_context;
use super::student::StudentConnection;
use crate::domain::{
    self, enum_list_from_json, DataCategory, RecipientKind, RiskGround, Role, SensitivityLabel,
    StudentPosition,
};
use crate::error::{AppError, AppResult};
use crate::policy::access::{consent_in_force, exception_active};
use crate::service;
use crate::service::consents::{parse_recipient, NewConsent, Recipient};
use crate::service::risk_exceptions::{DisclosureBasis, NewDisclosure, NewRiskException};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{audit_event, consent, risk_exception};
use sea_orm::{ConnectionTrait, TransactionTrait};

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
    model: consent::Model,
    now: DateTime<Utc>,
}

impl ConsentNode {
    pub fn new(model: consent::Model, now: DateTime<Utc>) -> Self {
        ConsentNode { model, now }
    }

    fn current_status(&self) -> ConsentStatus {
        if self.model.withdrawn_at.is_some() {
            ConsentStatus::Withdrawn
        } else if consent_in_force(&self.model, self.now) {
            ConsentStatus::Active
        } else if self.model.given_at > self.now {
            ConsentStatus::Pending
        } else {
            ConsentStatus::Expired
        }
    }

    fn category_list(&self) -> Vec<DataCategory> {
        enum_list_from_json(&self.model.categories, DataCategory::parse)
    }

    fn excluded(&self) -> Vec<SensitivityLabel> {
        enum_list_from_json(&self.model.excluded_labels, SensitivityLabel::parse)
    }
}

/// A consent to share: with whom, what, for what purpose, until when. A consent
/// is never changed: a correction is a withdrawal and a new consent.
#[Object(name = "Consent")]
impl ConsentNode {
    async fn id(&self) -> ID {
        id(self.model.id)
    }
    async fn student_id(&self) -> ID {
        id(self.model.student_id)
    }
    async fn recipient(&self) -> RecipientRef {
        RecipientRef {
            kind: RecipientKind::parse(&self.model.recipient_kind),
            reference: self.model.recipient_ref.clone(),
        }
    }
    async fn categories(&self) -> Vec<DataCategory> {
        self.category_list()
    }
    async fn excluded_labels(&self) -> Vec<SensitivityLabel> {
        self.excluded()
    }
    /// Set when the consent covers one case only.
    async fn case_id(&self) -> Option<ID> {
        self.model.case_id.map(id)
    }
    async fn purpose(&self) -> &str {
        &self.model.purpose
    }
    async fn given_at(&self) -> DateTime<Utc> {
        self.model.given_at
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.model.expires_at
    }
    async fn form_reference(&self) -> Option<&str> {
        self.model.form_reference.as_deref()
    }
    async fn recorded_by(&self) -> ID {
        id(self.model.recorded_by)
    }
    async fn recorded_by_role(&self) -> Option<Role> {
        Role::parse(&self.model.recorded_by_role)
    }
    async fn withdrawn_at(&self) -> Option<DateTime<Utc>> {
        self.model.withdrawn_at
    }
    async fn withdrawn_by(&self) -> Option<ID> {
        self.model.withdrawn_by.map(id)
    }
    async fn withdrawal_reason(&self) -> Option<&str> {
        self.model.withdrawal_reason.as_deref()
    }
    async fn status(&self) -> ConsentStatus {
        self.current_status()
    }
    /// A plain-language receipt for the student: what was agreed, with whom, for
    /// what, until when.
    async fn receipt(&self) -> String {
        let m = &self.model;
        let recipient = match &m.recipient_ref {
            Some(r) => format!("{} {}", m.recipient_kind, r),
            None => m.recipient_kind.clone(),
        };
        let categories: Vec<&str> = self.category_list().iter().map(|c| c.as_str()).collect();
        let excluded: Vec<&str> = self.excluded().iter().map(|l| l.as_str()).collect();
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
        text.push_str(
            " You can withdraw it at any time; withdrawal stops sharing from that moment.",
        );
        if let Some(w) = m.withdrawn_at {
            text.push_str(&format!(
                " It was withdrawn on {}.",
                w.format("%-d %B %Y %H:%M UTC")
            ));
        }
        text
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum RiskExceptionStatus {
    /// Proposed, awaiting confirmation by a different registered professional.
    Proposed,
    Active,
    Expired,
    Revoked,
}

pub struct RiskExceptionNode {
    model: risk_exception::Model,
    now: DateTime<Utc>,
}

impl RiskExceptionNode {
    pub fn new(model: risk_exception::Model, now: DateTime<Utc>) -> Self {
        RiskExceptionNode { model, now }
    }
}

/// Sharing without consent for a serious risk, confirmed by two registered mental
/// health professionals.
#[Object(name = "RiskException")]
impl RiskExceptionNode {
    async fn id(&self) -> ID {
        id(self.model.id)
    }
    async fn student_id(&self) -> ID {
        id(self.model.student_id)
    }
    async fn ground(&self) -> Option<RiskGround> {
        RiskGround::parse(&self.model.ground)
    }
    async fn student_position(&self) -> Option<StudentPosition> {
        StudentPosition::parse(&self.model.student_position)
    }
    async fn recipients(&self) -> Vec<RecipientRef> {
        self.model
            .recipients
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
            .unwrap_or_default()
    }
    async fn categories(&self) -> Vec<DataCategory> {
        enum_list_from_json(&self.model.categories, DataCategory::parse)
    }
    async fn justification(&self) -> &str {
        &self.model.justification
    }
    async fn proposed_by(&self) -> ID {
        id(self.model.proposed_by)
    }
    async fn proposed_at(&self) -> DateTime<Utc> {
        self.model.proposed_at
    }
    async fn confirmed_by(&self) -> Option<ID> {
        self.model.confirmed_by.map(id)
    }
    async fn confirmed_at(&self) -> Option<DateTime<Utc>> {
        self.model.confirmed_at
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.model.expires_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.model.revoked_at
    }
    async fn student_informed_at(&self) -> Option<DateTime<Utc>> {
        self.model.student_informed_at
    }
    async fn not_informed_reason(&self) -> Option<&str> {
        self.model.not_informed_reason.as_deref()
    }
    async fn status(&self) -> RiskExceptionStatus {
        let m = &self.model;
        if m.revoked_at.is_some() {
            RiskExceptionStatus::Revoked
        } else if m.expires_at <= self.now {
            RiskExceptionStatus::Expired
        } else if exception_active(m, self.now) {
            RiskExceptionStatus::Active
        } else {
            RiskExceptionStatus::Proposed
        }
    }
}

/// A disclosure of the student's data: to an outside audience through the API, or
/// recorded by staff when made outside it.
#[derive(SimpleObject)]
pub struct Disclosure {
    pub occurred_at: DateTime<Utc>,
    pub recipient_role: Option<Role>,
    /// The organisation or member of staff who received or recorded it.
    pub recipient_id: ID,
    pub categories: Vec<String>,
    /// consent:<id> or risk_exception:<id>.
    pub basis: Option<String>,
    /// JSON. For disclosures made outside the API: to whom and how. For
    /// disclosures through the API: `{"records": {"student": [classes],
    /// "case:<id>": [classes]}}`, which classes of which record were released.
    pub detail: Option<String>,
}

impl From<audit_event::Model> for Disclosure {
    fn from(e: audit_event::Model) -> Self {
        Disclosure {
            occurred_at: e.occurred_at,
            recipient_role: Role::parse(&e.actor_role),
            recipient_id: id(e.actor_id),
            categories: e
                .fields
                .as_array()
                .map(|f| {
                    f.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            basis: e.basis,
            detail: e.detail,
        }
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

async fn recipients(
    db: &impl ConnectionTrait,
    field: &str,
    inputs: Vec<RecipientInput>,
) -> AppResult<Vec<Recipient>> {
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

#[derive(Default)]
pub struct SharingQuery;

#[Object]
impl SharingQuery {
    /// Risk exceptions (service leads, the DPO); `uninformedOnly` lists confirmed
    /// exceptions whose student has not been informed and has no reason recorded.
    async fn risk_exceptions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] uninformed_only: bool,
    ) -> async_graphql::Result<Vec<RiskExceptionNode>> {
        let rc = request_context(ctx)?;
        let now = rc.decisions.now();
        Ok(
            service::risk_exceptions::list(&rc.db, &rc.decisions, uninformed_only)
                .await?
                .into_iter()
                .map(|m| RiskExceptionNode::new(m, now))
                .collect(),
        )
    }

    /// For a student: who received their data, when, and on which basis.
    async fn my_disclosures(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Disclosure>> {
        let rc = request_context(ctx)?;
        Ok(
            service::risk_exceptions::my_disclosures(&rc.db, &rc.decisions)
                .await?
                .into_iter()
                .map(Disclosure::from)
                .collect(),
        )
    }

    /// For departments, university services and partners: the students you may
    /// see whose data changed since `since` (their record, cases or notes, or the
    /// consent or exception that opened them), in a stable order. Sync by passing
    /// the time of your previous sync.
    async fn partner_feed(
        &self,
        ctx: &Context<'_>,
        since: DateTime<Utc>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<StudentConnection> {
        let rc = request_context(ctx)?;
        let page = pagination::page(first, after.as_deref(), rc.limits.max_page_size)?;
        let rows = service::students::feed(&rc.db, &rc.decisions, since, page).await?;
        let total = if ctx.look_ahead().field("totalCount").exists() {
            service::students::feed_count(&rc.db, &rc.decisions, since).await?
        } else {
            0
        };
        student_connection(ctx, rows, page, total).await
    }
}

#[derive(Default)]
pub struct SharingMutation;

#[Object]
impl SharingMutation {
    /// Records a consent to share: by the student, or by support staff on their
    /// behalf with the form reference.
    async fn record_consent(
        &self,
        ctx: &Context<'_>,
        input: RecordConsentInput,
    ) -> async_graphql::Result<ConsentNode> {
        let rc = request_context(ctx)?;
        let student_id = domain::uuid("input.studentId", &input.student_id)?;
        let case_id = input
            .case_id
            .map(|c| domain::uuid("input.caseId", &c))
            .transpose()?;
        let purpose = domain::required_text("input.purpose", &input.purpose, 2000)?;
        let form_reference =
            domain::optional_text("input.formReference", input.form_reference.as_deref(), 200)?;
        let model = in_transaction!(rc, |txn| {
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
        Ok(ConsentNode::new(model, rc.decisions.now()))
    }

    /// Withdraws a consent from now on (never retroactively); the consent and its
    /// withdrawal both stay on file.
    async fn withdraw_consent(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> async_graphql::Result<ConsentNode> {
        let rc = request_context(ctx)?;
        let id = domain::uuid("id", &id)?;
        let reason = domain::required_text("reason", &reason, 2000)?;
        let model = in_transaction!(rc, |txn| service::consents::withdraw(
            &txn,
            &rc.decisions,
            id,
            reason
        )
        .await)?;
        Ok(ConsentNode::new(model, rc.decisions.now()))
    }

    /// Proposes a risk exception (registered mental health professionals only).
    async fn propose_risk_exception(
        &self,
        ctx: &Context<'_>,
        input: ProposeRiskExceptionInput,
    ) -> async_graphql::Result<RiskExceptionNode> {
        let rc = request_context(ctx)?;
        let student_id = domain::uuid("input.studentId", &input.student_id)?;
        let justification =
            domain::required_text("input.justification", &input.justification, 5000)?;
        let max_hours = rc.limits.risk_exception_max_hours;
        let model = in_transaction!(rc, |txn| {
            let recipients = recipients(&txn, "input.recipients", input.recipients).await?;
            let new = NewRiskException {
                student_id,
                ground: input.ground,
                student_position: input.student_position,
                recipients,
                categories: input.categories,
                justification,
                expires_at: input.expires_at,
            };
            service::risk_exceptions::propose(&txn, &rc.decisions, new, max_hours).await
        })?;
        Ok(RiskExceptionNode::new(model, rc.decisions.now()))
    }

    /// Confirms a risk exception: a different registered mental health professional.
    async fn confirm_risk_exception(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<RiskExceptionNode> {
        let rc = request_context(ctx)?;
        let id = domain::uuid("id", &id)?;
        let model = in_transaction!(rc, |txn| service::risk_exceptions::confirm(
            &txn,
            &rc.decisions,
            id
        )
        .await)?;
        Ok(RiskExceptionNode::new(model, rc.decisions.now()))
    }

    /// Revokes a risk exception from now on.
    async fn revoke_risk_exception(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<RiskExceptionNode> {
        let rc = request_context(ctx)?;
        let id = domain::uuid("id", &id)?;
        let model = in_transaction!(rc, |txn| service::risk_exceptions::revoke(
            &txn,
            &rc.decisions,
            id
        )
        .await)?;
        Ok(RiskExceptionNode::new(model, rc.decisions.now()))
    }

    /// Records when the student was told what was shared and why, or why they were not.
    async fn record_student_informed(
        &self,
        ctx: &Context<'_>,
        id: ID,
        informed_at: Option<DateTime<Utc>>,
        not_informed_reason: Option<String>,
    ) -> async_graphql::Result<RiskExceptionNode> {
        let rc = request_context(ctx)?;
        let id = domain::uuid("id", &id)?;
        let reason =
            domain::optional_text("notInformedReason", not_informed_reason.as_deref(), 2000)?;
        let model = in_transaction!(rc, |txn| {
            service::risk_exceptions::record_student_informed(
                &txn,
                &rc.decisions,
                id,
                informed_at,
                reason,
            )
            .await
        })?;
        Ok(RiskExceptionNode::new(model, rc.decisions.now()))
    }

    /// Logs a disclosure made outside the API against its consent or exception.
    async fn record_disclosure(
        &self,
        ctx: &Context<'_>,
        input: RecordDisclosureInput,
    ) -> async_graphql::Result<bool> {
        let rc = request_context(ctx)?;
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
            occurred_at: input.occurred_at.unwrap_or_else(|| rc.decisions.now()),
        };
        in_transaction!(rc, |txn| service::risk_exceptions::record_disclosure(
            &txn,
            &rc.decisions,
            new
        )
        .await)?;
        Ok(true)
    }
}
