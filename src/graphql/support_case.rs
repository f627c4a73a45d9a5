//! The `SupportCase` type and sibling batching of a case page.

use super::note::{NoteNode, StaffMember, ThirdPartyEntryNode};
use super::pagination::{id, PageInfo};
use super::student::{StudentGroup, StudentNode};
use super::{request_context, reveal, Guard};
use crate::domain::{labels_from_json, CaseStatus, RiskLevel, SensitivityLabel};
use crate::error::AppError;
use crate::policy::access::StudentAccess;
use crate::policy::facts::{case_facts, note_facts};
use crate::policy::FieldClass;
use crate::service;
use async_graphql::{Context, Object, SimpleObject, ID};
use entity::{note, staff, student, support_case, third_party_entry};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use tokio::sync::OnceCell;
use uuid::Uuid;

/// Cases resolved together: notes, entries and staff are loaded for all of them
/// in one statement each, the first time any case asks.
pub struct CaseGroup {
    ids: Vec<Uuid>,
    assignee_ids: Vec<Uuid>,
    students: HashMap<Uuid, Arc<student::Model>>,
    student_group: OnceLock<Arc<StudentGroup>>,
    notes: OnceCell<HashMap<Uuid, Vec<Arc<note::Model>>>>,
    note_authors: OnceCell<HashMap<Uuid, staff::Model>>,
    assignees: OnceCell<HashMap<Uuid, staff::Model>>,
    third_party: OnceCell<HashMap<Uuid, Vec<third_party_entry::Model>>>,
}

impl CaseGroup {
    pub fn new(
        cases: Vec<Arc<support_case::Model>>,
        students: HashMap<Uuid, Arc<student::Model>>,
        student_group: Option<Arc<StudentGroup>>,
    ) -> Arc<Self> {
        let cell = OnceLock::new();
        if let Some(g) = student_group {
            let _ = cell.set(g);
        }
        Arc::new(CaseGroup {
            ids: cases.iter().map(|c| c.id).collect(),
            assignee_ids: cases.iter().filter_map(|c| c.assigned_to).collect(),
            students,
            student_group: cell,
            notes: OnceCell::new(),
            note_authors: OnceCell::new(),
            assignees: OnceCell::new(),
            third_party: OnceCell::new(),
        })
    }

    async fn notes(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<&HashMap<Uuid, Vec<Arc<note::Model>>>> {
        let rc = request_context(ctx)?;
        Ok(self
            .notes
            .get_or_try_init(|| async {
                let map = service::cases::notes_of(&rc.db, &self.ids).await?;
                Ok::<_, AppError>(
                    map.into_iter()
                        .map(|(k, v)| (k, v.into_iter().map(Arc::new).collect()))
                        .collect(),
                )
            })
            .await?)
    }

    pub(crate) async fn note_author(
        &self,
        ctx: &Context<'_>,
        author: Uuid,
    ) -> async_graphql::Result<Option<StaffMember>> {
        let rc = request_context(ctx)?;
        let notes = self.notes(ctx).await?;
        let authors = self
            .note_authors
            .get_or_try_init(|| {
                service::cases::staff_by_ids(&rc.db, notes.values().flatten().map(|n| n.author_id))
            })
            .await?;
        Ok(authors.get(&author).map(StaffMember::from))
    }
}

pub struct CaseNode {
    model: Arc<support_case::Model>,
    student: Arc<student::Model>,
    guard: Guard,
    access: Option<Arc<StudentAccess>>,
    group: Arc<CaseGroup>,
}

impl CaseNode {
    pub async fn new(
        ctx: &Context<'_>,
        model: Arc<support_case::Model>,
        student: Arc<student::Model>,
        group: Arc<CaseGroup>,
    ) -> async_graphql::Result<Self> {
        let rc = request_context(ctx)?;
        let access = rc.access_for(&[student.id]).await?.remove(&student.id);
        let facts = case_facts(
            rc.decisions.caller(),
            &model,
            student.processing_restricted,
            access.as_deref(),
        );
        Ok(CaseNode {
            guard: Guard::new(rc.decisions.mask(facts), student.id, Some(model.id)),
            access,
            model,
            student,
            group,
        })
    }

    /// Nodes for a page of (case, student) rows, sharing one group.
    pub async fn page(
        ctx: &Context<'_>,
        rows: Vec<service::cases::CaseRow>,
    ) -> async_graphql::Result<Vec<Self>> {
        let mut students: HashMap<Uuid, Arc<student::Model>> = HashMap::new();
        let mut cases = Vec::with_capacity(rows.len());
        for (case, student) in rows {
            let student = students
                .entry(student.id)
                .or_insert_with(|| Arc::new(student))
                .clone();
            cases.push((Arc::new(case), student));
        }
        let ids: Vec<Uuid> = students.keys().copied().collect();
        request_context(ctx)?.access_for(&ids).await?;
        let group = CaseGroup::new(
            cases.iter().map(|(c, _)| c.clone()).collect(),
            students,
            None,
        );
        let mut nodes = Vec::with_capacity(cases.len());
        for (c, s) in cases {
            nodes.push(CaseNode::new(ctx, c, s, group.clone()).await?);
        }
        Ok(nodes)
    }

