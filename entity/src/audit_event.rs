use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "audit_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub occurred_at: DateTimeUtc,
    pub actor_id: Uuid,
    pub actor_role: String,
    pub student_id: Option<Uuid>,
    /// read, write, disclosure, ...
    pub action: String,
    /// Field paths or categories concerned, a JSON array.
    pub fields: Json,
    /// allow, redact, deny.
    pub outcome: String,
    /// role, consent:<id> or risk_exception:<id>.
    pub basis: Option<String>,
    /// Free-text detail, e.g. the recipient and method of a recorded disclosure.
    pub detail: Option<String>,
    /// The request that wrote the record.
    pub request_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
