//! Mutation root. Inputs are parsed into domain types here; the service asks the
//! policy before any side effect; each mutation runs in one transaction.

use super::note::{NoteNode, ThirdPartyEntryNode};
use super::request_context;
use super::student::{EnrolmentNode, StudentNode};
use super::support_case::CaseNode;
use crate::domain::{self, NoteKind, RiskLevel, SensitivityLabel};
use crate::error::{AppError, AppResult};
use crate::policy::Action;
use crate::service;
use crate::service::cases::CaseRow;
use async_graphql::{Context, InputObject, MaybeUndefined, Object, ID};

#[derive(Default)]
pub struct CoreMutation;

#[derive(InputObject)]
pub struct CreateStudentInput {
    pub student_number: String,
    pub name: String,
    pub preferred_name: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    pub term_address: Option<String>,
    pub home_address: Option<String>,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub department: String,
    pub course: String,
    pub emergency_contact: Option<String>,
    pub gp_practice: Option<String>,
}

/// Changes to a student's details. An omitted field is left as it is; `null`
/// clears an optional field.
#[derive(InputObject, Default)]
pub struct UpdateStudentInput {
    pub name: Option<String>,
    pub preferred_name: MaybeUndefined<String>,
    pub email: Option<String>,
    pub phone: MaybeUndefined<String>,
    pub term_address: MaybeUndefined<String>,
    pub home_address: MaybeUndefined<String>,
    pub department: Option<String>,
    pub course: Option<String>,
    pub emergency_contact: MaybeUndefined<String>,
    pub gp_practice: MaybeUndefined<String>,
}

#[derive(InputObject)]
pub struct OpenCaseInput {
    pub student_id: ID,
    pub service: String,
    pub summary: Option<String>,
    pub adjustments: Option<String>,
    #[graphql(default_with = "RiskLevel::None")]
    pub risk_level: RiskLevel,
}

#[derive(InputObject)]
pub struct AddNoteInput {
    pub case_id: ID,
    pub kind: NoteKind,
    /// Defaults to now.
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
    pub body: String,
    #[graphql(default)]
    pub labels: Vec<SensitivityLabel>,
}

#[derive(InputObject)]
pub struct RecordThirdPartyEntryInput {
    pub case_id: ID,
    pub source: String,
    pub subject: String,
    pub body: String,
    #[graphql(default)]
    pub third_party_consented: bool,
    pub disclosure_justification: Option<String>,
}

const TEXT: usize = 500;
const LONG_TEXT: usize = 20_000;

fn opt(field: &str, v: Option<String>) -> AppResult<Option<String>> {
    domain::optional_text(field, v.as_deref(), TEXT)
}

fn change(field: &str, v: MaybeUndefined<String>) -> AppResult<Option<Option<String>>> {
    match v {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Ok(Some(None)),
        MaybeUndefined::Value(s) => Ok(Some(domain::optional_text(field, Some(&s), TEXT)?)),
    }
}

fn parse_new_student(i: CreateStudentInput) -> AppResult<service::students::NewStudent> {
    if let Some(dob) = i.date_of_birth {
        let today = chrono::Utc::now().date_naive();
        domain::plausible_date("input.dateOfBirth", dob, domain::earliest_date(), today)?;
    }
    Ok(service::students::NewStudent {
        student_number: domain::student_number("input.studentNumber", &i.student_number)?,
        name: domain::required_text("input.name", &i.name, 200)?,
        preferred_name: opt("input.preferredName", i.preferred_name)?,
        email: domain::email("input.email", &i.email)?,
        phone: opt("input.phone", i.phone)?,
        term_address: opt("input.termAddress", i.term_address)?,
        home_address: opt("input.homeAddress", i.home_address)?,
        date_of_birth: i.date_of_birth,
        department: domain::slug("input.department", &i.department)?,
        course: domain::required_text("input.course", &i.course, 200)?,
        emergency_contact: opt("input.emergencyContact", i.emergency_contact)?,
        gp_practice: opt("input.gpPractice", i.gp_practice)?,
    })
}

fn parse_changes(i: UpdateStudentInput) -> AppResult<service::students::StudentChanges> {
    Ok(service::students::StudentChanges {
        name: i
            .name
            .map(|v| domain::required_text("input.name", &v, 200))
            .transpose()?,
        preferred_name: change("input.preferredName", i.preferred_name)?,
        email: i
            .email
            .map(|v| domain::email("input.email", &v))
            .transpose()?,
        phone: change("input.phone", i.phone)?,
        term_address: change("input.termAddress", i.term_address)?,
        home_address: change("input.homeAddress", i.home_address)?,
        department: i
            .department
            .map(|v| domain::slug("input.department", &v))
            .transpose()?,
        course: i
            .course
            .map(|v| domain::required_text("input.course", &v, 200))
            .transpose()?,
        emergency_contact: change("input.emergencyContact", i.emergency_contact)?,
        gp_practice: change("input.gpPractice", i.gp_practice)?,
        reason: None,
    })
}

/// A mutation's case result, guarded as on every other route.
async fn case_result(ctx: &Context<'_>, row: CaseRow) -> async_graphql::Result<Option<CaseNode>> {
    let rc = request_context(ctx)?;
    Ok(rc.case_records(vec![row]).await?.pop().map(CaseNode::from))
}

/// A mutation's student result, guarded as on every other route.
async fn student_result(
    ctx: &Context<'_>,
    model: entity::student::Model,
) -> async_graphql::Result<Option<StudentNode>> {
    let rc = request_context(ctx)?;
    Ok(rc
        .student_records(vec![model])
        .await?
        .pop()
        .map(StudentNode::from))
}

