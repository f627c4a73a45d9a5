use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A case or note of a subject access request flagged for a health
/// professional's serious-harm judgement, and the judgement once recorded.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "serious_harm_review")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub request_id: Uuid,
    pub student_id: Uuid,
    /// case or note.
    pub item_kind: String,
    pub item_id: Uuid,
    pub flagged_by: Uuid,
    pub flagged_at: DateTimeUtc,
    pub professional_name: Option<String>,
    pub opinion: Option<String>,
    pub judged_on: Option<Date>,
    /// withhold, staff_present or release; `None` while pending.
    pub outcome: Option<String>,
    pub recorded_by: Option<Uuid>,
    pub recorded_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
