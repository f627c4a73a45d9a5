use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A legal hold on a student's records, placed by the DPO: while it is active
/// (not lifted) nothing of the student is destroyed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "legal_hold")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub student_id: Uuid,
    pub reason: String,
    pub placed_by: Uuid,
    pub placed_at: DateTimeUtc,
    pub lifted_by: Option<Uuid>,
    pub lifted_at: Option<DateTimeUtc>,
    pub lift_reason: Option<String>,
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
