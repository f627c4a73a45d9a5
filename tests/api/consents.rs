//! Consents to share: recording them (form reference, who may record, which
//! department), withdrawal and expiry, receipts and the consent history.

use crate::fixtures::{
    consent_id, history_department_consent, record_consent, unread_consent_id, view,
};
use crate::helpers::{id, spawn_app};
use confide::domain::Role;
use entity::consent;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn department_sees_a_student_only_while_a_consent_is_in_force() {
    let app = spawn_app().await;
    let dept = (app.demo.history_department, Role::Department);
    let before = view(&app, dept).await;
    before.assert_no_errors();
    assert!(before.data()["student"].is_null());
    assert_eq!(before.data()["students"]["totalCount"], 0);

    let consent = unread_consent_id(
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
    unread_consent_id(
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
