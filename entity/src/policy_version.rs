use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A published version of the casbin policy. Written once, never edited; the
/// one with the highest id is the policy every instance serves.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "policy_version")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// The policy text (CSV, as a policy file).
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// Hex SHA-256 of `body`.
    pub sha256: String,
    pub published_at: DateTimeUtc,
    /// Who published it (the operator's `--by`, else the OS user).
    #[sea_orm(column_type = "Text")]
    pub published_by: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub comment: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
