use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A registered (persisted) operation: a GraphQL document outside audiences
/// may run, found by the SHA-256 of its text, with the field classes it can
/// return (comma-separated FieldClass codes, computed at registration).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "registered_operation")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub sha256: String,
    pub name: Option<String>,
    pub document: String,
    pub field_classes: String,
    pub registered_by: String,
    pub registered_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
