//! The directory's mutations: members of staff, departments, university
//! services and partner organisations, created and deactivated. Each is refused
//! before its input is read when the caller's role may never take it
//! (`rc.writer`), decided by the policy in the service, and audited in the same
//! transaction. Results are guarded records of class DIRECTORY.

use super::pagination::id;
use super::{request_context, reveal};
use crate::domain::{self, PartnerKind, Role};
use crate::error::{AppError, AppResult};
use crate::policy::{Action, FieldClass, Guarded};
use crate::service::directory::{self, NewStaff};
use async_graphql::{Context, InputObject, Object, ID};
use entity::{department, partner_organisation, staff, university_service};

const DIRECTORY: FieldClass = FieldClass::Directory;

/// A member of staff's account, as the directory holds it (DIRECTORY).
pub struct StaffAccountNode(Guarded<staff::Model>);

/// A member of staff's account. Every field but the id is DIRECTORY.
#[Object(name = "StaffAccount")]
impl StaffAccountNode {
    async fn id(&self) -> ID {
        id(self.0.id())
    }

    /// DIRECTORY.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.0, DIRECTORY, |m| Some(m.name.as_str()))
    }

    /// DIRECTORY.
    async fn email(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.0, DIRECTORY, |m| Some(m.email.as_str()))
    }

    /// DIRECTORY.
    async fn role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Role>> {
        reveal(ctx, &self.0, DIRECTORY, |m| Role::parse(&m.role))
    }

    /// DIRECTORY. Their Student Support service.
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.0, DIRECTORY, |m| m.service.as_deref())
    }

    /// DIRECTORY. Their academic department (role department).
    async fn department(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.0, DIRECTORY, |m| m.department.as_deref())
    }

    /// DIRECTORY. Their university service (role university_service).
    async fn university_unit(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.0, DIRECTORY, |m| m.university_unit.as_deref())
    }

    /// DIRECTORY. A deactivated member is refused at once.
    async fn active(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.0, DIRECTORY, |m| Some(m.active))
    }
}

/// An academic department. Every field but the id is DIRECTORY.
pub struct DepartmentNode(Guarded<department::Model>);

#[Object(name = "Department")]
impl DepartmentNode {
    async fn id(&self) -> ID {
        id(self.0.id())
    }

    /// DIRECTORY. What staff records, students and consents name it by.
    async fn code(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.0, DIRECTORY, |m| Some(m.code.as_str()))
    }

    /// DIRECTORY.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.0, DIRECTORY, |m| Some(m.name.as_str()))
    }

    /// DIRECTORY. Callers of a deactivated department are refused at once.
    async fn active(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.0, DIRECTORY, |m| Some(m.active))
    }
}

/// A university service (a unit such as accommodation). Every field but the id is DIRECTORY.
pub struct UniversityServiceNode(Guarded<university_service::Model>);

#[Object(name = "UniversityService")]
impl UniversityServiceNode {
    async fn id(&self) -> ID {
        id(self.0.id())
    }

    /// DIRECTORY. What staff records and consents name it by.
    async fn code(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.0, DIRECTORY, |m| Some(m.code.as_str()))
    }

    /// DIRECTORY.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.0, DIRECTORY, |m| Some(m.name.as_str()))
    }

    /// DIRECTORY. Callers of a deactivated unit are refused at once.
    async fn active(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.0, DIRECTORY, |m| Some(m.active))
    }
}

/// A partner organisation. Every field but the id is DIRECTORY.
pub struct PartnerOrganisationNode(Guarded<partner_organisation::Model>);

#[Object(name = "PartnerOrganisation")]
impl PartnerOrganisationNode {
    /// What consents and risk exceptions name it by (`PARTNER`/`<id>`).
    async fn id(&self) -> ID {
        id(self.0.id())
    }

    /// DIRECTORY.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.0, DIRECTORY, |m| Some(m.name.as_str()))
    }

    /// DIRECTORY.
    async fn kind(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PartnerKind>> {
        reveal(ctx, &self.0, DIRECTORY, |m| PartnerKind::parse(&m.kind))
    }

    /// DIRECTORY. The `sub` its identity provider puts in its tokens.
    async fn idp_subject(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        reveal(ctx, &self.0, DIRECTORY, |m| m.idp_subject.as_deref())
    }

    /// DIRECTORY. A deactivated organisation's tokens are refused at once.
    async fn active(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        reveal(ctx, &self.0, DIRECTORY, |m| Some(m.active))
    }
}

#[derive(InputObject)]
pub struct CreateStaffInput {
    pub name: String,
    pub email: String,
    pub role: Role,
    /// Required for practitioner, service_lead and reception (a configured
    /// Student Support service); absent otherwise.
    pub service: Option<String>,
    /// Required for role department (an active department's code); absent otherwise.
    pub department: Option<String>,
    /// Required for role university_service (an active unit's code); absent otherwise.
    pub university_unit: Option<String>,
}

const NAME: usize = 200;

fn slug_opt(field: &str, value: Option<String>) -> AppResult<Option<String>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => domain::slug(field, v).map(Some),
    }
}

fn parse_new_staff(i: CreateStaffInput) -> AppResult<NewStaff> {
    Ok(NewStaff {
        name: domain::required_text("input.name", &i.name, NAME)?,
        email: domain::email("input.email", &i.email)?,
        role: i.role,
        service: slug_opt("input.service", i.service)?,
        department: slug_opt("input.department", i.department)?,
        university_unit: slug_opt("input.universityUnit", i.university_unit)?,
    })
}

