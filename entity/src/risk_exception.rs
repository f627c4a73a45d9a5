use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "risk_exception")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub student_id: Uuid,
    /// serious_harm_to_self, harm_to_others, safeguarding, legal_obligation, life_threatening.
    pub ground: String,
    /// refused or lacks_capacity.
    pub student_position: String,
    /// Recipients, a JSON array of {kind, ref}.
    pub recipients: Json,
    /// Data categories, a JSON array (never CASE_NOTES or THIRD_PARTY).
    pub categories: Json,
    #[sea_orm(column_type = "Text")]
    pub justification: String,
    pub proposed_by: Uuid,
    pub proposed_at: DateTimeUtc,
    pub confirmed_by: Option<Uuid>,
    pub confirmed_at: Option<DateTimeUtc>,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<Uuid>,
    pub student_informed_at: Option<DateTimeUtc>,
    pub not_informed_reason: Option<String>,
    pub created_at: DateTimeUtc,
    /// What a department or university service named in it is told.
    pub concern_notice: Option<String>,
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
