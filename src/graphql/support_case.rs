//! The `SupportCase` type.

use super::context::{CaseGroup, CaseRecord, Paged};
use super::inline::{Inline, InlineFields};
use super::note::{NoteNode, ThirdPartyEntryNode};
use super::pagination::{id, PageInfo};
use super::staff::StaffMemberNode;
use super::student::StudentNode;
use super::{permit, request_context, reveal};
use crate::domain::{CaseStatus, RiskLevel};
use crate::policy::{FieldClass, Guarded};
use async_graphql::{Context, Object, SimpleObject, ID};
use entity::support_case;
use std::sync::Arc;

pub struct CaseNode {
    record: Guarded<support_case::Model>,
    group: Arc<CaseGroup>,
}

impl From<CaseRecord> for CaseNode {
    fn from(r: CaseRecord) -> Self {
        CaseNode {
            record: r.record,
            group: r.group,
        }
    }
}

/// A support case of one Student Support service.
#[Object(name = "SupportCase")]
impl CaseNode {
    pub(crate) async fn id(&self) -> ID {
        id(self.record.id())
    }

    /// The student the case is about (each field guarded by the student's own rules).
    async fn student(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Inline<StudentNode>>> {
        let rc = request_context(ctx)?;
        Ok(Some(Inline(
            Box::pin(rc.student_of_case(&self.record, &self.group))
                .await?
                .into(),
        )))
    }

    /// Category SUPPORT_SUMMARY. The Student Support service that owns the case.
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::SupportSummary, |m| {
            Some(m.service.as_str())
        })
    }

    /// Category SUPPORT_SUMMARY.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CaseStatus>> {
        reveal(ctx, &self.record, FieldClass::SupportSummary, |m| {
            CaseStatus::parse(&m.status)
        })
    }

    /// Category SUPPORT_SUMMARY.
    async fn opened_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<chrono::DateTime<chrono::Utc>>> {
        reveal(ctx, &self.record, FieldClass::SupportSummary, |m| {
            Some(m.opened_at)
        })
    }

    /// Category SUPPORT_SUMMARY.
    async fn closed_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<chrono::DateTime<chrono::Utc>>> {
        reveal(ctx, &self.record, FieldClass::SupportSummary, |m| {
            m.closed_at
        })
    }

    /// Category SUPPORT_SUMMARY. The practitioner the case is assigned to.
    async fn assigned_to(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Inline<StaffMemberNode>>> {
        let Some(staff_id) = reveal(ctx, &self.record, FieldClass::SupportSummary, |m| {
            m.assigned_to
        })?
        else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        Ok(Box::pin(rc.assignee(&self.group, &self.record, staff_id))
            .await?
            .map(|s| Inline(StaffMemberNode::new(s, FieldClass::SupportSummary))))
    }

    /// Category SUPPORT_SUMMARY (the shareable text). A short factual summary written to be shared.
    async fn summary(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::SummaryText, |m| {
            m.summary.as_deref()
        })
    }

    /// Category ADJUSTMENTS. Agreed reasonable adjustments / support plan.
    async fn adjustments(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Adjustments, |m| {
            m.adjustments.as_deref()
        })
    }

    /// Category RISK.
    async fn risk_level(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<RiskLevel>> {
        reveal(ctx, &self.record, FieldClass::Risk, |m| {
            RiskLevel::parse(&m.risk_level)
        })
    }

    /// Category CASE_NOTES. Notes, newest first; `limit` caps how many (default all, at most 100).
    async fn notes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100, validator(minimum = 0, maximum = 100))] limit: i32,
    ) -> async_graphql::Result<Option<Vec<Inline<NoteNode>>>> {
        let Some(permit) = permit(ctx, &self.record, FieldClass::CaseNotes)? else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let limit = usize::try_from(limit).unwrap_or(0);
        let notes = Box::pin(rc.notes_of(&self.group, &permit, limit)).await?;
        Ok(Some(
            notes
                .into_iter()
                .map(|n| Inline(NoteNode::new(n, self.group.clone())))
                .collect(),
        ))
    }

    /// Category THIRD_PARTY. Information from or about someone other than the student.
    async fn third_party_entries(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<Inline<ThirdPartyEntryNode>>>> {
        let Some(permit) = permit(ctx, &self.record, FieldClass::ThirdParty)? else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let entries = Box::pin(rc.third_party_of(&self.group, &permit)).await?;
        Ok(Some(
            entries
                .into_iter()
                .map(|e| Inline(ThirdPartyEntryNode::from(e)))
                .collect(),
        ))
    }
}

impl InlineFields for CaseNode {
    const INLINE: &'static [&'static str] = &[
        "id",
        "service",
        "status",
        "openedAt",
        "closedAt",
        "summary",
        "adjustments",
        "riskLevel",
    ];
}

#[derive(SimpleObject)]
pub struct SupportCaseEdge {
    pub cursor: String,
    pub node: Inline<CaseNode>,
}

impl InlineFields for SupportCaseEdge {
    const INLINE: &'static [&'static str] = &["cursor", "node"];
}

/// A page of support cases.
#[derive(SimpleObject)]
pub struct SupportCaseConnection {
    pub edges: Vec<Inline<SupportCaseEdge>>,
    pub page_info: PageInfo,
    /// Cases matching the filter that the caller may see (hidden rows are never counted).
    pub total_count: u64,
}

impl SupportCaseConnection {
    pub fn from_page(page: Paged<CaseRecord>, total_count: u64) -> Self {
        SupportCaseConnection {
            edges: page
                .edges
                .into_iter()
                .map(|(cursor, r)| {
                    Inline(SupportCaseEdge {
                        cursor,
                        node: Inline(r.into()),
                    })
                })
                .collect(),
            page_info: page.page_info,
            total_count,
        }
    }
}
