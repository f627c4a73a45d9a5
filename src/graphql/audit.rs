//! Turns a request's field outcomes into audit records.

use crate::auth::Caller;
use crate::policy::access::StudentAccess;
use crate::policy::guarded::Releases;
use crate::policy::{ClassSet, FieldClass, Write};
use crate::service::audit::{class_names, Event};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use uuid::Uuid;

/// One record per student, outcome and basis: what was read (for staff, every
/// class but IDENTITY), what was disclosed to an outside audience, on which basis
/// (consent or risk exception ids) and which classes of which record (`detail`:
/// `{"records": {"student": [...], "case:<id>": [...]}}`), and what was redacted
/// or denied.
pub fn request_events(
    caller: &Caller,
    access: &HashMap<Uuid, Arc<StudentAccess>>,
    grants: &HashMap<Uuid, Uuid>,
    releases: Releases,
    writes: Vec<Write>,
) -> Vec<Event> {
    if releases.is_empty() && writes.is_empty() {
        return Vec::new();
    }
    let outside = caller.role.is_outside();
    let role_basis = format!("role:{}", caller.role.as_str());
    // One record per student, outcome and basis: staff reads name their role;
    // outside disclosures name the consents or exceptions behind them, and which
    // records (the student record, each case) they covered.
    type Key = (Uuid, &'static str, &'static str, String);
    let mut merged: BTreeMap<Key, (ClassSet, BTreeMap<String, ClassSet>)> = BTreeMap::new();
    let mut add = |key: Key, bits: ClassSet, record: Option<String>| {
        let entry = merged.entry(key).or_default();
        entry.0 |= bits;
        if let Some(record) = record {
            *entry.1.entry(record).or_default() |= bits;
        }
    };
    for ((student, case), [allowed, redacted, denied]) in releases {
        let allowed = if outside {
            allowed
        } else {
            allowed - FieldClass::Identity
        };
        if !allowed.is_empty() {
            if outside {
                let bases = match access.get(&student) {
                    Some(access) => access.bases_for(allowed, case),
                    None => Vec::new(),
                };
                let record = match case {
                    Some(case) => format!("case:{case}"),
                    None => "student".to_owned(),
                };
                add(
                    (student, "disclosure", "allow", bases.join(",")),
                    allowed,
                    Some(record),
                );
            } else {
                // A read under a break-glass grant names the grant as its basis.
                let basis = match case.and_then(|c| grants.get(&c)) {
                    Some(grant) => crate::service::emergency_access::emergency_access_basis(*grant),
                    None => role_basis.clone(),
                };
                add((student, "read", "allow", basis), allowed, None);
            }
        }
        for (bits, outcome) in [(redacted, "redact"), (denied, "deny")] {
            if !bits.is_empty() {
                add((student, "read", outcome, role_basis.clone()), bits, None);
            }
        }
    }
    // Each write that took effect: its action, the student and the record.
    let written = writes.into_iter().map(|w| Event {
        student_id: w.student_id,
        action: w.action.as_str(),
        fields: Vec::new(),
        outcome: "allow",
        basis: Some(role_basis.clone()),
        detail: Some(serde_json::json!({ "record": w.record }).to_string()),
    });
    written
        .chain(
            merged.into_iter().map(
                |((student, action, outcome, basis), (bits, records))| Event {
                    student_id: Some(student),
                    action,
                    fields: class_names(bits),
                    outcome,
                    basis: Some(basis),
                    detail: (!records.is_empty()).then(|| {
                        let records: serde_json::Map<String, serde_json::Value> = records
                            .into_iter()
                            .map(|(record, bits)| (record, serde_json::json!(class_names(bits))))
                            .collect();
                        serde_json::json!({ "records": records }).to_string()
                    }),
                },
            ),
        )
        .collect()
}

/// One record of the audit trail. Every field but the id is category AUDIT_TRAIL.
pub struct AuditEventNode {
    record: crate::policy::Guarded<entity::audit_event::Model>,
}

