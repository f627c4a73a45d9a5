use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "consent")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub student_id: Uuid,
    /// department, university_service, partner, gp, emergency_contact, research.
    pub recipient_kind: String,
    /// The named department, unit or partner organisation id, where the kind needs one.
    pub recipient_ref: Option<String>,
    /// Data categories covered, a JSON array.
    pub categories: Json,
    /// Sensitivity labels excluded, a JSON array.
    pub excluded_labels: Json,
    /// Set when the consent covers one case only.
    pub case_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub purpose: String,
    pub given_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub form_reference: Option<String>,
    pub recorded_by: Uuid,
    pub recorded_by_role: String,
    pub withdrawn_at: Option<DateTimeUtc>,
    pub withdrawn_by: Option<Uuid>,
    pub withdrawal_reason: Option<String>,
    pub created_at: DateTimeUtc,
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

impl ActiveModelBehavior for ActiveModel {}
