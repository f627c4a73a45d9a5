use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One research extract: who made it, when, its k, what it released and
/// suppressed, and the generalisation levels. About no student.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "research_extract")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub created_by: Uuid,
    pub created_by_role: String,
    pub created_at: DateTimeUtc,
    pub k: i32,
    pub rows: i32,
    pub students: i32,
    pub suppressed_rows: i32,
    /// The generalisation level of each quasi-identifier, a JSON object.
    pub generalisation: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
