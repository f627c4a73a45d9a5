//! Turns a request's field outcomes into audit records.

use super::RequestContext;
use crate::error::AppResult;
use crate::policy::FieldClass;
use crate::service::audit::{self, class_names, Event};
use std::collections::HashMap;
use uuid::Uuid;

/// One record per student and outcome: what was read (for staff, every class but
/// IDENTITY), what was disclosed to an outside audience and on which basis
/// (consent or risk exception ids), and what was redacted or denied.
pub async fn record_request(
    rc: &RequestContext,
    releases: HashMap<(Uuid, Option<Uuid>), [u16; 3]>,
) -> AppResult<()> {
    if releases.is_empty() {
        return Ok(());
    }
    let caller = rc.decisions.caller();
    let outside = caller.role.is_outside();
    let mut events = Vec::new();
    // Staff reads are recorded per student (their basis is the role); outside
    // disclosures per record, so each names the consent or exception behind it.
    let releases: HashMap<(Uuid, Option<Uuid>), [u16; 3]> = if outside {
        releases
    } else {
        let mut merged: HashMap<(Uuid, Option<Uuid>), [u16; 3]> = HashMap::new();
        for ((student, _), bits) in releases {
            let entry = merged.entry((student, None)).or_default();
            for (acc, b) in entry.iter_mut().zip(bits) {
                *acc |= b;
            }
        }
        merged
    };
    let mut students: Vec<_> = releases.into_iter().collect();
    students.sort_by_key(|(key, _)| *key);
    for ((student, case), [allowed, redacted, denied]) in students {
        let allowed = if outside {
            allowed
        } else {
            allowed & !FieldClass::Identity.bit()
        };
        if allowed != 0 {
            let basis = if outside {
                let bases = match rc.cached_access(student).await {
                    Some(access) => access.bases_for(allowed, case),
                    None => Vec::new(),
                };
                Some(bases.join(","))
            } else {
                Some(format!("role:{}", caller.role.as_str()))
            };
            events.push(Event {
                student_id: Some(student),
                action: if outside { "disclosure" } else { "read" },
                fields: class_names(allowed),
                outcome: "allow",
                basis,
                detail: None,
            });
        }
        for (bits, outcome) in [(redacted, "redact"), (denied, "deny")] {
            if bits != 0 {
                events.push(Event {
                    student_id: Some(student),
                    action: "read",
                    fields: class_names(bits),
                    outcome,
                    basis: Some(format!("role:{}", caller.role.as_str())),
                    detail: None,
                });
            }
        }
    }
    audit::write(&rc.db, caller, events).await
}
