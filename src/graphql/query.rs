//! Query root.

use super::inline::Inline;
use super::pagination;
use super::request_context;
use super::student::{StudentConnection, StudentNode};
use super::support_case::{CaseNode, SupportCaseConnection};
use crate::domain::{self, CaseStatus, RiskLevel};
use crate::error::AppError;
use crate::service::cases::{CaseFilter, CaseOrder};
use crate::service::students::{StudentFilter, StudentOrder};
use async_graphql::{Context, Enum, InputObject, Object, ID};

#[derive(Default)]
pub struct CoreQuery;

/// Filters on students. Each is checked by the policy like the field it reads:
/// refused (FORBIDDEN) if the caller can read that field nowhere, and otherwise
/// matched only on rows where the caller can read it.
#[derive(InputObject, Default)]
pub struct StudentFilterInput {
    /// Category ACADEMIC.
    pub department: Option<String>,
    /// Category IDENTITY. Case-insensitive substring of the name.
    pub name_contains: Option<String>,
    /// Category IDENTITY.
    pub student_number: Option<String>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum StudentOrderBy {
    /// Creation order (not guarded).
    #[default]
    Created,
    /// Category IDENTITY: by name; rows whose name is hidden sort last.
    Name,
}

/// Filters on support cases, checked like [`StudentFilterInput`].
#[derive(InputObject, Default)]
pub struct SupportCaseFilterInput {
    /// Cases of one student (not guarded: an identifier).
    pub student_id: Option<ID>,
    /// Category SUPPORT_SUMMARY.
    pub service: Option<String>,
    /// Category SUPPORT_SUMMARY.
    pub status: Option<CaseStatus>,
    /// Category SUPPORT_SUMMARY. Cases assigned to the caller.
    pub assigned_to_me: Option<bool>,
    /// Category SUPPORT_SUMMARY. Opened at or after.
    pub opened_after: Option<chrono::DateTime<chrono::Utc>>,
    /// Category SUPPORT_SUMMARY. Opened before.
    pub opened_before: Option<chrono::DateTime<chrono::Utc>>,
    /// Category RISK.
    pub risk_level: Option<RiskLevel>,
    /// Category CASE_NOTES. Cases with a note containing this text.
    pub note_contains: Option<String>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum SupportCaseOrderBy {
    /// Creation order (not guarded).
    #[default]
    Created,
    /// Category SUPPORT_SUMMARY. Rows whose date is hidden sort last.
    OpenedAtDesc,
    /// Category SUPPORT_SUMMARY. Rows whose date is hidden sort last.
    OpenedAtAsc,
    /// Category RISK. Rows whose risk is hidden sort last.
    RiskLevelDesc,
}

fn parse_case_filter(input: SupportCaseFilterInput) -> Result<CaseFilter, AppError> {
    Ok(CaseFilter {
        student_id: input
            .student_id
            .map(|s| domain::uuid("filter.studentId", &s))
            .transpose()?,
        service: input
            .service
            .map(|s| domain::slug("filter.service", &s))
            .transpose()?,
        status: input.status,
        assigned_to_me: input.assigned_to_me,
        opened_after: input.opened_after,
        opened_before: input.opened_before,
        risk_level: input.risk_level,
        note_contains: input
            .note_contains
            .map(|s| domain::required_text("filter.noteContains", &s, 200))
            .transpose()?,
    })
}

#[Object]
impl CoreQuery {
    /// One student, or null if it does not exist or is not visible to you (the same answer).
    async fn student(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Inline<StudentNode>>> {
        let rc = request_context(ctx)?;
        let Ok(uuid) = uuid::Uuid::parse_str(&id) else {
            rc.route(crate::policy::Action::ListStudents)?;
            return Ok(None);
        };
        Ok(rc
            .student(uuid)
            .await?
            .map(|s| Inline(StudentNode::from(s))))
    }

    /// Students visible to you.
    async fn students(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<StudentFilterInput>,
        order_by: Option<StudentOrderBy>,
    ) -> async_graphql::Result<Option<StudentConnection>> {
        let rc = request_context(ctx)?;
        let page = pagination::page(first, after.as_deref(), rc.limits.max_page_size)?;
        let input = filter.unwrap_or_default();
        let filter = StudentFilter {
            department: input
                .department
                .map(|d| domain::slug("filter.department", &d))
                .transpose()?,
            name_contains: input
                .name_contains
                .map(|n| domain::required_text("filter.nameContains", &n, 200))
                .transpose()?,
            student_number: input
                .student_number
                .map(|n| domain::student_number("filter.studentNumber", &n))
                .transpose()?,
        };
        let order = match order_by.unwrap_or_default() {
            StudentOrderBy::Created => StudentOrder::Created,
            StudentOrderBy::Name => StudentOrder::Name,
        };
        let rows = rc.students(&filter, order, page).await?;
        let total_count = if ctx.look_ahead().field("totalCount").exists() {
            rc.count_students(&filter).await?
        } else {
            0
        };
        Ok(Some(StudentConnection::from_page(rows, total_count)))
    }

    /// One support case, or null if it does not exist or is not visible to you.
    async fn support_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Inline<CaseNode>>> {
        let rc = request_context(ctx)?;
        let Ok(uuid) = uuid::Uuid::parse_str(&id) else {
            rc.route(crate::policy::Action::ListCases)?;
            return Ok(None);
        };
        Ok(rc.case(uuid).await?.map(|c| Inline(CaseNode::from(c))))
    }

    /// Support cases visible to you.
    async fn support_cases(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<SupportCaseFilterInput>,
        order_by: Option<SupportCaseOrderBy>,
    ) -> async_graphql::Result<Option<SupportCaseConnection>> {
        let rc = request_context(ctx)?;
        let page = pagination::page(first, after.as_deref(), rc.limits.max_page_size)?;
        let filter = parse_case_filter(filter.unwrap_or_default())?;
        let order = match order_by.unwrap_or_default() {
            SupportCaseOrderBy::Created => CaseOrder::Created,
            SupportCaseOrderBy::OpenedAtDesc => CaseOrder::OpenedAtDesc,
            SupportCaseOrderBy::OpenedAtAsc => CaseOrder::OpenedAtAsc,
            SupportCaseOrderBy::RiskLevelDesc => CaseOrder::RiskLevelDesc,
        };
        let rows = rc.cases(&filter, order, page).await?;
        let total_count = if ctx.look_ahead().field("totalCount").exists() {
            rc.count_cases(&filter).await?
        } else {
            0
        };
        Ok(Some(SupportCaseConnection::from_page(rows, total_count)))
    }
}
