//! Subject access requests (issue 10, item 2; the student's half of item 6):
//! the DPO opens, extends, flags items for a serious-harm review, records
//! judgements and third-party disclosure justifications, finalises, lists and
//! exports; a student makes a request for themself and reads their own.

use super::note::ThirdPartyEntryNode;
use super::pagination::id;
use super::{permit, request_context, reveal};
use crate::domain;
use crate::error::{AppError, AppResult};
use crate::policy::{Action, FieldClass, Guarded};
use crate::service;
use crate::service::sar::{SeriousHarmOutcome, SubjectAccessItemKind, SubjectAccessRequestStatus};
use async_graphql::{Context, Object, ID};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{serious_harm_review, subject_access_request};

const TEXT: usize = 500;
const LONG_TEXT: usize = 10_000;

pub struct SubjectAccessRequestNode {
    record: Guarded<subject_access_request::Model>,
}

impl From<Guarded<subject_access_request::Model>> for SubjectAccessRequestNode {
    fn from(record: Guarded<subject_access_request::Model>) -> Self {
        SubjectAccessRequestNode { record }
    }
}

/// A subject access request. Every field but the id is category
/// SUBJECT_ACCESS (the DPO; the student about their own requests).
#[Object(name = "SubjectAccessRequest")]
impl SubjectAccessRequestNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category SUBJECT_ACCESS.
    async fn student_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            Some(id(m.student_id))
        })
    }
    /// Category SUBJECT_ACCESS. When the request was received.
    async fn received_on(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<NaiveDate>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            Some(m.received_on)
        })
    }
    /// Category SUBJECT_ACCESS. Whether the requester's identity was checked.
    async fn identity_checked(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            Some(m.identity_checked)
        })
    }
    /// Category SUBJECT_ACCESS. How it was checked.
    async fn identity_check(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            Some(m.identity_check.as_str())
        })
    }
    /// Category SUBJECT_ACCESS. The date it is due by now: one calendar month
    /// from receipt, or the extended date.
    async fn due_on(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<NaiveDate>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            Some(service::sar::effective_due_on(m))
        })
    }
    /// Category SUBJECT_ACCESS. One calendar month from receipt.
    async fn original_due_on(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<NaiveDate>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            Some(m.due_on)
        })
    }
    /// Category SUBJECT_ACCESS. The due date after the one extension.
    async fn extended_due_on(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<NaiveDate>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            m.extended_due_on
        })
    }
    /// Category SUBJECT_ACCESS. Why it was extended.
    async fn extension_reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            m.extension_reason.as_deref()
        })
    }
    /// Category SUBJECT_ACCESS. OPEN, OVERDUE or FINALISED.
    async fn status(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<SubjectAccessRequestStatus>> {
        let today = request_context(ctx)?.now().date_naive();
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            Some(service::sar::status(m, today))
        })
    }
    /// Category SUBJECT_ACCESS. The role of whoever opened it (`dpo`, or
    /// `student` for a request made from the API).
    async fn opened_by_role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            Some(m.opened_by_role.as_str())
        })
    }
    /// Category SUBJECT_ACCESS.
    async fn opened_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            Some(m.opened_at)
        })
    }
    /// Category SUBJECT_ACCESS. When the export was released.
    async fn finalised_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            m.finalised_at
        })
    }
    /// Category SUBJECT_ACCESS. Hex SHA-256 of the released document's JSON text.
    async fn export_sha256(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            m.export_sha256.as_deref()
        })
    }
    /// Category SUBJECT_ACCESS. The items flagged for a serious-harm review.
    async fn serious_harm_reviews(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<SeriousHarmReviewNode>>> {
        let Some(permit) = permit(ctx, &self.record, FieldClass::SubjectAccess)? else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        Ok(Some(
            Box::pin(rc.serious_harm_reviews(&permit))
                .await?
                .into_iter()
                .map(|record| SeriousHarmReviewNode { record })
                .collect(),
        ))
    }
}

pub struct SeriousHarmReviewNode {
    record: Guarded<serious_harm_review::Model>,
}

