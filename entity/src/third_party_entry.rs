use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "third_party_entry")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    /// Who provided the information.
    pub source: String,
    /// Who the information is about.
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub third_party_consented: bool,
    pub disclosure_justification: Option<String>,
    pub recorded_by: Uuid,
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
