//! The subject access export (`confide-sar/1`): one JSON document holding
//! everything Confide holds about one student, read by the DPO under the
//! policy's relation `subject_access` (each section is released only where the
//! policy allows its field class; otherwise it is listed as withheld with the
//! policy's reason), compiled for the student. Withheld items are listed with
//! their reason, never silently dropped: third-party entries without the third
//! party's consent or a recorded justification, items a health professional
//! judged likely to cause serious harm, items to be shown only with staff
//! present. The schema is `docs/sar-export.schema.json`.

use super::sar::{SeriousHarmOutcome, SubjectAccessItemKind};
use crate::auth::Caller;
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use crate::policy::{ClassSet, Decisions, Facts, FieldClass, Mask, Outcome, Relation};
use crate::service::audit::{self, Event};
use entity::{serious_harm_review, student, subject_access_request};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// The document's format and version.
pub const FORMAT: &str = "confide-sar/1";

/// The JSON Schema of the document (checked in; a test validates exports against it).
pub const SCHEMA: &str = include_str!("../../docs/sar-export.schema.json");

/// A produced export: the document, the field classes released, how many
/// items were withheld.
pub struct Export {
    pub document: Value,
    pub released: ClassSet,
    pub withheld: usize,
}

/// Hex SHA-256 of a document's JSON text.
pub fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Compiles the document: the policy's decision per section, and the
/// withheld list.
struct Compiler {
    mask: Arc<Mask>,
    released: ClassSet,
    withheld: Vec<Value>,
}

impl Compiler {
    /// Whether a section of class `class` is released; if not, it is listed as
    /// withheld with the policy's reason (with how many records it holds).
    fn section(&mut self, class: FieldClass, section: &str, count: usize) -> bool {
        match self.mask.outcome(class) {
            Outcome::Allow => {
                if count > 0 {
                    self.released |= class;
                }
                true
            }
            Outcome::Redact(reason) | Outcome::Deny(reason) => {
                if count > 0 {
                    self.withheld.push(json!({
                        "recordType": section,
                        "recordId": null,
                        "caseId": null,
                        "category": class.as_str(),
                        "count": count,
                        "reason": reason.as_str(),
                        "explanation": "not released under the data protection policy in force",
                        "professional": null,
                    }));
                }
                false
            }
        }
    }

    /// The fields of one class of a record, or nulls (listed as withheld).
    fn fields(
        &mut self,
        out: &mut Map<String, Value>,
        class: FieldClass,
        record_type: &str,
        record_id: Uuid,
        values: Vec<(&str, Value)>,
    ) {
        match self.mask.outcome(class) {
            Outcome::Allow => {
                self.released |= class;
                for (k, v) in values {
                    out.insert(k.to_owned(), v);
                }
            }
            Outcome::Redact(reason) | Outcome::Deny(reason) => {
                self.withheld.push(json!({
                    "recordType": record_type,
                    "recordId": record_id,
                    "caseId": null,
                    "category": class.as_str(),
                    "count": 1,
                    "reason": reason.as_str(),
                    "explanation": "not released under the data protection policy in force",
                    "professional": null,
                }));
                for (k, _) in values {
                    out.insert(k.to_owned(), Value::Null);
                }
            }
        }
    }

    fn judged(
        &mut self,
        review: &serious_harm_review::Model,
        record_type: &str,
        case_id: Uuid,
        category: FieldClass,
    ) {
        let (reason, explanation) = match review.outcome.as_deref().and_then(SeriousHarmOutcome::parse) {
            Some(SeriousHarmOutcome::StaffPresent) => (
                "SHOW_ONLY_WITH_STAFF_PRESENT",
                "to be shown to you only with a member of staff present: Student Support will arrange it",
            ),
            _ => (
                "SERIOUS_HARM",
                "a health professional judged that disclosing it would be likely to cause serious harm to the physical or mental health of you or another person",
            ),
        };
        self.withheld.push(json!({
            "recordType": record_type,
            "recordId": review.item_id,
            "caseId": case_id,
            "category": category.as_str(),
            "count": 1,
            "reason": reason,
            "explanation": explanation,
            "professional": {
                "name": review.professional_name,
                "judgedOn": review.judged_on,
            },
        }));
    }
}

fn labels(value: &Value) -> Value {
    match value {
        Value::Array(_) => value.clone(),
        _ => json!([]),
    }
}