/// A case or note flagged for a health professional's serious-harm judgement,
/// and the judgement. Every field but the id is category SUBJECT_ACCESS.
#[Object(name = "SeriousHarmReview")]
impl SeriousHarmReviewNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category SUBJECT_ACCESS.
    async fn request_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            Some(id(m.request_id))
        })
    }
    /// Category SUBJECT_ACCESS. CASE or NOTE.
    async fn item_kind(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<SubjectAccessItemKind>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            SubjectAccessItemKind::parse(&m.item_kind)
        })
    }
    /// Category SUBJECT_ACCESS.
    async fn item_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            Some(id(m.item_id))
        })
    }
    /// Category SUBJECT_ACCESS. Whether a judgement is still to be recorded.
    async fn pending(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            Some(m.outcome.is_none())
        })
    }
    /// Category SUBJECT_ACCESS. The health professional who judged.
    async fn professional_name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            m.professional_name.as_deref()
        })
    }
    /// Category SUBJECT_ACCESS. Their opinion.
    async fn opinion(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            m.opinion.as_deref()
        })
    }
    /// Category SUBJECT_ACCESS. When they judged (counts for six months).
    async fn judged_on(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<NaiveDate>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            m.judged_on
        })
    }
    /// Category SUBJECT_ACCESS. WITHHOLD, STAFF_PRESENT or RELEASE.
    async fn outcome(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<SeriousHarmOutcome>> {
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |m| {
            m.outcome.as_deref().and_then(SeriousHarmOutcome::parse)
        })
    }
}

pub struct SubjectAccessExportNode {
    record: Guarded<subject_access_request::Model>,
    document: serde_json::Value,
}

/// The export of a subject access request.
#[Object(name = "SubjectAccessExport")]
impl SubjectAccessExportNode {
    /// The request's id.
    async fn id(&self) -> ID {
        id(self.record.id())
    }
    /// Category SUBJECT_ACCESS. The document (`confide-sar/1`; JSON Schema in
    /// `docs/sar-export.schema.json`): the one fixed at finalisation, or a
    /// draft (`"final": false`) before it.
    async fn document(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<serde_json::Value>> {
        let document = &self.document;
        reveal(ctx, &self.record, FieldClass::SubjectAccess, |_| {
            Some(document.clone())
        })
    }
}

#[derive(Default)]
pub struct SubjectAccessQuery;

#[Object]
impl SubjectAccessQuery {
    /// Subject access requests (the DPO), newest first: all of them, or those
    /// OPEN (not finalised, overdue ones included), OVERDUE or FINALISED.
    async fn subject_access_requests(
        &self,
        ctx: &Context<'_>,
        status: Option<SubjectAccessRequestStatus>,
    ) -> async_graphql::Result<Option<Vec<SubjectAccessRequestNode>>> {
        let rc = request_context(ctx)?;
        let rows = rc.subject_access_requests(status).await?;
        Ok(Some(rows.into_iter().map(Into::into).collect()))
    }

    /// The caller's own subject access requests (a student), newest first.
    async fn my_subject_access_requests(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<SubjectAccessRequestNode>>> {
        let rc = request_context(ctx)?;
        let rows = rc.my_subject_access_requests().await?;
        Ok(Some(rows.into_iter().map(Into::into).collect()))
    }

    /// The export of a subject access request (the DPO). Audited as an export.
    async fn subject_access_export(
        &self,
        ctx: &Context<'_>,
        request_id: ID,
    ) -> async_graphql::Result<Option<SubjectAccessExportNode>> {
        let rc = request_context(ctx)?;
        rc.route(Action::ExportSubjectAccess)?;
        let request_id = domain::uuid("requestId", &request_id)?;
        let (record, document) = rc.subject_access_export(request_id).await?;
        Ok(Some(SubjectAccessExportNode { record, document }))
    }
}

#[derive(Default)]
pub struct SubjectAccessMutation;

#[Object]
impl SubjectAccessMutation {
    /// Opens a subject access request for a student (the DPO), once the
    /// requester's identity is checked (`identityCheck`: how, e.g. "passport
    /// seen at reception"). Due one calendar month from `receivedOn`.
    async fn open_subject_access_request(
        &self,
        ctx: &Context<'_>,
        student_id: ID,
        received_on: NaiveDate,
        identity_checked: bool,
        identity_check: String,
    ) -> async_graphql::Result<Option<SubjectAccessRequestNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::OpenSubjectAccessRequest)?;
        let new = service::sar::NewRequest {
            student_id: domain::uuid("studentId", &student_id)?,
            received_on,
            identity_check: domain::required_text("identityCheck", &identity_check, TEXT)?,
        };
        if !identity_checked {
            return Err(AppError::bad_input(
                "identityChecked",
                "a subject access request is opened once the requester's identity is checked",
            )
            .into());
        }
        let model: AppResult<subject_access_request::Model> = in_transaction!(writer, |txn| {
            service::sar::open(&txn, &rc.decisions, Action::OpenSubjectAccessRequest, new).await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }

    /// Makes a subject access request for oneself (a student): received now,
    /// identity checked by the university's identity provider.
    async fn request_subject_access(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<SubjectAccessRequestNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::RequestSubjectAccess)?;
        let new = service::sar::NewRequest {
            student_id: rc.caller().id,
            received_on: rc.now().date_naive(),
            identity_check: service::sar::IDP_IDENTITY_CHECK.to_owned(),
        };
        let model: AppResult<subject_access_request::Model> = in_transaction!(writer, |txn| {
            service::sar::open(&txn, &rc.decisions, Action::RequestSubjectAccess, new).await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }

    /// Extends a subject access request once, by one or two further months
    /// (counted, like the due date, from receipt), with a reason, until its
    /// original due date (the DPO). `CONFLICT` when already extended, finalised
    /// or past the original due date.
    async fn extend_subject_access_request(
        &self,
        ctx: &Context<'_>,
        id: ID,
        months: u32,
        reason: String,
    ) -> async_graphql::Result<Option<SubjectAccessRequestNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::ManageSubjectAccessRequest)?;
        let id = domain::uuid("id", &id)?;
        let reason = domain::required_text("reason", &reason, LONG_TEXT)?;
        let model: AppResult<subject_access_request::Model> = in_transaction!(writer, |txn| {
            service::sar::extend(&txn, &rc.decisions, id, months, reason).await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }

    /// Flags a case or note of the request's student for a health
    /// professional's serious-harm judgement (the DPO): the request cannot be
    /// finalised until it is recorded.
    async fn mark_for_serious_harm_review(
        &self,
        ctx: &Context<'_>,
        request_id: ID,
        item_kind: SubjectAccessItemKind,
        item_id: ID,
    ) -> async_graphql::Result<Option<SeriousHarmReviewNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::ManageSubjectAccessRequest)?;
        let request_id = domain::uuid("requestId", &request_id)?;
        let item_id = domain::uuid("itemId", &item_id)?;
        let model: AppResult<serious_harm_review::Model> = in_transaction!(writer, |txn| {
            service::sar::mark_for_review(&txn, &rc.decisions, request_id, item_kind, item_id).await
        });
        let model = model?;
        let record = rc.record_about(model.student_id, model).await?;
        Ok(Some(SeriousHarmReviewNode { record }))
    }

