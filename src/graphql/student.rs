//! The `Student` type, its enrolments, and sibling batching of a student page.

use super::pagination::{id, PageInfo};
use super::sharing::{ConsentNode, RiskExceptionNode};
use super::support_case::{CaseGroup, CaseNode};
use super::{request_context, reveal, Guard};
use crate::domain::Role;
use crate::policy::access::consent_in_force;
use crate::policy::facts::student_facts;
use crate::policy::FieldClass;
use crate::service;
use async_graphql::{Context, Object, SimpleObject, ID};
use entity::{consent, enrolment, student, support_case};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OnceCell;
use uuid::Uuid;

type CasesByStudent = HashMap<Uuid, Vec<Arc<support_case::Model>>>;

/// A set of students resolved together: their children are loaded for all of them
/// in one statement, the first time any of them asks.
pub struct StudentGroup {
    ids: Vec<Uuid>,
    enrolments: OnceCell<HashMap<Uuid, Vec<enrolment::Model>>>,
    cases: OnceCell<(CasesByStudent, Arc<CaseGroup>)>,
    consents: OnceCell<HashMap<Uuid, Vec<consent::Model>>>,
    students: HashMap<Uuid, Arc<student::Model>>,
}

impl StudentGroup {
    pub fn new(students: impl IntoIterator<Item = Arc<student::Model>>) -> Arc<Self> {
        let students: HashMap<Uuid, Arc<student::Model>> =
            students.into_iter().map(|s| (s.id, s)).collect();
        Arc::new(StudentGroup {
            ids: students.keys().copied().collect(),
            enrolments: OnceCell::new(),
            cases: OnceCell::new(),
            consents: OnceCell::new(),
            students,
        })
    }
}

pub struct StudentNode {
    model: Arc<student::Model>,
    guard: Guard,
    group: Arc<StudentGroup>,
}

impl StudentNode {
    pub async fn new(
        ctx: &Context<'_>,
        model: Arc<student::Model>,
        group: Arc<StudentGroup>,
    ) -> async_graphql::Result<Self> {
        let rc = request_context(ctx)?;
        let access = rc.access_for(&[model.id]).await?;
        let facts = student_facts(
            rc.decisions.caller(),
            model.id,
            model.processing_restricted,
            access.get(&model.id).map(|a| a.as_ref()),
        );
        Ok(StudentNode {
            guard: Guard::new(rc.decisions.mask(facts), model.id, None),
            model,
            group,
        })
    }

    /// Nodes for a page of students, sharing one group.
    pub async fn page(
        ctx: &Context<'_>,
        models: Vec<student::Model>,
    ) -> async_graphql::Result<Vec<Self>> {
        let rc = request_context(ctx)?;
        let ids: Vec<Uuid> = models.iter().map(|m| m.id).collect();
        rc.access_for(&ids).await?;
        let models: Vec<Arc<student::Model>> = models.into_iter().map(Arc::new).collect();
        let group = StudentGroup::new(models.iter().cloned());
        let mut nodes = Vec::with_capacity(models.len());
        for m in models {
            nodes.push(StudentNode::new(ctx, m, group.clone()).await?);
        }
        Ok(nodes)
    }
}

/// A student who uses Student Support.
#[Object(name = "Student")]
impl StudentNode {
    async fn id(&self) -> ID {
        id(self.model.id)
    }

