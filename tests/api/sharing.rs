//! Consent to share and risk exceptions decide what departments, university
//! services and partners see; every release is on the audit trail.

use crate::helpers::{id, spawn_app, Gql, TestApp};
use confide::domain::Role;
use entity::{audit_event, consent, risk_exception};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::{json, Value};
use uuid::Uuid;

const RECORD_CONSENT: &str = r#"mutation($input: RecordConsentInput!) {
    recordConsent(input: $input) { id status categories excludedLabels givenAt receipt recordedByRole }
}"#;

async fn record_consent(app: &TestApp, by: (Uuid, Role), input: Value) -> Gql {
    app.as_caller(by.0, by.1, RECORD_CONSENT, json!({ "input": input }))
        .await
}

fn consent_id(res: &Gql) -> String {
    res.assert_no_errors();
    res.data()["recordConsent"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

const STUDENT_VIEW: &str = r#"query($id: ID!) {
    student(id: $id) {
        id name department email dateOfBirth emergencyContact
        cases { id service status adjustments riskLevel notes { id body labels } }
    }
    students { totalCount edges { node { id } } }
}"#;

async fn view(app: &TestApp, who: (Uuid, Role)) -> Gql {
    app.as_caller(
        who.0,
        who.1,
        STUDENT_VIEW,
        json!({ "id": id(app.demo.alice) }),
    )
    .await
}

fn history_department_consent(app: &TestApp) -> Value {
    json!({
        "studentId": id(app.demo.alice),
        "recipient": { "kind": "DEPARTMENT", "reference": "history" },
        "categories": ["SUPPORT_SUMMARY", "ADJUSTMENTS"],
        "purpose": "So my department can arrange exam adjustments.",
        "formReference": "SS-CONSENT-0042"
    })
}

#[tokio::test]
async fn department_sees_a_student_only_while_a_consent_is_in_force() {
    let app = spawn_app().await;
    let dept = (app.demo.history_department, Role::Department);
    let before = view(&app, dept).await;
    before.assert_no_errors();
    assert!(before.data()["student"].is_null());
    assert_eq!(before.data()["students"]["totalCount"], 0);

    let consent = consent_id(
        &record_consent(
            &app,
            (app.demo.reception, Role::Reception),
            history_department_consent(&app),
        )
        .await,
    );

    let during = view(&app, dept).await;
    let s = &during.data()["student"];
    assert_eq!(s["name"], "Alice Example");
    assert_eq!(s["department"], "history");
    assert!(s["email"].is_null());
    assert_eq!(
        during.redaction(json!(["student", "email"])).as_deref(),
        Some("CONSENT_REQUIRED")
    );
    assert_eq!(during.data()["students"]["totalCount"], 1);
    let cases = s["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    let counselling = cases
        .iter()
        .find(|c| c["service"] == "counselling")
        .unwrap();
    assert_eq!(counselling["status"], "OPEN");
    assert_eq!(counselling["adjustments"], "Extra time in exams (25%).");
    assert!(counselling["notes"].is_null());
    assert!(counselling["riskLevel"].is_null());
    assert!(during.codes().iter().all(|c| c == "FORBIDDEN"));
    assert!(!during.body.to_string().contains("low mood"));

    let withdraw = app
        .as_caller(
            app.demo.alice,
            Role::Student,
            r#"mutation($id: ID!) { withdrawConsent(id: $id, reason: "Changed my mind") { status withdrawnAt } }"#,
            json!({ "id": consent }),
        )
        .await;
    withdraw.assert_no_errors();
    assert_eq!(withdraw.data()["withdrawConsent"]["status"], "WITHDRAWN");

    let after = view(&app, dept).await;
    after.assert_no_errors();
    assert!(after.data()["student"].is_null());
    assert_eq!(after.data()["students"]["totalCount"], 0);

    // Both the consent and its withdrawal stay on file.
    let history = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            r#"query($id: ID!) { student(id: $id) {
                active: consents { id }
                all: consents(includeInactive: true) { id status givenAt withdrawnAt withdrawalReason recordedByRole formReference }
            } }"#,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    history.assert_no_errors();
    assert_eq!(history.data()["student"]["active"], json!([]));
    let all = history.data()["student"]["all"].as_array().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["status"], "WITHDRAWN");
    assert_eq!(all[0]["withdrawalReason"], "Changed my mind");
    assert_eq!(all[0]["recordedByRole"], "RECEPTION");
    assert_eq!(all[0]["formReference"], "SS-CONSENT-0042");
    assert!(all[0]["givenAt"].is_string() && all[0]["withdrawnAt"].is_string());
}