#[derive(Default)]
pub struct DirectoryMutation;

#[Object]
impl DirectoryMutation {
    /// Creates a member of staff. An administrator: any staff role
    /// (administrators included); a service lead: practitioners and reception
    /// of their own service. `BAD_USER_INPUT` when the role's attachment is
    /// missing or superfluous (a service for practitioner, service_lead and
    /// reception; an active department for department; an active university
    /// service for university_service); `CONFLICT` for an email already used.
    async fn create_staff(
        &self,
        ctx: &Context<'_>,
        input: CreateStaffInput,
    ) -> async_graphql::Result<Option<StaffAccountNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::CreateStaff)?;
        let new = parse_new_staff(input)?;
        let services = rc.limits.services.clone();
        let model = in_transaction!(writer, |txn| directory::create_staff(
            &txn,
            &rc.decisions,
            &services,
            new
        )
        .await)?;
        Ok(Some(StaffAccountNode(rc.directory_record(model))))
    }

    /// Deactivates a member of staff: their next request is refused (401). An
    /// administrator: anyone; a service lead: practitioners and reception of
    /// their own service. Nobody deactivates themself (`BAD_USER_INPUT`); an
    /// inactive member is a `CONFLICT`.
    async fn deactivate_staff(
        &self,
        ctx: &Context<'_>,
        staff_id: ID,
    ) -> async_graphql::Result<Option<StaffAccountNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::DeactivateStaff)?;
        let staff_id = domain::uuid("staffId", &staff_id)?;
        let model = in_transaction!(writer, |txn| directory::deactivate_staff(
            &txn,
            &rc.decisions,
            staff_id
        )
        .await)?;
        Ok(Some(StaffAccountNode(rc.directory_record(model))))
    }

    /// Creates an academic department (administrators). `CONFLICT` for a code already used.
    async fn create_department(
        &self,
        ctx: &Context<'_>,
        code: String,
        name: String,
    ) -> async_graphql::Result<Option<DepartmentNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::CreateDepartment)?;
        let code = domain::slug("code", &code)?;
        let name = domain::required_text("name", &name, NAME)?;
        let model = in_transaction!(writer, |txn| directory::create_department(
            &txn,
            &rc.decisions,
            code,
            name
        )
        .await)?;
        Ok(Some(DepartmentNode(rc.directory_record(model))))
    }

    /// Deactivates a department (administrators): its callers are refused at once.
    async fn deactivate_department(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> async_graphql::Result<Option<DepartmentNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::DeactivateDepartment)?;
        let code = domain::slug("code", &code)?;
        let model = in_transaction!(writer, |txn| directory::deactivate_department(
            &txn,
            &rc.decisions,
            code
        )
        .await)?;
        Ok(Some(DepartmentNode(rc.directory_record(model))))
    }

    /// Creates a university service (administrators). `CONFLICT` for a code already used.
    async fn create_university_service(
        &self,
        ctx: &Context<'_>,
        code: String,
        name: String,
    ) -> async_graphql::Result<Option<UniversityServiceNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::CreateUniversityService)?;
        let code = domain::slug("code", &code)?;
        let name = domain::required_text("name", &name, NAME)?;
        let model = in_transaction!(writer, |txn| directory::create_university_service(
            &txn,
            &rc.decisions,
            code,
            name
        )
        .await)?;
        Ok(Some(UniversityServiceNode(rc.directory_record(model))))
    }

    /// Deactivates a university service (administrators): its callers are refused at once.
    async fn deactivate_university_service(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> async_graphql::Result<Option<UniversityServiceNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::DeactivateUniversityService)?;
        let code = domain::slug("code", &code)?;
        let model = in_transaction!(writer, |txn| directory::deactivate_university_service(
            &txn,
            &rc.decisions,
            code
        )
        .await)?;
        Ok(Some(UniversityServiceNode(rc.directory_record(model))))
    }

    /// Creates a partner organisation (administrators), mapped to the subject
    /// (`sub`) its identity provider puts in its tokens, if given. `CONFLICT`
    /// for a subject already mapped.
    async fn create_partner_organisation(
        &self,
        ctx: &Context<'_>,
        name: String,
        kind: PartnerKind,
        idp_subject: Option<String>,
    ) -> async_graphql::Result<Option<PartnerOrganisationNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::CreatePartnerOrganisation)?;
        let name = domain::required_text("name", &name, NAME)?;
        let idp_subject = domain::optional_text("idpSubject", idp_subject.as_deref(), 255)?;
        if idp_subject
            .as_deref()
            .is_some_and(|s| s.chars().any(char::is_whitespace))
        {
            return Err(AppError::bad_input("idpSubject", "must not contain spaces").into());
        }
        let model = in_transaction!(writer, |txn| directory::create_partner_organisation(
            &txn,
            &rc.decisions,
            name,
            kind,
            idp_subject
        )
        .await)?;
        Ok(Some(PartnerOrganisationNode(rc.directory_record(model))))
    }

    /// Deactivates a partner organisation (administrators): its tokens are refused at once.
    async fn deactivate_partner_organisation(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<PartnerOrganisationNode>> {
        let rc = request_context(ctx)?;
        let writer = rc.writer(Action::DeactivatePartnerOrganisation)?;
        let id = domain::uuid("id", &id)?;
        let model = in_transaction!(writer, |txn| directory::deactivate_partner_organisation(
            &txn,
            &rc.decisions,
            id
        )
        .await)?;
        Ok(Some(PartnerOrganisationNode(rc.directory_record(model))))
    }
}
