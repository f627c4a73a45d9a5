//! The directory: members of staff, departments, university services and
//! partner organisations, created and deactivated. Every write asks the policy
//! first (under the caller's relation to the record) and writes its audit
//! record in the same transaction. A deactivated record refuses its callers on
//! their next request (`auth::load_caller` reads the database per request).

use crate::domain::{PartnerKind, Role, StaffAttachment};
use crate::error::{AppError, AppResult};
use crate::policy::facts::staff_relation;
use crate::policy::{Action, Decisions, Relation};
use crate::service::audit::{self, Event};
use entity::{department, partner_organisation, staff, university_service};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

/// A member of staff as given (already parsed: text trimmed, slugs checked).
#[derive(Clone, Debug)]
pub struct NewStaff {
    pub name: String,
    pub email: String,
    pub role: Role,
    pub service: Option<String>,
    pub department: Option<String>,
    pub university_unit: Option<String>,
}

/// The one attachment a member of staff of `role` has, checked against the
/// input's shape: a service for practitioners, service leads and reception; a
/// department for department callers; a university service for
/// university_service callers; nothing for the others.
fn check_shape(new: &NewStaff, services: &[String]) -> AppResult<StaffAttachment> {
    let attachment = new
        .role
        .staff_attachment()
        .ok_or_else(|| AppError::bad_input("input.role", "is not a staff role"))?;
    let given = [
        (
            "input.service",
            new.service.is_some(),
            StaffAttachment::Service,
        ),
        (
            "input.department",
            new.department.is_some(),
            StaffAttachment::Department,
        ),
        (
            "input.universityUnit",
            new.university_unit.is_some(),
            StaffAttachment::UniversityService,
        ),
    ];
    for (field, present, needed) in given {
        if present && attachment != needed {
            return Err(AppError::bad_input(
                field,
                format!("must be absent for role {}", new.role),
            ));
        }
        if !present && attachment == needed {
            return Err(AppError::bad_input(
                field,
                format!("is required for role {}", new.role),
            ));
        }
    }
    if let Some(service) = &new.service {
        if !services.contains(service) {
            return Err(AppError::bad_input(
                "input.service",
                "is not a Student Support service",
            ));
        }
    }
    Ok(attachment)
}

fn event(caller_role: Role, action: &'static str, id: Uuid, detail: serde_json::Value) -> Event {
    Event {
        student_id: None,
        action,
        fields: vec![id.to_string()],
        outcome: "allow",
        basis: Some(format!("role:{}", caller_role.as_str())),
        detail: Some(detail.to_string()),
    }
}

async fn audit_one(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    action: &'static str,
    id: Uuid,
    detail: serde_json::Value,
) -> AppResult<()> {
    let caller = decisions.caller();
    audit::write(
        db,
        caller,
        decisions.origin(),
        vec![event(caller.role, action, id, detail)],
    )
    .await
}

/// Creates a member of staff: an administrator any member of staff, a service
/// lead practitioners and reception of their own service (the policy decides,
/// under [`staff_relation`]). A department or university service must exist
/// and be active; an email already used is a conflict.
pub async fn create_staff(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    services: &[String],
    new: NewStaff,
) -> AppResult<staff::Model> {
    let attachment = check_shape(&new, services)?;
    let relation = staff_relation(
        decisions.caller(),
        new.service.as_deref(),
        new.role.managed_by_service_lead(),
    );
    decisions.authorize(Action::CreateStaff, relation)?;
    match (attachment, &new.department, &new.university_unit) {
        (StaffAttachment::Department, Some(code), _) => {
            active_department(db, code).await?;
        }
        (StaffAttachment::UniversityService, _, Some(code)) => {
            active_university_service(db, code).await?;
        }
        _ => {}
    }
    let taken = staff::Entity::find()
        .filter(staff::Column::Email.eq(new.email.as_str()))
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(AppError::Conflict(
            "a member of staff with this email already exists".to_owned(),
        ));
    }
    let id = Uuid::new_v4();
    let model = staff::ActiveModel {
        id: Set(id),
        name: Set(new.name),
        email: Set(new.email),
        role: Set(new.role.as_str().to_owned()),
        service: Set(new.service),
        department: Set(new.department),
        university_unit: Set(new.university_unit),
        registered_mhp: Set(false),
        registration_body: Set(None),
        registration_number: Set(None),
        registration_expires_on: Set(None),
        active: Set(true),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(db)
    .await?;
    audit_one(
        db,
        decisions,
        "staff_created",
        id,
        serde_json::json!({
            "staff": id,
            "role": model.role,
            "service": model.service,
            "department": model.department,
            "universityUnit": model.university_unit,
        }),
    )
    .await?;
    Ok(model)
}

