use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A disclosure made outside the API: to whom and how (its audit record
/// names it by id).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "disclosure_record")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub student_id: Uuid,
    pub recipient: String,
    pub method: String,
    pub occurred_at: DateTimeUtc,
    pub recorded_by: Uuid,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
