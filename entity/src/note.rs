use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "note")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    /// meeting, communication, action.
    pub kind: String,
    pub occurred_at: DateTimeUtc,
    pub author_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// Sensitivity labels, a JSON array of label names.
    pub labels: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::support_case::Entity",
        from = "Column::CaseId",
        to = "super::support_case::Column::Id"
    )]
    SupportCase,
}

impl ActiveModelBehavior for ActiveModel {}