/// The student as the student-facing views of the log see them.
fn student_view(student_id: Uuid) -> Caller {
    Caller {
        id: student_id,
        role: Role::Student,
        name: String::new(),
        service: None,
        department: None,
        unit: None,
        registered_mhp: false,
    }
}

/// Builds the document of a request (draft, or final when the request carries
/// its finalisation time). The caller decided access (`export_subject_access`).
pub async fn build(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    request: &subject_access_request::Model,
    reviews: &[serious_harm_review::Model],
) -> AppResult<Export> {
    let s = student::Entity::find_by_id(request.student_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("student"))?;
    let ids = [s.id];
    // Each record's retention date (UK GDPR Art. 15(1)(d)): the student record
    // and every record outside a case by one rule, each case by its own.
    let schedule = super::retention::schedule(db, s.id).await?;
    let case_due = |case_id: Uuid| {
        schedule
            .as_ref()
            .and_then(|sch| sch.cases.iter().find(|c| c.case_id == case_id))
            .map(|c| (c.due.on, c.due.reason.describe()))
    };
    let mut c = Compiler {
        mask: decisions.mask(Facts::base(Relation::SubjectAccess)),
        released: ClassSet::empty(),
        withheld: Vec::new(),
    };
    let judged: HashMap<(SubjectAccessItemKind, Uuid), &serious_harm_review::Model> = reviews
        .iter()
        .filter(|r| {
            matches!(
                r.outcome.as_deref().and_then(SeriousHarmOutcome::parse),
                Some(SeriousHarmOutcome::Withhold | SeriousHarmOutcome::StaffPresent)
            )
        })
        .filter_map(|r| Some(((SubjectAccessItemKind::parse(&r.item_kind)?, r.item_id), r)))
        .collect();

    // The student's details, class by class.
    let mut details = Map::new();
    details.insert("id".into(), json!(s.id));
    c.fields(
        &mut details,
        FieldClass::Identity,
        "student",
        s.id,
        vec![
            ("studentNumber", json!(s.student_number)),
            ("name", json!(s.name)),
            ("preferredName", json!(s.preferred_name)),
        ],
    );
    c.fields(
        &mut details,
        FieldClass::Contact,
        "student",
        s.id,
        vec![
            ("email", json!(s.email)),
            ("phone", json!(s.phone)),
            ("termAddress", json!(s.term_address)),
            ("homeAddress", json!(s.home_address)),
        ],
    );
    c.fields(
        &mut details,
        FieldClass::Demographic,
        "student",
        s.id,
        vec![("dateOfBirth", json!(s.date_of_birth))],
    );
    c.fields(
        &mut details,
        FieldClass::Academic,
        "student",
        s.id,
        vec![
            ("department", json!(s.department)),
            ("course", json!(s.course)),
        ],
    );
    c.fields(
        &mut details,
        FieldClass::TrustedContacts,
        "student",
        s.id,
        vec![
            ("emergencyContact", json!(s.emergency_contact)),
            ("gpPractice", json!(s.gp_practice)),
        ],
    );
    details.insert(
        "processingRestricted".into(),
        json!(s.processing_restricted),
    );
    details.insert("createdAt".into(), json!(s.created_at));
    details.insert("updatedAt".into(), json!(s.updated_at));

    // Correction history.
    let history = super::students::history_of(db, s.id).await?;
    let corrections: Vec<Value> =
        if c.section(FieldClass::ChangeHistory, "corrections", history.len()) {
            history
                .iter()
                .map(|h| {
                    json!({
                        "id": h.id,
                        "field": h.field,
                        "category": h.category,
                        "oldValue": h.old_value,
                        "newValue": h.new_value,
                        "changedByRole": h.changed_by_role,
                        "changedAt": h.changed_at,
                        "reason": h.reason,
                    })
                })
                .collect()
        } else {
            Vec::new()
        };

    // Enrolments.
    let enrolments = super::students::enrolments_of(db, &ids)
        .await?
        .remove(&s.id)
        .unwrap_or_default();
    let enrolments: Vec<Value> = if c.section(FieldClass::Academic, "enrolments", enrolments.len())
    {
        enrolments
            .iter()
            .map(|e| json!({ "id": e.id, "startsOn": e.starts_on, "endsOn": e.ends_on }))
            .collect()
    } else {
        Vec::new()
    };

    // Cases, their adjustments, notes and third-party entries.
    let cases = super::cases::cases_of_students(db, decisions, &ids).await?;
    let case_ids: Vec<Uuid> = cases.iter().map(|k| k.id).collect();
    let mut notes = super::cases::notes_of(db, &case_ids).await?;
    let mut entries = super::cases::third_party_of(db, &case_ids).await?;
    let mut case_docs = Vec::new();
    let mut adjustments = Vec::new();
    if c.section(FieldClass::SupportSummary, "cases", cases.len()) {
        for k in &cases {
            let case_notes = notes.remove(&k.id).unwrap_or_default();
            let case_entries = entries.remove(&k.id).unwrap_or_default();
            if let Some(review) = judged.get(&(SubjectAccessItemKind::Case, k.id)) {
                c.judged(review, "case", k.id, FieldClass::SupportSummary);
                continue;
            }
            let mut doc = Map::new();
            doc.insert("id".into(), json!(k.id));
            doc.insert("service".into(), json!(k.service));
            doc.insert("status".into(), json!(k.status));
            doc.insert("openedAt".into(), json!(k.opened_at));
            doc.insert("closedAt".into(), json!(k.closed_at));
            let (destroy_on, reason) = case_due(k.id).unwrap_or((None, String::new()));
            doc.insert("destroyOn".into(), json!(destroy_on));
            doc.insert("retentionReason".into(), json!(reason));
            c.fields(
                &mut doc,
                FieldClass::SummaryText,
                "case",
                k.id,
                vec![("summary", json!(k.summary))],
            );
            c.fields(
                &mut doc,
                FieldClass::Risk,
                "case",
                k.id,
                vec![("riskLevel", json!(k.risk_level))],
            );
            if let Some(text) = &k.adjustments {
                let mut a = Map::new();
                a.insert("caseId".into(), json!(k.id));
                a.insert("service".into(), json!(k.service));
                c.fields(
                    &mut a,
                    FieldClass::Adjustments,
                    "adjustments",
                    k.id,
                    vec![("adjustments", json!(text))],
                );
                if a.get("adjustments").is_some_and(|v| !v.is_null()) {
                    adjustments.push(Value::Object(a));
                }
            }
            let mut note_docs = Vec::new();
            if c.section(FieldClass::CaseNotes, "notes", case_notes.len()) {
                let mut ordered: Vec<_> = case_notes.iter().collect();
                ordered.sort_by_key(|n| (n.occurred_at, n.id));
                for n in ordered {
                    if let Some(review) = judged.get(&(SubjectAccessItemKind::Note, n.id)) {
                        c.judged(review, "note", k.id, FieldClass::CaseNotes);
                        continue;
                    }
                    note_docs.push(json!({
                        "id": n.id,
                        "kind": n.kind,
                        "occurredAt": n.occurred_at,
                        "body": n.body,
                        "labels": labels(&n.labels),
                        "createdAt": n.created_at,
                    }));
                }
            }
            doc.insert("notes".into(), Value::Array(note_docs));
            let mut entry_docs = Vec::new();
            if c.section(
                FieldClass::ThirdParty,
                "thirdPartyEntries",
                case_entries.len(),
            ) {
                let mut ordered: Vec<_> = case_entries.iter().collect();
                ordered.sort_by_key(|e| (e.created_at, e.id));
                for e in ordered {
                    let released_because = if e.third_party_consented {
                        Some("THIRD_PARTY_CONSENTED")
                    } else if e.disclosure_justification.is_some() {
                        Some("DISCLOSURE_JUSTIFIED")
                    } else {
                        None
                    };
                    match released_because {
                        Some(because) => entry_docs.push(json!({
                            "id": e.id,
                            "source": e.source,
                            "subject": e.subject,
                            "body": e.body,
                            "createdAt": e.created_at,
                            "releasedBecause": because,
                            "justification": e.disclosure_justification,
                        })),
                        None => c.withheld.push(json!({
                            "recordType": "thirdPartyEntry",
                            "recordId": e.id,
                            "caseId": k.id,
                            "category": FieldClass::ThirdParty.as_str(),
                            "count": 1,
                            "reason": "THIRD_PARTY_NOT_CONSENTED",
                            "explanation": "information from or about another person, who has not consented to its disclosure, and no justification for disclosing it without their consent is recorded",
                            "professional": null,
                        })),
                    }
                }
            }
            doc.insert("thirdPartyEntries".into(), Value::Array(entry_docs));
            case_docs.push(Value::Object(doc));
        }
    }

    // Consents with their withdrawals.
    let consents = super::consents::of_students(db, &ids)
        .await?
        .remove(&s.id)
        .unwrap_or_default();
    let consents: Vec<Value> = if c.section(FieldClass::Consents, "consents", consents.len()) {
        consents
            .iter()
            .map(|k| {
                let withdrawal = k
                    .withdrawn_at
                    .map(|at| json!({ "withdrawnAt": at, "reason": k.withdrawal_reason }));
                json!({
                    "id": k.id,
                    "recipientKind": k.recipient_kind,
                    "recipientRef": k.recipient_ref,
                    "categories": labels(&k.categories),
                    "excludedLabels": labels(&k.excluded_labels),
                    "caseId": k.case_id,
                    "purpose": k.purpose,
                    "givenAt": k.given_at,
                    "expiresAt": k.expires_at,
                    "formReference": k.form_reference,
                    "recordedByRole": k.recorded_by_role,
                    "withdrawal": withdrawal,
                })
            })
            .collect()
    } else {
        Vec::new()
    };

    // Sharing without consent, legal authorities, restrictions.
    let exceptions = super::risk_exceptions::of_students(db, &ids).await?;
    let exceptions: Vec<Value> = if c.section(
        FieldClass::RiskExceptions,
        "riskExceptions",
        exceptions.len(),
    ) {
        exceptions
            .iter()
            .map(|e| {
                json!({
                    "id": e.id,
                    "ground": e.ground,
                    "studentPosition": e.student_position,
                    "recipients": e.recipients,
                    "categories": labels(&e.categories),
                    "justification": e.justification,
                    "proposedAt": e.proposed_at,
                    "confirmedAt": e.confirmed_at,
                    "expiresAt": e.expires_at,
                    "revokedAt": e.revoked_at,
                    "studentInformedAt": e.student_informed_at,
                    "concernNotice": e.concern_notice,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let emergencies = super::emergency::of_students(db, &ids).await?;
    let emergencies: Vec<Value> = if c.section(
        FieldClass::EmergencyDisclosures,
        "emergencyDisclosures",
        emergencies.len(),
    ) {
        emergencies
            .iter()
            .map(|e| {
                json!({
                    "id": e.id,
                    "recipient": e.recipient,
                    "method": e.method,
                    "categories": labels(&e.categories),
                    "reason": e.reason,
                    "occurredAt": e.occurred_at,
                    "reviewedAt": e.reviewed_at,
                    "reviewOutcome": e.review_outcome,
                    "studentInformedAt": e.student_informed_at,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    // An order that forbids telling the student is not listed at all (the
    // exemption for crime and legal proceedings: listing it would tell them).
    let authorities: Vec<_> = super::legal::of_students(db, &ids)
        .await?
        .into_iter()
        .filter(|l| !l.inform_forbidden)
        .collect();
    let authorities: Vec<Value> = if c.section(
        FieldClass::LegalAuthorities,
        "legalAuthorities",
        authorities.len(),
    ) {
        authorities
            .iter()
            .map(|l| {
                json!({
                    "id": l.id,
                    "kind": l.kind,
                    "reference": l.reference,
                    "issuer": l.issuer,
                    "recipientKind": l.recipient_kind,
                    "recipientRef": l.recipient_ref,
                    "categories": labels(&l.categories),
                    "caseId": l.case_id,
                    "recordedAt": l.recorded_at,
                    "expiresAt": l.expires_at,
                    "revokedAt": l.revoked_at,
                    "studentInformedAt": l.student_informed_at,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let restrictions = super::restrictions::of_students(db, &ids).await?;
    let restrictions: Vec<Value> =
        if c.section(FieldClass::Restrictions, "restrictions", restrictions.len()) {
            restrictions
                .iter()
                .map(|r| {
                    json!({
                        "id": r.id,
                        "reason": r.reason,
                        "restrictedAt": r.restricted_at,
                        "studentNotifiedAt": r.student_notified_at,
                        "liftedAt": r.lifted_at,
                        "liftReason": r.lift_reason,
                    })
                })
                .collect()
        } else {
            Vec::new()
        };

    // Disclosures and the access log, as `myDisclosures` and `myAccessLog` show them.
    let view = student_view(s.id);
    let disclosures = super::risk_exceptions::disclosures_as_shown_to(db, &view).await?;
    let disclosures: Vec<Value> =
        if c.section(FieldClass::Disclosures, "disclosures", disclosures.len()) {
            disclosures
                .iter()
                .map(|d| {
                    json!({
                        "id": d.id,
                        "occurredAt": d.occurred_at,
                        "recipientRole": d.actor_role,
                        "recipientId": d.actor_id,
                        "categories": labels(&d.fields),
                        "basis": d.basis,
                        "detail": d.detail,
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
    let log = super::risk_exceptions::access_log_as_shown_to(db, &view).await?;
    let log: Vec<Value> = if c.section(FieldClass::Disclosures, "accessLog", log.len()) {
        log.iter()
            .map(|l| {
                json!({
                    "id": l.event.id,
                    "occurredAt": l.event.occurred_at,
                    "role": l.event.actor_role,
                    "service": l.service,
                    "organisation": l.organisation,
                    "kind": if l.event.action == "disclosure" { "DISCLOSURE" } else { "READ" },
                    "categories": labels(&l.event.fields),
                    "basis": l.event.basis,
                })
            })
            .collect()
    } else {
        Vec::new()
    };

    let generated_at = request.finalised_at.unwrap_or_else(|| decisions.now());
    let withheld = c.withheld.len();
    let released: Vec<&str> = c.released.iter().map(|k| k.as_str()).collect();
    let retention = match &schedule {
        Some(sch) => json!({
            "recordsDestroyOn": sch.record.on,
            "recordsReason": sch.record.reason.describe(),
            "studentDestroyOn": sch.due.on,
            "studentReason": sch.due.reason.describe(),
            "legalHold": sch.held,
        }),
        None => Value::Null,
    };
    let document = json!({
        "format": FORMAT,
        "final": request.finalised_at.is_some(),
        "generatedAt": generated_at,
        "request": {
            "id": request.id,
            "receivedOn": request.received_on,
            "dueOn": request.due_on,
            "extendedDueOn": request.extended_due_on,
            "identityChecked": request.identity_checked,
            "identityCheck": request.identity_check,
        },
        "student": Value::Object(details),
        "corrections": corrections,
        "enrolments": enrolments,
        "cases": case_docs,
        "adjustments": adjustments,
        "consents": consents,
        "riskExceptions": exceptions,
        "emergencyDisclosures": emergencies,
        "legalAuthorities": authorities,
        "restrictions": restrictions,
        "disclosures": disclosures,
        "accessLog": log,
        "withheld": c.withheld,
        "categoriesReleased": released,
        "retention": retention,
    });
    Ok(Export {
        document,
        released: c.released,
        withheld,
    })
}

/// The categories a document released (its `categoriesReleased`).
pub fn categories_of(document: &Value) -> Vec<String> {
    document["categoriesReleased"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// One audit record of an export produced: the student, the categories
/// released, the request; no personal data in the detail.
pub async fn audit_export(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    request: &subject_access_request::Model,
    export: &Export,
    sha: &str,
    finalised: bool,
) -> AppResult<()> {
    write(
        db,
        decisions,
        request,
        audit::class_names(export.released),
        json!({
            "request": request.id,
            "final": finalised,
            "sha256": sha,
            "withheld": export.withheld,
        }),
    )
    .await
}

/// One audit record of a fixed (finalised) export read again.
pub async fn audit_fixed(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    request: &subject_access_request::Model,
    categories: &[String],
    sha: &str,
) -> AppResult<()> {
    write(
        db,
        decisions,
        request,
        categories.to_vec(),
        json!({ "request": request.id, "final": true, "sha256": sha, "reissued": true }),
    )
    .await
}

async fn write(
    db: &impl ConnectionTrait,
    decisions: &Decisions,
    request: &subject_access_request::Model,
    fields: Vec<String>,
    detail: Value,
) -> AppResult<()> {
    audit::write(
        db,
        decisions.caller(),
        decisions.origin(),
        vec![Event {
            student_id: Some(request.student_id),
            action: "export",
            fields,
            outcome: "allow",
            basis: Some(super::sar::basis(request.id)),
            detail: Some(detail.to_string()),
        }],
    )
    .await
}
