use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A break-glass read: one practitioner, one case outside their service, a
/// reason, a time box, and the review the case's service lead owes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "emergency_access")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    pub student_id: Uuid,
    /// The practitioner who opened it.
    pub staff_id: Uuid,
    /// The case's service (whose lead reviews it).
    pub service: String,
    pub reason: String,
    pub opened_at: DateTimeUtc,
    /// Reads under it stop at this instant.
    pub expires_at: DateTimeUtc,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
