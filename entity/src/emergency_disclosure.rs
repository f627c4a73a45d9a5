use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A disclosure made at once in a life-threatening emergency, and its review.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "emergency_disclosure")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub student_id: Uuid,
    /// The practitioner who made and recorded it.
    pub disclosed_by: Uuid,
    /// To whom (e.g. "Ambulance service", "Emergency contact: parent").
    pub recipient: String,
    /// How (e.g. "telephone").
    pub method: String,
    /// The data categories disclosed, a JSON array.
    pub categories: Json,
    /// Why: the life-threatening situation.
    pub reason: String,
    pub occurred_at: DateTimeUtc,
    /// A registered professional other than the discloser reviews it by then.
    pub review_due_at: DateTimeUtc,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub review_outcome: Option<String>,
    pub student_informed_at: Option<DateTimeUtc>,
    pub not_informed_reason: Option<String>,
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

impl Related<super::student::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Student.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
