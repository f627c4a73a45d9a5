use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// That something of one field class changed about a student (and which case),
/// and when: what the partner feed is computed from.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "change_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub student_id: Uuid,
    pub case_id: Option<Uuid>,
    /// The field class that changed (IDENTITY, CASE_NOTES, ...).
    pub class: String,
    /// For a note: its sensitivity labels (a JSON array), so that a note a
    /// recipient's consent excludes is not signalled to it.
    pub labels: Json,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
