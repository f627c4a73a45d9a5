//! Every release to an outside audience is on the audit trail and names its
//! basis; disclosures made outside the API are recorded with recordDisclosure;
//! the student lists them with myDisclosures.

use crate::fixtures::{
    history_department_consent, inform_student, partner_consent, propose_and_confirm,
    record_consent, unread_consent_id, view,
};
use crate::helpers::{id, spawn_app};
use confide::domain::Role;
use entity::audit_event;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

#[tokio::test]
async fn every_release_to_an_outside_audience_has_its_audit_record_and_the_student_can_list_them() {
    let app = spawn_app().await;
    let consent = unread_consent_id(
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
async fn every_disclosure_record_names_its_basis() {
    let app = spawn_app().await;
    let consent = unread_consent_id(
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
async fn if_the_audit_record_cannot_be_written_nothing_is_released() {
    let app = spawn_app().await;
    unread_consent_id(
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
async fn disclosures_under_an_exception_reach_my_disclosures_only_once_the_student_is_informed() {
    let app = spawn_app().await;
    let exception = propose_and_confirm(&app).await;
    let seen = view(&app, (app.demo.nhs_trust, Role::Partner)).await;
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
    assert_eq!(list[0]["recipientRole"], "PARTNER");
    assert_eq!(list[0]["basis"], format!("risk_exception:{exception}"));
}

#[tokio::test]
async fn disclosures_made_outside_the_api_are_logged_against_their_basis() {
    let app = spawn_app().await;
    let exception = propose_and_confirm(&app).await;
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

/// Issue 10: a student sees who accessed or received their data, and when:
/// staff by role and service, outside audiences by organisation, never by name.
#[tokio::test]
async fn a_students_access_log_lists_a_departments_read_made_under_their_consent() {
    let app = spawn_app().await;
    let consent = crate::fixtures::consent_id(
        &record_consent(
            &app,
            (app.demo.alice, Role::Student),
            history_department_consent(&app),
        )
        .await,
    );
    // The history department reads her support summary under the consent; her
    // counsellor reads her record.
    // (Denials of what the consent does not cover come as FORBIDDEN errors.)
    let read = view(&app, (app.demo.history_department, Role::Department)).await;
    assert!(read.data()["student"].is_object(), "{:#}", read.body);
    view(&app, (app.demo.counsellor, Role::Practitioner)).await;
    let log = app
        .as_caller(
            app.demo.alice,
            Role::Student,
            "{ myAccessLog { occurredAt role service organisation kind categories basis } }",
            json!({}),
        )
        .await;
    log.assert_no_errors();
    let entries = log.data()["myAccessLog"].as_array().unwrap().clone();
    let department = entries
        .iter()
        .find(|e| e["role"] == "DEPARTMENT")
        .unwrap_or_else(|| panic!("{:#}", log.body));
    assert_eq!(department["kind"], "DISCLOSURE");
    assert_eq!(department["organisation"], "history");
    assert_eq!(department["basis"], format!("consent:{consent}"));
    assert!(department["categories"]
        .as_array()
        .unwrap()
        .contains(&json!("SUPPORT_SUMMARY")));
    let staff = entries
        .iter()
        .find(|e| e["role"] == "PRACTITIONER")
        .unwrap_or_else(|| panic!("{:#}", log.body));
    assert_eq!(staff["kind"], "READ");
    assert_eq!(staff["service"], "counselling");
    assert!(staff["organisation"].is_null());
    // Never a name or an id of the member of staff.
    let text = log.body.to_string();
    assert!(!text.contains(&id(app.demo.counsellor)), "{text}");
    assert!(!text.contains(&id(app.demo.history_department)), "{text}");
    // Only the student themself.
    let other = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            "{ myAccessLog { occurredAt } }",
            json!({}),
        )
        .await;
    assert_eq!(other.codes(), vec!["FORBIDDEN"]);
}
