//! Risk exceptions: proposed by one registered mental health professional,
//! confirmed by a different one, revoked or expired, never sharing notes, and
//! shown to the student once they are informed.

use crate::fixtures::{
    exception_input, inform_student, propose, propose_and_confirm, view, CONFIRM, PROPOSE,
};
use crate::helpers::{id, spawn_app};
use confide::domain::Role;
use entity::risk_exception;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn a_risk_exception_opens_nothing_until_a_different_registered_professional_confirms_it() {
    let app = spawn_app().await;
    // The partner the fixture's exception names (an NHS crisis team).
    let trust = (app.demo.nhs_trust, Role::Partner);
    let exception = propose(&app).await;
    assert!(view(&app, trust).await.data()["student"].is_null());

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
    assert!(view(&app, trust).await.data()["student"].is_null());

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
    let open = view(&app, trust).await;
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
    assert!(view(&app, trust).await.data()["student"].is_null());
}

#[tokio::test]
async fn an_expired_risk_exception_opens_nothing() {
    let app = spawn_app().await;
    let exception = propose_and_confirm(&app).await;
    // The partner the fixture's exception names (an NHS crisis team).
    let trust = (app.demo.nhs_trust, Role::Partner);
    assert!(view(&app, trust).await.data()["student"].is_object());
    let model = risk_exception::Entity::find_by_id(Uuid::parse_str(&exception).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut active: risk_exception::ActiveModel = model.into();
    active.expires_at = Set(chrono::Utc::now() - chrono::Duration::seconds(1));
    active.update(&app.db).await.unwrap();
    assert!(view(&app, trust).await.data()["student"].is_null());
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
    let exception = propose_and_confirm(&app).await;
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

/// Settled decision "what a risk exception opens": a department or university
/// service gets identity, academic details and a concern notice, never contact
/// details, date of birth or adjustments unless a consent gives them.
#[tokio::test]
async fn a_department_under_an_exception_reads_the_concern_notice_and_identity_only() {
    let app = spawn_app().await;
    let mut input = exception_input(&app);
    input["recipients"] = json!([{ "kind": "DEPARTMENT", "reference": "history" }]);
    input["categories"] = json!(["IDENTITY", "ACADEMIC"]);
    input["concernNotice"] =
        json!("Student Support is concerned about Alice. Please call 0123 456 today.");
    let exception = crate::fixtures::propose_with(&app, input).await;
    crate::fixtures::confirm(&app, &exception).await;
    let res = app
        .as_caller(
            app.demo.history_department,
            Role::Department,
            r#"query($id: ID!) { student(id: $id) {
                name department email phone dateOfBirth emergencyContact
                concernNotices { notice expiresAt }
                cases { id }
            } }"#,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    res.assert_no_errors();
    let s = &res.data()["student"];
    assert_eq!(s["name"], "Alice Example");
    assert_eq!(s["department"], "history");
    assert_eq!(
        s["concernNotices"][0]["notice"],
        "Student Support is concerned about Alice. Please call 0123 456 today."
    );
    for field in ["email", "phone", "dateOfBirth", "emergencyContact", "cases"] {
        assert!(s[field].is_null(), "{field}");
        assert_eq!(
            res.redaction(json!(["student", field])).as_deref(),
            Some("CONSENT_REQUIRED"),
            "{field}"
        );
    }
    // The notice's release is audited against the exception.
    let audited = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Basis.eq(format!("risk_exception:{exception}")))
        .all(&app.db)
        .await
        .unwrap();
    assert!(
        audited
            .iter()
            .any(|e| e.fields.to_string().contains("CONCERN_NOTICE")),
        "{audited:?}"
    );
}

#[tokio::test]
async fn an_exception_asking_for_more_than_its_recipients_may_get_is_refused() {
    let app = spawn_app().await;
    let before = app.count("risk_exception").await;
    let attempt = |recipients: serde_json::Value, categories: serde_json::Value, notice: bool| {
        let mut input = exception_input(&app);
        input["recipients"] = recipients;
        input["categories"] = categories;
        if notice {
            input["concernNotice"] = json!("Concern: call Student Support.");
        }
        input
    };
    let department = json!([{ "kind": "DEPARTMENT", "reference": "history" }]);
    for (input, field, named) in [
        // Contact details are never a department's under an exception.
        (
            attempt(department.clone(), json!(["IDENTITY", "CONTACT"]), true),
            "input.categories",
            "CONTACT",
        ),
        // A department or university service is told through a concern notice.
        (
            attempt(department, json!(["IDENTITY"]), false),
            "input.concernNotice",
            "concern",
        ),
        // A partner gets only IDENTITY, CONTACT, TRUSTED_CONTACTS, SUPPORT_SUMMARY.
        (
            attempt(
                json!([{ "kind": "PARTNER", "reference": id(app.demo.nhs_trust) }]),
                json!(["DEMOGRAPHIC"]),
                false,
            ),
            "input.categories",
            "DEMOGRAPHIC",
        ),
    ] {
        let res = app
            .as_caller(
                app.demo.counsellor,
                Role::Practitioner,
                PROPOSE,
                json!({ "input": input }),
            )
            .await;
        assert_eq!(res.codes(), vec!["BAD_USER_INPUT"], "{:#}", res.body);
        assert_eq!(res.errors()[0]["extensions"]["field"], field);
        assert!(
            res.errors()[0]["message"].as_str().unwrap().contains(named),
            "{:#}",
            res.body
        );
    }
    assert_eq!(app.count("risk_exception").await, before);
}

/// Settled decision "registration": a lapsed registration counts as none.
#[tokio::test]
async fn an_expired_registration_cannot_confirm_an_exception() {
    let app = spawn_app().await;
    let exception = propose(&app).await;
    let lapse = r#"mutation($s: ID!) { recordRegistration(staffId: $s, body: "HCPC", number: "PYL00102", expiresOn: "2025-01-31") }"#;
    // Only the member's service lead or the DPO records registrations.
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            lapse,
            json!({ "s": id(app.demo.mental_health_adviser) }),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    app.as_caller(
        app.demo.dpo,
        Role::Dpo,
        lapse,
        json!({ "s": id(app.demo.mental_health_adviser) }),
    )
    .await
    .assert_no_errors();
    let me = app
        .as_caller(
            app.demo.mental_health_adviser,
            Role::Practitioner,
            "{ me { registeredMentalHealthProfessional } }",
            json!({}),
        )
        .await;
    assert_eq!(me.data()["me"]["registeredMentalHealthProfessional"], false);
    let res = app
        .as_caller(
            app.demo.mental_health_adviser,
            Role::Practitioner,
            CONFIRM,
            json!({ "id": exception }),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"], "{:#}", res.body);
    // Renewed: counts again.
    app.as_caller(
        app.demo.dpo,
        Role::Dpo,
        r#"mutation($s: ID!) { recordRegistration(staffId: $s, body: "HCPC", number: "PYL00102", expiresOn: "2029-01-31") }"#,
        json!({ "s": id(app.demo.mental_health_adviser) }),
    )
    .await
    .assert_no_errors();
    app.as_caller(
        app.demo.mental_health_adviser,
        Role::Practitioner,
        CONFIRM,
        json!({ "id": exception }),
    )
    .await
    .assert_no_errors();
}
