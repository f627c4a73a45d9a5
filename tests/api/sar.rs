//! Subject access requests (issue 10, item 2): the request's dates, the
//! export (every category, withheld items with their reasons, its JSON
//! Schema), serious-harm judgements, finalisation, who may do what, and the
//! CLI's export.

use crate::helpers::{id, spawn_app, Gql, TestApp};
use chrono::{Duration, Months, NaiveDate, Utc};
use confide::domain::Role;
use entity::{
    consent, emergency_disclosure, enrolment, legal_authority, note, restriction, risk_exception,
    serious_harm_review, student, student_change, subject_access_request, support_case,
    third_party_entry,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{json, Value};
use uuid::Uuid;

const OPEN: &str = r#"mutation($studentId: ID!, $receivedOn: NaiveDate!, $checked: Boolean!, $how: String!) {
    openSubjectAccessRequest(studentId: $studentId, receivedOn: $receivedOn, identityChecked: $checked, identityCheck: $how) {
        id studentId receivedOn dueOn originalDueOn extendedDueOn status identityChecked identityCheck openedByRole
    }
}"#;
const EXTEND: &str = r#"mutation($id: ID!, $months: Int!, $reason: String!) {
    extendSubjectAccessRequest(id: $id, months: $months, reason: $reason) { id dueOn originalDueOn extendedDueOn extensionReason status }
}"#;
const EXPORT: &str = r#"query($id: ID!) { subjectAccessExport(requestId: $id) { id document } }"#;
const FINALISE: &str = r#"mutation($id: ID!) {
    finaliseSubjectAccessRequest(id: $id) { id status finalisedAt exportSha256 }
}"#;
const MARK: &str = r#"mutation($request: ID!, $kind: SubjectAccessItemKind!, $item: ID!) {
    markForSeriousHarmReview(requestId: $request, itemKind: $kind, itemId: $item) { id itemKind itemId pending }
}"#;
const JUDGE: &str = r#"mutation($review: ID!, $on: NaiveDate!, $outcome: SeriousHarmOutcome!) {
    recordSeriousHarmJudgement(reviewId: $review, professionalName: "Dr Jane Okafor", opinion: "Disclosure would be likely to cause serious harm to the student's mental health.", judgedOn: $on, outcome: $outcome) {
        id pending professionalName judgedOn outcome
    }
}"#;
const LIST: &str = r#"query($status: SubjectAccessRequestStatus) {
    subjectAccessRequests(status: $status) { id studentId status dueOn seriousHarmReviews { id pending } }
}"#;

/// A student with something in every category.
struct Seeded {
    student: Uuid,
    case: Uuid,
    notes: [Uuid; 2],
    entry: Uuid,
    withdrawn_consent: Uuid,
    active_consent: Uuid,
}

