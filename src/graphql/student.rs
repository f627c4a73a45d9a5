//! The `Student` type and its enrolments.

use super::consent::ConsentNode;
use super::context::{StudentGroup, StudentRecord};
use super::inline::{Inline, InlineFields};
use super::pagination::{id, PageInfo};
use super::risk_exception::{ConcernNoticeNode, RiskExceptionNode};
use super::support_case::CaseNode;
use super::{permit, request_context, reveal};
use crate::policy::{FieldClass, Guarded};
use async_graphql::{Context, Object, SimpleObject, ID};
use entity::{enrolment, student};
use std::sync::Arc;

pub struct StudentNode {
    record: Guarded<student::Model>,
    group: Arc<StudentGroup>,
}

impl From<StudentRecord> for StudentNode {
    fn from(r: StudentRecord) -> Self {
        StudentNode {
            record: r.record,
            group: r.group,
        }
    }
}

/// A student who uses Student Support.
#[Object(name = "Student")]
impl StudentNode {
    pub(crate) async fn id(&self) -> ID {
        id(self.record.id())
    }

    /// Category IDENTITY.
    async fn student_number(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Identity, |m| {
            Some(m.student_number.as_str())
        })
    }

    /// Category IDENTITY. Full name.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Identity, |m| {
            Some(m.name.as_str())
        })
    }

    /// Category IDENTITY.
    async fn preferred_name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Identity, |m| {
            m.preferred_name.as_deref()
        })
    }

    /// Category CONTACT.
    async fn email(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Contact, |m| {
            Some(m.email.as_str())
        })
    }

    /// Category CONTACT.
    async fn phone(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Contact, |m| {
            m.phone.as_deref()
        })
    }

    /// Category CONTACT. Term-time address.
    async fn term_address(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Contact, |m| {
            m.term_address.as_deref()
        })
    }

    /// Category CONTACT.
    async fn home_address(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Contact, |m| {
            m.home_address.as_deref()
        })
    }

    /// Category DEMOGRAPHIC.
    async fn date_of_birth(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<chrono::NaiveDate>> {
        reveal(ctx, &self.record, FieldClass::Demographic, |m| {
            m.date_of_birth
        })
    }

    /// Category ACADEMIC. Academic department.
    async fn department(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Academic, |m| {
            Some(m.department.as_str())
        })
    }

    /// Category ACADEMIC.
    async fn course(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::Academic, |m| {
            Some(m.course.as_str())
        })
    }

    /// Category ACADEMIC. Periods of study, oldest first.
    async fn enrolments(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<EnrolmentNode>>> {
        let Some(permit) = permit(ctx, &self.record, FieldClass::Academic)? else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let rows = Box::pin(rc.enrolments(&self.group, &permit)).await?;
        Ok(Some(rows.into_iter().map(EnrolmentNode::from).collect()))
    }

    /// Category TRUSTED_CONTACTS. Emergency contact / next of kin.
    async fn emergency_contact(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::TrustedContacts, |m| {
            m.emergency_contact.as_deref()
        })
    }

    /// Category TRUSTED_CONTACTS.
    async fn gp_practice(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.record, FieldClass::TrustedContacts, |m| {
            m.gp_practice.as_deref()
        })
    }

    /// Category CONSENTS (the consent workflow's records). Consents to share, newest
    /// first: those in force, or with `includeInactive` also expired and withdrawn ones.
    async fn consents(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] include_inactive: bool,
    ) -> async_graphql::Result<Option<Vec<ConsentNode>>> {
        let Some(permit) = permit(ctx, &self.record, FieldClass::Consents)? else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let rows = Box::pin(rc.consents(&self.group, &permit, include_inactive)).await?;
        Ok(Some(rows.into_iter().map(ConsentNode::from).collect()))
    }

    /// Category RISK_EXCEPTIONS (the workflow's records). Risk exceptions about the
    /// student, newest first; a student sees their own only once informed.
    async fn risk_exceptions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<RiskExceptionNode>>> {
        let Some(permit) = permit(ctx, &self.record, FieldClass::RiskExceptions)? else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let rows = Box::pin(rc.risk_exceptions_of(&self.group, &permit)).await?;
        Ok(Some(
            rows.into_iter().map(RiskExceptionNode::from).collect(),
        ))
    }

    /// Category EMERGENCY_DISCLOSURES. Disclosures made in a life-threatening
    /// emergency, newest first; a student sees their own once informed.
    async fn emergency_disclosures(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<super::emergency::EmergencyDisclosureNode>>> {
        let Some(permit) = permit(ctx, &self.record, FieldClass::EmergencyDisclosures)? else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let rows = Box::pin(rc.emergency_disclosures_of(&permit)).await?;
        Ok(Some(rows.into_iter().map(Into::into).collect()))
    }

    /// Category LEGAL_AUTHORITIES. Court orders and statutory duties for
    /// disclosing the student's records, newest first: the DPO; the partner
    /// named (its own); the student once informed (never when the order forbids it).
    async fn legal_authorities(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<super::legal::LegalAuthorityNode>>> {
        let Some(permit) = permit(ctx, &self.record, FieldClass::LegalAuthorities)? else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let rows = Box::pin(rc.legal_authorities_of(&permit)).await?;
        Ok(Some(rows.into_iter().map(Into::into).collect()))
    }

    /// Category RESTRICTIONS. Restrictions of processing of the student's
    /// records, newest first: the DPO, and the student themself.
    async fn restrictions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<super::rights::RestrictionNode>>> {
        let Some(permit) = permit(ctx, &self.record, FieldClass::Restrictions)? else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let rows = Box::pin(rc.restrictions_of(&permit)).await?;
        Ok(Some(rows.into_iter().map(Into::into).collect()))
    }

    /// Category CHANGE_HISTORY. The rectification history of the student's
    /// details, newest first: each changed field's previous and new value, who
    /// changed it, when and why, and the recipients to notify. The DPO, and the
    /// student themself.
    async fn change_history(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<super::rights::StudentChangeNode>>> {
        let Some(permit) = permit(ctx, &self.record, FieldClass::ChangeHistory)? else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let rows = Box::pin(rc.change_history_of(&permit)).await?;
        Ok(Some(
            rows.into_iter()
                .map(|(record, to)| {
                    super::rights::StudentChangeNode::new(
                        record,
                        to.into_iter()
                            .map(|r| super::rights::NotifyRecipient {
                                id: super::pagination::id(r.id),
                                role: r.role,
                            })
                            .collect(),
                    )
                })
                .collect(),
        ))
    }

    /// Category CONCERN_NOTICE. For a department or university service: the
    /// concern notices of the active risk exceptions naming you (empty if none).
    async fn concern_notices(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<ConcernNoticeNode>>> {
        let Some(permit) = permit(ctx, &self.record, FieldClass::ConcernNotice)? else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let rows = Box::pin(rc.concern_notices(&permit)).await?;
        Ok(Some(
            rows.into_iter().map(ConcernNoticeNode::from).collect(),
        ))
    }

    /// Category SUPPORT_SUMMARY. The student's support cases visible to the caller,
    /// oldest first; each case is guarded by its own service's rules.
    async fn cases(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<Inline<CaseNode>>>> {
        let Some(permit) = permit(ctx, &self.record, FieldClass::SupportSummary)? else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let cases = Box::pin(rc.cases_of(&self.group, &permit)).await?;
        Ok(Some(
            cases
                .into_iter()
                .map(|c| Inline(CaseNode::from(c)))
                .collect(),
        ))
    }
}

impl InlineFields for StudentNode {
    const INLINE: &'static [&'static str] = &[
        "id",
        "studentNumber",
        "name",
        "preferredName",
        "email",
        "phone",
        "termAddress",
        "homeAddress",
        "dateOfBirth",
        "department",
        "course",
        "emergencyContact",
        "gpPractice",
    ];
}

/// A period of study.
pub struct EnrolmentNode {
    record: Guarded<enrolment::Model>,
}

impl From<Guarded<enrolment::Model>> for EnrolmentNode {
    fn from(record: Guarded<enrolment::Model>) -> Self {
        EnrolmentNode { record }
    }
}

/// A period of study. Every field but the id is category ACADEMIC.
#[Object(name = "Enrolment")]
impl EnrolmentNode {
    async fn id(&self) -> ID {
        id(self.record.id())
    }

    /// Category ACADEMIC.
    async fn starts_on(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<chrono::NaiveDate>> {
        reveal(ctx, &self.record, FieldClass::Academic, |m| {
            Some(m.starts_on)
        })
    }

    /// Category ACADEMIC.
    async fn ends_on(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<chrono::NaiveDate>> {
        reveal(ctx, &self.record, FieldClass::Academic, |m| m.ends_on)
    }
}

#[derive(SimpleObject)]
pub struct StudentEdge {
    pub cursor: String,
    pub node: Inline<StudentNode>,
}

impl InlineFields for StudentEdge {
    const INLINE: &'static [&'static str] = &["cursor", "node"];
}

/// A page of students.
#[derive(SimpleObject)]
pub struct StudentConnection {
    pub edges: Vec<Inline<StudentEdge>>,
    pub page_info: PageInfo,
    /// Students matching the filter that the caller may see (hidden rows are never counted).
    pub total_count: u64,
}

impl StudentConnection {
    pub fn from_page(page: super::context::Paged<StudentRecord>, total_count: u64) -> Self {
        StudentConnection {
            edges: page
                .edges
                .into_iter()
                .map(|(cursor, r)| {
                    Inline(StudentEdge {
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