#[tokio::test]
async fn staff_must_give_the_form_reference_and_a_student_can_consent_for_themself() {
    let app = spawn_app().await;
    let mut input = history_department_consent(&app);
    input.as_object_mut().unwrap().remove("formReference");
    let res = record_consent(
        &app,
        (app.demo.counsellor, Role::Practitioner),
        input.clone(),
    )
    .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(
        res.errors()[0]["extensions"]["field"],
        "input.formReference"
    );
    let res = record_consent(&app, (app.demo.alice, Role::Student), input.clone()).await;
    res.assert_no_errors();
    assert_eq!(res.data()["recordConsent"]["recordedByRole"], "STUDENT");
    assert!(res.data()["recordConsent"]["receipt"]
        .as_str()
        .unwrap()
        .contains("department history"));
    // A student cannot consent for someone else: the other student does not exist for them.
    input["studentId"] = json!(id(app.demo.bob));
    let res = record_consent(&app, (app.demo.alice, Role::Student), input).await;
    assert_eq!(res.codes(), vec!["NOT_FOUND"]);
}

#[tokio::test]
async fn gp_consent_excluding_sexual_health_releases_every_other_consented_note() {
    let app = spawn_app().await;
    let gp = (app.demo.gp_practice, Role::Partner);
    consent_id(
        &record_consent(
            &app,
            (app.demo.alice, Role::Student),
            json!({
                "studentId": id(app.demo.alice),
                "recipient": { "kind": "PARTNER", "reference": id(app.demo.gp_practice) },
                "categories": ["IDENTITY", "SUPPORT_SUMMARY", "CASE_NOTES"],
                "excludedLabels": ["SEXUAL_HEALTH"],
                "purpose": "Continuity of care with my GP."
            }),
        )
        .await,
    );
    let res = view(&app, gp).await;
    let cases = res.data()["student"]["cases"].as_array().unwrap();
    let mut released = 0;
    for (ci, case) in cases.iter().enumerate() {
        for (ni, note) in case["notes"].as_array().unwrap().iter().enumerate() {
            let path = json!(["student", "cases", ci, "notes", ni, "body"]);
            if note["id"] == id(app.demo.alice_sexual_health_note) {
                assert!(note["body"].is_null());
                assert!(
                    note["labels"].is_null(),
                    "the excluded label itself is withheld"
                );
                assert_eq!(
                    res.redaction(path).as_deref(),
                    Some("CONSENT_EXCLUDES_LABEL")
                );
            } else {
                assert!(note["body"].is_string(), "{note}");
                released += 1;
            }
        }
    }
    assert_eq!(
        released, 3,
        "two counselling notes and one mental health note"
    );
    assert!(!res.body.to_string().contains("sexual health clinic"));
    // Contact details were not consented.
    assert_eq!(
        res.redaction(json!(["student", "email"])).as_deref(),
        Some("CONSENT_REQUIRED")
    );
    // Risk is never shared with partners.
    assert_eq!(
        res.error_at(json!(["student", "cases", 0, "riskLevel"]))
            .as_deref(),
        Some("FORBIDDEN")
    );
}