async fn seed_student(app: &TestApp) -> Seeded {
    let db = &app.db;
    let now = Utc::now();
    let sid = Uuid::new_v4();
    student::ActiveModel {
        id: Set(sid),
        student_number: Set("S2026001".into()),
        name: Set("Sam Subject".into()),
        preferred_name: Set(Some("Sam".into())),
        email: Set("sam.subject@uni.example".into()),
        phone: Set(Some("07700 900123".into())),
        term_address: Set(Some("1 College Road".into())),
        home_address: Set(None),
        date_of_birth: Set(NaiveDate::from_ymd_opt(2004, 5, 17)),
        department: Set("history".into()),
        course: Set("BA History".into()),
        emergency_contact: Set(Some("Pat Subject, parent".into())),
        gp_practice: Set(Some("College Road Surgery".into())),
        processing_restricted: Set(false),
        created_at: Set(now - Duration::days(400)),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    enrolment::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(sid),
        starts_on: Set(NaiveDate::from_ymd_opt(2024, 9, 23).unwrap()),
        ends_on: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    student_change::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(sid),
        field: Set("email".into()),
        category: Set("CONTACT".into()),
        old_value: Set(Some("sam.old@uni.example".into())),
        new_value: Set(Some("sam.subject@uni.example".into())),
        changed_by: Set(app.demo.reception),
        changed_by_role: Set("reception".into()),
        changed_at: Set(now - Duration::days(3)),
        reason: Set(Some("The student asked for it to be corrected.".into())),
    }
    .insert(db)
    .await
    .unwrap();
    let case = Uuid::new_v4();
    support_case::ActiveModel {
        id: Set(case),
        student_id: Set(sid),
        service: Set("counselling".into()),
        status: Set("open".into()),
        opened_at: Set(now - Duration::days(60)),
        closed_at: Set(None),
        assigned_to: Set(Some(app.demo.counsellor)),
        summary: Set(Some("Weekly counselling sessions.".into())),
        adjustments: Set(Some("Extra time in examinations (25%).".into())),
        risk_level: Set("low".into()),
        created_at: Set(now - Duration::days(60)),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    let mut notes = [Uuid::nil(); 2];
    for (i, (body, labels)) in [
        ("First session: exam anxiety.", json!(["MENTAL_HEALTH"])),
        ("Second session: sleeping better.", json!([])),
    ]
    .into_iter()
    .enumerate()
    {
        notes[i] = Uuid::new_v4();
        note::ActiveModel {
            id: Set(notes[i]),
            case_id: Set(case),
            kind: Set("meeting".into()),
            occurred_at: Set(now - Duration::days(50 - i as i64 * 7)),
            author_id: Set(app.demo.counsellor),
            body: Set(body.into()),
            labels: Set(labels),
            created_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
    }
    let entry = Uuid::new_v4();
    third_party_entry::ActiveModel {
        id: Set(entry),
        case_id: Set(case),
        source: Set("Sam's tutor".into()),
        subject: Set("Sam's tutor".into()),
        body: Set("The tutor is worried about Sam's attendance.".into()),
        third_party_consented: Set(false),
        disclosure_justification: Set(None),
        recorded_by: Set(app.demo.counsellor),
        created_at: Set(now - Duration::days(40)),
    }
    .insert(db)
    .await
    .unwrap();
    let mut consents = Vec::new();
    for withdrawn in [true, false] {
        let cid = Uuid::new_v4();
        consent::ActiveModel {
            id: Set(cid),
            student_id: Set(sid),
            recipient_kind: Set("partner".into()),
            recipient_ref: Set(Some(app.demo.gp_practice.to_string())),
            categories: Set(json!(["IDENTITY", "SUPPORT_SUMMARY"])),
            excluded_labels: Set(json!([])),
            case_id: Set(None),
            purpose: Set("Continuity of care with my GP.".into()),
            given_at: Set(now - Duration::days(30)),
            expires_at: Set(None),
            form_reference: Set(Some("SS-CONSENT-7".into())),
            recorded_by: Set(app.demo.counsellor),
            recorded_by_role: Set("practitioner".into()),
            withdrawn_at: Set(withdrawn.then_some(now - Duration::days(10))),
            withdrawn_by: Set(withdrawn.then_some(sid)),
            withdrawal_reason: Set(withdrawn.then_some("I changed my mind.".into())),
            created_at: Set(now - Duration::days(30)),
        }
        .insert(db)
        .await
        .unwrap();
        consents.push(cid);
    }
    risk_exception::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(sid),
        ground: Set("serious_harm_to_self".into()),
        student_position: Set("refused".into()),
        recipients: Set(json!([{ "kind": "partner", "ref": app.demo.nhs_trust.to_string() }])),
        categories: Set(json!(["IDENTITY", "CONTACT"])),
        justification: Set("Immediate risk assessed.".into()),
        proposed_by: Set(app.demo.mental_health_adviser),
        proposed_at: Set(now - Duration::days(20)),
        confirmed_by: Set(Some(app.demo.counsellor)),
        confirmed_at: Set(Some(now - Duration::days(20))),
        expires_at: Set(now - Duration::days(17)),
        revoked_at: Set(None),
        revoked_by: Set(None),
        student_informed_at: Set(Some(now - Duration::days(19))),
        not_informed_reason: Set(None),
        created_at: Set(now - Duration::days(20)),
        concern_notice: Set(None),
    }
    .insert(db)
    .await
    .unwrap();
    emergency_disclosure::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(sid),
        disclosed_by: Set(app.demo.counsellor),
        recipient: Set("Ambulance service".into()),
        method: Set("telephone".into()),
        categories: Set(json!(["IDENTITY", "TRUSTED_CONTACTS"])),
        reason: Set("Collapsed during a session.".into()),
        occurred_at: Set(now - Duration::days(15)),
        review_due_at: Set(now - Duration::days(13)),
        reviewed_by: Set(Some(app.demo.mental_health_adviser)),
        reviewed_at: Set(Some(now - Duration::days(14))),
        review_outcome: Set(Some("Proportionate.".into())),
        student_informed_at: Set(Some(now - Duration::days(14))),
        not_informed_reason: Set(None),
        created_at: Set(now - Duration::days(15)),
    }
    .insert(db)
    .await
    .unwrap();
    for forbidden in [false, true] {
        legal_authority::ActiveModel {
            id: Set(Uuid::new_v4()),
            student_id: Set(sid),
            kind: Set("court_order".into()),
            reference: Set(if forbidden { "SECRET-1" } else { "CO-2026-17" }.into()),
            issuer: Set("County Court".into()),
            recipient_kind: Set("partner".into()),
            recipient_ref: Set(app.demo.nhs_trust.to_string()),
            categories: Set(json!(["IDENTITY"])),
            case_id: Set(None),
            recorded_at: Set(now - Duration::days(9)),
            recorded_by: Set(app.demo.dpo),
            expires_at: Set(now - Duration::days(2)),
            revoked_at: Set(None),
            revoked_by: Set(None),
            inform_forbidden: Set(forbidden),
            student_informed_at: Set((!forbidden).then_some(now - Duration::days(8))),
            not_informed_reason: Set(forbidden.then_some("The order forbids it.".into())),
        }
        .insert(db)
        .await
        .unwrap();
    }
    restriction::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(sid),
        reason: Set("Accuracy contested.".into()),
        restricted_by: Set(app.demo.dpo),
        restricted_at: Set(now - Duration::days(7)),
        student_notified_at: Set(Some(now - Duration::days(7))),
        lifted_by: Set(Some(app.demo.dpo)),
        lifted_at: Set(Some(now - Duration::days(5))),
        lift_reason: Set(Some("Corrected.".into())),
    }
    .insert(db)
    .await
    .unwrap();
    // A disclosure to the GP practice under the consent (as the application
    // writes one: chained), and a counsellor's read through the API.
    let partner = confide::auth::Caller {
        id: app.demo.gp_practice,
        role: Role::Partner,
        name: "GP practice".into(),
        service: None,
        department: None,
        unit: None,
        registered_mhp: false,
    };
    let txn = sea_orm::TransactionTrait::begin(db).await.unwrap();
    confide::service::audit::write(
        &txn,
        &partner,
        None,
        vec![confide::service::audit::Event {
            student_id: Some(sid),
            action: "disclosure",
            fields: vec!["IDENTITY".into(), "SUPPORT_SUMMARY".into()],
            outcome: "allow",
            basis: Some(format!("consent:{}", consents[1])),
            detail: None,
        }],
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    app.as_caller(
        app.demo.counsellor,
        Role::Practitioner,
        r#"query($id: ID!) { student(id: $id) { email } }"#,
        json!({ "id": id(sid) }),
    )
    .await
    .assert_no_errors();
    Seeded {
        student: sid,
        case,
        notes,
        entry,
        withdrawn_consent: consents[0],
        active_consent: consents[1],
    }
}