/// Deactivates a member of staff: refused on their next request. Nobody
/// deactivates themself (`BAD_USER_INPUT`); an inactive member is a conflict.
pub async fn deactivate_staff(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    staff_id: Uuid,
) -> AppResult<staff::Model> {
    let caller = decisions.caller();
    let member = staff::Entity::find_by_id(staff_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("member of staff"))?;
    let service_staff = Role::parse(&member.role).is_some_and(Role::managed_by_service_lead);
    let relation = staff_relation(caller, member.service.as_deref(), service_staff);
    decisions.authorize(Action::DeactivateStaff, relation)?;
    if member.id == caller.id {
        return Err(AppError::bad_input(
            "staffId",
            "you cannot deactivate yourself",
        ));
    }
    if !member.active {
        return Err(AppError::Conflict(
            "the member of staff is already deactivated".to_owned(),
        ));
    }
    let mut model: staff::ActiveModel = member.into();
    model.active = Set(false);
    let model = model.update(db).await?;
    audit_one(
        db,
        decisions,
        "staff_deactivated",
        staff_id,
        serde_json::json!({ "staff": staff_id, "role": model.role }),
    )
    .await?;
    Ok(model)
}

async fn active_department(db: &impl ConnectionTrait, code: &str) -> AppResult<()> {
    let found = department::Entity::find()
        .filter(department::Column::Code.eq(code))
        .filter(department::Column::Active.eq(true))
        .one(db)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(AppError::bad_input(
            "input.department",
            "is not an active department",
        )),
    }
}

async fn active_university_service(db: &impl ConnectionTrait, code: &str) -> AppResult<()> {
    let found = university_service::Entity::find()
        .filter(university_service::Column::Code.eq(code))
        .filter(university_service::Column::Active.eq(true))
        .one(db)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(AppError::bad_input(
            "input.universityUnit",
            "is not an active university service",
        )),
    }
}

/// Directory records that are not staff (departments, university services,
/// partner organisations) are written under the relation `any`.
const UNIT_RELATION: Relation = Relation::Any;

/// Creates an academic department (administrators). A code already used is a conflict.
pub async fn create_department(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    code: String,
    name: String,
) -> AppResult<department::Model> {
    decisions.authorize(Action::CreateDepartment, UNIT_RELATION)?;
    let taken = department::Entity::find()
        .filter(department::Column::Code.eq(code.as_str()))
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(AppError::Conflict(
            "a department with this code already exists".to_owned(),
        ));
    }
    let id = Uuid::new_v4();
    let model = department::ActiveModel {
        id: Set(id),
        code: Set(code),
        name: Set(name),
        active: Set(true),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(db)
    .await?;
    audit_one(
        db,
        decisions,
        "department_created",
        id,
        serde_json::json!({ "code": model.code, "name": model.name }),
    )
    .await?;
    Ok(model)
}

/// Deactivates a department: its callers are refused on their next request.
pub async fn deactivate_department(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    code: String,
) -> AppResult<department::Model> {
    decisions.authorize(Action::DeactivateDepartment, UNIT_RELATION)?;
    let found = department::Entity::find()
        .filter(department::Column::Code.eq(code.as_str()))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("department"))?;
    if !found.active {
        return Err(AppError::Conflict(
            "the department is already deactivated".to_owned(),
        ));
    }
    let mut model: department::ActiveModel = found.into();
    model.active = Set(false);
    let model = model.update(db).await?;
    audit_one(
        db,
        decisions,
        "department_deactivated",
        model.id,
        serde_json::json!({ "code": model.code }),
    )
    .await?;
    Ok(model)
}

/// Creates a university service (administrators). A code already used is a conflict.
pub async fn create_university_service(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    code: String,
    name: String,
) -> AppResult<university_service::Model> {
    decisions.authorize(Action::CreateUniversityService, UNIT_RELATION)?;
    let taken = university_service::Entity::find()
        .filter(university_service::Column::Code.eq(code.as_str()))
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(AppError::Conflict(
            "a university service with this code already exists".to_owned(),
        ));
    }
    let id = Uuid::new_v4();
    let model = university_service::ActiveModel {
        id: Set(id),
        code: Set(code),
        name: Set(name),
        active: Set(true),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(db)
    .await?;
    audit_one(
        db,
        decisions,
        "university_service_created",
        id,
        serde_json::json!({ "code": model.code, "name": model.name }),
    )
    .await?;
    Ok(model)
}