#[tokio::test]
async fn a_case_scoped_consent_opens_that_case_only() {
    let app = spawn_app().await;
    consent_id(
        &record_consent(
            &app,
            (app.demo.alice, Role::Student),
            json!({
                "studentId": id(app.demo.alice),
                "recipient": { "kind": "PARTNER", "reference": id(app.demo.nhs_trust) },
                "categories": ["SUPPORT_SUMMARY", "CASE_NOTES"],
                "caseId": id(app.demo.alice_mental_health_case),
                "purpose": "Referral to the trust's mental health team."
            }),
        )
        .await,
    );
    let res = view(&app, (app.demo.nhs_trust, Role::Partner)).await;
    let cases = res.data()["student"]["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0]["id"], id(app.demo.alice_mental_health_case));
    assert_eq!(
        cases[0]["notes"][0]["body"],
        "Risk assessment completed; safety plan agreed."
    );
    let other = app
        .as_caller(
            app.demo.nhs_trust,
            Role::Partner,
            r#"query($id: ID!) { supportCase(id: $id) { id } }"#,
            json!({ "id": id(app.demo.alice_counselling_case) }),
        )
        .await;
    assert!(other.data()["supportCase"].is_null());
}

#[tokio::test]
async fn consent_for_landlord_a_opens_nothing_for_landlord_b_and_an_expired_consent_opens_nothing()
{
    let app = spawn_app().await;
    let consent = consent_id(
        &record_consent(
            &app,
            (app.demo.alice, Role::Student),
            json!({
                "studentId": id(app.demo.alice),
                "recipient": { "kind": "PARTNER", "reference": id(app.demo.landlord_a) },
                "categories": ["IDENTITY", "CONTACT"],
                "purpose": "Tenancy reference."
            }),
        )
        .await,
    );
    let a = view(&app, (app.demo.landlord_a, Role::Partner)).await;
    assert_eq!(a.data()["student"]["email"], "alice@student.uni.example");
    let b = view(&app, (app.demo.landlord_b, Role::Partner)).await;
    b.assert_no_errors();
    assert!(b.data()["student"].is_null());
    assert_eq!(b.data()["students"]["totalCount"], 0);

    // Expire it: the next request sees nothing, with no restart.
    let model = consent::Entity::find_by_id(Uuid::parse_str(&consent).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut active: consent::ActiveModel = model.into();
    active.expires_at = Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1)));
    active.update(&app.db).await.unwrap();
    let expired = view(&app, (app.demo.landlord_a, Role::Partner)).await;
    expired.assert_no_errors();
    assert!(expired.data()["student"].is_null());
    assert_eq!(expired.data()["students"]["totalCount"], 0);
}

const PROPOSE: &str = r#"mutation($input: ProposeRiskExceptionInput!) {
    proposeRiskException(input: $input) { id status expiresAt }
}"#;
const CONFIRM: &str =
    r#"mutation($id: ID!) { confirmRiskException(id: $id) { id status confirmedBy } }"#;

fn exception_input(app: &TestApp) -> Value {
    json!({
        "studentId": id(app.demo.alice),
        "ground": "SERIOUS_HARM_TO_SELF",
        "studentPosition": "REFUSED",
        "recipients": [{ "kind": "UNIVERSITY_SERVICE", "reference": "accommodation" }],
        "categories": ["CONTACT", "TRUSTED_CONTACTS"],
        "justification": "Welfare check needed tonight; student refused consent."
    })
}