    /// Records (or renews) a health professional's serious-harm judgement of a
    /// flagged item (the DPO): their name, opinion, when they judged, and the
    /// outcome. A judgement older than six months does not count at
    /// finalisation.
    async fn record_serious_harm_judgement(
        &self,
        ctx: &Context<'_>,
        review_id: ID,
        professional_name: String,
        opinion: String,
        judged_on: NaiveDate,
        outcome: SeriousHarmOutcome,
    ) -> async_graphql::Result<Option<SeriousHarmReviewNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::ManageSubjectAccessRequest)?;
        let review_id = domain::uuid("reviewId", &review_id)?;
        let judgement = service::sar::Judgement {
            professional_name: domain::required_text("professionalName", &professional_name, TEXT)?,
            opinion: domain::required_text("opinion", &opinion, LONG_TEXT)?,
            judged_on,
            outcome,
        };
        let model: AppResult<serious_harm_review::Model> = in_transaction!(writer, |txn| {
            service::sar::record_judgement(&txn, &rc.decisions, review_id, judgement).await
        });
        let model = model?;
        let record = rc.record_about(model.student_id, model).await?;
        Ok(Some(SeriousHarmReviewNode { record }))
    }

    /// Records the justification for disclosing a third-party entry to the
    /// student in a subject access export (the DPO; once). Without it, or the
    /// third party's consent recorded with the entry, the entry is withheld.
    async fn record_third_party_disclosure_justification(
        &self,
        ctx: &Context<'_>,
        entry_id: ID,
        justification: String,
    ) -> async_graphql::Result<Option<ThirdPartyEntryNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::ManageSubjectAccessRequest)?;
        let entry_id = domain::uuid("entryId", &entry_id)?;
        let justification = domain::required_text("justification", &justification, LONG_TEXT)?;
        let (entry, row) = in_transaction!(writer, |txn| {
            service::sar::record_third_party_justification(
                &txn,
                &rc.decisions,
                entry_id,
                justification,
            )
            .await
        })?;
        Ok(Some(rc.third_party_record(row, entry).await?.into()))
    }

    /// Finalises a subject access request (the DPO): `CONFLICT`, naming the
    /// item, while a serious-harm judgement is pending or older than six
    /// months. Fixes the export (its JSON text and SHA-256 are stored), records
    /// the time, and audits the export.
    async fn finalise_subject_access_request(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<SubjectAccessRequestNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::ManageSubjectAccessRequest)?;
        let id = domain::uuid("id", &id)?;
        let model: AppResult<subject_access_request::Model> = in_transaction!(writer, |txn| {
            service::sar::finalise(&txn, &rc.decisions, id).await
        });
        let model = model?;
        Ok(Some(rc.record_about(model.student_id, model).await?.into()))
    }
}