#[Object]
impl CoreMutation {
    /// Registers a student. Practitioners, service leads and reception.
    async fn create_student(
        &self,
        ctx: &Context<'_>,
        input: CreateStudentInput,
    ) -> async_graphql::Result<Option<StudentNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::CreateStudent)?;
        let new = parse_new_student(input)?;
        let model = in_transaction!(writer, |txn| service::students::create(
            &txn,
            &rc.decisions,
            new
        )
        .await)?;
        student_result(ctx, model).await
    }

    /// Updates a student's details. Each field whose value changes is kept in
    /// the student's rectification history (`Student.changeHistory`) with its
    /// previous value, who changed it, when, and `reason` (optional: why).
    async fn update_student(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateStudentInput,
        reason: Option<String>,
    ) -> async_graphql::Result<Option<StudentNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::UpdateStudent)?;
        let id = domain::uuid("id", &id)?;
        let mut changes = parse_changes(input)?;
        changes.reason = domain::optional_text("reason", reason.as_deref(), 2000)?;
        let model = in_transaction!(writer, |txn| service::students::update(
            &txn,
            &rc.decisions,
            id,
            changes
        )
        .await)?;
        student_result(ctx, model).await
    }

    /// Records a period of study.
    async fn record_enrolment(
        &self,
        ctx: &Context<'_>,
        student_id: ID,
        starts_on: chrono::NaiveDate,
        ends_on: Option<chrono::NaiveDate>,
    ) -> async_graphql::Result<Option<EnrolmentNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::RecordEnrolment)?;
        let student_id = domain::uuid("studentId", &student_id)?;
        let (_, row) = in_transaction!(writer, |txn| {
            service::students::record_enrolment(&txn, &rc.decisions, student_id, starts_on, ends_on)
                .await
        })?;
        Ok(Some(rc.record_about(row.student_id, row).await?.into()))
    }

    /// Opens a case in a service (practitioners and service leads: their own service).
    async fn open_case(
        &self,
        ctx: &Context<'_>,
        input: OpenCaseInput,
    ) -> async_graphql::Result<Option<CaseNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::OpenCase)?;
        let service = domain::slug("input.service", &input.service)?;
        if !rc.limits.services.contains(&service) {
            return Err(
                AppError::bad_input("input.service", "is not a Student Support service").into(),
            );
        }
        let new = service::cases::NewCase {
            student_id: domain::uuid("input.studentId", &input.student_id)?,
            service,
            summary: domain::optional_text("input.summary", input.summary.as_deref(), LONG_TEXT)?,
            adjustments: domain::optional_text(
                "input.adjustments",
                input.adjustments.as_deref(),
                LONG_TEXT,
            )?,
            risk_level: input.risk_level,
        };
        let row = in_transaction!(writer, |txn| service::cases::open(&txn, &rc.decisions, new)
            .await)?;
        case_result(ctx, row).await
    }

    /// Assigns a case to a practitioner of its service (service lead of that service).
    async fn assign_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        staff_id: ID,
    ) -> async_graphql::Result<Option<CaseNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::AssignCase)?;
        let case_id = domain::uuid("caseId", &case_id)?;
        let staff_id = domain::uuid("staffId", &staff_id)?;
        let row = in_transaction!(writer, |txn| service::cases::assign(
            &txn,
            &rc.decisions,
            case_id,
            staff_id
        )
        .await)?;
        case_result(ctx, row).await
    }

    /// Closes a case (its own service).
    async fn close_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
    ) -> async_graphql::Result<Option<CaseNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::CloseCase)?;
        let case_id = domain::uuid("caseId", &case_id)?;
        let row = in_transaction!(writer, |txn| service::cases::close(
            &txn,
            &rc.decisions,
            case_id
        )
        .await)?;
        case_result(ctx, row).await
    }

    /// Adds a note to a case of your own service.
    async fn add_note(
        &self,
        ctx: &Context<'_>,
        input: AddNoteInput,
    ) -> async_graphql::Result<Option<NoteNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::AddNote)?;
        let new = service::notes::NewNote {
            case_id: domain::uuid("input.caseId", &input.case_id)?,
            kind: input.kind,
            occurred_at: input.occurred_at.unwrap_or_else(chrono::Utc::now),
            body: domain::required_text("input.body", &input.body, LONG_TEXT)?,
            labels: input.labels,
        };
        let (note, row) =
            in_transaction!(writer, |txn| service::notes::add(&txn, &rc.decisions, new)
                .await)?;
        Ok(rc.note_record(row, note).await?.map(NoteNode::from))
    }

    /// Records information from or about a third party on a case of your own service.
    async fn record_third_party_entry(
        &self,
        ctx: &Context<'_>,
        input: RecordThirdPartyEntryInput,
    ) -> async_graphql::Result<Option<ThirdPartyEntryNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::RecordThirdPartyEntry)?;
        let new = service::notes::NewThirdPartyEntry {
            case_id: domain::uuid("input.caseId", &input.case_id)?,
            source: domain::required_text("input.source", &input.source, TEXT)?,
            subject: domain::required_text("input.subject", &input.subject, TEXT)?,
            body: domain::required_text("input.body", &input.body, LONG_TEXT)?,
            third_party_consented: input.third_party_consented,
            disclosure_justification: domain::optional_text(
                "input.disclosureJustification",
                input.disclosure_justification.as_deref(),
                LONG_TEXT,
            )?,
        };
        let (entry, row) = in_transaction!(writer, |txn| service::notes::add_third_party(
            &txn,
            &rc.decisions,
            new
        )
        .await)?;
        Ok(Some(rc.third_party_record(row, entry).await?.into()))
    }
}