async fn propose(app: &TestApp) -> String {
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            PROPOSE,
            json!({ "input": exception_input(app) }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["proposeRiskException"]["status"], "PROPOSED");
    res.data()["proposeRiskException"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn inform_student(app: &TestApp, exception: &str) {
    app.as_caller(
        app.demo.counsellor,
        Role::Practitioner,
        r#"mutation($id: ID!, $at: DateTime!) { recordStudentInformed(id: $id, informedAt: $at) { studentInformedAt } }"#,
        json!({ "id": exception, "at": chrono::Utc::now().to_rfc3339() }),
    )
    .await
    .assert_no_errors();
}

#[tokio::test]
async fn a_risk_exception_opens_nothing_until_a_different_registered_professional_confirms_it() {
    let app = spawn_app().await;
    let accommodation = (app.demo.accommodation, Role::UniversityService);
    let exception = propose(&app).await;
    assert!(view(&app, accommodation).await.data()["student"].is_null());

    for (who, role) in [
        (app.demo.counsellor, Role::Practitioner), // the proposer
        (app.demo.disability_adviser, Role::Practitioner), // not registered
        (app.demo.reception, Role::Reception),
        (app.demo.dpo, Role::Dpo),
    ] {
        let res = app
            .as_caller(who, role, CONFIRM, json!({ "id": exception }))
            .await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{who} {role:?}");
    }
    let stored = risk_exception::Entity::find_by_id(Uuid::parse_str(&exception).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.confirmed_at.is_none() && stored.confirmed_by.is_none());
    assert!(view(&app, accommodation).await.data()["student"].is_null());

    let res = app
        .as_caller(
            app.demo.mental_health_adviser,
            Role::Practitioner,
            CONFIRM,
            json!({ "id": exception }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["confirmRiskException"]["status"], "ACTIVE");

    // Exactly its recipients times its categories.
    let open = view(&app, accommodation).await;
    let s = &open.data()["student"];
    assert_eq!(s["email"], "alice@student.uni.example");
    assert_eq!(s["emergencyContact"], "Parent, 07700 900456");
    assert!(s["dateOfBirth"].is_null());
    assert_eq!(
        open.redaction(json!(["student", "dateOfBirth"])).as_deref(),
        Some("CONSENT_REQUIRED")
    );
    assert!(s["cases"].is_null());
    assert_eq!(
        open.redaction(json!(["student", "cases"])).as_deref(),
        Some("CONSENT_REQUIRED")
    );
    let other = view(&app, (app.demo.history_department, Role::Department)).await;
    assert!(other.data()["student"].is_null(), "not a recipient");

    // Revoked: closed again.
    let res = app
        .as_caller(
            app.demo.counselling_lead,
            Role::ServiceLead,
            r#"mutation($id: ID!) { revokeRiskException(id: $id) { status } }"#,
            json!({ "id": exception }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["revokeRiskException"]["status"], "REVOKED");
    assert!(view(&app, accommodation).await.data()["student"].is_null());
}

#[tokio::test]
async fn an_expired_risk_exception_opens_nothing() {
    let app = spawn_app().await;
    let exception = propose(&app).await;
    app.as_caller(
        app.demo.mental_health_adviser,
        Role::Practitioner,
        CONFIRM,
        json!({ "id": exception }),
    )
    .await
    .assert_no_errors();
    let accommodation = (app.demo.accommodation, Role::UniversityService);
    assert!(view(&app, accommodation).await.data()["student"].is_object());
    let model = risk_exception::Entity::find_by_id(Uuid::parse_str(&exception).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut active: risk_exception::ActiveModel = model.into();
    active.expires_at = Set(chrono::Utc::now() - chrono::Duration::seconds(1));
    active.update(&app.db).await.unwrap();
    assert!(view(&app, accommodation).await.data()["student"].is_null());
}

#[tokio::test]
async fn risk_exceptions_never_share_notes_and_only_registered_professionals_propose() {
    let app = spawn_app().await;
    let mut input = exception_input(&app);
    input["categories"] = json!(["CONTACT", "CASE_NOTES"]);
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            PROPOSE,
            json!({ "input": input }),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    let res = app
        .as_caller(
            app.demo.disability_adviser,
            Role::Practitioner,
            PROPOSE,
            json!({ "input": exception_input(&app) }),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    let mut input = exception_input(&app);
    input["expiresAt"] = json!((chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339());
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            PROPOSE,
            json!({ "input": input }),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(res.errors()[0]["extensions"]["field"], "input.expiresAt");
    assert_eq!(app.count("risk_exception").await, 0);
}

#[tokio::test]
async fn the_student_sees_their_exception_once_informed_and_leads_see_who_is_not() {
    let app = spawn_app().await;
    let exception = propose(&app).await;
    app.as_caller(
        app.demo.mental_health_adviser,
        Role::Practitioner,
        CONFIRM,
        json!({ "id": exception }),
    )
    .await
    .assert_no_errors();
    let own =
        r#"query($id: ID!) { student(id: $id) { riskExceptions { id ground justification } } }"#;
    let alice = app
        .as_caller(
            app.demo.alice,
            Role::Student,
            own,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    alice.assert_no_errors();
    assert_eq!(alice.data()["student"]["riskExceptions"], json!([]));
    let pending = "{ riskExceptions(uninformedOnly: true) { id } }";
    let lead = app
        .as_caller(
            app.demo.counselling_lead,
            Role::ServiceLead,
            pending,
            json!({}),
        )
        .await;
    assert_eq!(lead.data()["riskExceptions"][0]["id"], exception);
    let res = app
        .as_caller(
            app.demo.disability_adviser,
            Role::Practitioner,
            pending,
            json!({}),
        )
        .await;
    assert_eq!(
        res.codes(),
        vec!["FORBIDDEN"],
        "unregistered practitioners do not list exceptions"
    );
    // Nor read them through the student.
    let res = app
        .as_caller(
            app.demo.disability_adviser,
            Role::Practitioner,
            own,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);

    inform_student(&app, &exception).await;
    let alice = app
        .as_caller(
            app.demo.alice,
            Role::Student,
            own,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    assert_eq!(
        alice.data()["student"]["riskExceptions"][0]["ground"],
        "SERIOUS_HARM_TO_SELF"
    );
    let dpo = app
        .as_caller(app.demo.dpo, Role::Dpo, pending, json!({}))
        .await;
    assert_eq!(dpo.data()["riskExceptions"], json!([]));
}

#[tokio::test]
async fn disclosures_under_an_exception_reach_my_disclosures_only_once_the_student_is_informed() {
    let app = spawn_app().await;
    let exception = propose(&app).await;
    app.as_caller(
        app.demo.mental_health_adviser,
        Role::Practitioner,
        CONFIRM,
        json!({ "id": exception }),
    )
    .await
    .assert_no_errors();
    let seen = view(&app, (app.demo.accommodation, Role::UniversityService)).await;
    assert_eq!(seen.data()["student"]["email"], "alice@student.uni.example");
    let mine = "{ myDisclosures { recipientRole basis categories } }";
    let before = app
        .as_caller(app.demo.alice, Role::Student, mine, json!({}))
        .await;
    before.assert_no_errors();
    assert_eq!(
        before.data()["myDisclosures"],
        json!([]),
        "not yet informed"
    );

    inform_student(&app, &exception).await;
    let after = app
        .as_caller(app.demo.alice, Role::Student, mine, json!({}))
        .await;
    after.assert_no_errors();
    let list = after.data()["myDisclosures"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["recipientRole"], "UNIVERSITY_SERVICE");
    assert_eq!(list[0]["basis"], format!("risk_exception:{exception}"));
}

#[tokio::test]
async fn every_release_to_an_outside_audience_has_its_audit_record_and_the_student_can_list_them() {
    let app = spawn_app().await;
    let consent = consent_id(
        &record_consent(
            &app,
            (app.demo.reception, Role::Reception),
            history_department_consent(&app),
        )
        .await,
    );
    view(&app, (app.demo.history_department, Role::Department)).await;
    let disclosures = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("disclosure"))
        .filter(audit_event::Column::ActorId.eq(app.demo.history_department))
        .all(&app.db)
        .await
        .unwrap();
    // One record per student and basis, naming the consent and every record it
    // released (the student record and each of the two cases).
    assert_eq!(disclosures.len(), 1, "{disclosures:?}");
    let d = &disclosures[0];
    assert_eq!(d.student_id, Some(app.demo.alice));
    assert_eq!(d.actor_role, "department");
    assert_eq!(
        d.basis.as_deref(),
        Some(format!("consent:{consent}").as_str())
    );
    let fields = serde_json::from_value::<Vec<String>>(d.fields.clone()).unwrap();
    for f in ["IDENTITY", "ACADEMIC", "SUPPORT_SUMMARY", "ADJUSTMENTS"] {
        assert!(fields.contains(&f.to_owned()), "{f} in {fields:?}");
    }
    // `detail` says which classes of which record were released.
    let detail: Value = serde_json::from_str(d.detail.as_deref().unwrap()).unwrap();
    let records = &detail["records"];
    let cases = entity::support_case::Entity::find()
        .filter(entity::support_case::Column::StudentId.eq(app.demo.alice))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(cases.len(), 2);
    assert_eq!(records.as_object().unwrap().len(), 3, "{records}");
    let student_classes = records["student"].as_array().unwrap();
    assert!(student_classes.contains(&json!("IDENTITY")), "{records}");
    assert!(
        !student_classes.contains(&json!("ADJUSTMENTS")),
        "{records}"
    );
    for case in &cases {
        let classes = records[format!("case:{}", case.id)].as_array().unwrap();
        assert!(classes.contains(&json!("SUPPORT_SUMMARY")), "{records}");
        assert!(!classes.contains(&json!("IDENTITY")), "{records}");
    }
    // Redactions and denials are on the trail too: notes and risk of the cases.
    let denials = audit_event::Entity::find()
        .filter(audit_event::Column::ActorId.eq(app.demo.history_department))
        .filter(audit_event::Column::Outcome.eq("deny"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(denials.len(), 1, "{denials:?}");
    let denied = serde_json::from_value::<Vec<String>>(denials[0].fields.clone()).unwrap();
    for f in ["CASE_NOTES", "RISK"] {
        assert!(denied.contains(&f.to_owned()), "{f} in {denied:?}");
    }

    let mine = app
        .as_caller(
            app.demo.alice,
            Role::Student,
            "{ myDisclosures { recipientRole recipientId categories basis occurredAt } }",
            json!({}),
        )
        .await;
    mine.assert_no_errors();
    assert_eq!(
        mine.data()["myDisclosures"][0]["recipientRole"],
        "DEPARTMENT"
    );
    assert_eq!(
        mine.data()["myDisclosures"][0]["recipientId"],
        id(app.demo.history_department)
    );
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            "{ myDisclosures { basis } }",
            json!({}),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
}

#[tokio::test]
async fn if_the_audit_record_cannot_be_written_nothing_is_released() {
    let app = spawn_app().await;
    consent_id(
        &record_consent(
            &app,
            (app.demo.reception, Role::Reception),
            history_department_consent(&app),
        )
        .await,
    );
    app.db
        .execute_unprepared("DROP TABLE audit_event")
        .await
        .unwrap();
    let res = view(&app, (app.demo.history_department, Role::Department)).await;
    assert_eq!(res.codes(), vec!["INTERNAL"]);
    assert!(res.data().is_null());
    let text = res.body.to_string();
    assert!(
        !text.contains("Alice") && !text.contains("history") && !text.contains("Extra time"),
        "{text}"
    );
    assert!(res.body["extensions"]["redactions"].is_null());
}

#[tokio::test]
async fn disclosures_made_outside_the_api_are_logged_against_their_basis() {
    let app = spawn_app().await;
    let exception = propose(&app).await;
    app.as_caller(
        app.demo.mental_health_adviser,
        Role::Practitioner,
        CONFIRM,
        json!({ "id": exception }),
    )
    .await
    .assert_no_errors();
    let q = r#"mutation($input: RecordDisclosureInput!) { recordDisclosure(input: $input) }"#;
    let input = json!({
        "studentId": id(app.demo.alice),
        "riskExceptionId": exception,
        "recipient": "Emergency contact: parent",
        "method": "telephone",
        "categories": ["TRUSTED_CONTACTS"]
    });
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            q,
            json!({ "input": input }),
        )
        .await;
    res.assert_no_errors();
    let mine = "{ myDisclosures { basis detail categories } }";
    let before = app
        .as_caller(app.demo.alice, Role::Student, mine, json!({}))
        .await;
    assert_eq!(
        before.data()["myDisclosures"],
        json!([]),
        "not yet informed"
    );
    inform_student(&app, &exception).await;
    let mine = app
        .as_caller(app.demo.alice, Role::Student, mine, json!({}))
        .await;
    let d = &mine.data()["myDisclosures"][0];
    assert_eq!(d["basis"], format!("risk_exception:{exception}"));
    assert!(d["detail"].as_str().unwrap().contains("telephone"));
    // A basis that is not the student's, or not in force, is refused.
    let mut bad = input.clone();
    bad["studentId"] = json!(id(app.demo.bob));
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            q,
            json!({ "input": bad }),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
}

const FEED: &str = r#"query($since: DateTime!) { partnerFeed(since: $since, first: 50) {
    totalCount edges { node { id name } }
} }"#;

#[tokio::test]
async fn the_partner_feed_returns_only_changes_since_the_given_time() {
    let app = spawn_app().await;
    let partner = (app.demo.nhs_trust, Role::Partner);
    let t0 = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    for student in [app.demo.alice, app.demo.bob] {
        consent_id(
            &record_consent(
                &app,
                (app.demo.counsellor, Role::Practitioner),
                json!({
                    "studentId": id(student),
                    "recipient": { "kind": "PARTNER", "reference": id(app.demo.nhs_trust) },
                    "categories": ["IDENTITY", "SUPPORT_SUMMARY", "CASE_NOTES"],
                    "purpose": "Shared care.",
                    "formReference": "F-7"
                }),
            )
            .await,
        );
    }
    let all = app
        .as_caller(
            partner.0,
            partner.1,
            FEED,
            json!({ "since": t0.to_rfc3339() }),
        )
        .await;
    all.assert_no_errors();
    assert_eq!(all.data()["partnerFeed"]["totalCount"], 2);

    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let t1 = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let none = app
        .as_caller(
            partner.0,
            partner.1,
            FEED,
            json!({ "since": t1.to_rfc3339() }),
        )
        .await;
    assert_eq!(none.data()["partnerFeed"]["totalCount"], 0);
    assert_eq!(none.data()["partnerFeed"]["edges"], json!([]));

    // A new note on Alice's mental health case changes Alice, not Bob.
    app.as_caller(
        app.demo.mental_health_adviser,
        Role::Practitioner,
        r#"mutation($input: AddNoteInput!) { addNote(input: $input) { id } }"#,
        json!({ "input": { "caseId": id(app.demo.alice_mental_health_case), "kind": "ACTION", "body": "Follow-up booked." } }),
    )
    .await
    .assert_no_errors();
    let changed = app
        .as_caller(
            partner.0,
            partner.1,
            FEED,
            json!({ "since": t1.to_rfc3339() }),
        )
        .await;
    assert_eq!(changed.data()["partnerFeed"]["totalCount"], 1);
    assert_eq!(
        changed.data()["partnerFeed"]["edges"][0]["node"]["id"],
        id(app.demo.alice)
    );
    // Landlord B, with no consent, sees no changes at all.
    let other = app
        .as_caller(
            app.demo.landlord_b,
            Role::Partner,
            FEED,
            json!({ "since": t0.to_rfc3339() }),
        )
        .await;
    assert_eq!(other.data()["partnerFeed"]["totalCount"], 0);
    // Staff have no feed.
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            FEED,
            json!({ "since": t0.to_rfc3339() }),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
}

async fn partner_consent(
    app: &TestApp,
    partner: Uuid,
    categories: Value,
    case: Option<Uuid>,
    excluded: Value,
) -> String {
    let mut input = json!({
        "studentId": id(app.demo.alice),
        "recipient": { "kind": "PARTNER", "reference": id(partner) },
        "categories": categories,
        "excludedLabels": excluded,
        "purpose": "Care."
    });
    if let Some(c) = case {
        input["caseId"] = json!(id(c));
    }
    consent_id(&record_consent(app, (app.demo.alice, Role::Student), input).await)
}

#[tokio::test]
async fn a_case_scoped_consent_does_not_open_the_student_record() {
    let app = spawn_app().await;
    partner_consent(
        &app,
        app.demo.nhs_trust,
        json!([
            "CONTACT",
            "TRUSTED_CONTACTS",
            "DEMOGRAPHIC",
            "SUPPORT_SUMMARY"
        ]),
        Some(app.demo.alice_mental_health_case),
        json!([]),
    )
    .await;
    let res = view(&app, (app.demo.nhs_trust, Role::Partner)).await;
    let s = &res.data()["student"];
    for f in ["email", "dateOfBirth", "emergencyContact"] {
        assert!(s[f].is_null(), "{f}");
        assert_eq!(
            res.redaction(json!(["student", f])).as_deref(),
            Some("CONSENT_REQUIRED"),
            "{f}"
        );
    }
    assert_eq!(s["cases"].as_array().unwrap().len(), 1);
    assert_eq!(s["cases"][0]["status"], "OPEN");
}

#[tokio::test]
async fn without_support_summary_an_outside_caller_cannot_see_or_count_cases() {
    let app = spawn_app().await;
    partner_consent(
        &app,
        app.demo.landlord_a,
        json!(["IDENTITY"]),
        None,
        json!([]),
    )
    .await;
    let res = app
        .as_caller(
            app.demo.landlord_a,
            Role::Partner,
            r#"query($id: ID!) {
                student(id: $id) { name cases { id } }
                supportCases(filter: { studentId: $id }) { totalCount edges { node { id } } }
            }"#,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["student"]["name"], "Alice Example");
    assert!(res.data()["student"]["cases"].is_null());
    assert_eq!(res.data()["supportCases"]["totalCount"], 0);
}

#[tokio::test]
async fn any_consent_excluding_a_label_withholds_the_note() {
    let app = spawn_app().await;
    partner_consent(
        &app,
        app.demo.gp_practice,
        json!(["SUPPORT_SUMMARY", "CASE_NOTES"]),
        None,
        json!(["SEXUAL_HEALTH"]),
    )
    .await;
    partner_consent(
        &app,
        app.demo.gp_practice,
        json!(["SUPPORT_SUMMARY", "CASE_NOTES"]),
        Some(app.demo.alice_counselling_case),
        json!([]),
    )
    .await;
    let res = view(&app, (app.demo.gp_practice, Role::Partner)).await;
    assert!(!res.body.to_string().contains("sexual health clinic"));
    assert!(res.body.to_string().contains("low mood"));
}

#[tokio::test]
async fn the_feed_ignores_changes_to_cases_the_partner_cannot_see() {
    let app = spawn_app().await;
    partner_consent(
        &app,
        app.demo.nhs_trust,
        json!(["SUPPORT_SUMMARY", "CASE_NOTES"]),
        Some(app.demo.alice_mental_health_case),
        json!([]),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let t1 = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.as_caller(
        app.demo.counsellor,
        Role::Practitioner,
        r#"mutation($input: AddNoteInput!) { addNote(input: $input) { id } }"#,
        json!({ "input": { "caseId": id(app.demo.alice_counselling_case), "kind": "ACTION", "body": "Hidden change." } }),
    )
    .await
    .assert_no_errors();
    let feed = app
        .as_caller(
            app.demo.nhs_trust,
            Role::Partner,
            FEED,
            json!({ "since": t1.to_rfc3339() }),
        )
        .await;
    feed.assert_no_errors();
    assert_eq!(feed.data()["partnerFeed"]["totalCount"], 0);
}

#[tokio::test]
async fn every_disclosure_record_names_its_basis() {
    let app = spawn_app().await;
    let consent = consent_id(
        &record_consent(
            &app,
            (app.demo.reception, Role::Reception),
            history_department_consent(&app),
        )
        .await,
    );
    app.as_caller(
        app.demo.history_department,
        Role::Department,
        r#"query($id: ID!) { student(id: $id) { name department } }"#,
        json!({ "id": id(app.demo.alice) }),
    )
    .await
    .assert_no_errors();
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("disclosure"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].basis.as_deref(),
        Some(format!("consent:{consent}").as_str())
    );
}

#[tokio::test]
async fn a_department_consent_must_name_the_students_own_department() {
    let app = spawn_app().await;
    let mut input = history_department_consent(&app);
    input["studentId"] = json!(id(app.demo.bob)); // Bob studies physics
    let res = record_consent(&app, (app.demo.reception, Role::Reception), input).await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    assert!(view(&app, (app.demo.history_department, Role::Department))
        .await
        .data()["student"]
        .is_null());
}

#[tokio::test]
async fn reception_records_consents_but_cannot_read_them() {
    let app = spawn_app().await;
    consent_id(
        &record_consent(
            &app,
            (app.demo.reception, Role::Reception),
            history_department_consent(&app),
        )
        .await,
    );
    let res = app
        .as_caller(
            app.demo.reception,
            Role::Reception,
            r#"query($id: ID!) { student(id: $id) { name consents(includeInactive: true) { purpose } } }"#,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    assert_eq!(res.data()["student"]["name"], "Alice Example");
    assert_eq!(
        res.error_at(json!(["student", "consents"])).as_deref(),
        Some("FORBIDDEN")
    );
}

#[tokio::test]
async fn recorded_disclosures_must_stay_within_their_basis_and_survive_a_later_withdrawal() {
    let app = spawn_app().await;
    let consent = partner_consent(
        &app,
        app.demo.gp_practice,
        json!(["CONTACT"]),
        None,
        json!([]),
    )
    .await;
    let q = r#"mutation($input: RecordDisclosureInput!) { recordDisclosure(input: $input) }"#;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let before = chrono::Utc::now();
    let input = |categories: Value| {
        json!({ "input": {
            "studentId": id(app.demo.alice), "consentId": consent, "recipient": "GP", "method": "letter",
            "categories": categories, "occurredAt": before.to_rfc3339()
        } })
    };
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            q,
            input(json!(["CASE_NOTES"])),
        )
        .await;
    assert_eq!(
        res.codes(),
        vec!["BAD_USER_INPUT"],
        "not covered by the consent"
    );
    app.as_caller(
        app.demo.alice,
        Role::Student,
        r#"mutation($id: ID!) { withdrawConsent(id: $id, reason: "done") { status } }"#,
        json!({ "id": consent }),
    )
    .await
    .assert_no_errors();
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            q,
            input(json!(["CONTACT"])),
        )
        .await;
    res.assert_no_errors();
}