#[async_graphql::Object(name = "AuditEvent")]
impl AuditEventNode {
    async fn id(&self) -> async_graphql::ID {
        super::pagination::id(self.record.id())
    }
    /// Category AUDIT_TRAIL. Its position in the hash chain.
    async fn seq(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<i64>> {
        super::reveal(ctx, &self.record, FieldClass::AuditTrail, |m| m.seq)
    }
    /// Category AUDIT_TRAIL.
    async fn occurred_at(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Option<chrono::DateTime<chrono::Utc>>> {
        super::reveal(ctx, &self.record, FieldClass::AuditTrail, |m| {
            Some(m.occurred_at)
        })
    }
    /// Category AUDIT_TRAIL. Who acted.
    async fn actor_id(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Option<async_graphql::ID>> {
        super::reveal(ctx, &self.record, FieldClass::AuditTrail, |m| {
            Some(super::pagination::id(m.actor_id))
        })
    }
    /// Category AUDIT_TRAIL. In which role.
    async fn actor_role(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Option<crate::domain::Role>> {
        super::reveal(ctx, &self.record, FieldClass::AuditTrail, |m| {
            crate::domain::Role::parse(&m.actor_role)
        })
    }
    /// Category AUDIT_TRAIL. About which student.
    async fn student_id(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Option<async_graphql::ID>> {
        super::reveal(ctx, &self.record, FieldClass::AuditTrail, |m| {
            m.student_id.map(super::pagination::id)
        })
    }
    /// Category AUDIT_TRAIL. read, disclosure, or the write or workflow step.
    async fn action(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Option<&str>> {
        super::reveal(ctx, &self.record, FieldClass::AuditTrail, |m| {
            Some(m.action.as_str())
        })
    }
    /// Category AUDIT_TRAIL. The field classes concerned.
    async fn categories(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Option<Vec<String>>> {
        super::reveal(ctx, &self.record, FieldClass::AuditTrail, |m| {
            Some(
                m.fields
                    .as_array()
                    .map(|f| {
                        f.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
    }
    /// Category AUDIT_TRAIL. allow, redact or deny.
    async fn outcome(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Option<&str>> {
        super::reveal(ctx, &self.record, FieldClass::AuditTrail, |m| {
            Some(m.outcome.as_str())
        })
    }
    /// Category AUDIT_TRAIL. role:<role>, consent:<id>, risk_exception:<id>, ...
    async fn basis(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<&str>> {
        super::reveal(ctx, &self.record, FieldClass::AuditTrail, |m| {
            m.basis.as_deref()
        })
    }
    /// Category AUDIT_TRAIL. The UK GDPR Art. 6 and Art. 9 conditions.
    async fn lawful_basis(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Option<&str>> {
        super::reveal(ctx, &self.record, FieldClass::AuditTrail, |m| {
            m.lawful_basis.as_deref()
        })
    }
    /// Category AUDIT_TRAIL.
    async fn request_id(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Option<async_graphql::ID>> {
        super::reveal(ctx, &self.record, FieldClass::AuditTrail, |m| {
            m.request_id.map(super::pagination::id)
        })
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[async_graphql::Object]
impl AuditQuery {
    /// The audit trail, newest first: the DPO all of it, a service lead what
    /// the staff of their service did. Page backwards with `beforeSeq` (the
    /// last `seq` you received). `limit`: at most 500 (default 100).
    #[allow(clippy::too_many_arguments)]
    async fn audit_events(
        &self,
        ctx: &async_graphql::Context<'_>,
        student_id: Option<async_graphql::ID>,
        actor_id: Option<async_graphql::ID>,
        from: Option<chrono::DateTime<chrono::Utc>>,
        to: Option<chrono::DateTime<chrono::Utc>>,
        outcome: Option<String>,
        basis: Option<String>,
        before_seq: Option<i64>,
        limit: Option<i32>,
    ) -> async_graphql::Result<Option<Vec<AuditEventNode>>> {
        use crate::domain;
        use crate::error::AppError;
        let rc = super::request_context(ctx)?;
        let limit = match limit {
            None => 100,
            Some(n) if (1..=500).contains(&n) => n as u64,
            Some(_) => return Err(AppError::bad_input("limit", "must be 1 to 500").into()),
        };
        let filter = crate::service::audit::AuditFilter {
            student_id: student_id
                .as_ref()
                .map(|s| domain::uuid("studentId", s))
                .transpose()?,
            actor_id: actor_id
                .as_ref()
                .map(|s| domain::uuid("actorId", s))
                .transpose()?,
            from,
            to,
            outcome: domain::optional_text("outcome", outcome.as_deref(), 20)?,
            basis: domain::optional_text("basis", basis.as_deref(), 200)?,
            before_seq,
        };
        Ok(Some(
            rc.audit_events(filter, limit)
                .await?
                .into_iter()
                .map(|record| AuditEventNode { record })
                .collect(),
        ))
    }
}