async fn dpo(app: &TestApp, query: &str, variables: Value) -> Gql {
    app.as_caller(app.demo.dpo, Role::Dpo, query, variables)
        .await
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

async fn open_on(app: &TestApp, student: Uuid, received: NaiveDate) -> Gql {
    dpo(
        app,
        OPEN,
        json!({
            "studentId": id(student),
            "receivedOn": received.to_string(),
            "checked": true,
            "how": "passport seen at reception",
        }),
    )
    .await
}

async fn open(app: &TestApp, student: Uuid) -> String {
    let res = open_on(app, student, today()).await;
    res.assert_no_errors();
    res.data()["openSubjectAccessRequest"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn export(app: &TestApp, request: &str) -> Value {
    let res = dpo(app, EXPORT, json!({ "id": request })).await;
    res.assert_no_errors();
    res.data()["subjectAccessExport"]["document"].clone()
}

fn withheld_of(doc: &Value, record: Uuid) -> Vec<&Value> {
    doc["withheld"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["recordId"] == id(record))
        .collect()
}

fn validate(doc: &Value) {
    let schema: Value = serde_json::from_str(confide::service::sar_export::SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
}

#[tokio::test]
async fn the_export_contains_every_category_of_data_for_a_seeded_student() {
    let app = spawn_app().await;
    let s = seed_student(&app).await;
    let request = open(&app, s.student).await;
    let doc = export(&app, &request).await;

    assert_eq!(doc["format"], "confide-sar/1");
    assert_eq!(doc["final"], false);
    assert_eq!(doc["request"]["id"], request.as_str());
    assert_eq!(
        doc["request"]["identityCheck"],
        "passport seen at reception"
    );
    let st = &doc["student"];
    assert_eq!(st["id"], id(s.student));
    assert_eq!(st["name"], "Sam Subject");
    assert_eq!(st["email"], "sam.subject@uni.example");
    assert_eq!(st["dateOfBirth"], "2004-05-17");
    assert_eq!(st["course"], "BA History");
    assert_eq!(st["gpPractice"], "College Road Surgery");
    assert_eq!(doc["corrections"][0]["oldValue"], "sam.old@uni.example");
    assert_eq!(doc["corrections"][0]["field"], "email");
    assert_eq!(doc["enrolments"][0]["startsOn"], "2024-09-23");
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1);
    let case = &cases[0];
    assert_eq!(case["id"], id(s.case));
    assert_eq!(case["summary"], "Weekly counselling sessions.");
    assert_eq!(case["riskLevel"], "low");
    // Each record's retention date, with its reason (an open case or
    // enrolment: not due while it stays open).
    assert!(
        case.as_object().unwrap().contains_key("destroyOn"),
        "{case:#}"
    );
    assert!(case["retentionReason"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    let retention = &doc["retention"];
    assert!(
        retention["recordsReason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{retention:#}"
    );
    assert!(retention
        .as_object()
        .unwrap()
        .contains_key("studentDestroyOn"));
    assert_eq!(retention["legalHold"], false);
    let notes = case["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{doc:#}");
    assert_eq!(notes[0]["id"], id(s.notes[0]));
    assert_eq!(notes[0]["body"], "First session: exam anxiety.");
    assert_eq!(notes[0]["labels"], json!(["MENTAL_HEALTH"]));
    assert_eq!(
        doc["adjustments"],
        json!([{ "caseId": id(s.case), "service": "counselling", "adjustments": "Extra time in examinations (25%)." }])
    );
    assert_eq!(doc["consents"].as_array().unwrap().len(), 2);
    assert_eq!(doc["riskExceptions"][0]["ground"], "serious_harm_to_self");
    assert_eq!(
        doc["emergencyDisclosures"][0]["recipient"],
        "Ambulance service"
    );
    // The authority the student may be told of, not the one whose order forbids it.
    let authorities = doc["legalAuthorities"].as_array().unwrap();
    assert_eq!(authorities.len(), 1);
    assert_eq!(authorities[0]["reference"], "CO-2026-17");
    assert!(!doc.to_string().contains("SECRET-1"));
    assert_eq!(doc["restrictions"][0]["liftReason"], "Corrected.");
    let disclosures = doc["disclosures"].as_array().unwrap();
    assert_eq!(disclosures.len(), 1);
    assert_eq!(disclosures[0]["recipientRole"], "partner");
    assert_eq!(
        disclosures[0]["basis"],
        format!("consent:{}", s.active_consent)
    );
    let log = doc["accessLog"].as_array().unwrap();
    assert!(
        log.iter()
            .any(|l| l["role"] == "practitioner" && l["service"] == "counselling"),
        "{log:#?}"
    );
    assert!(log.iter().any(|l| l["kind"] == "DISCLOSURE"));
    for section in [
        "corrections",
        "enrolments",
        "cases",
        "adjustments",
        "consents",
        "riskExceptions",
        "emergencyDisclosures",
        "legalAuthorities",
        "restrictions",
        "disclosures",
        "accessLog",
    ] {
        assert!(
            !doc[section].as_array().unwrap().is_empty(),
            "{section} is empty"
        );
    }
    let released = doc["categoriesReleased"].as_array().unwrap();
    for class in [
        "IDENTITY",
        "CONTACT",
        "CASE_NOTES",
        "ADJUSTMENTS",
        "RISK",
        "CONSENTS",
    ] {
        assert!(released.contains(&json!(class)), "{class}: {released:?}");
    }
    // The export is audited: one record naming the student and the
    // categories, with no personal data in its detail.
    let events = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Action.eq("export"))
        .filter(entity::audit_event::Column::StudentId.eq(s.student))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_id, app.demo.dpo);
    assert!(events[0]
        .fields
        .as_array()
        .unwrap()
        .contains(&json!("CASE_NOTES")));
    assert_eq!(
        events[0].lawful_basis.as_deref(),
        Some("UK GDPR Art. 6(1)(c) legal obligation; Art. 9(2)(g) substantial public interest (the right of access, Art. 15)")
    );
    let detail = events[0].detail.clone().unwrap();
    for personal in ["Sam", "sam.subject", "exam anxiety", "College Road"] {
        assert!(!detail.contains(personal), "{detail}");
    }
}

#[tokio::test]
async fn the_export_lists_the_third_party_entry_as_withheld_with_its_reason_until_a_justification_is_recorded(
) {
    let app = spawn_app().await;
    let s = seed_student(&app).await;
    let request = open(&app, s.student).await;
    let doc = export(&app, &request).await;
    assert!(doc["cases"][0]["thirdPartyEntries"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(!doc.to_string().contains("worried about Sam's attendance"));
    let withheld = withheld_of(&doc, s.entry);
    assert_eq!(withheld.len(), 1, "{doc:#}");
    assert_eq!(withheld[0]["reason"], "THIRD_PARTY_NOT_CONSENTED");
    assert_eq!(withheld[0]["category"], "THIRD_PARTY");
    assert_eq!(withheld[0]["caseId"], id(s.case));

    // A practitioner may not record the justification; the DPO may, once.
    const JUSTIFY: &str = r#"mutation($entry: ID!) {
        recordThirdPartyDisclosureJustification(entryId: $entry, justification: "The tutor's concern is already known to the student from their own meeting.") { id }
    }"#;
    let refused = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            JUSTIFY,
            json!({ "entry": id(s.entry) }),
        )
        .await;
    assert_eq!(refused.codes(), vec!["FORBIDDEN"]);
    dpo(&app, JUSTIFY, json!({ "entry": id(s.entry) }))
        .await
        .assert_no_errors();
    let again = dpo(&app, JUSTIFY, json!({ "entry": id(s.entry) })).await;
    assert_eq!(again.codes(), vec!["CONFLICT"]);

    let doc = export(&app, &request).await;
    assert!(withheld_of(&doc, s.entry).is_empty());
    let entries = doc["cases"][0]["thirdPartyEntries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["releasedBecause"], "DISCLOSURE_JUSTIFIED");
    assert_eq!(
        entries[0]["body"],
        "The tutor is worried about Sam's attendance."
    );
}

#[tokio::test]
async fn the_export_contains_consents_together_with_their_withdrawals() {
    let app = spawn_app().await;
    let s = seed_student(&app).await;
    let request = open(&app, s.student).await;
    let doc = export(&app, &request).await;
    let consents = doc["consents"].as_array().unwrap();
    let withdrawn = consents
        .iter()
        .find(|c| c["id"] == id(s.withdrawn_consent))
        .expect("the withdrawn consent is listed");
    assert_eq!(withdrawn["purpose"], "Continuity of care with my GP.");
    assert_eq!(withdrawn["withdrawal"]["reason"], "I changed my mind.");
    assert!(withdrawn["withdrawal"]["withdrawnAt"].is_string());
    let active = consents
        .iter()
        .find(|c| c["id"] == id(s.active_consent))
        .expect("the active consent is listed");
    assert!(active["withdrawal"].is_null());
}

#[tokio::test]
async fn the_export_validates_against_its_json_schema() {
    let app = spawn_app().await;
    let s = seed_student(&app).await;
    let request = open(&app, s.student).await;
    let draft = export(&app, &request).await;
    validate(&draft);
    // With a withheld note and an item to be shown only with staff present.
    let review = dpo(
        &app,
        MARK,
        json!({ "request": request, "kind": "NOTE", "item": id(s.notes[0]) }),
    )
    .await;
    review.assert_no_errors();
    let review = review.data()["markForSeriousHarmReview"]["id"].clone();
    dpo(
        &app,
        JUDGE,
        json!({ "review": review, "on": today().to_string(), "outcome": "STAFF_PRESENT" }),
    )
    .await
    .assert_no_errors();
    dpo(&app, FINALISE, json!({ "id": request }))
        .await
        .assert_no_errors();
    let fixed = export(&app, &request).await;
    assert_eq!(fixed["final"], true);
    validate(&fixed);
    let withheld = withheld_of(&fixed, s.notes[0]);
    assert_eq!(withheld[0]["reason"], "SHOW_ONLY_WITH_STAFF_PRESENT");
    // Documents that break the schema are refused by it.
    let mut broken = fixed.clone();
    broken["format"] = json!("confide-sar/2");
    let schema: Value = serde_json::from_str(confide::service::sar_export::SCHEMA).unwrap();
    assert!(!jsonschema::is_valid(&schema, &broken));
    let mut broken = fixed;
    broken["cases"][0]["notes"][0]["secret"] = json!(1);
    assert!(!jsonschema::is_valid(&schema, &broken));
}

#[tokio::test]
async fn a_request_cannot_be_finalised_while_a_serious_harm_judgement_is_pending_and_a_judgement_older_than_six_months_does_not_count(
) {
    let app = spawn_app().await;
    let s = seed_student(&app).await;
    let request = open(&app, s.student).await;
    let flagged = dpo(
        &app,
        MARK,
        json!({ "request": request, "kind": "NOTE", "item": id(s.notes[1]) }),
    )
    .await;
    flagged.assert_no_errors();
    assert_eq!(flagged.data()["markForSeriousHarmReview"]["pending"], true);
    let review = flagged.data()["markForSeriousHarmReview"]["id"].clone();
    // Flagging it twice, or flagging another student's note, is refused.
    let twice = dpo(
        &app,
        MARK,
        json!({ "request": request, "kind": "NOTE", "item": id(s.notes[1]) }),
    )
    .await;
    assert_eq!(twice.codes(), vec!["CONFLICT"]);
    let other = dpo(
        &app,
        MARK,
        json!({ "request": request, "kind": "NOTE", "item": id(app.demo.alice_sexual_health_note) }),
    )
    .await;
    assert_eq!(other.codes(), vec!["NOT_FOUND"]);

    let pending = dpo(&app, FINALISE, json!({ "id": request })).await;
    assert_eq!(pending.codes(), vec!["CONFLICT"], "{:#}", pending.body);
    let message = pending.errors()[0]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("pending") && message.contains(&id(s.notes[1])),
        "{message}"
    );

    let stale = today() - Months::new(7);
    dpo(
        &app,
        JUDGE,
        json!({ "review": review, "on": stale.to_string(), "outcome": "WITHHOLD" }),
    )
    .await
    .assert_no_errors();
    let old = dpo(&app, FINALISE, json!({ "id": request })).await;
    assert_eq!(old.codes(), vec!["CONFLICT"], "{:#}", old.body);
    let message = old.errors()[0]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("six months") && message.contains(&id(s.notes[1])),
        "{message}"
    );
    let listed = dpo(&app, LIST, json!({ "status": "OPEN" })).await;
    listed.assert_no_errors();
    assert_eq!(listed.data()["subjectAccessRequests"][0]["status"], "OPEN");

    let judged = dpo(
        &app,
        JUDGE,
        json!({ "review": review, "on": today().to_string(), "outcome": "WITHHOLD" }),
    )
    .await;
    judged.assert_no_errors();
    assert_eq!(
        judged.data()["recordSeriousHarmJudgement"]["pending"],
        false
    );
    assert_eq!(
        judged.data()["recordSeriousHarmJudgement"]["professionalName"],
        "Dr Jane Okafor"
    );
    let done = dpo(&app, FINALISE, json!({ "id": request })).await;
    done.assert_no_errors();
    let finalised = &done.data()["finaliseSubjectAccessRequest"];
    assert_eq!(finalised["status"], "FINALISED");
    assert!(finalised["finalisedAt"].is_string());
    let sha = finalised["exportSha256"].as_str().unwrap().to_owned();

    // The fixed document: the judged note withheld with its reason and the
    // professional, its body nowhere; the stored text hashes to the digest.
    let doc = export(&app, &request).await;
    assert_eq!(doc["final"], true);
    let withheld = withheld_of(&doc, s.notes[1]);
    assert_eq!(withheld.len(), 1);
    assert_eq!(withheld[0]["reason"], "SERIOUS_HARM");
    assert_eq!(withheld[0]["professional"]["name"], "Dr Jane Okafor");
    assert_eq!(withheld[0]["professional"]["judgedOn"], today().to_string());
    assert!(!doc.to_string().contains("sleeping better"));
    assert_eq!(doc["cases"][0]["notes"].as_array().unwrap().len(), 1);
    let stored =
        entity::subject_access_request::Entity::find_by_id(request.parse::<Uuid>().unwrap())
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
    let text = stored.export_document.unwrap();
    assert_eq!(confide::service::sar_export::sha256(&text), sha);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), doc);
    // Finalised: not again, no more judgements or extensions.
    let again = dpo(&app, FINALISE, json!({ "id": request })).await;
    assert_eq!(again.codes(), vec!["CONFLICT"]);
    // Finalising wrote one export record (the later reads one each, reissued).
    let finals = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Action.eq("export"))
        .filter(entity::audit_event::Column::StudentId.eq(s.student))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            let d: Value = serde_json::from_str(e.detail.as_deref().unwrap()).unwrap();
            d["final"] == true && d["reissued"].is_null()
        })
        .count();
    assert_eq!(finals, 1);
}

