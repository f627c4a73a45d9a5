//! What departments, university services and partners see under a consent:
//! which rows (a case-scoped consent opens that case only), which fields, and
//! which notes (a consent excluding a label withholds the notes carrying it).

use crate::fixtures::{consent_id, partner_consent, record_consent, view};
use crate::helpers::{id, spawn_app};
use confide::domain::Role;
use serde_json::json;

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
    for case in cases {
        for note in case["notes"].as_array().unwrap() {
            // A note the consent excludes does not exist for the partner: not
            // listed, not marked (settled decision "excluded labels").
            assert_ne!(note["id"], id(app.demo.alice_sexual_health_note));
            assert!(note["body"].is_string(), "{note}");
            released += 1;
        }
    }
    let text = res.body.to_string();
    assert!(!text.contains(&id(app.demo.alice_sexual_health_note)));
    assert!(!text.contains("CONSENT_EXCLUDES_LABEL"));
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
async fn a_case_scoped_consent_does_not_open_the_student_record() {
    let app = spawn_app().await;
    // Student-record categories in a consent limited to one case would be
    // accepted and then open nothing: refused, naming the category, and nothing
    // is written (settled decision "a consent is honoured as given, or refused").
    let before = app.count("consent").await;
    let refused = record_consent(
        &app,
        (app.demo.alice, Role::Student),
        json!({
            "studentId": id(app.demo.alice),
            "recipient": { "kind": "PARTNER", "reference": id(app.demo.nhs_trust) },
            "categories": ["CONTACT", "TRUSTED_CONTACTS", "DEMOGRAPHIC", "SUPPORT_SUMMARY"],
            "caseId": id(app.demo.alice_mental_health_case),
            "purpose": "Care."
        }),
    )
    .await;
    assert_eq!(refused.codes(), vec!["BAD_USER_INPUT"]);
    assert!(refused.errors()[0]["message"]
        .as_str()
        .unwrap()
        .contains("CONTACT"));
    assert_eq!(app.count("consent").await, before);
    // The case-scoped consent for the case's support summary opens that case only.
    partner_consent(
        &app,
        app.demo.nhs_trust,
        json!(["SUPPORT_SUMMARY"]),
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
