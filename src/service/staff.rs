//! The staff directory's own records: professional registrations.

use crate::domain;
use crate::error::{AppError, AppResult};
use crate::policy::facts::staff_relation;
use crate::policy::{Action, Decisions};
use crate::service::audit::{self, Event};
use entity::staff;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use uuid::Uuid;

/// A professional registration as given: body, number, expiry.
#[derive(Clone, Debug)]
pub struct Registration {
    pub body: String,
    pub number: String,
    pub expires_on: chrono::NaiveDate,
}

/// Records (or renews) a member of staff's professional registration: their
/// service lead, the DPO, or an administrator. A lapsed date may be recorded (it counts as none).
pub async fn record_registration(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    staff_id: Uuid,
    registration: Registration,
) -> AppResult<()> {
    let caller = decisions.caller();
    let member = staff::Entity::find_by_id(staff_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("member of staff"))?;
    // A registration is recorded for any member of a service by its lead.
    let relation = staff_relation(caller, member.service.as_deref(), true);
    decisions.authorize(Action::RecordRegistration, relation)?;
    let today = chrono::Utc::now().date_naive();
    domain::plausible_date(
        "expiresOn",
        registration.expires_on,
        today - chrono::Duration::days(10 * 366),
        today + chrono::Duration::days(10 * 366),
    )?;
    let mut model: staff::ActiveModel = member.into();
    model.registered_mhp = Set(true);
    model.registration_body = Set(Some(registration.body.clone()));
    model.registration_number = Set(Some(registration.number.clone()));
    model.registration_expires_on = Set(Some(registration.expires_on));
    model.update(db).await?;
    audit::write(
        db,
        caller,
        decisions.origin(),
        vec![Event {
            student_id: None,
            action: "registration",
            fields: vec![staff_id.to_string()],
            outcome: "allow",
            basis: Some(format!("role:{}", caller.role.as_str())),
            detail: Some(
                serde_json::json!({
                    "staff": staff_id,
                    "body": registration.body,
                    "number": registration.number,
                    "expiresOn": registration.expires_on,
                })
                .to_string(),
            ),
        }],
    )
    .await
}
