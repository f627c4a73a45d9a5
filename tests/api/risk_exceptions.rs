//! Risk exceptions: proposed by one registered mental health professional,
//! confirmed by a different one, revoked or expired, never sharing notes, and
//! shown to the student once they are informed.

use crate::fixtures::{
    exception_input, inform_student, propose, propose_and_confirm, view, CONFIRM, PROPOSE,
};
use crate::helpers::{id, spawn_app};
use confide::domain::Role;
use entity::risk_exception;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;
use uuid::Uuid;

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
    let exception = propose_and_confirm(&app).await;
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
