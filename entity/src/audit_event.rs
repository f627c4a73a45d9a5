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
    /// Position in the hash chain (1, 2, ...); set on every record written
    /// since the chain began (migration 000040 chained the earlier ones).
    pub seq: Option<i64>,
    /// Hash of the record at `seq - 1` (64 zeros for the first).
    pub prev_hash: Option<String>,
    /// Hex SHA-256 of this record's canonical form (`migration::audit_chain`).
    pub hash: Option<String>,
    /// The UK GDPR Art. 6 and Art. 9 conditions the basis rests on.
    #[sea_orm(column_type = "Text", nullable)]
    pub lawful_basis: Option<String>,
    /// The policy version the request was decided by (`policy_version.id`, or
    /// `file:`/`embedded:` and a hash prefix before any version was published).
    #[sea_orm(column_type = "Text", nullable)]
    pub policy_version: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
