//! Turns a request's field outcomes into audit records.

use crate::auth::Caller;
use crate::error::AppResult;
use crate::policy::access::StudentAccess;
use crate::policy::guarded::Releases;
use crate::policy::{ClassSet, FieldClass};
use crate::service::audit::{self, class_names, Event};
use sea_orm::ConnectionTrait;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use uuid::Uuid;

/// One record per student, outcome and basis: what was read (for staff, every
/// class but IDENTITY), what was disclosed to an outside audience, on which basis
/// (consent or risk exception ids) and which classes of which record (`detail`:
/// `{"records": {"student": [...], "case:<id>": [...]}}`), and what was redacted
/// or denied.
pub async fn record_request(
    db: &impl ConnectionTrait,
    caller: &Caller,
    request_id: Uuid,
    access: &HashMap<Uuid, Arc<StudentAccess>>,
    grants: &HashMap<Uuid, Uuid>,
    releases: Releases,
) -> AppResult<()> {
    if releases.is_empty() {
        return Ok(());
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
    let events = merged
        .into_iter()
        .map(
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
        )
        .collect();
    audit::write(db, caller, Some(request_id), events).await
}
