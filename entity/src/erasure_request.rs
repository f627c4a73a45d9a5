use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A request to erase a student's records, decided by the DPO.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "erasure_request")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub student_id: Uuid,
    /// The student's grounds, if given.
    pub grounds: Option<String>,
    pub requested_by: Uuid,
    /// `student`, or `dpo` when the DPO opened it on the student's behalf.
    pub requested_by_role: String,
    pub requested_at: DateTimeUtc,
    /// open, granted or refused.
    pub status: String,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTimeUtc>,
    pub refusal_reason: Option<String>,
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