/// Deactivates a university service: its callers are refused on their next request.
pub async fn deactivate_university_service(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    code: String,
) -> AppResult<university_service::Model> {
    decisions.authorize(Action::DeactivateUniversityService, UNIT_RELATION)?;
    let found = university_service::Entity::find()
        .filter(university_service::Column::Code.eq(code.as_str()))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("university service"))?;
    if !found.active {
        return Err(AppError::Conflict(
            "the university service is already deactivated".to_owned(),
        ));
    }
    let mut model: university_service::ActiveModel = found.into();
    model.active = Set(false);
    let model = model.update(db).await?;
    audit_one(
        db,
        decisions,
        "university_service_deactivated",
        model.id,
        serde_json::json!({ "code": model.code }),
    )
    .await?;
    Ok(model)
}

/// Creates a partner organisation (administrators), mapped to the subject its
/// identity provider puts in its tokens. A subject already mapped is a conflict.
pub async fn create_partner_organisation(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    name: String,
    kind: PartnerKind,
    idp_subject: Option<String>,
) -> AppResult<partner_organisation::Model> {
    decisions.authorize(Action::CreatePartnerOrganisation, UNIT_RELATION)?;
    if let Some(subject) = &idp_subject {
        // A token's `sub` is first read as Confide's own id: a subject shaped
        // like one could sign in as another organisation.
        if Uuid::parse_str(subject).is_ok() {
            return Err(AppError::bad_input(
                "idpSubject",
                "must not be shaped like a UUID (Confide's own ids are)",
            ));
        }
        let taken = partner_organisation::Entity::find()
            .filter(partner_organisation::Column::IdpSubject.eq(subject.as_str()))
            .one(db)
            .await?;
        if taken.is_some() {
            return Err(AppError::Conflict(
                "a partner organisation is already mapped to this identity provider subject"
                    .to_owned(),
            ));
        }
    }
    let id = Uuid::new_v4();
    let model = partner_organisation::ActiveModel {
        id: Set(id),
        name: Set(name),
        kind: Set(kind.as_str().to_owned()),
        idp_subject: Set(idp_subject),
        active: Set(true),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(db)
    .await?;
    audit_one(
        db,
        decisions,
        "partner_organisation_created",
        id,
        serde_json::json!({
            "partner": id,
            "name": model.name,
            "kind": model.kind,
            "idpSubject": model.idp_subject,
        }),
    )
    .await?;
    Ok(model)
}

/// Deactivates a partner organisation: its tokens are refused on their next request.
pub async fn deactivate_partner_organisation(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    id: Uuid,
) -> AppResult<partner_organisation::Model> {
    decisions.authorize(Action::DeactivatePartnerOrganisation, UNIT_RELATION)?;
    let found = partner_organisation::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("partner organisation"))?;
    if !found.active {
        return Err(AppError::Conflict(
            "the partner organisation is already deactivated".to_owned(),
        ));
    }
    let mut model: partner_organisation::ActiveModel = found.into();
    model.active = Set(false);
    let model = model.update(db).await?;
    audit_one(
        db,
        decisions,
        "partner_organisation_deactivated",
        id,
        serde_json::json!({ "partner": id }),
    )
    .await?;
    Ok(model)
}

/// Creates the first administrator (the CLI, `confide admin create`): no
/// caller, no policy; an email already used is a conflict. Audited with the
/// actor `cli` (the nil id).
pub async fn create_first_admin(
    db: &impl ConnectionTrait,
    name: String,
    email: String,
) -> AppResult<staff::Model> {
    let taken = staff::Entity::find()
        .filter(staff::Column::Email.eq(email.as_str()))
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(AppError::Conflict(
            "a member of staff with this email already exists".to_owned(),
        ));
    }
    let id = Uuid::new_v4();
    let model = staff::ActiveModel {
        id: Set(id),
        name: Set(name),
        email: Set(email),
        role: Set(Role::Admin.as_str().to_owned()),
        service: Set(None),
        department: Set(None),
        university_unit: Set(None),
        registered_mhp: Set(false),
        registration_body: Set(None),
        registration_number: Set(None),
        registration_expires_on: Set(None),
        active: Set(true),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(db)
    .await?;
    let cli = crate::auth::Caller {
        id: Uuid::nil(),
        role: Role::Admin,
        name: "cli".to_owned(),
        service: None,
        department: None,
        unit: None,
        registered_mhp: false,
    };
    audit::write(
        db,
        &cli,
        None,
        vec![Event {
            student_id: None,
            action: "staff_created",
            fields: vec![id.to_string()],
            outcome: "allow",
            basis: Some("cli".to_owned()),
            detail: Some(serde_json::json!({ "staff": id, "role": "admin" }).to_string()),
        }],
    )
    .await?;
    Ok(model)
}