    /// Category IDENTITY.
    async fn student_number(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::Identity, || {
            Some(self.model.student_number.as_str())
        })
    }

    /// Category IDENTITY. Full name.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::Identity, || {
            Some(self.model.name.as_str())
        })
    }

    /// Category IDENTITY.
    async fn preferred_name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::Identity, || {
            self.model.preferred_name.as_deref()
        })
    }

    /// Category CONTACT.
    async fn email(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::Contact, || {
            Some(self.model.email.as_str())
        })
    }

    /// Category CONTACT.
    async fn phone(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::Contact, || {
            self.model.phone.as_deref()
        })
    }

    /// Category CONTACT. Term-time address.
    async fn term_address(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::Contact, || {
            self.model.term_address.as_deref()
        })
    }

    /// Category CONTACT.
    async fn home_address(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::Contact, || {
            self.model.home_address.as_deref()
        })
    }

    /// Category DEMOGRAPHIC.
    async fn date_of_birth(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<chrono::NaiveDate>> {
        reveal(ctx, &self.guard, FieldClass::Demographic, || {
            self.model.date_of_birth
        })
    }

    /// Category ACADEMIC. Academic department.
    async fn department(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::Academic, || {
            Some(self.model.department.as_str())
        })
    }

    /// Category ACADEMIC.
    async fn course(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::Academic, || {
            Some(self.model.course.as_str())
        })
    }

    /// Category ACADEMIC. Periods of study, oldest first.
    async fn enrolments(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<Enrolment>>> {
        if reveal(ctx, &self.guard, FieldClass::Academic, || Some(()))?.is_none() {
            return Ok(None);
        }
        let rc = request_context(ctx)?;
        let all = self
            .group
            .enrolments
            .get_or_try_init(|| service::students::enrolments_of(&rc.db, &self.group.ids))
            .await?;
        Ok(Some(
            all.get(&self.model.id)
                .map(|rows| rows.iter().map(Enrolment::from).collect())
                .unwrap_or_default(),
        ))
    }

    /// Category TRUSTED_CONTACTS. Emergency contact / next of kin.
    async fn emergency_contact(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::TrustedContacts, || {
            self.model.emergency_contact.as_deref()
        })
    }

    /// Category TRUSTED_CONTACTS.
    async fn gp_practice(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.guard, FieldClass::TrustedContacts, || {
            self.model.gp_practice.as_deref()
        })
    }

    /// Category CONSENTS (the consent workflow's records). Consents to share, newest
    /// first: those in force, or with `includeInactive` also expired and withdrawn ones.
    async fn consents(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] include_inactive: bool,
    ) -> async_graphql::Result<Option<Vec<ConsentNode>>> {
        if reveal(ctx, &self.guard, FieldClass::Consents, || Some(()))?.is_none() {
            return Ok(None);
        }
        let rc = request_context(ctx)?;
        let now = rc.decisions.now();
        let all = self
            .group
            .consents
            .get_or_try_init(|| service::consents::of_students(&rc.db, &self.group.ids))
            .await?;
        Ok(Some(
            all.get(&self.model.id)
                .map(|rows| {
                    rows.iter()
                        .filter(|c| include_inactive || consent_in_force(c, now))
                        .map(|c| ConsentNode::new(c.clone(), now))
                        .collect()
                })
                .unwrap_or_default(),
        ))
    }

    /// Category RISK_EXCEPTIONS (the workflow's records). Risk exceptions about the
    /// student, newest first; a student sees their own only once informed.
    async fn risk_exceptions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<RiskExceptionNode>>> {
        if reveal(ctx, &self.guard, FieldClass::RiskExceptions, || Some(()))?.is_none() {
            return Ok(None);
        }
        let rc = request_context(ctx)?;
        let now = rc.decisions.now();
        let is_student = rc.decisions.caller().role == Role::Student;
        Ok(Some(
            service::risk_exceptions::of_student(&rc.db, self.model.id)
                .await?
                .into_iter()
                .filter(|e| !is_student || service::risk_exceptions::shown_to_student(e))
                .map(|e| RiskExceptionNode::new(e, now))
                .collect(),
        ))
    }

    /// Category SUPPORT_SUMMARY. The student's support cases visible to the caller,
    /// oldest first; each case is guarded by its own service's rules.
    async fn cases(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<CaseNode>>> {
        if reveal(ctx, &self.guard, FieldClass::SupportSummary, || Some(()))?.is_none() {
            return Ok(None);
        }
        let rc = request_context(ctx)?;
        let (by_student, group) = self
            .group
            .cases
            .get_or_try_init(|| async {
                let rows =
                    service::cases::cases_of_students(&rc.db, &rc.decisions, &self.group.ids)
                        .await?;
                let rows: Vec<Arc<support_case::Model>> = rows.into_iter().map(Arc::new).collect();
                let mut by_student: HashMap<Uuid, Vec<Arc<support_case::Model>>> = HashMap::new();
                for row in &rows {
                    by_student
                        .entry(row.student_id)
                        .or_default()
                        .push(row.clone());
                }
                let group =
                    CaseGroup::new(rows, self.group.students.clone(), Some(self.group.clone()));
                Ok::<_, crate::error::AppError>((by_student, group))
            })
            .await?;
        let cases = by_student.get(&self.model.id).cloned().unwrap_or_default();
        let mut nodes = Vec::with_capacity(cases.len());
        for c in cases {
            nodes.push(CaseNode::new(ctx, c, self.model.clone(), group.clone()).await?);
        }
        Ok(Some(nodes))
    }
}

/// A period of study.
#[derive(SimpleObject, Clone, Debug)]
pub struct Enrolment {
    pub id: ID,
    pub starts_on: chrono::NaiveDate,
    pub ends_on: Option<chrono::NaiveDate>,
}

impl From<&enrolment::Model> for Enrolment {
    fn from(m: &enrolment::Model) -> Self {
        Enrolment {
            id: id(m.id),
            starts_on: m.starts_on,
            ends_on: m.ends_on,
        }
    }
}

#[derive(SimpleObject)]
pub struct StudentEdge {
    pub cursor: String,
    pub node: StudentNode,
}

/// A page of students.
#[derive(SimpleObject)]
pub struct StudentConnection {
    pub edges: Vec<StudentEdge>,
    pub page_info: PageInfo,
    /// Students matching the filter that the caller may see (hidden rows are never counted).
    pub total_count: u64,
}
