//! Turns a request's field outcomes into audit records.

use super::{Releases, RequestContext};
use crate::error::AppResult;
use crate::policy::FieldClass;
use crate::service::audit::{self, class_names, Event};
use std::collections::BTreeMap;
use uuid::Uuid;

/// One record per student, outcome and basis: what was read (for staff, every
/// class but IDENTITY), what was disclosed to an outside audience, on which basis
/// (consent or risk exception ids) and which classes of which record (`detail`:
/// `{"records": {"student": [...], "case:<id>": [...]}}`), and what was redacted
/// or denied.
pub async fn record_request(rc: &RequestContext, releases: Releases) -> AppResult<()> {
    if releases.is_empty() {
        return Ok(());
    }
    let caller = rc.decisions.caller();
    let outside = caller.role.is_outside();
    let role_basis = format!("role:{}", caller.role.as_str());
    // One record per student, outcome and basis: staff reads name their role;
    // outside disclosures name the consents or exceptions behind them, and which
    // records (the student record, each case) they covered.
    type Key = (Uuid, &'static str, &'static str, String);
    let mut merged: BTreeMap<Key, (u16, BTreeMap<String, u16>)> = BTreeMap::new();
    let mut add = |key: Key, bits: u16, record: Option<String>| {
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
            allowed & !FieldClass::Identity.bit()
        };
        if allowed != 0 {
            if outside {
                let bases = match rc.cached_access(student).await {
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
                add(
                    (student, "read", "allow", role_basis.clone()),
                    allowed,
                    None,
                );
            }
        }
        for (bits, outcome) in [(redacted, "redact"), (denied, "deny")] {
            if bits != 0 {
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
    audit::write(&rc.db, caller, events).await
}