/// A case flagged for a serious-harm review while the request is being
/// finalised: never both, so no document is fixed without a judgement its
/// professional was asked for. The two requests overlap for certain (the test
/// holds the database's write lock while both begin).
#[tokio::test]
async fn a_flag_racing_a_finalisation_is_refused_or_stops_it_never_both() {
    let app = spawn_app().await;
    let request = open(&app, app.demo.alice).await;
    let (flag, finalise) = app
        .while_writes_are_held(async {
            tokio::join!(
                dpo(
                    &app,
                    MARK,
                    json!({ "request": request, "kind": "CASE", "item": id(app.demo.alice_counselling_case) }),
                ),
                dpo(&app, FINALISE, json!({ "id": request })),
            )
        })
        .await;
    let outcomes = (flag.codes(), finalise.codes());
    assert!(
        outcomes == (vec![], vec!["CONFLICT".to_owned()])
            || outcomes == (vec!["CONFLICT".to_owned()], vec![]),
        "{outcomes:?}: {:#} {:#}",
        flag.body,
        finalise.body
    );
    // Whichever won, the stored state agrees: a finalised request has no
    // review, or a flagged one is not finalised.
    let stored = subject_access_request::Entity::find_by_id(Uuid::parse_str(&request).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let reviews = serious_harm_review::Entity::find()
        .filter(serious_harm_review::Column::RequestId.eq(stored.id))
        .all(&app.db)
        .await
        .unwrap();
    assert!(
        stored.finalised_at.is_none() != reviews.is_empty(),
        "{stored:?} {reviews:?}"
    );
}

#[tokio::test]
async fn the_due_date_is_one_calendar_month_and_the_request_is_extended_once_before_the_original_due_date_by_at_most_two_months(
) {
    let app = spawn_app().await;
    let received = today();
    let res = open_on(&app, app.demo.alice, received).await;
    res.assert_no_errors();
    let opened = &res.data()["openSubjectAccessRequest"];
    let due = received + Months::new(1);
    assert_eq!(opened["dueOn"], due.to_string());
    assert_eq!(opened["status"], "OPEN");
    assert_eq!(opened["identityChecked"], true);
    let request = opened["id"].clone();

    let three = dpo(
        &app,
        EXTEND,
        json!({ "id": request, "months": 3, "reason": "Complex request." }),
    )
    .await;
    assert_eq!(three.codes(), vec!["BAD_USER_INPUT"]);
    let extended = dpo(
        &app,
        EXTEND,
        json!({ "id": request, "months": 2, "reason": "Complex: records held by three services." }),
    )
    .await;
    extended.assert_no_errors();
    let e = &extended.data()["extendSubjectAccessRequest"];
    assert_eq!(e["originalDueOn"], due.to_string());
    assert_eq!(e["dueOn"], (received + Months::new(3)).to_string());
    assert_eq!(
        e["extensionReason"],
        "Complex: records held by three services."
    );
    let twice = dpo(
        &app,
        EXTEND,
        json!({ "id": request, "months": 1, "reason": "Again." }),
    )
    .await;
    assert_eq!(twice.codes(), vec!["CONFLICT"]);
    assert!(twice.errors()[0]["message"]
        .as_str()
        .unwrap()
        .contains("once"));

    // Month ends: received 31 January, due on the last day of February.
    let jan = open_on(
        &app,
        app.demo.bob,
        NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
    )
    .await;
    jan.assert_no_errors();
    assert_eq!(
        jan.data()["openSubjectAccessRequest"]["dueOn"],
        "2026-02-28"
    );
    // Past its original due date: overdue, listed as such, and no longer extendable.
    let late = &jan.data()["openSubjectAccessRequest"];
    assert_eq!(late["status"], "OVERDUE");
    let refused = dpo(
        &app,
        EXTEND,
        json!({ "id": late["id"], "months": 1, "reason": "Too late." }),
    )
    .await;
    assert_eq!(refused.codes(), vec!["CONFLICT"]);
    assert!(refused.errors()[0]["message"]
        .as_str()
        .unwrap()
        .contains("2026-02-28"));
    let overdue = dpo(&app, LIST, json!({ "status": "OVERDUE" })).await;
    overdue.assert_no_errors();
    let listed = overdue.data()["subjectAccessRequests"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["id"], late["id"]);
    assert_eq!(listed[0]["studentId"], id(app.demo.bob));
    let open = dpo(&app, LIST, json!({ "status": "OPEN" })).await;
    assert_eq!(
        open.data()["subjectAccessRequests"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Future receipt, unchecked identity: refused.
    let future = open_on(&app, app.demo.alice, today() + Duration::days(2)).await;
    assert_eq!(future.codes(), vec!["BAD_USER_INPUT"]);
    let unchecked = dpo(
        &app,
        OPEN,
        json!({ "studentId": id(app.demo.alice), "receivedOn": today().to_string(), "checked": false, "how": "not yet" }),
    )
    .await;
    assert_eq!(unchecked.codes(), vec!["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn a_student_can_request_subject_access_for_themself_and_not_for_another() {
    let app = spawn_app().await;
    const REQUEST: &str = r#"mutation { requestSubjectAccess { id studentId receivedOn dueOn identityCheck openedByRole status } }"#;
    const MINE: &str = r#"query { mySubjectAccessRequests { id studentId status dueOn } }"#;
    let res = app
        .as_caller(app.demo.alice, Role::Student, REQUEST, json!({}))
        .await;
    res.assert_no_errors();
    let made = &res.data()["requestSubjectAccess"];
    assert_eq!(made["studentId"], id(app.demo.alice));
    assert_eq!(made["receivedOn"], today().to_string());
    assert_eq!(made["dueOn"], (today() + Months::new(1)).to_string());
    assert_eq!(
        made["identityCheck"],
        "authenticated by the university's identity provider"
    );
    assert_eq!(made["openedByRole"], "student");
    // Not for another student.
    let other = app
        .as_caller(
            app.demo.alice,
            Role::Student,
            OPEN,
            json!({ "studentId": id(app.demo.bob), "receivedOn": today().to_string(), "checked": true, "how": "me" }),
        )
        .await;
    assert_eq!(other.codes(), vec!["FORBIDDEN"]);
    // Their own requests, and nobody else's.
    open(&app, app.demo.bob).await;
    let mine = app
        .as_caller(app.demo.alice, Role::Student, MINE, json!({}))
        .await;
    mine.assert_no_errors();
    let listed = mine.data()["mySubjectAccessRequests"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], made["id"]);
    assert_eq!(listed[0]["status"], "OPEN");
    let bobs = app
        .as_caller(app.demo.bob, Role::Student, MINE, json!({}))
        .await;
    assert_eq!(
        bobs.data()["mySubjectAccessRequests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A student neither lists all requests nor reads an export.
    let all = app
        .as_caller(app.demo.alice, Role::Student, LIST, json!({}))
        .await;
    assert_eq!(all.codes(), vec!["FORBIDDEN"]);
    let export = app
        .as_caller(
            app.demo.alice,
            Role::Student,
            EXPORT,
            json!({ "id": made["id"] }),
        )
        .await;
    assert_eq!(export.codes(), vec!["FORBIDDEN"]);
    // The DPO sees it, opened by the student.
    let listed = dpo(&app, LIST, json!({})).await;
    assert_eq!(
        listed.data()["subjectAccessRequests"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn staff_other_than_the_dpo_cannot_open_list_read_exports_judge_or_finalise() {
    let app = spawn_app().await;
    let request = open(&app, app.demo.alice).await;
    let review = dpo(
        &app,
        MARK,
        json!({ "request": request, "kind": "CASE", "item": id(app.demo.alice_counselling_case) }),
    )
    .await;
    review.assert_no_errors();
    let review = review.data()["markForSeriousHarmReview"]["id"].clone();
    for (who, role) in [
        (app.demo.counsellor, Role::Practitioner),
        (app.demo.counselling_lead, Role::ServiceLead),
        (app.demo.reception, Role::Reception),
        (app.demo.it_support, Role::ItSupport),
        (app.demo.admin, Role::Admin),
        (app.demo.gp_practice, Role::Partner),
    ] {
        for (query, variables) in [
            (
                OPEN,
                json!({ "studentId": id(app.demo.alice), "receivedOn": today().to_string(), "checked": true, "how": "seen" }),
            ),
            (EXPORT, json!({ "id": request })),
            (FINALISE, json!({ "id": request })),
            (LIST, json!({})),
            (
                EXTEND,
                json!({ "id": request, "months": 1, "reason": "No." }),
            ),
            (
                MARK,
                json!({ "request": request, "kind": "NOTE", "item": id(app.demo.alice_sexual_health_note) }),
            ),
            (
                JUDGE,
                json!({ "review": review, "on": today().to_string(), "outcome": "RELEASE" }),
            ),
            (r#"mutation { requestSubjectAccess { id } }"#, json!({})),
        ] {
            let res = app.as_caller(who, role, query, variables).await;
            assert_eq!(
                res.codes(),
                vec!["FORBIDDEN"],
                "{role}: {query}: {:#}",
                res.body
            );
        }
    }
    assert_eq!(app.count("subject_access_request").await, 1);
    let unjudged = dpo(&app, LIST, json!({})).await;
    assert_eq!(
        unjudged.data()["subjectAccessRequests"][0]["seriousHarmReviews"][0]["pending"],
        true
    );
}

#[tokio::test]
async fn the_cli_export_equals_the_api_export_for_the_same_request() {
    let app = spawn_app().await;
    let s = seed_student(&app).await;
    let request = open(&app, s.student).await;
    let request_id: Uuid = request.parse().unwrap();
    let policy = confide::policy::load(None).await.unwrap();
    // A draft: the same document but for the time it was generated.
    let mut cli = confide::cli::export_sar(&app.db, policy.clone(), request_id)
        .await
        .unwrap();
    let mut api = export(&app, &request).await;
    cli["generatedAt"] = Value::Null;
    api["generatedAt"] = Value::Null;
    assert_eq!(cli, api);
    // Finalised: the very same document.
    dpo(&app, FINALISE, json!({ "id": request }))
        .await
        .assert_no_errors();
    let api = export(&app, &request).await;
    let cli = confide::cli::export_sar(&app.db, policy, request_id)
        .await
        .unwrap();
    assert_eq!(cli, api);
    // The CLI's exports are audited, by the actor `cli` acting as the DPO.
    let by_cli = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Action.eq("export"))
        .filter(entity::audit_event::Column::ActorId.eq(Uuid::nil()))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(by_cli.len(), 2);
    assert!(by_cli
        .iter()
        .all(|e| e.actor_role == "dpo" && e.student_id == Some(s.student)));
    // And the hash chain still verifies.
    let (verified, line) = confide::cli::verify_audit(&app.db_url).await.unwrap();
    assert!(verified, "{line}");
}

/// Size and time of an export for a student with 20 cases of 4 notes each
/// (and a third-party entry each). Run with:
/// `cargo test --release --test api sar_export_size_and_time -- --ignored --nocapture`
/// (add `CONFIDE_TEST_DATABASE_URL=postgres://...` for PostgreSQL).
#[tokio::test]
#[ignore]
async fn sar_export_size_and_time_for_a_student_with_20_cases() {
    let app = spawn_app().await;
    let s = seed_student(&app).await;
    let now = Utc::now();
    for c in 0..19 {
        let case = Uuid::new_v4();
        support_case::ActiveModel {
            id: Set(case),
            student_id: Set(s.student),
            service: Set(["counselling", "mental_health", "disability"][c % 3].into()),
            status: Set("closed".into()),
            opened_at: Set(now - Duration::days(400 - c as i64 * 10)),
            closed_at: Set(Some(now - Duration::days(390 - c as i64 * 10))),
            assigned_to: Set(Some(app.demo.counsellor)),
            summary: Set(Some(format!(
                "Case {c}: a short factual summary written to be shared."
            ))),
            adjustments: Set((c % 2 == 0).then(|| "Extra time in examinations.".to_owned())),
            risk_level: Set("none".into()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&app.db)
        .await
        .unwrap();
        for n in 0..4 {
            note::ActiveModel {
                id: Set(Uuid::new_v4()),
                case_id: Set(case),
                kind: Set("meeting".into()),
                occurred_at: Set(now - Duration::days(380 - c as i64 * 10 - n)),
                author_id: Set(app.demo.counsellor),
                body: Set("A meeting record of a typical length: what was discussed, what was agreed, and the actions each person will take before the next appointment. ".repeat(4)),
                labels: Set(json!(["MENTAL_HEALTH"])),
                created_at: Set(now),
            }
            .insert(&app.db)
            .await
            .unwrap();
        }
        third_party_entry::ActiveModel {
            id: Set(Uuid::new_v4()),
            case_id: Set(case),
            source: Set("A tutor".into()),
            subject: Set("A tutor".into()),
            body: Set("Information from a tutor.".into()),
            third_party_consented: Set(c % 2 == 0),
            disclosure_justification: Set(None),
            recorded_by: Set(app.demo.counsellor),
            created_at: Set(now),
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
    let request = open(&app, s.student).await;
    let request_id: Uuid = request.parse().unwrap();
    let policy = confide::policy::load(None).await.unwrap();
    // In process (the service function, as the CLI calls it), then over HTTP.
    let mut in_process = Vec::new();
    let mut size = 0;
    for _ in 0..10 {
        let started = std::time::Instant::now();
        let doc = confide::cli::export_sar(&app.db, policy.clone(), request_id)
            .await
            .unwrap();
        in_process.push(started.elapsed());
        size = doc.to_string().len();
        assert_eq!(doc["cases"].as_array().unwrap().len(), 20);
    }
    let mut http = Vec::new();
    for _ in 0..10 {
        let started = std::time::Instant::now();
        let doc = export(&app, &request).await;
        http.push(started.elapsed());
        assert_eq!(doc["cases"].as_array().unwrap().len(), 20);
    }
    let (evaluations, statements) = dpo(&app, EXPORT, json!({ "id": request })).await.cost();
    in_process.sort();
    http.sort();
    let backend = if app.db_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    eprintln!(
        "SAR export, 20 cases x 4 notes ({backend}): {size} bytes (compact JSON); in process median {:?} (min {:?}); over HTTP median {:?} (min {:?}); one HTTP export: {statements} SQL statements, {evaluations} casbin evaluations",
        in_process[5], in_process[0], http[5], http[0]
    );
}
