use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A restriction of processing of a student's records, recorded by the DPO.
/// Open (the student's `processing_restricted` set) until lifted.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "restriction")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub student_id: Uuid,
    pub reason: String,
    pub restricted_by: Uuid,
    pub restricted_at: DateTimeUtc,
    /// When the student was notified (required before it may be lifted).
    pub student_notified_at: Option<DateTimeUtc>,
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