    /// A note of this case: guarded as the case's notes are, and withheld where
    /// every consent covering the case's notes excludes one of its labels.
    pub fn note_node(
        &self,
        ctx: &Context<'_>,
        note: Arc<note::Model>,
    ) -> async_graphql::Result<NoteNode> {
        let rc = request_context(ctx)?;
        let labels = SensitivityLabel::bits_of(&labels_from_json(&note.labels));
        let facts = note_facts(
            self.guard.facts(),
            self.model.id,
            labels,
            self.access.as_deref(),
        );
        Ok(NoteNode::new(
            note,
            Guard::new(
                rc.decisions.mask(facts),
                self.student.id,
                Some(self.model.id),
            ),
            self.group.clone(),
        ))
    }

    /// A third-party entry of this case, guarded as the case's entries are.
    pub fn third_party_node(&self, entry: third_party_entry::Model) -> ThirdPartyEntryNode {
        ThirdPartyEntryNode::new(entry, self.guard.same())
    }

    pub async fn one(
        ctx: &Context<'_>,
        row: service::cases::CaseRow,
    ) -> async_graphql::Result<Self> {
        let mut nodes = Self::page(ctx, vec![row]).await?;
        nodes
            .pop()
            .ok_or_else(|| AppError::internal("case", "empty page").into())
    }
}

/// A support case of one Student Support service.
#[Object(name = "SupportCase")]
impl CaseNode {
    async fn id(&self) -> ID {
        id(self.model.id)
    }

    /// The student the case is about (each field guarded by the student's own rules).
    async fn student(&self, ctx: &Context<'_>) -> async_graphql::Result<StudentNode> {
        let group = self
            .group
            .student_group
            .get_or_init(|| StudentGroup::new(self.group.students.values().cloned()))
            .clone();
        StudentNode::new(ctx, self.student.clone(), group).await
    }

    /// Category SUPPORT_SUMMARY. The Student Support service that owns the case.
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::SupportSummary, || {
            Some(self.model.service.as_str())
        })
    }

    /// Category SUPPORT_SUMMARY.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CaseStatus>> {
        reveal(ctx, &self.guard, FieldClass::SupportSummary, || {
            CaseStatus::parse(&self.model.status)
        })
    }

    /// Category SUPPORT_SUMMARY.
    async fn opened_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<chrono::DateTime<chrono::Utc>>> {
        reveal(ctx, &self.guard, FieldClass::SupportSummary, || {
            Some(self.model.opened_at)
        })
    }

    /// Category SUPPORT_SUMMARY.
    async fn closed_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<chrono::DateTime<chrono::Utc>>> {
        reveal(ctx, &self.guard, FieldClass::SupportSummary, || {
            self.model.closed_at
        })
    }

    /// Category SUPPORT_SUMMARY. The practitioner the case is assigned to.
    async fn assigned_to(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<StaffMember>> {
        let Some(staff_id) = reveal(ctx, &self.guard, FieldClass::SupportSummary, || {
            self.model.assigned_to
        })?
        else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let staff = self
            .group
            .assignees
            .get_or_try_init(|| {
                service::cases::staff_by_ids(&rc.db, self.group.assignee_ids.iter().copied())
            })
            .await?;
        Ok(staff.get(&staff_id).map(StaffMember::from))
    }

    /// Category SUPPORT_SUMMARY (the shareable text). A short factual summary written to be shared.
    async fn summary(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::SummaryText, || {
            self.model.summary.as_deref()
        })
    }

    /// Category ADJUSTMENTS. Agreed reasonable adjustments / support plan.
    async fn adjustments(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::Adjustments, || {
            self.model.adjustments.as_deref()
        })
    }

    /// Category RISK.
    async fn risk_level(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<RiskLevel>> {
        reveal(ctx, &self.guard, FieldClass::Risk, || {
            RiskLevel::parse(&self.model.risk_level)
        })
    }

    /// Category CASE_NOTES. Notes, newest first; `limit` caps how many (default all, at most 100).
    async fn notes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100, validator(minimum = 0, maximum = 100))] limit: i32,
    ) -> async_graphql::Result<Option<Vec<NoteNode>>> {
        if reveal(ctx, &self.guard, FieldClass::CaseNotes, || Some(()))?.is_none() {
            return Ok(None);
        }
        let notes = self.group.notes(ctx).await?;
        let rows = notes.get(&self.model.id).map(Vec::as_slice).unwrap_or(&[]);
        rows.iter()
            .take(limit.max(0) as usize)
            .map(|n| self.note_node(ctx, n.clone()))
            .collect::<async_graphql::Result<Vec<_>>>()
            .map(Some)
    }

    /// Category THIRD_PARTY. Information from or about someone other than the student.
    async fn third_party_entries(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<ThirdPartyEntryNode>>> {
        if reveal(ctx, &self.guard, FieldClass::ThirdParty, || Some(()))?.is_none() {
            return Ok(None);
        }
        let rc = request_context(ctx)?;
        let entries = self
            .group
            .third_party
            .get_or_try_init(|| service::cases::third_party_of(&rc.db, &self.group.ids))
            .await?;
        Ok(Some(
            entries
                .get(&self.model.id)
                .map(|rows| {
                    rows.iter()
                        .map(|e| self.third_party_node(e.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        ))
    }
}

#[derive(SimpleObject)]
pub struct SupportCaseEdge {
    pub cursor: String,
    pub node: CaseNode,
}

/// A page of support cases.
#[derive(SimpleObject)]
pub struct SupportCaseConnection {
    pub edges: Vec<SupportCaseEdge>,
    pub page_info: PageInfo,
    /// Cases matching the filter that the caller may see (hidden rows are never counted).
    pub total_count: u64,
}
