use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A legal authority for a disclosure (court order or statutory duty), recorded
/// by the DPO. It opens exactly its scope to its recipient until it expires or
/// is revoked.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "legal_authority")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub student_id: Uuid,
    /// court_order or statutory_duty.
    pub kind: String,
    /// The order's or duty's reference (e.g. a case number).
    pub reference: String,
    /// The court or body that made it.
    pub issuer: String,
    /// partner (the organisation named by the order).
    pub recipient_kind: String,
    pub recipient_ref: String,
    /// The data categories in scope, a JSON array (may include CASE_NOTES and
    /// THIRD_PARTY when the order says so).
    pub categories: Json,
    /// One case, or every case with `None`.
    pub case_id: Option<Uuid>,
    pub recorded_at: DateTimeUtc,
    pub recorded_by: Uuid,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<Uuid>,
    /// The order forbids telling the student (the clause is in `not_informed_reason`).
    pub inform_forbidden: bool,
    pub student_informed_at: Option<DateTimeUtc>,
    pub not_informed_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::student::Entity",
        from = "Column::StudentId",
        to = "super::student::Column::Id"
    )]
    Student,
}

impl Related<super::student::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Student.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
