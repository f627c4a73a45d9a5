//! Emergencies (settled decision): one practitioner discloses at once and
//! records it; a registered professional other than the discloser reviews it
//! within the configured working days; overdue reviews are listed to service
//! leads and the DPO; the student sees it once informed.

use crate::helpers::{id, spawn_app, TestApp};
use confide::domain::Role;
use serde_json::{json, Value};

const RECORD: &str = r#"mutation($input: RecordEmergencyDisclosureInput!) {
    recordEmergencyDisclosure(input: $input) { id recipient reviewDueAt overdue disclosedBy }
}"#;
const REVIEW: &str = r#"mutation($id: ID!) { reviewEmergencyDisclosure(id: $id, outcome: "Necessary and proportionate.") { reviewedBy reviewOutcome } }"#;

fn input(app: &TestApp, occurred_at: Option<String>) -> Value {
    let mut input = json!({
        "studentId": id(app.demo.alice),
        "recipient": "Ambulance service",
        "method": "telephone (999)",
        "categories": ["IDENTITY", "TRUSTED_CONTACTS"],
        "reason": "Student collapsed after an overdose; paramedics needed her details."
    });
    if let Some(at) = occurred_at {
        input["occurredAt"] = json!(at);
    }
    input
}

#[tokio::test]
async fn an_unregistered_practitioner_records_an_emergency_disclosure_at_once() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.disability_adviser, // not registered
            Role::Practitioner,
            RECORD,
            json!({ "input": input(&app, None) }),
        )
        .await;
    res.assert_no_errors();
    let d = &res.data()["recordEmergencyDisclosure"];
    assert_eq!(d["recipient"], "Ambulance service");
    assert_eq!(d["overdue"], false);
    // Reception and outside audiences cannot record one.
    for (who, role) in [
        (app.demo.reception, Role::Reception),
        (app.demo.nhs_trust, Role::Partner),
    ] {
        let res = app
            .as_caller(who, role, RECORD, json!({ "input": input(&app, None) }))
            .await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{role:?}");
    }
}

#[tokio::test]
async fn the_discloser_cannot_review_their_own_disclosure_and_an_overdue_review_is_listed() {
    let app = spawn_app().await;
    // Made five days ago (recorded late, within the week allowed): the review
    // (two working days) is overdue.
    let at = (chrono::Utc::now() - chrono::Duration::days(5)).to_rfc3339();
    let res = app
        .as_caller(
            app.demo.counsellor, // registered
            Role::Practitioner,
            RECORD,
            json!({ "input": input(&app, Some(at)) }),
        )
        .await;
    res.assert_no_errors();
    let disclosure = res.data()["recordEmergencyDisclosure"]["id"].clone();
    assert_eq!(res.data()["recordEmergencyDisclosure"]["overdue"], true);

    let overdue = r#"{ emergencyReviews(overdueOnly: true) { id overdue reason } }"#;
    for (who, role) in [
        (app.demo.counselling_lead, Role::ServiceLead),
        (app.demo.dpo, Role::Dpo),
    ] {
        let res = app.as_caller(who, role, overdue, json!({})).await;
        res.assert_no_errors();
        let list = res.data()["emergencyReviews"].as_array().unwrap();
        assert_eq!(list.len(), 1, "{role:?}");
        assert_eq!(list[0]["id"], disclosure);
    }
    // Practitioners do not get the list.
    let res = app
        .as_caller(
            app.demo.mental_health_adviser,
            Role::Practitioner,
            overdue,
            json!({}),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);

    // The discloser may not review it; an unregistered practitioner neither.
    for (who, role) in [
        (app.demo.counsellor, Role::Practitioner),
        (app.demo.disability_adviser, Role::Practitioner),
    ] {
        let res = app
            .as_caller(who, role, REVIEW, json!({ "id": disclosure }))
            .await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{who}");
    }
    let res = app
        .as_caller(
            app.demo.mental_health_adviser,
            Role::Practitioner,
            REVIEW,
            json!({ "id": disclosure }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(
        res.data()["reviewEmergencyDisclosure"]["reviewedBy"],
        id(app.demo.mental_health_adviser)
    );
    // Reviewed: no longer listed; a second review is a conflict.
    let res = app
        .as_caller(app.demo.dpo, Role::Dpo, overdue, json!({}))
        .await;
    assert_eq!(res.data()["emergencyReviews"], json!([]));
    let res = app
        .as_caller(
            app.demo.counselling_lead,
            Role::ServiceLead,
            REVIEW,
            json!({ "id": disclosure }),
        )
        .await;
    assert_eq!(res.codes(), vec!["CONFLICT"]);
}

#[tokio::test]
async fn the_student_sees_an_emergency_disclosure_once_informed() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.disability_adviser,
            Role::Practitioner,
            RECORD,
            json!({ "input": input(&app, None) }),
        )
        .await;
    res.assert_no_errors();
    let disclosure = res.data()["recordEmergencyDisclosure"]["id"].clone();
    let mine = r#"query($id: ID!) {
        student(id: $id) { emergencyDisclosures { id recipient reason } }
        myDisclosures { basis recipientRole }
    }"#;
    let alice = (app.demo.alice, Role::Student);
    let before = app
        .as_caller(alice.0, alice.1, mine, json!({ "id": id(app.demo.alice) }))
        .await;
    before.assert_no_errors();
    assert_eq!(before.data()["student"]["emergencyDisclosures"], json!([]));
    assert_eq!(
        before.data()["myDisclosures"],
        json!([]),
        "not yet informed"
    );

    app.as_caller(
        app.demo.mental_health_adviser,
        Role::Practitioner,
        r#"mutation($id: ID!, $at: DateTime!) { recordEmergencyStudentInformed(id: $id, informedAt: $at) { studentInformedAt } }"#,
        json!({ "id": disclosure, "at": chrono::Utc::now().to_rfc3339() }),
    )
    .await
    .assert_no_errors();
    let after = app
        .as_caller(alice.0, alice.1, mine, json!({ "id": id(app.demo.alice) }))
        .await;
    after.assert_no_errors();
    assert_eq!(
        after.data()["student"]["emergencyDisclosures"][0]["recipient"],
        "Ambulance service"
    );
    let log = after.data()["myDisclosures"].as_array().unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(
        log[0]["basis"],
        format!("emergency:{}", disclosure.as_str().unwrap())
    );
}

#[tokio::test]
async fn an_emergency_disclosure_needs_categories_and_a_recent_date() {
    let app = spawn_app().await;
    let before = app.count("emergency_disclosure").await;
    let mut no_categories = input(&app, None);
    no_categories["categories"] = json!([]);
    let old = input(
        &app,
        Some((chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339()),
    );
    for (bad, field) in [
        (no_categories, "input.categories"),
        (old, "input.occurredAt"),
    ] {
        let res = app
            .as_caller(
                app.demo.counsellor,
                Role::Practitioner,
                RECORD,
                json!({ "input": bad }),
            )
            .await;
        assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
        assert_eq!(res.errors()[0]["extensions"]["field"], field);
    }
    assert_eq!(app.count("emergency_disclosure").await, before);
}
