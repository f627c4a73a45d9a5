//! The audit trail's hash chain: the canonical form of a record and its hash.
//!
//! Shared by the migration that chains records written before the chain
//! existed and by the application (every write and `confide audit verify`), so
//! there is exactly one definition of what a record's hash covers. The form is
//! frozen: changing it breaks every stored chain.

use sha2::{Digest, Sha256};

/// The `prev_hash` of the first record in the chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of an audit record that its hash covers: all of them but the
/// hash itself.
#[derive(Clone, Debug)]
pub struct Chained<'a> {
    pub seq: i64,
    pub id: uuid::Uuid,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub actor_id: uuid::Uuid,
    pub actor_role: &'a str,
    pub student_id: Option<uuid::Uuid>,
    pub action: &'a str,
    pub fields: &'a serde_json::Value,
    pub outcome: &'a str,
    pub basis: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub request_id: Option<uuid::Uuid>,
    pub lawful_basis: Option<&'a str>,
    /// The policy version the record was decided by. Records without one
    /// (written before versions were recorded) keep the v1 form unchanged; a
    /// record with one is hashed in the v2 form, which adds it.
    pub policy_version: Option<&'a str>,
    pub prev_hash: &'a str,
}

impl Chained<'_> {
    /// The canonical serialisation: a JSON array in a fixed order, the time in
    /// RFC 3339 UTC to the microsecond (what PostgreSQL stores), absent values
    /// as `null`.
    pub fn canonical(&self) -> String {
        let mut form = serde_json::json!([
            "confide-audit-v1",
            self.seq,
            self.id.to_string(),
            self.occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            self.actor_id.to_string(),
            self.actor_role,
            self.student_id.map(|s| s.to_string()),
            self.action,
            self.fields,
            self.outcome,
            self.basis,
            self.detail,
            self.request_id.map(|r| r.to_string()),
            self.lawful_basis,
            self.prev_hash,
        ]);
        if let (Some(version), serde_json::Value::Array(items)) = (self.policy_version, &mut form) {
            // v2: the policy version before the previous hash.
            items[0] = serde_json::json!("confide-audit-v2");
            let prev = items.pop();
            items.push(serde_json::json!(version));
            items.extend(prev);
        }
        form.to_string()
    }

    /// Hex SHA-256 of the canonical serialisation.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical().as_bytes()))
    }
}
